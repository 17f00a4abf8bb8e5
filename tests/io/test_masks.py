"""Label mask files: formats by suffix, atomic and non-destructive writes."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.io import atomic_write, read_image, write_labels


@pytest.mark.parametrize(("suffix", "top", "dtype"),
                         [(".png", 200, np.uint8), (".png", 3000, np.uint16), (".tif", 70000, np.uint32), (".npy", 5, np.int64)])
def test_round_trip(tmp_path, suffix, top, dtype):
    labels = np.zeros((20, 30), np.int64)
    labels[2:5, 3:9] = top
    labels[10, 10] = 1
    path = write_labels(tmp_path / f"m{suffix}", labels)
    back = read_image(path)
    np.testing.assert_array_equal(back, labels)
    assert back.dtype == dtype


def test_tif_keeps_stacks_and_png_refuses_them(tmp_path):
    stack = np.arange(24, dtype=np.uint16).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_image(write_labels(tmp_path / "s.tif", stack)), stack)
    with pytest.raises(ValueError, match="2D"):
        write_labels(tmp_path / "s.png", stack)


def test_refuses_overwrite_and_bad_input(tmp_path):
    path = write_labels(tmp_path / "m.png", np.ones((3, 3), np.uint8))
    with pytest.raises(FileExistsError):
        write_labels(path, np.zeros((3, 3), np.uint8))
    assert read_image(path).sum() == 9
    with pytest.raises(TypeError, match="integers"):
        write_labels(tmp_path / "f.png", np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match="unknown label format"):
        write_labels(tmp_path / "m.jpg", np.ones((3, 3), np.uint8))


def test_failed_write_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "keep.bin"
    path.write_bytes(b"old")

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom, overwrite=True)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path], "no temporary file is left behind"


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        read_image(bad)

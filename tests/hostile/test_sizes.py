"""Small files never cost gigabytes, and what the data is is never silently changed (issue 22,
items 9-12, 18, 19, 23)."""

from __future__ import annotations

import json
import struct
import time
import zlib

import numpy as np
import pytest

from napari_segsuite.io import read_image
from napari_segsuite.io.batch import process_one
from napari_segsuite.io.bsds import read_bsds_groundtruth
from napari_segsuite.io.coco import read_coco, rle_decode, rle_encode
from napari_segsuite.io.limits import ENV_MAX_PIXELS
from napari_segsuite.metrics import confusion_matrix, score


@pytest.mark.parametrize("top", [20000, 65535, 2**40])
@pytest.mark.parametrize("kind", ["semantic", "all"])
def test_a_large_label_value_costs_what_its_pixels_cost(top, kind):
    pred = np.zeros((64, 64), np.int64)
    gt = np.zeros((64, 64), np.int64)
    pred[10:20, 10:20] = top
    gt[12:22, 10:20] = top
    t0 = time.perf_counter()
    s = score(pred, gt, kind=kind)
    assert time.perf_counter() - t0 < 2
    assert [r["class"] for r in s.per_class] == [0, top]
    assert s.per_class[1]["iou"] == pytest.approx(80 / 120)


def test_many_object_ids_scored_as_classes_are_refused_with_a_reason():
    rng = np.random.default_rng(0)
    ids = rng.permutation(5000) * 1000 + 1
    pred = ids.reshape(50, 100)
    with pytest.raises(ValueError, match="5000 distinct labels.*--kind instance"):
        score(pred, pred, kind="semantic")
    with pytest.raises(ValueError, match="confusion matrix"):
        confusion_matrix(pred, pred)


def _mat_bomb(path, declared: int) -> None:
    """A MATLAB v5 file whose one compressed variable declares ``declared`` bytes."""
    header = b"MATLAB 5.0 MAT-file, hostile probe".ljust(116, b" ") + b"\x00" * 8 + b"\x00\x01IM"
    inner = struct.pack("<II", 14, declared) + b"\x00" * 4096
    payload = zlib.compress(inner)
    path.write_bytes(header + struct.pack("<II", 15, len(payload)) + payload)


def test_a_mat_decompression_bomb_is_refused_from_its_headers(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.mat"
    _mat_bomb(bomb, 4_000_000_000)
    with pytest.raises(ValueError, match=rf"bomb\.mat: its variables declare 4,000,000,000 bytes.*\${ENV_MAX_PIXELS}"):
        read_bsds_groundtruth(bomb)
    monkeypatch.setenv(ENV_MAX_PIXELS, str(10**9))  # the way to raise the limit: then scipy reads it (and finds junk)
    with pytest.raises(ValueError, match="bomb.mat") as e:
        read_bsds_groundtruth(bomb)
    assert "declare" not in str(e.value)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"MATLAB 7.3 MAT-file".ljust(124, b" ") + b"\x00\x02IM", "v7.3"),
])
def test_empty_and_v73_mat_files_are_named(tmp_path, content, message):
    (tmp_path / "gt.mat").write_bytes(content)
    with pytest.raises(ValueError, match=rf"gt\.mat: .*{message}"):
        read_bsds_groundtruth(tmp_path / "gt.mat")


def test_coco_sizes_are_checked_before_allocating(tmp_path):
    path = tmp_path / "c.json"
    rle = {"size": [100000, 100000], "counts": [0, 10**10]}
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8},
                                           {"id": 2, "file_name": "b.png", "height": 100000, "width": 100000}],
                                "annotations": [{"id": 1, "image_id": 1, "segmentation": rle}]}))
    with pytest.raises(ValueError, match=r"c\.json: the RLE of annotation 1 declares 100000 x 100000"):
        read_coco(path, "a.png")
    with pytest.raises(ValueError, match=r"c\.json: the image entry 'b\.png' declares 100000 x 100000.*limit"):
        read_coco(path, "b.png")
    with pytest.raises(ValueError, match="declares"):
        rle_decode(rle)


def test_a_coco_file_is_parsed_once_for_all_its_images(tmp_path):
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:6] = True
    n = 5000
    data = {"images": [{"id": i, "file_name": f"im{i}.png", "height": 8, "width": 8} for i in range(n)],
            "annotations": [{"id": i, "image_id": i, "category_id": 1, "segmentation": rle_encode(mask), "area": 9}
                            for i in range(n)],
            "categories": [{"id": 1, "name": "cell"}]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(data))
    t0 = time.perf_counter()
    for i in range(n):
        labels, table = read_coco(path, f"im{i}.png")
    assert time.perf_counter() - t0 < 10  # linear: the old reader re-parsed the file per image (235 s for 2000)
    assert labels.sum() == 9 and table[0]["category"] == "cell"


def test_gray_plus_alpha_is_read_as_gray_with_a_note(tmp_path):
    import imageio.v3 as iio

    la = np.zeros((64, 64, 2), np.uint8)
    la[20:40, 20:40, 0] = 200
    la[..., 1] = 255
    iio.imwrite(tmp_path / "la.png", la)
    assert read_image(tmp_path / "la.png").shape == (64, 64)
    out = process_one(_otsu, str(tmp_path / "la.png"), str(tmp_path / "out.png"))
    assert out.status == "written" and "gray + alpha" in out.message
    assert read_image(tmp_path / "out.png").shape == (64, 64)


def _otsu(image, channel_axis):
    from napari_segsuite.techniques import get

    result = get("threshold.global").run(image, channel_axis=channel_axis)
    return result.data, "ok", result.notes


def test_floats_beyond_float32_are_scaled_not_reported_as_nan(tmp_path):
    img = np.zeros((64, 64))
    img[20:40, 20:40] = 1e300
    np.save(tmp_path / "huge.npy", img)
    out = process_one(_otsu, str(tmp_path / "huge.npy"), str(tmp_path / "out.png"))
    assert out.status == "written" and "exceed float32" in out.message and "non-finite" not in out.message
    assert (read_image(tmp_path / "out.png") > 0).sum() == 400


@pytest.mark.parametrize("name, content, message", [
    ("empty.png", b"", r"the file is empty \(0 bytes\)"),
    ("garbage.png", b"\x00garbage" * 10, "damaged or not a PNG image"),
    ("garbage.jpg", b"\xff\xd8\xffjunk", "damaged or not a JPG image"),
    ("corrupt.tif", b"II*\x00\x08\x00\x00\x00\x00\x00", "damaged"),
    ("pickled.npy", None, "Python objects"),
])
def test_empty_and_damaged_images_are_named_as_such(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as e:
        read_image(path)
    assert str(e.value).startswith(str(path)) and "pip install" not in str(e.value)


def test_a_png_bomb_is_refused(tmp_path):
    from .test_batches import _png_bomb

    _png_bomb(tmp_path / "bomb.png")
    with pytest.raises(ValueError, match=r"bomb\.png"):
        read_image(tmp_path / "bomb.png")

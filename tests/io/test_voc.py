"""Pascal VOC palette masks: the standard palette, 255 kept, round trips, the real sample."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_segsuite.io.voc import VOC_CLASSES, read_voc_mask, voc_palette, write_voc_mask


def test_palette_is_the_voc_colour_map():
    pal = voc_palette()
    assert pal[0].tolist() == [0, 0, 0] and pal[1].tolist() == [128, 0, 0] and pal[2].tolist() == [0, 128, 0]
    assert pal[15].tolist() == [192, 128, 128]  # person
    assert pal[255].tolist() == [224, 224, 192]  # void
    assert len({tuple(c) for c in pal}) == 256 and len(VOC_CLASSES) == 21


def test_round_trip_keeps_ignore_and_palette(tmp_path):
    labels = np.zeros((30, 40), np.uint8)
    labels[5:15, 5:20] = 15
    labels[4, 4:21] = 255
    path = write_voc_mask(tmp_path / "m.png", labels)
    with Image.open(path) as im:
        assert im.mode == "P" and np.array_equal(np.asarray(im.getpalette()[:6]), [0, 0, 0, 128, 0, 0])
    assert np.array_equal(read_voc_mask(path), labels)
    with pytest.raises(FileExistsError):
        write_voc_mask(path, labels)
    # an RGB rendering in VOC colours maps back to indices
    Image.fromarray(voc_palette()[labels]).save(tmp_path / "rgb.png")
    assert np.array_equal(read_voc_mask(tmp_path / "rgb.png"), labels)
    bad = voc_palette()[labels].copy()
    bad[0, 0] = (1, 2, 3)
    Image.fromarray(bad).save(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="not a VOC palette colour"):
        read_voc_mask(tmp_path / "bad.png")


def test_refuses_what_voc_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="0..254"):
        write_voc_mask(tmp_path / "x.png", np.full((4, 4), 300))
    with pytest.raises(ValueError, match="2-D"):
        write_voc_mask(tmp_path / "x.png", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(TypeError):
        write_voc_mask(tmp_path / "x.png", np.zeros((4, 4), float))
    assert not (tmp_path / "x.png").exists()


def test_real_voc_sample(shared_data, tmp_path):
    cls_path = next((shared_data / "voc_sample").rglob("SegmentationClass/*.png"))
    labels = read_voc_mask(cls_path)
    with Image.open(cls_path) as im:
        assert np.array_equal(labels, np.asarray(im))
    assert (labels == 255).any() and set(np.unique(labels)) - {0, 255} <= set(range(1, 21))
    out = write_voc_mask(tmp_path / "again.png", labels)
    assert out.read_bytes() and np.array_equal(read_voc_mask(out), labels)


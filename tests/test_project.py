"""Annotation projects: saved atomically, resumed, progress, export to VOC and COCO."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segsuite.io import write_labels
from napari_segsuite.io.coco import read_coco
from napari_segsuite.io.project import Project
from napari_segsuite.io.voc import read_voc_mask


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    images = tmp_path / "imgs"
    for i in range(3):
        write_labels(images / f"im{i}.png", rng.integers(0, 255, (20, 30), dtype=np.uint8))
    return images


def _objects():
    lab = np.zeros((20, 30), np.int32)
    lab[2:8, 3:10], lab[10:18, 12:25] = 1, 2
    return lab


def test_labels_are_saved_beside_and_the_project_resumes(folder):
    p = Project(folder)
    assert p.labels_dir == folder.parent / "imgs_labels" and len(p) == 3 and p.progress == (0, 3)
    assert p.labels() is None
    p.save(_objects(), object_classes={1: 1, 2: 2})
    p.go(2)
    p.save(np.zeros((20, 30), np.int32))  # looked at, nothing painted: not annotated
    again = Project(folder)
    assert again.index == 2 and again.progress == (1, 3)
    np.testing.assert_array_equal(again.labels(0), _objects())
    assert again.object_classes(0) == {1: 1, 2: 2}
    assert again.go(10) == 2, "clamped to the project"


def test_a_failed_write_keeps_the_previous_labels(folder, monkeypatch):
    p = Project(folder)
    p.save(_objects())
    import napari_segsuite.io.atomic as atomic

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        p.save(np.ones((20, 30), np.int32))
    monkeypatch.undo()
    np.testing.assert_array_equal(p.labels(0), _objects())
    assert not [f for f in p.labels_dir.iterdir() if f.name.endswith(".tmp")], "no partial file left"


def test_export_to_voc_and_coco(folder, tmp_path):
    p = Project(folder)
    p.classes = {1: "cell", 2: "debris"}
    p.save(_objects(), object_classes={2: 2})
    p.go(1)
    p.save(_objects()[::-1])
    voc = p.export_voc(tmp_path / "voc")
    objects = read_voc_mask(voc / "SegmentationObject" / "im0.png")
    classes = read_voc_mask(voc / "SegmentationClass" / "im0.png")
    np.testing.assert_array_equal(objects, _objects())
    assert classes[3, 4] == 1 and classes[12, 15] == 2 and classes[0, 0] == 0
    assert (voc / "ImageSets" / "Segmentation" / "all.txt").read_text().split() == ["im0", "im1"]
    assert json.loads((voc / "classes.json").read_text())["2"] == "debris"
    from PIL import Image

    with Image.open(voc / "JPEGImages" / "im0.jpg") as im:  # VOC's images are RGB JPEGs
        assert im.format == "JPEG" and im.mode == "RGB"
    coco = p.export_coco(tmp_path / "instances.json")
    labels, table = read_coco(coco, "im0.png")
    assert sorted(row["category"] for row in table) == ["cell", "debris"]
    assert len(np.unique(labels)) == 3
    pycocotools = pytest.importorskip("pycocotools.coco", reason="pycocotools (a test dependency) reads COCO files")
    api = pycocotools.COCO(str(coco))
    assert len(api.getAnnIds()) == 4


def test_bad_projects_are_explained(folder, tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        Project(tmp_path / "nope")
    p = Project(folder)
    with pytest.raises(ValueError, match="nothing to export"):
        p.export_coco(tmp_path / "x.json")
    (p.labels_dir).mkdir(exist_ok=True)
    (p.labels_dir / "project.json").write_text("{broken")
    with pytest.raises(ValueError, match="damaged"):
        Project(folder)


def test_voc_export_writes_rgb_jpegs_of_16_bit_images(tmp_path):
    images = tmp_path / "imgs16"
    images.mkdir()
    img = np.zeros((16, 20), np.uint16)
    img[4:10, 5:12] = 40000
    np.save(images / "a.npy", img)
    p = Project(images)
    lab = np.zeros((16, 20), np.int32)
    lab[4:10, 5:12] = 1
    p.save(lab)
    voc = p.export_voc(tmp_path / "voc")
    from PIL import Image

    with Image.open(voc / "JPEGImages" / "a.jpg") as im:
        assert im.mode == "RGB" and np.asarray(im)[6, 8, 0] > 200 and np.asarray(im)[0, 0, 0] < 30

"""Annotation projects never lose or mix up a saved mask (issue 22, items 1-4 and 20)."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from napari_segsuite.io import read_image, write_labels
from napari_segsuite.io.atomic import remove_stale_temporaries
from napari_segsuite.io.project import Project


def _image(value: int) -> np.ndarray:
    img = np.full((16, 20), value, np.uint8)
    img[4:10, 5:12] = 255 - value
    return img


def _objects(n: int = 1) -> np.ndarray:
    lab = np.zeros((16, 20), np.int32)
    for k in range(n):
        lab[1 + 3 * k:3 + 3 * k, 2:6 + k] = k + 1
    return lab


@pytest.fixture
def clash(tmp_path):
    import imageio.v3 as iio

    folder = tmp_path / "imgs"
    folder.mkdir()
    iio.imwrite(folder / "cell.png", _image(10))
    iio.imwrite(folder / "cell.jpg", _image(60))
    import tifffile

    tifffile.imwrite(folder / "cell.tif", _image(120))
    return folder


def test_images_sharing_a_stem_keep_their_own_labels(clash, tmp_path):
    p = Project(clash)
    assert len(p) == 3 and len({p.labels_path(i) for i in range(3)}) == 3
    for i in range(3):
        p.save(_objects(i + 1), i)
    again = Project(clash)
    assert again.progress == (3, 3)
    for i in range(3):
        assert int(again.labels(i).max()) == i + 1  # each image got back its own annotation
    coco = json.loads(again.export_coco(tmp_path / "c.json").read_text())
    per_image = {im["file_name"]: sum(a["image_id"] == im["id"] for a in coco["annotations"]) for im in coco["images"]}
    assert sorted(per_image.values()) == [1, 2, 3]
    voc = again.export_voc(tmp_path / "voc")
    assert len(list((voc / "SegmentationObject").iterdir())) == 3


def test_a_mask_of_an_earlier_version_that_could_be_any_of_them_is_refused(clash):
    labels = clash.parent / "imgs_labels"
    write_labels(labels / "cell.png", _objects())
    with pytest.raises(ValueError, match=r"cell\.jpg, cell\.png, cell\.tif.*could be the labels of any"):
        Project(clash)


@pytest.fixture
def five(tmp_path):
    folder = tmp_path / "five"
    folder.mkdir()
    for i in range(5):
        np.save(folder / f"im{i}.npy", _image(10 * i))
    return folder


def test_a_mask_saved_without_its_bookkeeping_is_found_again(five, monkeypatch):
    p = Project(five)
    p.save(_objects(), 0)

    def killed(self):
        raise KeyboardInterrupt("killed between the mask and project.json")

    monkeypatch.setattr(Project, "save_state", killed)
    with pytest.raises(KeyboardInterrupt):
        p.save(_objects(2), 3)
    monkeypatch.undo()
    assert read_image(p.labels_path(3)).max() == 2  # the mask is on disk, project.json does not list it
    again = Project(five)
    assert again.progress == (2, 5) and again.is_annotated(3)
    assert len(json.loads((again.export_coco(five.parent / "c.json")).read_text())["images"]) == 2


def test_moving_a_damaged_project_file_away_loses_no_annotation(five, tmp_path):
    p = Project(five)
    for i in range(5):
        p.save(_objects(), i)
    state = p.labels_dir / "project.json"
    state.write_text('{"format": "napari-segsuite.project", "annotated": 5}')
    with pytest.raises(ValueError, match="'annotated' must be list.*damaged: move it away"):
        Project(five)
    state.rename(tmp_path / "project.json.bad")  # the advice the message gives
    again = Project(five)
    assert again.progress == (5, 5)
    assert len(json.loads(again.export_coco(tmp_path / "c.json").read_text())["images"]) == 5


def test_a_tif_project_without_its_project_file_keeps_its_format(five, tmp_path):
    p = Project(five, fmt="tif")
    p.save(_objects(), 1)
    (p.labels_dir / "project.json").unlink()
    again = Project(five)  # the default format is png; the masks on disk say tif
    assert again.fmt == "tif" and again.progress == (1, 5)


def test_temporary_files_of_killed_writers_are_removed_on_open(five):
    p = Project(five)
    p.save(_objects(), 0)
    folder = p.labels_dir
    dead = folder / ".segsuite.999999999.0badc0de.tmp"  # no such process
    mine = folder / f".segsuite.{os.getpid()}.12345678.tmp"  # a live writer's: kept
    legacy = folder / ".im0.png.ab3_Xy9z.tmp"  # tempfile.mkstemp's name in earlier versions
    for f in (dead, mine, legacy):
        f.write_bytes(b"")
    old = time.time() - 600
    os.utime(legacy, (old, old))
    Project(five)
    assert not dead.exists() and not legacy.exists() and mine.exists()
    assert remove_stale_temporaries(folder) == 0


@pytest.mark.parametrize("ids", ["object", "class"])
def test_voc_export_refuses_ids_voc_cannot_hold_before_writing_anything(five, tmp_path, ids):
    p = Project(five)
    p.save(_objects(), 0)
    if ids == "object":
        lab = _objects()
        lab[lab > 0] = 300
        p.save(lab, 1)
        match = "object id 300"
    else:
        p.save(_objects(), 1, object_classes={1: 255})
        match = r"class id\(s\) \[255\]"
    out = tmp_path / "voc"
    with pytest.raises(ValueError, match=match):
        p.export_voc(out)
    assert not out.exists()  # nothing partial

"""Files we write honour the umask; hostile JSON gets one line naming the file and the field (issue
22, items 22 and 24)."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from napari_segsuite.io import read_json, write_labels
from napari_segsuite.io.atomic import atomic_write
from napari_segsuite.io.coco import read_coco, write_coco
from napari_segsuite.io.project import Project
from napari_segsuite.techniques.presets import load_preset, save_preset


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_file_we_write_gets_the_mode_a_plain_open_would(tmp_path, umask):
    with open(tmp_path / "plain", "w"):
        pass
    expected = _mode(tmp_path / "plain")
    assert expected == 0o666 & ~umask
    lab = np.zeros((8, 8), np.uint8)
    lab[2:4, 2:4] = 1
    written = [
        write_labels(tmp_path / "m.png", lab), write_labels(tmp_path / "m.tif", lab), write_labels(tmp_path / "m.npy", lab),
        write_coco(tmp_path / "c.json", [("a.png", lab, 1)], [{"id": 1, "name": "x"}]),
        atomic_write(tmp_path / "raw.bin", lambda f: f.write(b"x")),
    ]
    from napari_segsuite.techniques import get

    save_preset(tmp_path / "p.json", get("threshold.global"), {})
    written.append(tmp_path / "p.json")
    folder = tmp_path / "imgs"
    folder.mkdir()
    np.save(folder / "a.npy", lab)
    project = Project(folder)
    written += [project.save(lab, object_classes={1: 1}), project.labels_dir / "project.json",
                project.labels_dir / "a.classes.json"]
    voc = project.export_voc(tmp_path / "voc")
    written += [voc / "JPEGImages" / "a.jpg", voc / "SegmentationObject" / "a.png", voc / "classes.json"]
    assert {str(p): oct(_mode(p)) for p in written} == {str(p): oct(expected) for p in written}


def test_a_write_replacing_a_file_keeps_no_temporary(tmp_path):
    atomic_write(tmp_path / "f", lambda f: f.write(b"1"))
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "f", lambda f: (_ for _ in ()).throw(RuntimeError("disk full")), overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["f"] and (tmp_path / "f").read_bytes() == b"1"


JSON_PROBES = {
    "technique 5": ('{"technique": 5}', "'technique' must be a technique's name"),
    "technique null": ('{"technique": null}', "'technique' must be a technique's name"),
    "version text": ('{"technique": "threshold.global", "version": "x"}', "'version' must be an integer"),
    "deep": ("[" * 100000 + "]" * 100000, "nested too deeply"),
    "not UTF-8": (b'{"technique": "\xff\xfe"}', "not UTF-8"),
    "empty": ("", "is empty"),
    "not JSON": ("{technique", "not valid JSON"),
}


@pytest.mark.parametrize("probe", sorted(JSON_PROBES))
def test_hostile_presets_get_one_line(tmp_path, probe):
    text, message = JSON_PROBES[probe]
    path = tmp_path / "p.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError, match=message) as e:
        load_preset(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


@pytest.mark.parametrize("data, field", [
    ({"format": "napari-segsuite.project", "annotated": "all"}, "'annotated' must be list"),
    ({"format": "napari-segsuite.project", "classes": [1, 2]}, "'classes' must be dict"),
    ({"format": "napari-segsuite.project", "classes": {"one": "cell"}}, "'classes' must map integer ids"),
    ({"format": "napari-segsuite.project", "current": 3}, "'current' must be str"),
    ([1, 2], "not a napari-segsuite project file"),
])
def test_project_files_of_wrong_types_are_named(tmp_path, data, field):
    folder = tmp_path / "imgs"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((4, 4), np.uint8))
    (tmp_path / "imgs_labels").mkdir()
    (tmp_path / "imgs_labels" / "project.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=field):
        Project(folder)


@pytest.mark.parametrize("data, message", [
    ({"images": "a.png"}, "'images' must be a list of objects"),
    ({"images": [{"id": 1, "file_name": "a.png", "height": "x", "width": 4}]}, "lacks a valid id, height or width"),
    ({"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 4}],
      "annotations": [{"id": 9, "image_id": 1, "segmentation": 5}]}, "annotation 9 .* no usable segmentation"),
    ({"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 4}],
      "annotations": [{"id": 9, "image_id": 1, "segmentation": [["x", "y"]]}]}, "annotation 9"),
    ({"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 4}],  # two vertices: no area (pycocotools crashes)
      "annotations": [{"id": 10, "image_id": 1, "segmentation": [[1, 1, 3, 3]]}]}, "annotation 10.*three vertices"),
    ({"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 4}], "annotations": [[1]]},
     "'annotations' must be a list of objects"),
])
def test_coco_files_of_wrong_types_are_named(tmp_path, data, message):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message) as e:
        read_coco(path)
    assert str(e.value).startswith(str(path))


def test_read_json_names_the_file_for_every_failure(tmp_path):
    for content in (b"", b"\xff", b"[" * 50000, b"{"):
        (tmp_path / "x.json").write_bytes(content)
        with pytest.raises(ValueError, match="x.json"):
            read_json(tmp_path / "x.json", "thing")

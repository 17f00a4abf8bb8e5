"""The project dock never drops unsaved labels and survives every error a project raises (issue
22, items 2 and 24)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite._widgets import ProjectWidget
from napari_segsuite.io import read_image, write_labels
from napari_segsuite.io.project import Project


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        for i in range(2):
            write_labels(tmp_path / name / f"im{i}.png", rng.integers(0, 255, (24, 32), dtype=np.uint8))
    return tmp_path / "a", tmp_path / "b"


def _dock(make_napari_viewer, folder, settled):
    viewer = make_napari_viewer()
    w = ProjectWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.autosave.value = 0
    w.open(folder)
    settled(w)
    return viewer, w


@pytest.mark.parametrize("same_folder", [True, False])
def test_open_after_a_failed_save_keeps_the_painted_labels(make_napari_viewer, folders, monkeypatch, same_folder, settled):
    viewer, w = _dock(make_napari_viewer, folders[0], settled)
    w.labels_layer.paint((5, 5), 7)

    def disk_full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Project, "save", disk_full)
    assert w.save() is None
    w.open(folders[0] if same_folder else folders[1])
    settled(w)
    assert w.labels_layer.data[5, 5] == 7, "the painted labels were dropped"
    assert w.project.images_dir == folders[0] and "could not be saved" in w.status.text()
    monkeypatch.undo()  # space again: the next Open saves, then switches
    w.open(folders[1])
    settled(w)
    assert read_image(folders[0].parent / "a_labels" / "im0.png")[5, 5] == 7
    assert w.project.images_dir == folders[1]


def test_a_damaged_first_image_leaves_the_dock_usable(make_napari_viewer, folders, tmp_path, settled):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a0.png").write_bytes(b"")  # the first image is empty
    viewer, w = _dock(make_napari_viewer, folders[0], settled)
    w.labels_layer.paint((3, 3), 2)
    w.open(bad)
    settled(w)
    assert "empty (0 bytes)" in w.status.text()
    assert w.project.images_dir == folders[0] and w.labels_layer is not None  # the open project is still there
    w.open(folders[1])
    settled(w)
    assert w.project.images_dir == folders[1] and "image 1 of 2" in w.status.text()
    assert read_image(folders[0].parent / "a_labels" / "im0.png")[3, 3] == 2


def test_a_damaged_project_file_is_a_message_not_a_half_open_dock(make_napari_viewer, folders, settled):
    labels = folders[1].parent / "b_labels"
    labels.mkdir()
    (labels / "project.json").write_bytes(b"\xff\xfe not json")
    viewer, w = _dock(make_napari_viewer, folders[1], settled)
    assert w.project is None and "not UTF-8" in w.status.text() and not w.next_button.enabled
    w.open(folders[0])
    settled(w)
    assert w.project is not None and w.next_button.enabled


def test_a_damaged_next_image_keeps_the_person_where_they_are(make_napari_viewer, folders, settled):
    (folders[0] / "im1.png").write_bytes(b"\x89PNG garbage")
    viewer, w = _dock(make_napari_viewer, folders[0], settled)
    w.labels_layer.paint((4, 4), 1)
    w.step(+1)
    settled(w)
    assert w.project.index == 0 and w.labels_layer.data[4, 4] == 1

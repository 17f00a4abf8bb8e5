"""The Annotation project dock: annotate, next, restart, resume; autosave; export."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite._widgets import ProjectWidget
from napari_segsuite.io import read_image, write_labels


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(3):
        write_labels(tmp_path / "imgs" / f"im{i}.png", rng.integers(0, 255, (24, 32), dtype=np.uint8))
    return tmp_path / "imgs"


def _dock(make_napari_viewer):
    viewer = make_napari_viewer()
    w = ProjectWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


def _opened(make_napari_viewer, folder, settled):
    """A docked project dock with ``folder`` open and autosave off."""
    viewer, w = _dock(make_napari_viewer)
    w.autosave.value = 0
    w.open(folder)
    settled(w)
    return viewer, w


def test_annotate_next_restart_resume(make_napari_viewer, folder, settled):
    viewer, w = _dock(make_napari_viewer)
    w.autosave.value = 0
    w.folder.value = str(folder)
    w.open_button.changed.emit(True)
    settled(w)
    assert "image 1 of 3" in w.status.text() and not w.prev_button.enabled
    layer = w.labels_layer
    layer.paint((5, 5), 1)  # a brush stroke, as the person paints
    assert w.dirty
    w.next_button.changed.emit(True)
    settled(w)
    saved = read_image(folder.parent / "imgs_labels" / "im0.png")
    assert saved[5, 5] == 1 and "image 2 of 3" in w.status.text() and "1 of 3 annotated" in w.status.text()
    assert w.labels_layer.data.max() == 0, "the next image starts unlabelled"
    w.labels_layer.paint((10, 10), 3)
    w.next_button.changed.emit(True)
    settled(w)
    viewer.close()

    viewer2, w2 = _dock(make_napari_viewer)  # the app restarted
    w2.open(folder)
    settled(w2)
    assert "image 3 of 3" in w2.status.text() and w2.bar.value() == 2 and not w2.next_button.enabled
    w2.prev_button.changed.emit(True)
    settled(w2)
    assert w2.labels_layer.data[10, 10] == 3, "the labels painted before are back"


def test_autosave_every_n_seconds(make_napari_viewer, folder, qtbot, settled):
    viewer, w = _dock(make_napari_viewer)
    w.autosave.value = 1
    w.open(folder)
    settled(w)
    w.labels_layer.paint((3, 3), 2)
    qtbot.waitUntil(lambda: (folder.parent / "imgs_labels" / "im0.png").is_file() and not w.dirty, timeout=5000)
    assert read_image(folder.parent / "imgs_labels" / "im0.png")[3, 3] == 2


def test_export_the_project(make_napari_viewer, folder, tmp_path, settled):
    viewer, w = _opened(make_napari_viewer, folder, settled)
    lab = np.zeros((24, 32), np.int32)
    lab[2:9, 2:9], lab[12:20, 15:30] = 1, 2
    w.labels_layer.data = lab
    out = w.export("coco", tmp_path / "instances.json")
    assert out.is_file() and (folder.parent / "imgs_labels" / "im0.png").is_file()
    voc = w.export("voc", tmp_path / "voc")
    from napari_segsuite.io.voc import read_voc_mask

    np.testing.assert_array_equal(read_voc_mask(voc / "SegmentationObject" / "im0.png"), lab)


def test_a_bad_folder_is_explained(make_napari_viewer, tmp_path, settled):
    viewer, w = _dock(make_napari_viewer)
    w.open(tmp_path / "missing")
    settled(w)
    assert "not a folder" in w.status.text() and not w.next_button.enabled


def test_the_next_image_is_embedded_for_sam_in_the_background(make_napari_viewer, folder, tiny_sam, qtbot, settled):
    from types import SimpleNamespace

    from napari_segsuite.sam import SamSession

    viewer, w = _dock(make_napari_viewer)
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    w.sam_widget = SimpleNamespace(session=session)  # what the project uses of the SAM dock: its session
    w.autosave.value = 0
    w.open(folder)
    settled(w)
    following = read_image(folder / "im1.png")
    qtbot.waitUntil(lambda: session.has_embedding(following), timeout=30_000)
    assert session.encoder_runs == 1, "only the next image was encoded"
    qtbot.waitUntil(lambda: not w._precompute.is_running, timeout=30_000)
    w.step(+1)
    settled(w)
    assert session.has_embedding(read_image(folder / "im1.png")), "opening it needs no encoder run"
    qtbot.waitUntil(lambda: session.has_embedding(read_image(folder / "im2.png")), timeout=30_000)


def test_the_project_finds_a_sam_dock_opened_on_its_own(make_napari_viewer, folder, tiny_sam, qtbot, settled):
    """Opened one by one from the Plugins menu (no SegSuite panel to wire them), the project dock
    still embeds the next image with the SAM dock's model."""
    from napari_segsuite._widgets import SamWidget
    from napari_segsuite.sam import SamSession

    viewer, w = _dock(make_napari_viewer)
    sam = SamWidget(viewer)
    viewer.window.add_dock_widget(sam, name="Segment Anything")
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    sam.use_session(session)
    assert w.sam_widget is None and w._docked_sam() is sam
    w.autosave.value = 0
    w.open(folder)
    settled(w)
    qtbot.waitUntil(lambda: session.has_embedding(read_image(folder / "im1.png")), timeout=30_000)
    qtbot.waitUntil(lambda: not w._precompute.is_running, timeout=30_000)


def test_autosave_writes_in_the_background_and_the_newest_labels_win(make_napari_viewer, folder, qtbot, monkeypatch, settled):
    """A slow write (a large mask takes a second to compress) leaves the UI free; painting goes on
    meanwhile, and Save now, asked while the autosave is still writing, writes the newer labels
    after it, never before."""
    import time

    from napari_segsuite.io.project import Project

    viewer, w = _opened(make_napari_viewer, folder, settled)
    slow_save = Project.save
    order = []

    def slow(self, labels, *a, **k):
        time.sleep(0.6)
        order.append(int(labels[3, 3]))
        return slow_save(self, labels, *a, **k)

    monkeypatch.setattr(Project, "save", slow)
    w.labels_layer.paint((3, 3), 2)
    t0 = time.perf_counter()
    w._autosave()
    assert time.perf_counter() - t0 < 0.1 and w.dirty
    w.labels_layer.paint((3, 3), 5)  # painting on while it writes
    assert w.save() is not None and order == [2, 5]
    assert read_image(folder.parent / "imgs_labels" / "im0.png")[3, 3] == 5
    qtbot.waitUntil(lambda: not w._autosaving, timeout=5000)
    assert not w.dirty, "the late autosave report does not mark the newer labels unsaved"


def test_next_saves_and_reads_in_a_worker_with_the_labels_locked(make_napari_viewer, folder, qtbot, monkeypatch, settled):
    """A large image takes time to save and read: Next returns at once, the layer being left
    takes no stroke meanwhile, and the next image appears when it is read."""
    import time

    from napari_segsuite.io.project import Project

    viewer, w = _opened(make_napari_viewer, folder, settled)
    slow_image = Project.image

    def slow(self, *a, **k):
        time.sleep(0.5)
        return slow_image(self, *a, **k)

    monkeypatch.setattr(Project, "image", slow)
    w.labels_layer.paint((2, 2), 4)
    left = w.labels_layer
    t0 = time.perf_counter()
    w.next_button.changed.emit(True)
    assert time.perf_counter() - t0 < 0.2 and w.switching
    assert not left.editable and not w.next_button.enabled and not w.open_button.enabled
    settled(w)
    assert "image 2 of 3" in w.status.text() and w.labels_layer.editable and w.next_button.enabled
    assert read_image(folder.parent / "imgs_labels" / "im0.png")[2, 2] == 4


def test_closing_the_dock_finishes_the_write_under_way(make_napari_viewer, folder, monkeypatch, settled):
    """An autosave still writing when the dock closes is finished, not lost, and its thread ends."""
    import time

    from napari_segsuite.io.project import Project

    viewer, w = _opened(make_napari_viewer, folder, settled)
    slow_save = Project.save
    monkeypatch.setattr(Project, "save", lambda self, *a, **k: (time.sleep(0.4), slow_save(self, *a, **k))[1])
    w.labels_layer.paint((6, 6), 9)
    w._autosave()
    w.close()
    assert read_image(folder.parent / "imgs_labels" / "im0.png")[6, 6] == 9
    assert w._writer._shutdown

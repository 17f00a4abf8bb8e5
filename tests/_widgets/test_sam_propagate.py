"""Propagation in the Segment Anything dock: click, propagate through z with progress, undo,
correct a slice and propagate again, every object of a slice through time, cancel, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from test_sam_widget import TIMEOUT, _docked, click, settle

from napari_segsuite.sam.propagate import Propagation


def _balls(shape=(24, 64, 64), centres=((11, 32, 32),), radius=9.0):
    zz, yy, xx = np.indices(shape, dtype=float)
    labels = np.zeros(shape, np.int32)
    for i, (cz, cy, cx) in enumerate(centres, start=1):
        labels[(((zz - cz) * 1.5) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2) & (labels == 0)] = i
    rng = np.random.default_rng(0)
    return np.clip(40 + 150 * (labels > 0) + rng.normal(0, 12, shape), 0, 255).astype(np.uint8), labels


def _at_slice(viewer, z):
    viewer.dims.set_current_step(0, z)


def _propagated(qtbot, w):
    qtbot.waitUntil(lambda: w.propagation.worker is None, timeout=TIMEOUT)


@pytest.fixture
def stack_dock(make_napari_viewer, qtbot):
    image, truth = _balls()
    viewer, w = _docked(make_napari_viewer, image, "a stack of nuclei with a long file name_z24.tif")
    _at_slice(viewer, 11)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    return viewer, w, truth


def test_click_then_propagate_through_z_and_undo_in_one_step(stack_dock, qtbot):
    viewer, w, truth = stack_dock
    assert w.propagation.axis.choices == (0,) and w.propagation.axis.native.currentText() == "0, 24 slices"
    click(w.points_layer, (11, 32, 32))
    settle(qtbot, w)
    w.propagation.propagate()  # commits the shown mask (id 1), then carries it
    _propagated(qtbot, w)
    labels = viewer.layers["SAM labels"]
    found = labels.data == 1
    iou = (found & (truth == 1)).sum() / (found | (truth == 1)).sum()
    assert iou > 0.7, iou
    assert found[7].any() and found[15].any() and not found[:4].any() and not found[19:].any()
    assert "object 1: slices" in w.propagation.status.text()
    assert not w.propagation.progress.isVisible()
    labels.undo()  # the propagation goes in one step; the clicked slice's commit stays
    assert labels.data[11].any() and not labels.data[:11].any() and not labels.data[12:].any()


def test_a_corrected_slice_propagates_again_and_other_objects_are_kept(stack_dock, qtbot):
    viewer, w, truth = stack_dock
    image = w.image.value
    layer = viewer.add_labels(np.zeros(truth.shape, np.int32), name="nuclei")
    layer.data[3, :4, :4] = 9  # another object's pixels, elsewhere: never touched
    layer.data[20] = np.where(truth[11] == 1, 5, 0)  # a stale earlier result of object 5 on slice 20
    layer.data[11] = np.where(truth[11] == 1, 5, 0)
    w.target.value = layer
    layer.selected_label = 5
    w.propagation.direction.value = "forward"
    w.propagation.propagate()
    _propagated(qtbot, w)
    assert (layer.data[3, :4, :4] == 9).all()
    assert not (layer.data[:11] == 5).any(), "forward only"
    assert (layer.data[12] == 5).any()
    assert not (layer.data[20] == 5).any(), "the object ends near slice 17: its stale pixels on slice 20 went"
    assert image is w.image.value


def test_every_object_of_a_slice_keeps_its_id_through_time(make_napari_viewer, qtbot):
    image, truth = _balls(centres=((11, 20, 20), (11, 44, 44)), radius=8.0)
    viewer, w = _docked(make_napari_viewer, image, "time-lapse")
    _at_slice(viewer, 11)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    layer = viewer.add_labels(np.zeros(truth.shape, np.int32), name="tracks")
    layer.data[11] = np.where(truth[11] == 1, 4, np.where(truth[11] == 2, 8, 0))
    w.target.value = layer
    w.propagation.which.value = "all objects"
    w.propagation.regrowth.value = False
    w.propagation.propagate()
    _propagated(qtbot, w)
    for k in range(8, 15):
        assert set(np.unique(layer.data[k])) == {0, 4, 8}
        assert (layer.data[k] == 4)[truth[k] == 1].mean() > 0.7


def test_cancel_writes_nothing(stack_dock, qtbot, monkeypatch):
    viewer, w, truth = stack_dock
    layer = viewer.add_labels(np.zeros(truth.shape, np.int32), name="nuclei")
    layer.data[11] = (truth[11] == 1).astype(np.int32)
    w.target.value = layer
    layer.selected_label = 1
    from napari_segsuite._widgets import sam_propagate_panel

    def slow(*args, **kwargs):  # a propagation that waits to be cancelled
        import time

        for k in range(1000):
            time.sleep(0.01)
            yield k, 1000
        return Propagation(11)

    monkeypatch.setattr(sam_propagate_panel, "iter_propagate", slow)
    w.propagation.propagate()
    qtbot.waitUntil(lambda: w.propagation.progress.value() > 0, timeout=TIMEOUT)
    w.propagation.cancel_button.changed.emit(None)
    _propagated(qtbot, w)
    assert not layer.data[:11].any() and not layer.data[12:].any()


def test_a_2d_image_or_a_missing_label_says_what_to_do(make_napari_viewer, qtbot, monkeypatch):
    messages = []
    from napari_segsuite._widgets import sam_propagate_panel

    monkeypatch.setattr(sam_propagate_panel, "show_info", messages.append)
    viewer, w = _docked(make_napari_viewer, np.zeros((64, 64), np.uint8), "flat")
    w.propagation.propagate()
    assert messages[-1] == "'flat' is a single 2D image: propagation needs a z or time axis"
    image, truth = _balls()
    viewer.layers.remove("flat")
    viewer.add_image(image, name="stack")
    _at_slice(viewer, 11)
    w.image.value = viewer.layers["stack"]
    layer = viewer.add_labels(np.zeros(truth.shape, np.int32), name="empty")
    w.target.value = layer
    layer.selected_label = 3
    w.propagation.propagate()
    assert "label 3 (the selected label of 'empty') is not on this slice" in messages[-1]
    assert w.propagation.worker is None and not layer.data.any()


def test_a_sam2_checkpoint_loads_in_the_dock_and_propagates_with_its_memory(make_napari_viewer, qtbot, tmp_path,
                                                                            monkeypatch):
    """The user's path with SAM 2: choose sam2.1_t, give a checkpoint, Load (in a worker), click,
    Propagate: SAM 2's video tracker carries the object (random weights: the mechanism, not the masks)."""
    pytest.importorskip("sam2", reason="needs the sam2 package (the [sam2] extra)")
    import torch

    from napari_segsuite.sam import registry
    from napari_segsuite.sam.sam2_session import Sam2Session
    from napari_segsuite.sam.sam2_video import VideoTracker

    torch.manual_seed(0)
    ckpt = tmp_path / "my fine-tuned sam2.1 tiny.pt"
    torch.save({"model": registry.build_model("sam2.1_t").state_dict()}, ckpt)
    image, _ = _balls(shape=(4, 64, 64), centres=((1, 32, 32),), radius=14.0)
    viewer, w = _docked(make_napari_viewer, image, "four slices of a nucleus with a long file name_z4.tif")
    assert "sam2.1_t" in w.backend.choices
    steps = []
    real_step = VideoTracker.step
    monkeypatch.setattr(VideoTracker, "step", lambda self, k: steps.append(k) or real_step(self, k))
    w.backend.value = "sam2.1_t"
    w.checkpoint.value = ckpt
    w.device.value = "cpu"
    w.load_model()
    qtbot.waitUntil(lambda: not w.loading, timeout=TIMEOUT)
    assert isinstance(w.session, Sam2Session)
    _at_slice(viewer, 1)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    click(w.points_layer, (1, 32, 32))
    settle(qtbot, w)
    assert w.prediction is not None
    w.propagation.min_overlap.value = 0.0
    w.propagation.regrowth.value = False
    w.propagation.propagate()
    _propagated(qtbot, w)
    assert sorted(steps) == [0, 2, 3]  # both ways from slice 1, each slice asked of SAM 2's tracker
    labels = viewer.layers["SAM labels"]
    assert labels.data[1].any()
    labels.undo()
    assert labels.data[1].any() and not labels.data[[0, 2, 3]].any()

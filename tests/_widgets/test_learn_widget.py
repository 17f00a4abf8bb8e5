"""The *Train a network* dock: paint, train in a worker with a live plot, cancel, save, predict."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_blobs import make_blobs

from napari_segsuite._widgets import LearnWidget
from napari_segsuite.learn.technique import learned_models_dir
from napari_segsuite.techniques import CATALOG

TIMEOUT = 60_000


@pytest.fixture
def dock(make_napari_viewer):
    viewer = make_napari_viewer()
    img, lab = make_blobs(0, size=96)
    image = viewer.add_image(img, name="cells")
    labels = viewer.add_labels((lab > 0).astype(np.uint8), name="painted")
    w = LearnWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.image.value, w.labels.value = image, labels
    w.net_width.value, w.depth.value, w.patch.value, w.batch.value = 8, 2, 64, 4
    w.epochs.value, w.steps.value = 5, 8
    return viewer, w


def _gap_until_commit(qtbot, monkeypatch, start):
    """Largest gap (s) between ticks of a 10 ms QTimer from ``start()`` until the result is being
    committed: the slice read and the network run, off the UI thread. (The commit then makes the
    result's labels layer, napari's work on the UI thread.)"""
    import time

    from qtpy.QtCore import QTimer

    from napari_segsuite._widgets import learn_model

    ticks, committed = [], []
    original = learn_model.commit_labels

    def commit(*args, **kwargs):
        committed.append(time.perf_counter())
        return original(*args, **kwargs)

    monkeypatch.setattr(learn_model, "commit_labels", commit)
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    start()
    qtbot.waitUntil(lambda: bool(committed), timeout=TIMEOUT)
    timer.stop()
    before = [t for t in ticks if t <= committed[0]] + committed
    return float(np.diff(before).max()) if len(before) > 1 else 0.0


def test_train_in_a_worker_then_predict_into_a_new_layer(dock, qtbot, tmp_path, monkeypatch):
    viewer, w = dock
    w.name.value = "cells_unet"
    w.train_button.changed.emit(True)
    assert w.worker is not None and not w.train_button.enabled and w.cancel_button.enabled
    qtbot.waitUntil(lambda: w.worker is None, timeout=TIMEOUT)
    assert w.model is not None and len(w.history) == 5
    assert w.progress.value() == w.progress.maximum()
    ax_loss, ax_dice = w.figure.axes
    assert len(ax_loss.lines[0].get_xdata()) == 5 and len(ax_dice.lines[0].get_ydata()) == 5
    assert "learn.cells_unet" in CATALOG
    n_layers = len(viewer.layers)
    gap = _gap_until_commit(qtbot, monkeypatch, lambda: w.predict(all_slices=False))
    assert gap < 0.1, f"the UI froze for {gap * 1000:.0f} ms while the slice was read and the network ran"
    qtbot.waitUntil(lambda: w.predict_worker is None, timeout=TIMEOUT)
    layer = w.prediction_layer
    assert len(viewer.layers) == n_layers + 1 and layer.name == "cells_unet prediction"
    truth = viewer.layers["painted"].data > 0
    assert 2 * (truth & (layer.data == 1)).sum() / (truth.sum() + (layer.data == 1).sum()) > 0.8
    assert (viewer.layers["painted"].data > 0).sum() == truth.sum(), "the annotation is untouched"
    saved = w.save(tmp_path / "cells_unet")
    assert saved.is_file() and (learned_models_dir() / "cells_unet.json").is_file()
    w.model = None
    w.load(saved)
    assert w.model.name == "cells_unet" and w.predict_button.enabled
    w.model = None
    worker = w.load_in_background(saved)  # what the Load button does: the file is read off the UI thread
    qtbot.waitUntil(lambda: w.model is not None, timeout=TIMEOUT)
    assert w.model.name == "cells_unet" and not worker.is_running
    qtbot.waitUntil(lambda: w.status.text() == "loaded cells_unet.json", timeout=TIMEOUT)
    errors = []
    monkeypatch.setattr("napari_segsuite._widgets.learn_model.show_error", errors.append)
    (tmp_path / "junk.json").write_text("{not json")
    w.load_in_background(tmp_path / "junk.json")
    qtbot.waitUntil(lambda: bool(errors), timeout=TIMEOUT)
    assert len(errors) == 1 and "junk.json" in errors[0] and w.model.name == "cells_unet"
    assert w.status.text() == errors[0], "the status says why, instead of 'loading …'"


def test_cancel_keeps_the_best_epoch_so_far(dock, qtbot):
    viewer, w = dock
    w.epochs.value, w.steps.value = 200, 5
    w.start_training()
    qtbot.waitUntil(lambda: len(w.history) >= 2, timeout=TIMEOUT)
    w.cancel_button.changed.emit(True)
    qtbot.waitUntil(lambda: w.worker is None, timeout=TIMEOUT)
    assert w.model is not None and w.model.info["stopped"] == "cancelled"
    assert "cancelled" in w.status.text()


def test_bad_annotation_is_explained_and_nothing_runs(dock, qtbot):
    viewer, w = dock
    viewer.layers["painted"].data = np.zeros((96, 96), np.uint8)
    w.start_training()
    assert w.worker is None
    assert "only one class is annotated" in w.status.text() or "pixels are labelled" in w.status.text()


def test_a_stack_trains_on_its_annotated_slices(make_napari_viewer, qtbot):
    from napari_segsuite._widgets.learn_widget import training_pairs

    viewer = make_napari_viewer()
    pairs = [make_blobs(s, size=64) for s in range(3)]
    image = viewer.add_image(np.stack([p[0] for p in pairs]))
    lab = np.stack([(p[1] > 0).astype(np.uint8) for p in pairs])
    lab[1] = 0  # slice 1 not annotated yet
    labels = viewer.add_labels(lab)
    got = training_pairs(image, labels, sparse=False)
    assert len(got) == 2 and got[1][0] is not None and np.array_equal(got[1][1], lab[2])
    with pytest.raises(ValueError, match="shape"):
        training_pairs(image, viewer.add_labels(np.zeros((64, 64), np.uint8)), sparse=False)


def test_train_from_a_folder_of_images_and_labels(dock, qtbot, tmp_path):
    from napari_segsuite.io import write_labels

    viewer, w = dock
    for i in range(2):
        img, lab = make_blobs(200 + i, size=80)
        write_labels(tmp_path / "images" / f"a{i}.png", (img * 200).clip(0, 255).astype(np.uint8))
        write_labels(tmp_path / "labels" / f"a{i}.png", (lab > 0).astype(np.uint8))
    w.folder.value = str(tmp_path)
    w.epochs.value = 2
    w.start_training()
    qtbot.waitUntil(lambda: w.worker is None, timeout=TIMEOUT)
    assert w.model is not None and w.model.info["images"] == 2 and w.model.config.in_channels == 1


def test_a_model_far_from_converged_is_flagged_and_instance_models_bring_their_min_size(dock, qtbot):
    """One epoch of one step: the dock says the model is far from converged and what to do. An
    instance model sets the dock's min size to what it learnt from the training objects."""
    viewer, w = dock
    viewer.layers["painted"].data = make_blobs(0, size=96)[1]  # instance labels
    w.task.value = "instance"
    w.epochs.value, w.steps.value = 1, 1
    w.start_training()
    qtbot.waitUntil(lambda: w.worker is None, timeout=TIMEOUT)
    assert "far from converged" in w.status.text() and "train longer" in w.status.text()
    assert "nan" not in w.status.text(), "one image: no held-out objects, so no F1 is shown rather than 'nan'"
    assert w.model.config.task == "instance" and w.min_size.enabled
    assert w.min_size.value == w.model.min_object_size > 0

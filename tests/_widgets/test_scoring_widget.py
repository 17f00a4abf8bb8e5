"""The scoring panel: live scores while painting, overlays, export, bad pairs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from napari.utils.notifications import notification_manager

from napari_segsuite._widgets import ScoringWidget
from napari_segsuite.io import samples
from napari_segsuite.metrics import score

TIMEOUT = 10_000


@pytest.fixture
def setup(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _, gt = samples.cells()
    pred = gt.copy()
    pred[pred == 3] = 0  # one nucleus missed
    gt_layer = viewer.add_labels(gt, name="cells ground truth")
    pred_layer = viewer.add_labels(pred, name="my labels")
    w = ScoringWidget(viewer)
    viewer.window.add_dock_widget(w)
    wait(qtbot, w)
    return viewer, w, pred_layer, gt_layer


def wait(qtbot, w):
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    qtbot.wait(10)


def table(w):
    return {w.summary_table.item(i, 0).text(): w.summary_table.item(i, 1).text() for i in range(w.summary_table.rowCount())}


def test_scores_follow_a_paint_stroke(setup, qtbot):
    viewer, w, pred_layer, gt_layer = setup
    assert w.pred.value is pred_layer and w.gt.value is gt_layer
    w.kind.value = "semantic"
    wait(qtbot, w)
    expected = score(pred_layer.data, gt_layer.data)
    assert float(table(w)["mean_iou"]) == pytest.approx(expected.summary["mean_iou"], abs=1e-4)
    before = w.result.summary["mean_iou"]
    # paint the missed nucleus back, as a brush stroke would
    idx = np.nonzero(gt_layer.data == 3)
    pred_layer.data_setitem(idx, 3)
    pred_layer.events.paint(value=[])
    wait(qtbot, w)
    assert w.result.summary["mean_iou"] > before
    assert w.result.summary["mean_iou"] == pytest.approx(1.0)
    classes = [w.detail_table.item(i, 1).text() for i in range(w.detail_table.rowCount())]
    assert "3" in classes


def test_instance_mode_overlay_flags_missed_objects(setup, qtbot):
    viewer, w, pred_layer, gt_layer = setup
    w.kind.value = "instance"
    w.overlay.value = True
    wait(qtbot, w)
    assert w.result.summary["n_true"] == w.result.summary["n_pred"] + 1
    errors = w.error_layer.data
    missed = gt_layer.data == 3
    assert np.all(errors[missed] == 2) and not np.any(errors[~missed] == 2)
    assert not np.any(errors == 1)
    assert np.nanmin(w.iou_layer.data) == pytest.approx(1.0)
    assert viewer.layers.selection.active is not w.error_layer
    assert "threshold" == w.detail_table.horizontalHeaderItem(0).text()


def test_semantic_overlay_false_positives_and_negatives(setup, qtbot):
    viewer, w, pred_layer, gt_layer = setup
    pred_layer.data_setitem((np.array([0]), np.array([0])), 50)  # a false positive pixel on background
    w.overlay.value = True
    wait(qtbot, w)
    errors = w.error_layer.data
    assert errors[0, 0] == 1
    assert np.all(errors[gt_layer.data == 3] == 2)


def test_export_csv_and_json(setup, qtbot, tmp_path):
    _, w, _, _ = setup
    w.kind.value = "semantic"
    wait(qtbot, w)
    w.export(tmp_path / "s.csv")
    rows = list(csv.reader(open(tmp_path / "s.csv")))
    assert rows[0] == ["section", "name", "value"]
    assert any(r[:2] == ["summary", "mean_iou"] for r in rows)
    w.export(tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["summary"]["mean_iou"] == pytest.approx(w.result.summary["mean_iou"])


def test_shape_mismatch_is_refused_and_nothing_changes(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    a = viewer.add_labels(np.ones((10, 10), np.uint8), name="a")
    b = viewer.add_labels(np.ones((12, 10), np.uint8), name="b truth")
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    w = ScoringWidget(viewer)
    w.pred.value, w.gt.value = a, b
    wait(qtbot, w)
    assert "(10, 10)" in w.status.text() and "(12, 10)" in w.status.text()
    assert any("(12, 10)" in m for m in seen)
    assert a.data.sum() == 100 and b.data.sum() == 120


def test_a_labels_layer_of_another_image_is_not_taken_for_the_prediction(setup, qtbot):
    viewer, w, pred_layer, gt_layer = setup
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    w.pred.value = None  # nothing chosen: the newest matching layer is scored
    viewer.add_labels(np.zeros((31, 61, 57), np.int32), name="SAM labels")  # made in another image's dock
    wait(qtbot, w)
    assert w.pred.value is pred_layer and w.gt.value is gt_layer
    assert not [m for m in seen if "must match" in m]


def test_both_layers_empty_is_explained(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_labels(np.zeros((10, 10), np.uint8), name="ground truth")
    viewer.add_labels(np.zeros((10, 10), np.uint8), name="labels")
    w = ScoringWidget(viewer)
    w.kind.value = "all"
    wait(qtbot, w)
    assert "empty" in w.status.text()


def test_renamed_layers_stay_selected(setup, qtbot):
    viewer, w, pred_layer, gt_layer = setup
    w.pred.value = pred_layer
    pred_layer.name = "renamed"
    viewer.add_labels(np.zeros_like(gt_layer.data), name="another")
    assert w.pred.value is pred_layer and w.gt.value is gt_layer


def test_merged_objects_show_the_missed_one(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    gt = np.zeros((20, 30), np.uint8)
    gt[5:15, 2:14] = 1
    gt[5:15, 14:26] = 2
    pred = ((gt > 0) * 7).astype(np.uint8)  # one object over two: matches 1 or 2, misses the other
    viewer.add_labels(gt, name="ground truth")
    viewer.add_labels(pred, name="merged")
    w = ScoringWidget(viewer)
    w.kind.value = "instance"
    w.overlay.value = True
    wait(qtbot, w)
    errors = w.error_layer.data
    assert (errors == 2).sum() == 120, "the missed object is flagged whole"
    assert not (errors == 1).any()


def test_removing_a_layer_while_scoring_is_harmless(setup, qtbot):
    viewer, w, pred_layer, gt_layer = setup
    w.request_score(force=True)
    viewer.layers.remove(pred_layer)  # before the worker reports back
    wait(qtbot, w)
    assert w.pred.value is None or w.pred.value is not pred_layer


def test_auto_scores_object_ids_as_instances_and_says_so(setup, qtbot):
    _, w, pred_layer, gt_layer = setup
    assert w.kind.value == "auto"
    assert "f1@0.5" in w.result.summary and "mean_iou" not in w.result.summary
    assert w.status.text().startswith("auto: instance metrics (the ground truth holds")
    w.kind.value = "semantic"  # asked for explicitly: computed, with the reason it means little
    wait(qtbot, w)
    assert "mean_iou" in w.result.summary and "look like object ids" in w.status.text()


def test_helper_layers_are_never_offered_and_a_ground_truth_added_later_is_found(make_napari_viewer, qtbot):
    from napari_segsuite._widgets.layers import PREVIEW

    viewer = make_napari_viewer()
    _, gt = samples.cells()
    viewer.add_labels(gt, name="Thresholding preview", metadata={PREVIEW: True})
    mine = viewer.add_labels(gt.copy(), name="my labels")
    w = ScoringWidget(viewer)
    wait(qtbot, w)
    names = [name for name, _ in w._labels_choices()]
    assert names == ["my labels"] and w.gt.value is not None and w.gt.value.name == "my labels"
    truth = viewer.add_labels(gt.copy(), name="ground truth")
    wait(qtbot, w)
    assert w.gt.value is truth and w.pred.value is mine  # re-guessed: the user had not picked one
    w.gt.value = mine  # the user's pick
    viewer.add_labels(gt.copy(), name="other truth")
    assert w.gt.value is mine

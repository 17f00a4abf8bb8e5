"""Semantic metrics against scikit-learn and their stated conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import accuracy_score, f1_score, jaccard_score

from napari_segsuite.metrics import confusion_matrix, score, semantic_metrics


def _pair(seed=0, shape=(64, 80), k=5):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, k, shape).astype(np.uint8)
    pred = gt.copy()
    flip = rng.random(shape) < 0.3
    pred[flip] = rng.integers(0, k, flip.sum())
    return pred, gt


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.uint16])
def test_equal_to_scikit_learn(dtype):
    pred, gt = (a.astype(dtype) for a in _pair())
    m = semantic_metrics(confusion_matrix(pred, gt))
    y, p = gt.ravel(), pred.ravel()
    np.testing.assert_allclose(m["iou"], jaccard_score(y, p, average=None), atol=1e-12)
    np.testing.assert_allclose(m["dice"], f1_score(y, p, average=None), atol=1e-12)
    assert m["pixel_accuracy"] == pytest.approx(accuracy_score(y, p), abs=1e-12)
    assert m["mean_iou"] == pytest.approx(jaccard_score(y, p, average="macro"), abs=1e-12)


def test_uint8_fast_path_equals_bincount_path():
    pred, gt = _pair(k=200)
    wide = confusion_matrix(pred.astype(np.int64) + 0, gt.astype(np.int64), num_classes=300)
    np.testing.assert_array_equal(confusion_matrix(pred, gt), wide[:200, :200])


def test_ignore_label_and_absent_classes():
    gt = np.array([[0, 1, 255], [2, 2, 255]])
    pred = np.array([[0, 1, 1], [2, 0, 7]])
    s = score(pred, gt, ignore_index=255, num_classes=8)
    rows = {r["class"]: r for r in s.per_class}
    assert set(rows) == {0, 1, 2}, "classes absent from both maps (3..7) are excluded; 255 pixels are ignored"
    assert rows[2]["iou"] == pytest.approx(0.5)
    assert s.summary["pixel_accuracy"] == pytest.approx(3 / 4)
    assert s.summary["mean_iou"] == pytest.approx(np.mean([0.5, 1.0, 0.5]))


def test_class_present_in_one_map_scores_zero():
    gt = np.zeros((4, 4), int)
    pred = gt.copy()
    pred[0, 0] = 3
    m = semantic_metrics(confusion_matrix(pred, gt))
    assert m["iou"][3] == 0 and np.isnan(m["iou"][1])


def test_binary_foreground_mode():
    gt = np.zeros((10, 10), int)
    gt[2:6, 2:6] = 4
    pred = np.zeros((10, 10), int)
    pred[2:6, 2:8] = 9
    s = score(pred, gt, binary=True)
    assert s.summary["foreground_iou"] == pytest.approx(16 / 24)
    assert s.summary["foreground_recall"] == 1.0


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, (12, 9), elements=st.integers(0, 4)), arrays(np.uint8, (12, 9), elements=st.integers(0, 4)))
def test_properties(pred, gt):
    m = semantic_metrics(confusion_matrix(pred, gt, num_classes=5))
    present = ~np.isnan(m["iou"])
    assert np.all((m["iou"][present] >= 0) & (m["iou"][present] <= 1))
    iou = m["iou"][present]
    np.testing.assert_allclose(m["dice"][present], 2 * iou / (1 + iou), atol=1e-12)
    swapped = semantic_metrics(confusion_matrix(gt, pred, num_classes=5))
    np.testing.assert_allclose(swapped["iou"], m["iou"], equal_nan=True)  # IoU is symmetric
    perfect = semantic_metrics(confusion_matrix(gt, gt, num_classes=5))
    assert perfect["mean_iou"] == 1.0 and perfect["pixel_accuracy"] == 1.0

"""Error maps: false positives and negatives per pixel (semantic) or per object (instance)."""

from __future__ import annotations

import numpy as np

from napari_segsuite.metrics.errors import FN, FP, error_maps


def test_semantic_errors_are_per_pixel_and_skip_ignored_pixels():
    gt = np.array([[0, 1, 1], [2, 2, 0], [255, 0, 0]])
    pred = np.array([[1, 1, 0], [2, 1, 0], [1, 0, 0]])
    errors, iou = error_maps(pred, gt, "semantic", ignore_index=255)
    assert iou is None
    np.testing.assert_array_equal(errors, [[FP, 0, FN], [0, FP, 0], [0, 0, 0]])


def test_instance_errors_mark_whole_unmatched_objects_and_give_each_object_its_iou():
    gt = np.zeros((10, 10), np.int32)
    gt[1:5, 1:5] = 1  # matched by prediction 7 (IoU 0.75)
    gt[6:9, 6:9] = 2  # missed
    pred = np.zeros_like(gt)
    pred[1:5, 1:4] = 7
    pred[0, 8:10] = 3  # a false object
    errors, iou = error_maps(pred, gt, "instance")
    assert (errors[pred == 3] == FP).all() and (errors[gt == 2] == FN).all()
    assert not errors[pred == 7].any() and not errors[(pred == 0) & (gt != 2)].any()
    assert np.isclose(iou[pred == 7], 0.75).all() and (iou[pred == 3] == 0).all() and np.isnan(iou[pred == 0]).all()

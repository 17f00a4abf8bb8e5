"""Validation of a (prediction, ground truth) pair of label maps."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_labels", "check_pair"]


def check_labels(labels: Any, name: str) -> np.ndarray:
    """An integer label map, or a ``TypeError``/``ValueError`` that says what is wrong."""
    arr = np.asarray(labels)
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all() or np.any(arr[finite] != np.round(arr[finite])):
            raise TypeError(f"{name} must hold integer labels, got {arr.dtype} with non-integer values")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer label map, got dtype {arr.dtype}")
    if arr.size and arr.dtype.kind == "i" and arr.min() < 0:
        raise ValueError(f"{name} holds negative labels (min {arr.min()}); labels are 0 (background) or positive")
    return arr


def check_pair(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a prediction and ground truth of the same shape."""
    pred = check_labels(pred, "the prediction")
    gt = check_labels(gt, "the ground truth")
    if pred.shape != gt.shape:
        raise ValueError(f"the prediction has shape {pred.shape} but the ground truth has shape {gt.shape}: they must match")
    if pred.ndim < 2:
        raise ValueError(f"label maps must be at least 2D, got shape {pred.shape}")
    return pred, gt

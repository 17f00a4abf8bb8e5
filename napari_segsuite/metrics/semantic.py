"""Semantic metrics from one confusion matrix.

Conventions: ``C[t, p]`` counts pixels of true class t predicted as p. Background (0) is a class
like any other. Pixels whose ground truth equals ``ignore_index`` (VOC's 255) are left out. A class
absent from both maps (no true and no predicted pixel) is excluded from the means (NaN in its
row), as mmsegmentation and the FCN scorer do; a class present in only one map scores 0.
"""

from __future__ import annotations

import numpy as np

from .. import cv_compat

__all__ = ["confusion_matrix", "semantic_metrics"]

MAX_AUTO_CLASSES = 4096  # K² int64 counts (128 MiB here; 32 GiB at 65536): larger label values need num_classes


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, *, num_classes: int | None = None, ignore_index: int | None = None) -> np.ndarray:
    """``K x K`` int64 confusion matrix (rows: ground truth, columns: prediction).

    ``K`` is ``num_classes`` or 1 + the largest label of either map (ignoring ``ignore_index``);
    labels at or above ``num_classes`` raise ``ValueError``.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if ignore_index is not None:
        keep = gt != ignore_index
        if not keep.all():
            pred, gt = pred[keep], gt[keep]
    top = max(int(pred.max()) if pred.size else 0, int(gt.max()) if gt.size else 0)
    if num_classes is None and top >= MAX_AUTO_CLASSES:
        raise ValueError(f"label {top} would need a {top + 1} x {top + 1} confusion matrix: renumber the classes "
                         f"(or pass num_classes); object ids are scored with instance metrics")
    k = top + 1 if num_classes is None else int(num_classes)
    if top >= k:
        raise ValueError(f"label {top} is not below num_classes={k}")
    if k <= 256 and pred.size:
        hist = cv_compat.pair_histogram(gt, pred, k)  # with OpenCV: ten times faster than bincount
        if hist is not None:
            return hist
    idx = gt.astype(np.int64).ravel() * k + pred.astype(np.int64).ravel()
    return np.bincount(idx, minlength=k * k).reshape(k, k)


def semantic_metrics(cm: np.ndarray) -> dict[str, np.ndarray | float]:
    """Pixel accuracy, mean class accuracy, per-class and mean IoU and Dice, frequency-weighted IoU."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    gt_count = cm.sum(axis=1)
    pred_count = cm.sum(axis=0)
    total = cm.sum()
    union = gt_count + pred_count - tp
    present = union > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(present, tp / union, np.nan)
        dice = np.where(present, 2 * tp / (gt_count + pred_count), np.nan)
        class_acc = np.where(gt_count > 0, tp / gt_count, np.where(present, 0.0, np.nan))
        precision = np.where(pred_count > 0, tp / pred_count, np.where(present, 0.0, np.nan))
    freq = gt_count / total if total else np.zeros_like(gt_count)
    return {
        "pixel_accuracy": float(tp.sum() / total) if total else float("nan"),
        "mean_class_accuracy": float(np.nanmean(class_acc)) if present.any() else float("nan"),
        "mean_iou": float(np.nanmean(iou)) if present.any() else float("nan"),
        "mean_dice": float(np.nanmean(dice)) if present.any() else float("nan"),
        "fw_iou": float(np.nansum(freq * np.nan_to_num(iou))) if total else float("nan"),
        "iou": iou,
        "dice": dice,
        "class_accuracy": class_acc,
        "precision": precision,
        "support": gt_count.astype(np.int64),
        "predicted": pred_count.astype(np.int64),
    }

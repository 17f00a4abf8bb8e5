"""Where a prediction goes wrong, as maps to lay over the image: false positives and false
negatives per pixel (semantic) or per object (instance, matched at IoU 0.5), and each predicted
object's matched IoU. The Scoring panel draws them; they are plain arrays for any other use.
"""

from __future__ import annotations

import numpy as np

from .instance import iou_matrix, match_objects

__all__ = ["FN", "FP", "error_maps"]

FP, FN = 1, 2  # the values of the error map: false positive, false negative


def error_maps(pred: np.ndarray, gt: np.ndarray, kind: str, *, ignore_index: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Error overlay: 1 = false positive, 2 = false negative; plus, for instances, matched IoU.

    Semantic: a labelled pixel whose class differs from the truth is a false positive; a true
    labelled pixel left as background a false negative. Instance: whole unmatched predicted objects
    (IoU < 0.5) are false positives, unmatched true objects false negatives, and every predicted
    object is painted with its matched IoU in the second map.
    """
    errors = np.zeros(pred.shape, np.uint8)
    if kind != "instance":
        errors[(pred != 0) & (pred != gt)] = FP
        errors[(gt != 0) & (pred == 0)] = FN
        if ignore_index is not None:
            errors[gt == ignore_index] = 0
        return errors, None
    ov = iou_matrix(pred, gt)
    ti, pi = match_objects(ov.iou, 0.5)
    lut_fp = np.zeros(int(pred.max()) + 1, np.uint8)
    lut_fp[ov.pred_ids] = FP
    lut_fp[ov.pred_ids[pi]] = 0
    lut_fn = np.zeros(int(gt.max()) + 1, np.uint8)
    lut_fn[ov.true_ids] = FN
    lut_fn[ov.true_ids[ti]] = 0
    fp = lut_fp[pred]
    errors = np.where(fp > 0, fp, lut_fn[gt])  # a missed object shows even under a merged prediction
    best = ov.iou.max(axis=0) if ov.iou.size else np.zeros(len(ov.pred_ids))
    lut_iou = np.full(int(pred.max()) + 1, np.nan, np.float32)
    lut_iou[ov.pred_ids] = best
    return errors, lut_iou[pred]

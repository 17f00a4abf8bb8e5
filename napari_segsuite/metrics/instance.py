"""Instance metrics: objects matched by IoU, detection scores over IoU thresholds, panoptic
quality, adapted Rand error and split variation of information.

Conventions: 0 is background, every other id one object. Predicted and true objects are matched
one-to-one by the Hungarian algorithm, maximising first the number of pairs with IoU >= the
threshold, then their total IoU (as StarDist's ``matching``); a pair counts as a true positive
when its IoU >= threshold. accuracy = TP / (TP + FP + FN) (the DSB 2018 "average precision" at
one threshold). With no object in either map every score is NaN (nothing to score).
Adapted Rand error and VOI follow ``skimage.metrics`` (true background ignored by the former).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment

from .region import conditional_entropies, contingency

__all__ = ["THRESHOLDS", "adapted_rand", "instance_metrics", "iou_matrix", "match_objects", "panoptic_quality", "split_voi"]

THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))


@dataclass
class Overlap:
    """IoU of every (true, predicted) object pair, and the objects' ids."""

    iou: np.ndarray  # (n_true, n_pred) dense
    true_ids: np.ndarray
    pred_ids: np.ndarray


def iou_matrix(pred: np.ndarray, gt: np.ndarray) -> Overlap:
    """IoU between all true and predicted objects, from one sparse contingency table."""
    p = np.asarray(pred).ravel()
    g = np.asarray(gt).ravel()
    true_ids, g_idx = np.unique(g, return_inverse=True) if g.max() > 65535 else _dense_ids(g)
    pred_ids, p_idx = np.unique(p, return_inverse=True) if p.max() > 65535 else _dense_ids(p)
    n = sparse.coo_matrix((np.ones(p.size, np.int64), (g_idx, p_idx)), shape=(len(true_ids), len(pred_ids))).tocsr()
    area_g = np.asarray(n.sum(axis=1)).ravel()
    area_p = np.asarray(n.sum(axis=0)).ravel()
    inter = n.toarray().astype(np.float64)
    keep_g = true_ids != 0
    keep_p = pred_ids != 0
    inter = inter[np.ix_(keep_g, keep_p)]
    union = area_g[keep_g, None] + area_p[None, keep_p] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return Overlap(iou, true_ids[keep_g], pred_ids[keep_p])


def _dense_ids(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)`` via bincount for small ids (much faster)."""
    counts = np.bincount(a)
    ids = np.flatnonzero(counts)
    lut = np.zeros(len(counts), np.int64)
    lut[ids] = np.arange(len(ids))
    return ids, lut[a]


def match_objects(iou: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching; returns (true index, pred index) pairs with IoU >= threshold."""
    if iou.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    n_pairs = max(min(iou.shape), 1)
    cost = -(iou >= threshold).astype(np.float64) - iou / (2 * n_pairs)
    rows, cols = linear_sum_assignment(cost)
    ok = iou[rows, cols] >= threshold
    return rows[ok], cols[ok]


def instance_metrics(pred: np.ndarray, gt: np.ndarray, *, thresholds: Sequence[float] = THRESHOLDS) -> dict[str, object]:
    """Precision, recall, F1, accuracy and mean matched IoU at each IoU threshold, and their means."""
    ov = iou_matrix(pred, gt)
    n_true, n_pred = ov.iou.shape
    rows = []
    for t in thresholds:
        ti, pi = match_objects(ov.iou, t)
        tp = len(ti)
        row = detection_row(t, tp, n_pred - tp, n_true - tp)
        row["mean_matched_iou"] = float(ov.iou[ti, pi].mean()) if tp else float("nan")
        rows.append(row)
    return {"summary": detection_summary(rows, n_true, n_pred), "per_threshold": rows, "overlap": ov}


def detection_row(threshold: float, tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 and accuracy TP / (TP + FP + FN) from counts (NaN when undefined)."""
    nan = float("nan")
    return {
        "threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else nan,
        "recall": tp / (tp + fn) if tp + fn else nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else nan,
        "accuracy": tp / (tp + fp + fn) if tp + fp + fn else nan,
    }


def detection_summary(rows: Sequence[Mapping[str, float]], n_true: int, n_pred: int) -> dict[str, float]:
    """Means over the thresholds, the scores at IoU 0.5, and the object counts."""
    summary = {f"{k}_mean": float(np.mean([r[k] for r in rows])) for k in ("precision", "recall", "f1", "accuracy")}
    at50 = next((r for r in rows if abs(r["threshold"] - 0.5) < 1e-9), rows[0])
    summary.update({"n_true": n_true, "n_pred": n_pred, "f1@0.5": at50["f1"], "precision@0.5": at50["precision"], "recall@0.5": at50["recall"]})
    return summary


def panoptic_quality(
    pred: np.ndarray, gt: np.ndarray, *, pred_classes: Mapping[int, int] | None = None, gt_classes: Mapping[int, int] | None = None,
) -> dict[str, object]:
    """PQ, SQ and RQ (Kirillov et al. 2019) per class and their mean over classes.

    Objects match when they share a class and IoU > 0.5 (unique by construction). Without class
    mappings every object is of one class.
    """
    ov = iou_matrix(pred, gt)
    pc = np.array([(pred_classes or {}).get(int(i), 1) for i in ov.pred_ids], dtype=np.int64)
    gc = np.array([(gt_classes or {}).get(int(i), 1) for i in ov.true_ids], dtype=np.int64)
    per_class = {}
    for c in sorted(set(pc.tolist()) | set(gc.tolist())):
        sub = ov.iou[np.ix_(gc == c, pc == c)]
        matched = sub > 0.5
        tp = int(matched.sum())
        fp, fn = int((pc == c).sum()) - tp, int((gc == c).sum()) - tp
        iou_sum = float(sub[matched].sum())
        denom = tp + 0.5 * fp + 0.5 * fn
        per_class[c] = {
            "pq": iou_sum / denom if denom else float("nan"),
            "sq": iou_sum / tp if tp else 0.0,
            "rq": tp / denom if denom else float("nan"),
            "tp": tp, "fp": fp, "fn": fn,
        }
    vals = [v for v in per_class.values() if not np.isnan(v["pq"])]
    mean = {k: float(np.mean([v[k] for v in vals])) if vals else float("nan") for k in ("pq", "sq", "rq")}
    return {"summary": mean, "per_class": per_class}


def adapted_rand(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    """Adapted Rand error, precision and recall, as ``skimage.metrics.adapted_rand_error``
    (true background ignored), from :func:`.region.contingency` (no allocation by label value)."""
    g = np.asarray(gt).ravel()
    keep = g != 0
    if not keep.any():
        return float("nan"), float("nan"), float("nan")
    n = contingency(g[keep], np.asarray(pred).ravel()[keep])
    counts = n.data.astype(np.float64)
    sum_ij = float(counts @ counts) - float(counts.sum())
    a = np.asarray(n.sum(axis=1), np.float64).ravel()
    b = np.asarray(n.sum(axis=0), np.float64).ravel()
    sum_a = float(a @ a) - float(a.sum())
    sum_b = float(b @ b) - float(b.sum())
    precision = sum_ij / sum_a if sum_a else float("nan")
    recall = sum_ij / sum_b if sum_b else float("nan")
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return 1.0 - f, precision, recall


def split_voi(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """(H(pred | gt), H(gt | pred)) in bits, as ``skimage.metrics.variation_of_information(gt, pred)``:
    the false-split and false-merge parts of VOI."""
    h_g_given_p, h_p_given_g = conditional_entropies(contingency(gt, pred))
    return h_p_given_g, h_g_given_p

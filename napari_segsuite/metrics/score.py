"""``score``: one entry point for every metric, returning a flat, named result."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from ._checks import check_pair
from .boundary import bf_score
from .instance import (
    THRESHOLDS,
    adapted_rand,
    detection_row,
    detection_summary,
    instance_metrics,
    panoptic_quality,
    split_voi,
)
from .semantic import confusion_matrix, semantic_metrics

__all__ = ["INSTANCE_IDS", "KINDS", "Score", "auto_kind", "jsonable", "object_ids", "score"]

Kind = Literal["semantic", "instance", "boundary", "all"]
KINDS = ("semantic", "instance", "boundary", "all")


@dataclass
class Score:
    """Scores of one prediction against one ground truth.

    ``summary`` is flat (metric name -> number) and is the table row of this pair; ``per_class``
    has one row per class (semantic and boundary), ``per_threshold`` one row per IoU threshold
    (instance), ``per_slice`` the summary of each 2D slice of an nD pair.
    """

    kind: str
    summary: dict[str, float] = field(default_factory=dict)
    per_class: list[dict[str, Any]] = field(default_factory=list)
    per_threshold: list[dict[str, Any]] = field(default_factory=list)
    per_slice: list[dict[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self) -> dict[str, float]:
        return dict(self.summary)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def mean_of_defined(values: Sequence[float]) -> float:
    """Mean over the defined (non-NaN) values; NaN when none is defined."""
    defined = [float(v) for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars as Python numbers and NaN as None, ready for ``json.dumps``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def score(
    pred: Any,
    gt: Any,
    *,
    kind: Kind = "semantic",
    ignore_index: int | None = None,
    num_classes: int | None = None,
    binary: bool = False,
    tolerance: float | None = None,
    class_names: Mapping[int, str] | None = None,
    pred_classes: Mapping[int, int] | None = None,
    gt_classes: Mapping[int, int] | None = None,
    thresholds: Sequence[float] = THRESHOLDS,
) -> Score:
    """Score label map ``pred`` against ``gt`` (same shape; nD is scored per 2D slice and overall).

    Parameters
    ----------
    kind : str
        ``semantic`` (confusion-matrix metrics), ``instance`` (object matching, PQ, adapted Rand,
        VOI), ``boundary`` (per-class BF score) or ``all``.
    ignore_index : int, optional
        Ground-truth label left out of semantic and boundary scores (VOC: 255).
    num_classes : int, optional
        Number of classes (default: 1 + the largest label).
    binary : bool
        Semantic/boundary on foreground (label > 0) versus background only.
    tolerance : float, optional
        BF distance tolerance in pixels (default 0.75 % of the image diagonal, as Csurka et al.).
    class_names : mapping, optional
        Names for the per-class rows.
    pred_classes, gt_classes : mapping, optional
        Object id -> class id, for panoptic quality per class.
    thresholds : sequence of float
        IoU thresholds of the instance scores (default 0.5, 0.55, ..., 0.95).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    pred, gt = check_pair(pred, gt)
    kinds = ("semantic", "instance", "boundary") if kind == "all" else (kind,)
    out = Score(kind)
    if pred.ndim > 2:
        slices = list(np.ndindex(pred.shape[:-2]))
        parts = []
        for idx in slices:
            s = score(pred[idx], gt[idx], kind=kind, ignore_index=ignore_index, num_classes=num_classes, binary=binary,
                      tolerance=tolerance, class_names=class_names, pred_classes=pred_classes, gt_classes=gt_classes, thresholds=thresholds)
            out.per_slice.append({"slice": list(idx), **s.summary})
            parts.append(s)
        _combine(out, parts, kinds, pred, gt, ignore_index, num_classes, binary, class_names)
        return out
    if ignore_index is not None and np.all(gt == ignore_index):
        out.notes.append("every ground-truth pixel carries the ignore label: nothing to score")
    if not pred.any() and not gt.any():
        out.notes.append("both label maps are empty")
    if "semantic" in kinds:
        if not binary and class_names is None and num_classes is None:
            n = object_ids(gt, ignore_index)
            if n:
                out.notes.append(f"the ground truth holds {n} ids and no class names: they look like object ids, and "
                                 f"semantic scores treat each id as a class of its own, so mean IoU / Dice say little "
                                 f"here; use instance scores (kind 'instance'), or binary foreground scores")
        _semantic(out, pred, gt, ignore_index, num_classes, binary, class_names)
    if "boundary" in kinds:
        _boundary(out, pred, gt, ignore_index, binary, tolerance, class_names)
    if "instance" in kinds:
        _instance(out, pred, gt, pred_classes, gt_classes, thresholds)
    return out


INSTANCE_IDS = 16  # more distinct non-zero ids than this, with no class names, reads as object ids


def object_ids(labels: Any, ignore_index: int | None = None) -> int:
    """How many distinct non-zero ids ``labels`` holds when there are more than
    :data:`INSTANCE_IDS` of them (so they look like object ids rather than classes), else 0."""
    values = np.unique(np.asarray(labels))
    values = values[(values != 0) & (values != (ignore_index if ignore_index is not None else 0))]
    return int(values.size) if values.size > INSTANCE_IDS else 0


def auto_kind(gt: Any, *, ignore_index: int | None = None, binary: bool = False,
              class_names: Mapping[int, str] | None = None) -> tuple[str, str]:
    """The kind of score a ground truth calls for, and why: ``instance`` when it holds many object
    ids (:func:`object_ids`) and no class names, else ``semantic``."""
    ids = 0 if (binary or class_names) else object_ids(gt, ignore_index)
    if ids:
        return "instance", f"the ground truth holds {ids} object ids and no class names"
    return "semantic", "the ground truth holds class ids"


def _prepare_semantic(pred, gt, ignore_index, binary):
    if binary:
        p = (pred > 0).astype(np.uint8)
        g = (gt > 0).astype(np.uint8)
        if ignore_index is not None:
            g[gt == ignore_index] = 255
        return p, g, (255 if ignore_index is not None else None)
    return pred, gt, ignore_index


def _class_rows(out: Score, m: dict, class_names, ids=None) -> None:
    rows = {r["class"]: r for r in out.per_class}
    for i in range(len(m["iou"])):
        if np.isnan(m["iou"][i]):
            continue  # absent from both maps: excluded, as the means exclude it
        c = i if ids is None else int(ids[i])
        row = rows.setdefault(c, {"class": c, "name": (class_names or {}).get(c, str(c))})
        row.update({"iou": m["iou"][i], "dice": m["dice"][i], "accuracy": m["class_accuracy"][i],
                    "precision": m["precision"][i], "support": int(m["support"][i]), "predicted": int(m["predicted"][i])})
    out.per_class = [rows[k] for k in sorted(rows)]


def _semantic(out, pred, gt, ignore_index, num_classes, binary, class_names):
    p, g, ign = _prepare_semantic(pred, gt, ignore_index, binary)
    ids = None
    if num_classes is None and not binary:
        p, g, ign, ids = _compact_labels(p, g, ign)
    cm = confusion_matrix(p, g, num_classes=2 if binary else num_classes, ignore_index=ign)
    m = semantic_metrics(cm)
    out.summary.update({k: m[k] for k in ("pixel_accuracy", "mean_class_accuracy", "mean_iou", "mean_dice", "fw_iou")})
    if binary and len(m["iou"]) > 1:
        out.summary.update({"foreground_iou": float(m["iou"][1]), "foreground_dice": float(m["dice"][1]),
                            "foreground_precision": float(m["precision"][1]), "foreground_recall": float(m["class_accuracy"][1])})
    _class_rows(out, m, class_names, ids)


MAX_SEMANTIC_CLASSES = 4096


def _compact_labels(p, g, ign):
    """Label values renumbered 0..K-1 over the values present when they are sparse (a label 65535
    in a small mask), so the confusion matrix is K x K for the K classes present, not 65536²; ids
    maps the new numbers back. Refuses more than MAX_SEMANTIC_CLASSES classes (instance maps)."""
    valid = g != ign if ign is not None else np.ones(g.shape, bool)
    ids = np.union1d(np.unique(p[valid]), np.unique(g[valid]))
    if not ids.size or int(ids[-1]) < max(256, 2 * ids.size):
        return p, g, ign, None
    if ids.size > MAX_SEMANTIC_CLASSES:
        raise ValueError(f"these maps hold {ids.size} distinct labels: semantic scores need class ids (at most "
                         f"{MAX_SEMANTIC_CLASSES}); for object ids use --kind instance")
    k = ids.size
    new_p = np.searchsorted(ids, p).astype(np.int32)
    new_g = np.where(valid, np.searchsorted(ids, g), k).astype(np.int32)
    new_p[~valid] = 0
    return new_p, new_g, (k if not valid.all() else None), ids


def _boundary(out, pred, gt, ignore_index, binary, tolerance, class_names):
    p, g, ign = _prepare_semantic(pred, gt, ignore_index, binary)
    tol = 0.0075 * float(np.hypot(*p.shape)) if tolerance is None else float(tolerance)
    valid = g != ign if ign is not None else np.ones(g.shape, bool)
    classes = sorted((set(np.unique(p[valid]).tolist()) | set(np.unique(g[valid]).tolist())) - {ign})
    rows = {r["class"]: r for r in out.per_class}
    bfs = []
    for c in classes:
        _, _, f = bf_score((p == c) & valid, (g == c) & valid, tol)
        bfs.append(f)
        row = rows.setdefault(c, {"class": c, "name": (class_names or {}).get(c, str(c))})
        row["bf"] = f
    out.per_class = [rows[k] for k in sorted(rows)]
    out.summary["bf_mean"] = float(np.mean(bfs)) if bfs else float("nan")
    out.summary["bf_tolerance_px"] = tol


def _instance(out, pred, gt, pred_classes, gt_classes, thresholds):
    res = instance_metrics(pred, gt, thresholds=thresholds)
    out.summary.update(res["summary"])
    out.per_threshold = res["per_threshold"]
    pq = panoptic_quality(pred, gt, pred_classes=pred_classes, gt_classes=gt_classes)
    out.summary.update({k: v for k, v in pq["summary"].items()})
    are, _, _ = adapted_rand(pred, gt)
    split, merge = split_voi(pred, gt)
    out.summary.update({"adapted_rand_error": are, "voi_split": split, "voi_merge": merge, "voi": split + merge})
    if res["summary"]["n_true"] == 0 and res["summary"]["n_pred"] == 0:
        out.notes.append("no object in either map: instance scores are undefined (NaN)")


def _combine(out, parts, kinds, pred, gt, ignore_index, num_classes, binary, class_names):
    """Overall scores of an nD pair: semantic on all pixels, instance counts summed over slices,
    boundary and the rest averaged over slices."""
    if "semantic" in kinds:
        _semantic(out, pred, gt, ignore_index, num_classes, binary, class_names)
    if "instance" in kinds:
        rows = [
            detection_row(t["threshold"], *(sum(p.per_threshold[i][k] for p in parts) for k in ("tp", "fp", "fn")))
            for i, t in enumerate(parts[0].per_threshold)
        ]
        out.per_threshold = rows
        out.summary.update(detection_summary(rows, sum(p.summary["n_true"] for p in parts), sum(p.summary["n_pred"] for p in parts)))
    for key in parts[0].summary:
        if key not in out.summary:
            out.summary[key] = mean_of_defined([p.summary[key] for p in parts])
    for p in parts:
        out.notes.extend(n for n in p.notes if n not in out.notes)

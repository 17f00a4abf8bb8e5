"""COCO-style mask average precision (the ``segm`` evaluation of pycocotools' COCOeval).

For each category and image, detections are taken by decreasing score (at most ``max_dets``)
and matched greedily to the best still-free ground-truth object with IoU >= t; a crowd
ground truth may absorb any number of detections (IoU = intersection / detection area) and
such matches are ignored, as are unmatched ground truths marked crowd. Precision is made
monotone and read at 101 recall points; AP averages over them, the IoU thresholds
0.5:0.05:0.95 and the categories that have ground truth. Area range: all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CocoImage", "coco_ap"]

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)


@dataclass
class CocoImage:
    """Objects of one image: boolean masks (N, Y, X), their categories, crowd flags or scores."""

    masks: np.ndarray
    categories: Sequence[int]
    iscrowd: Sequence[bool] = field(default_factory=list)
    scores: Sequence[float] = field(default_factory=list)


def _ious(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    d = dt.reshape(len(dt), -1).astype(np.float64)
    g = gt.reshape(len(gt), -1).astype(np.float64)
    inter = d @ g.T
    area_d = d.sum(1)[:, None]
    area_g = g.sum(1)[None, :]
    union = np.where(crowd[None, :], area_d, area_d + area_g - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def coco_ap(gts: Sequence[CocoImage], dts: Sequence[CocoImage], *, max_dets: int = 100) -> dict[str, float]:
    """AP over IoU 0.5:0.95, AP at 0.5 and at 0.75, for paired per-image ground truths and detections."""
    if len(gts) != len(dts):
        raise ValueError(f"{len(gts)} ground-truth images but {len(dts)} prediction images")
    cats = sorted({int(c) for g in gts for c in g.categories})
    n_t = len(IOU_THRESHOLDS)
    precision = np.full((n_t, len(RECALL_THRESHOLDS), len(cats)), -1.0)
    for k, cat in enumerate(cats):
        scores, matched, ignored = [], [], []
        n_gt = 0
        for g, d in zip(gts, dts):
            gi = [i for i, c in enumerate(g.categories) if c == cat]
            di = [i for i, c in enumerate(d.categories) if c == cat]
            crowd = np.array([bool(g.iscrowd[i]) if len(g.iscrowd) else False for i in gi], bool)
            order_g = np.argsort(crowd, kind="mergesort")  # non-crowd first
            gi = [gi[i] for i in order_g]
            crowd = crowd[order_g]
            dsc = np.array([d.scores[i] if len(d.scores) else 1.0 for i in di], np.float64)
            order_d = np.argsort(-dsc, kind="mergesort")[:max_dets]
            di = [di[i] for i in order_d]
            dsc = dsc[order_d]
            n_gt += int((~crowd).sum())
            if not di:
                continue
            iou = _ious(d.masks[di], g.masks[gi], crowd) if gi else np.zeros((len(di), 0))
            dtm = np.zeros((n_t, len(di)), bool)
            dt_ig = np.zeros((n_t, len(di)), bool)
            for t, thr in enumerate(IOU_THRESHOLDS):
                gtm = np.zeros(len(gi), bool)
                for j in range(len(di)):
                    best, m = min(thr, 1 - 1e-10), -1
                    for gidx in range(len(gi)):
                        if gtm[gidx] and not crowd[gidx]:
                            continue
                        if m > -1 and not crowd[m] and crowd[gidx]:
                            break
                        if iou[j, gidx] < best:
                            continue
                        best, m = iou[j, gidx], gidx
                    if m == -1:
                        continue
                    dt_ig[t, j] = crowd[m]
                    dtm[t, j] = True
                    gtm[m] = True
            scores.append(dsc)
            matched.append(dtm)
            ignored.append(dt_ig)
        if n_gt == 0:
            continue
        if not scores:
            precision[:, :, k] = 0.0
            continue
        sc = np.concatenate(scores)
        order = np.argsort(-sc, kind="mergesort")
        dtm = np.concatenate(matched, axis=1)[:, order]
        dt_ig = np.concatenate(ignored, axis=1)[:, order]
        tps = np.cumsum(dtm & ~dt_ig, axis=1).astype(np.float64)
        fps = np.cumsum(~dtm & ~dt_ig, axis=1).astype(np.float64)
        for t in range(n_t):
            rc = tps[t] / n_gt
            pr = tps[t] / np.maximum(tps[t] + fps[t], np.spacing(1))
            pr = np.maximum.accumulate(pr[::-1])[::-1]  # monotone envelope
            idx = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
            q = np.zeros(len(RECALL_THRESHOLDS))
            ok = idx < len(pr)
            q[ok] = pr[idx[ok]]
            precision[t, :, k] = q

    def mean(p: np.ndarray) -> float:
        valid = p[p > -1]
        return float(valid.mean()) if valid.size else float("nan")

    return {"ap": mean(precision), "ap50": mean(precision[0]), "ap75": mean(precision[5])}

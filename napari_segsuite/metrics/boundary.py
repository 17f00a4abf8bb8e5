"""Boundary metrics: the BF score and the BSDS500 boundary benchmark.

BSDS conventions (Arbelaez et al., TPAMI 2011, and the benchmark's own code): a soft boundary map
in [0, 1] is thresholded at each threshold and thinned to one-pixel width; its pixels are matched
one-to-one to each human annotator's boundary pixels within ``max_dist`` x the image diagonal
(0.0075 by default). Recall counts matched human pixels over all annotators; precision counts
machine pixels matched to at least one annotator. ODS picks the best F over thresholds for the
whole data set, OIS per image; both interpolate linearly between thresholds as the original does;
AP is the area under the precision-recall curve sampled at recall 0, 0.01, ..., 1.

The matching is a maximum-cardinality bipartite matching on pixel pairs within the radius: the
original's minimum-cost assignment charges outliers 100 x the radius, so it also maximises the
number of matched pairs; only the choice among equally many matches can differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.spatial import cKDTree
from skimage.morphology import thin

from ._matching import max_bipartite_matching

__all__ = ["BoundaryCounts", "bf_score", "bsds_boundary_image", "bsds_boundary_maps", "bsds_collect", "correspond_pixels", "label_boundaries"]


def label_boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels of a label map whose right or lower neighbour has another label (thin, inner side)."""
    labels = np.asarray(labels)
    b = np.zeros(labels.shape, bool)
    b[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    b[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return b


def bf_score(pred_mask: np.ndarray, gt_mask: np.ndarray, tolerance: float) -> tuple[float, float, float]:
    """Boundary F1 of two binary masks (Csurka et al. 2013): ``(precision, recall, f1)``.

    A boundary pixel counts as correct when the other map has a boundary pixel within
    ``tolerance`` pixels (Euclidean). Masks without boundary on both sides score 1; on one side 0.
    """
    bp = _mask_boundary(pred_mask)
    bg = _mask_boundary(gt_mask)
    n_p, n_g = int(bp.sum()), int(bg.sum())
    if n_p == 0 and n_g == 0:
        return 1.0, 1.0, 1.0
    if n_p == 0 or n_g == 0:
        return 0.0, 0.0, 0.0
    dist_to_g = ndi.distance_transform_edt(~bg)
    dist_to_p = ndi.distance_transform_edt(~bp)
    precision = float(np.count_nonzero(dist_to_g[bp] <= tolerance)) / n_p
    recall = float(np.count_nonzero(dist_to_p[bg] <= tolerance)) / n_g
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _mask_boundary(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask, bool)
    return mask & ~ndi.binary_erosion(mask, border_value=0)


def correspond_pixels(bmap1: np.ndarray, bmap2: np.ndarray, max_dist: float = 0.0075) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of two boundary maps within ``max_dist`` x the image diagonal.

    Returns boolean maps of the matched pixels of each input (the BSDS ``correspondPixels``).
    """
    bmap1 = np.asarray(bmap1, bool)
    bmap2 = np.asarray(bmap2, bool)
    m1 = np.zeros(bmap1.shape, bool)
    m2 = np.zeros(bmap2.shape, bool)
    p1, p2 = np.argwhere(bmap1), np.argwhere(bmap2)
    if len(p1) == 0 or len(p2) == 0:
        return m1, m2
    radius = max_dist * float(np.hypot(*bmap1.shape[:2]))
    pairs = cKDTree(p1).sparse_distance_matrix(cKDTree(p2), radius, output_type="coo_matrix")
    graph = coo_matrix((np.ones(pairs.nnz, np.int8), (pairs.row, pairs.col)), shape=(len(p1), len(p2))).tocsr()
    partner = max_bipartite_matching(graph.indptr, graph.indices, len(p2))
    ok = partner >= 0
    m1[tuple(p1[ok].T)] = True
    m2[tuple(p2[partner[ok]].T)] = True
    return m1, m2


@dataclass
class BoundaryCounts:
    """Per-threshold counts of one image: recall = cnt_r / sum_r, precision = cnt_p / sum_p."""

    thresholds: np.ndarray
    cnt_r: np.ndarray
    sum_r: np.ndarray
    cnt_p: np.ndarray
    sum_p: np.ndarray


def bsds_boundary_image(
    pb: np.ndarray, gt_boundaries: Sequence[np.ndarray], *, thresholds: int | Sequence[float] = 99,
    max_dist: float = 0.0075, thin_pb: bool = True,
) -> BoundaryCounts:
    """Counts of one image against all its annotators (the BSDS ``evaluation_bdry_image``).

    ``pb`` is a soft boundary map in [0, 1]; ``thresholds`` a count (evenly spaced in (0, 1) as
    the original: k / (n + 1)) or explicit values. Machine boundaries are ``pb >= t``.
    """
    pb = np.asarray(pb, dtype=np.float64)
    if np.isscalar(thresholds):
        n = int(thresholds)
        thr = np.linspace(1.0 / (n + 1), 1.0 - 1.0 / (n + 1), n)
    else:
        thr = np.asarray(thresholds, dtype=np.float64)
    return bsds_boundary_maps((pb >= t for t in thr), gt_boundaries, levels=thr, max_dist=max_dist, thin_maps=thin_pb)


def bsds_boundary_maps(
    maps: Iterable[np.ndarray], gt_boundaries: Sequence[np.ndarray], *, levels: Sequence[float],
    max_dist: float = 0.0075, thin_maps: bool = True,
) -> BoundaryCounts:
    """Counts of a sequence of binary boundary maps of one image (one per level: the thresholds of
    a soft map, or the parameter values of a segmentation method swept from fine to coarse, as
    the BSDS benchmark scores segmentation algorithms) against all its annotators."""
    thr = np.asarray(levels, dtype=np.float64)
    gts = [np.asarray(g, bool) for g in gt_boundaries]
    n_t = len(thr)
    cnt_r, sum_r, cnt_p, sum_p = (np.zeros(n_t, np.int64) for _ in range(4))
    gt_total = sum(int(g.sum()) for g in gts)
    previous: tuple[bytes, tuple] | None = None
    k = -1
    for k, bmap in enumerate(maps):
        bmap = np.asarray(bmap, bool)
        for g in gts:
            if g.shape != bmap.shape:
                raise ValueError(f"a ground-truth boundary map has shape {g.shape} but the prediction has shape {bmap.shape}")
        if thin_maps:
            bmap = thin(bmap)
        key = np.packbits(bmap).tobytes()
        if previous is not None and previous[0] == key:  # same map as the last level
            cnt_r[k], cnt_p[k], sum_p[k] = previous[1]
        else:
            acc = np.zeros(bmap.shape, bool)
            matched_gt = 0
            for g in gts:
                m1, m2 = correspond_pixels(bmap, g, max_dist)
                acc |= m1
                matched_gt += int(m2.sum())
            cnt_r[k], cnt_p[k], sum_p[k] = matched_gt, int(acc.sum()), int(bmap.sum())
            previous = (key, (cnt_r[k], cnt_p[k], sum_p[k]))
        sum_r[k] = gt_total
    if k + 1 != n_t:
        raise ValueError(f"got {k + 1} boundary maps for {n_t} levels")
    return BoundaryCounts(thr, cnt_r, sum_r, cnt_p, sum_p)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return a / (b + (b == 0))


def _fmeasure(r, p):
    r = np.asarray(r, np.float64)
    p = np.asarray(p, np.float64)
    return 2 * p * r / (p + r + ((p + r) == 0))


def _max_f(thr: np.ndarray, r: np.ndarray, p: np.ndarray) -> tuple[float, float, float, float]:
    """Best (t, r, p, f) with linear interpolation between consecutive thresholds (100 steps)."""
    best = (float(thr[0]), float(r[0]), float(p[0]), float(_fmeasure(r[0], p[0])))
    d = np.linspace(0, 1, 100)
    for i in range(1, len(thr)):
        t = thr[i] * d + thr[i - 1] * (1 - d)
        rr = r[i] * d + r[i - 1] * (1 - d)
        pp = p[i] * d + p[i - 1] * (1 - d)
        f = _fmeasure(rr, pp)
        j = int(np.argmax(f))
        if f[j] > best[3]:
            best = (float(t[j]), float(rr[j]), float(pp[j]), float(f[j]))
    return best


@dataclass
class BoundaryBenchmark:
    """Data-set figures of the BSDS boundary benchmark."""

    ods: dict[str, float]
    ois: dict[str, float]
    ap: float
    per_threshold: list[dict[str, float]] = field(default_factory=list)
    per_image: list[dict[str, float]] = field(default_factory=list)


def bsds_collect(counts: Sequence[BoundaryCounts]) -> BoundaryBenchmark:
    """ODS, OIS and AP over images (the BSDS ``collect_eval_bdry``)."""
    if not counts:
        raise ValueError("no image to collect")
    thr = counts[0].thresholds
    tot = {k: np.zeros(len(thr)) for k in ("cnt_r", "sum_r", "cnt_p", "sum_p")}
    best = dict.fromkeys(("cnt_r", "sum_r", "cnt_p", "sum_p"), 0.0)
    per_image = []
    for i, c in enumerate(counts):
        r, p = _ratio(c.cnt_r, c.sum_r), _ratio(c.cnt_p, c.sum_p)
        t_, r_, p_, f_ = _max_f(thr, r, p)
        per_image.append({"image": i, "threshold": t_, "recall": r_, "precision": p_, "f": f_})
        f = _fmeasure(r, p)
        j = int(np.flatnonzero(f == f.max())[0])
        for k in tot:
            tot[k] += getattr(c, k)
            best[k] += float(getattr(c, k)[j])
    r, p = _ratio(tot["cnt_r"], tot["sum_r"]), _ratio(tot["cnt_p"], tot["sum_p"])
    t_, r_, p_, f_ = _max_f(thr, r, p)
    r_max, p_max = best["cnt_r"] / (best["sum_r"] or 1), best["cnt_p"] / (best["sum_p"] or 1)
    ru, idx = np.unique(r, return_index=True)
    if len(ru) > 1:
        pi = np.interp(np.arange(0, 101) / 100, ru, p[idx], left=np.nan, right=np.nan)
        ap = float(np.nansum(pi) * 0.01)
    else:
        ap = 0.0
    return BoundaryBenchmark(
        ods={"threshold": t_, "recall": r_, "precision": p_, "f": f_},
        ois={"recall": r_max, "precision": p_max, "f": float(_fmeasure(r_max, p_max))},
        ap=ap,
        per_threshold=[{"threshold": float(a), "recall": float(b), "precision": float(c), "f": float(_fmeasure(b, c))} for a, b, c in zip(thr, r, p)],
        per_image=per_image,
    )

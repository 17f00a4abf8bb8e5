"""Region agreement: contingency tables, Rand index, variation of information, segmentation
covering, and the BSDS500 region benchmark (covering, probabilistic Rand index, VOI).

Conventions follow the BSDS benchmark code: every label (0 included) is a region; the Rand
index counts agreeing pixel pairs; VOI is in bits (log2, as the benchmark); covering of a ground truth by a
segmentation weights each ground-truth region's best IoU by its area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["bsds_region_collect", "bsds_region_image", "conditional_entropies", "contingency", "rand_index", "region_ious",
           "variation_of_information"]


def _compact(a: np.ndarray) -> np.ndarray:
    """Flat labels renumbered 0..K-1 when their values are sparse (a table sized by the largest
    label would cost what the label's value says, not what the pixels hold: one pixel labelled
    2**31 - 1 makes ``skimage.metrics``' tables allocate 16 GiB); as they are otherwise."""
    if a.size and int(a.max()) > max(65535, 2 * a.size):
        return np.unique(a, return_inverse=True)[1].ravel()
    return a


def contingency(a: np.ndarray, b: np.ndarray) -> sparse.csr_matrix:
    """Sparse table ``n[i, j]`` = pixels labelled i in ``a`` and j in ``b`` (rows and columns are
    the label values, or ranks of them when the values are sparse: see :func:`_compact`).

    The one table behind the Rand index, VOI, adapted Rand and region IoUs; equal to
    ``skimage.metrics.contingency_table``'s, which is not used because of that allocation."""
    a = _compact(np.asarray(a).ravel())
    b = _compact(np.asarray(b).ravel())
    shape = (int(a.max()) + 1 if a.size else 1, int(b.max()) + 1 if b.size else 1)
    n = sparse.coo_matrix((np.ones(a.size, np.int64), (a, b)), shape=shape).tocsr()
    n.sum_duplicates()
    return n


def rand_index(n: sparse.spmatrix) -> float:
    """Rand index of a contingency table (fraction of pixel pairs on which both maps agree)."""
    total = float(n.sum())
    if total < 2:
        return 1.0
    sum_sq = float(n.multiply(n).sum())
    rows = np.asarray(n.sum(axis=1), np.float64).ravel()
    cols = np.asarray(n.sum(axis=0), np.float64).ravel()
    pairs = total * (total - 1) / 2
    return 1.0 - ((rows @ rows) / 2 + (cols @ cols) / 2 - sum_sq) / pairs


def conditional_entropies(n: sparse.spmatrix) -> tuple[float, float]:
    """(H(rows | columns), H(columns | rows)) of a contingency table, in bits."""
    total = float(n.sum())
    coo = n.tocoo()
    pij = coo.data / total
    pi = np.asarray(n.sum(axis=1), np.float64).ravel() / total
    pj = np.asarray(n.sum(axis=0), np.float64).ravel() / total
    return -float(np.sum(pij * np.log2(pij / pj[coo.col]))), -float(np.sum(pij * np.log2(pij / pi[coo.row])))


def variation_of_information(n: sparse.spmatrix) -> float:
    """VOI = H(A | B) + H(B | A) = H(A) + H(B) - 2 I(A; B) in bits (log2, as the BSDS benchmark)."""
    return sum(conditional_entropies(n))


def region_ious(seg: np.ndarray, gt: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """IoU of every overlapping (seg region, gt region) pair, and the regions' areas."""
    n = contingency(seg, gt)
    area_s = np.asarray(n.sum(axis=1)).ravel()
    area_g = np.asarray(n.sum(axis=0)).ravel()
    coo = n.tocoo()
    iou = coo.data / (area_s[coo.row] + area_g[coo.col] - coo.data)
    return sparse.csr_matrix((iou, (coo.row, coo.col)), shape=n.shape), area_s, area_g


@dataclass
class RegionCounts:
    """Per-segmentation figures of one image (BSDS ``evaluation_reg_image``)."""

    cnt_r: np.ndarray
    sum_r: np.ndarray
    cnt_p: np.ndarray
    sum_p: np.ndarray
    pri: np.ndarray
    voi: np.ndarray
    cnt_r_best: float


def bsds_region_image(segs: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> RegionCounts:
    """Covering counts, PRI and VOI of each segmentation in ``segs`` against all annotators.

    Labels follow the BSDS files (regions from 1); label 0, when present, is a region too.
    """
    k = len(segs)
    cnt_r, sum_r, cnt_p, sum_p, pri, voi = (np.zeros(k) for _ in range(6))
    gt_areas = [np.bincount(np.asarray(g).ravel())[1:] for g in gts]  # BSDS regionprops: labels >= 1
    best_gt = [np.zeros(len(a)) for a in gt_areas]
    for t, seg in enumerate(segs):
        seg = np.asarray(seg)
        best_seg = np.zeros(int(seg.max()) + 1)
        for s, g in enumerate(gts):
            n = contingency(seg, g)
            pri[t] += rand_index(n) / len(gts)
            voi[t] += variation_of_information(n) / len(gts)
            iou, _, _ = region_ious(seg, g)
            best_seg = np.maximum(best_seg, np.asarray(iou.max(axis=1).todense()).ravel()[: len(best_seg)])
            best_g = np.asarray(iou.max(axis=0).todense()).ravel()[1:]
            cnt_r[t] += float(gt_areas[s] @ best_g[: len(gt_areas[s])])
            sum_r[t] += float(gt_areas[s].sum())
            best_gt[s] = np.maximum(best_gt[s], best_g[: len(gt_areas[s])])
        seg_areas = np.bincount(seg.ravel())
        cnt_p[t] = float(seg_areas[1:] @ best_seg[1:])
        sum_p[t] = float(seg_areas[1:].sum())
    cnt_r_best = float(sum(a @ b for a, b in zip(gt_areas, best_gt)))
    return RegionCounts(cnt_r, sum_r, cnt_p, sum_p, pri, voi, cnt_r_best)


def bsds_region_collect(counts: Sequence[RegionCounts]) -> dict[str, float]:
    """Covering (ODS, OIS, best), PRI (ODS, OIS) and VOI (ODS, OIS) over images
    (the BSDS ``collect_eval_reg``; thresholds are 1-based indices of the segmentations)."""
    cnt_r = sum(c.cnt_r for c in counts)
    sum_r = sum(c.sum_r for c in counts)
    cover = cnt_r / np.where(sum_r == 0, 1, sum_r)
    i_cov = int(np.argmax(cover))
    best_cnt = sum(float(c.cnt_r[int(np.argmax(c.cnt_r / np.maximum(c.sum_r, 1)))]) for c in counts)
    best_sum = sum(float(c.sum_r[int(np.argmax(c.cnt_r / np.maximum(c.sum_r, 1)))]) for c in counts)
    pri = np.mean([c.pri for c in counts], axis=0)
    voi = np.mean([c.voi for c in counts], axis=0)
    return {
        "covering_ods_threshold": i_cov + 1,
        "covering_ods": float(cover[i_cov]),
        "covering_ois": best_cnt / best_sum,
        "covering_best": sum(c.cnt_r_best for c in counts) / float(sum(c.sum_r[0] for c in counts)),
        "pri_ods_threshold": int(np.argmax(pri)) + 1,
        "pri_ods": float(pri.max()),
        "pri_ois": float(np.mean([c.pri.max() for c in counts])),
        "voi_ods_threshold": int(np.argmin(voi)) + 1,
        "voi_ods": float(voi.min()),
        "voi_ois": float(np.mean([c.voi.min() for c in counts])),
    }

"""Region adjacency graphs built with numpy, and one agglomeration engine over them.

A region adjacency graph (RAG) of a label image has one node per label and one edge per pair of
labels that touch (4-connectivity). It is built from the neighbouring pixel pairs with
``np.unique``/``np.bincount``, never with a per-pixel Python loop, so a 1024x1024 image takes a few
milliseconds. Node features (mean colour, size) come from ``np.bincount`` as well.

:func:`agglomerate` merges nodes greedily along the graph's edges with a lazy heap, for three
linkages: ``"mean"`` (distance between mean features, stop at a threshold: hierarchical RAG
merging), ``"ward"`` (increase of the within-region sum of squares, stop at ``n_target`` regions:
connectivity-constrained agglomerative clustering) and ``"small"`` (only regions under a size merge,
each into its most similar neighbour).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["Rag", "agglomerate", "build_rag", "ids_index_an_array", "merge_small_by_cost", "relabel_sequential", "touching_pairs"]

LINKAGES = {"mean": 0, "ward": 1, "small": 2}


def ids_index_an_array(lo: int, hi: int, size: int) -> bool:
    """Whether label values ``lo``..``hi`` of an image of ``size`` pixels can index a table of
    ``hi + 1`` entries (non-negative, and the table not much larger than the image)."""
    return lo >= 0 and hi < 4 * size + 1024


def relabel_sequential(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels renumbered 0..n-1 in order of value (``0`` stays first when present); returns ``(labels, n)``."""
    flat = labels.ravel()
    lo, hi = int(flat.min()), int(flat.max())
    if ids_index_an_array(lo, hi, flat.size):  # dense lookup table: much faster than unique
        present = np.zeros(hi + 1, np.bool_)
        present[flat] = True
        lut = np.cumsum(present, dtype=np.int32) - 1
        return lut[labels], int(present.sum())
    uniq, inverse = np.unique(flat, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int32), len(uniq)


def touching_pairs(
    labels: np.ndarray, n: int, along: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges of the RAG of sequential ``labels`` (0..n-1): ``(a, b, length)`` with a < b, where
    ``length`` counts the 4-neighbour pixel pairs along the shared boundary. With ``along`` (a
    per-pixel map, e.g. gradient magnitude) also its mean over each boundary's pixel pairs."""
    keys, values = [], []
    slices = (((slice(1, None), slice(None)), (slice(None, -1), slice(None))), ((slice(None), slice(1, None)), (slice(None), slice(None, -1))))
    for sp, sq in slices:
        p, q = labels[sp], labels[sq]
        differ = p != q
        lo = np.minimum(p[differ], q[differ]).astype(np.int64)
        hi = np.maximum(p[differ], q[differ]).astype(np.int64)
        keys.append(lo * n + hi)
        if along is not None:
            values.append((along[sp][differ] + along[sq][differ]) * 0.5)
    keys = np.concatenate(keys)
    uniq, inverse, length = np.unique(keys, return_inverse=True, return_counts=True)
    a, b = (uniq // n).astype(np.int64), (uniq % n).astype(np.int64)
    if along is None:
        return a, b, length.astype(np.int64)
    mean = np.bincount(inverse.ravel(), weights=np.concatenate(values), minlength=len(uniq)) / length
    return a, b, length.astype(np.int64), mean


@dataclass
class Rag:
    """A region adjacency graph: sequential labels, node sizes and mean features, edges."""

    labels: np.ndarray  # (H, W) int32, 0..n-1
    sizes: np.ndarray  # (n,) pixel counts
    means: np.ndarray  # (n, d) float64 mean feature of each region
    a: np.ndarray  # (m,) edge endpoints, a < b
    b: np.ndarray
    length: np.ndarray  # (m,) boundary length in pixel pairs

    @property
    def n(self) -> int:
        return len(self.sizes)


def build_rag(labels: np.ndarray, features: np.ndarray) -> Rag:
    """RAG of ``labels`` (any integers, H x W) with the mean of ``features`` (H x W x d) per region."""
    seq, n = relabel_sequential(labels)
    flat = seq.ravel()
    sizes = np.bincount(flat, minlength=n).astype(np.float64)
    feats = features.reshape(flat.size, -1)
    sums = np.stack([np.bincount(flat, weights=feats[:, j], minlength=n) for j in range(feats.shape[1])], 1)
    a, b, length = touching_pairs(seq, n)
    return Rag(seq, sizes, sums / np.maximum(sizes, 1)[:, None], a, b, length)


@njit(cache=True)
def _cost(linkage, means, sizes, i, j):  # pragma: no cover - compiled
    d2 = 0.0
    for k in range(means.shape[1]):
        diff = means[i, k] - means[j, k]
        d2 += diff * diff
    if linkage == 1:
        return sizes[i] * sizes[j] / (sizes[i] + sizes[j]) * d2
    return np.sqrt(d2)


@njit(cache=True)
def find_root(parent, i):  # pragma: no cover - compiled
    """Root of i in a union-find forest (path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True)
def union_min(parent, a, b):  # pragma: no cover - compiled
    """Join the trees of a and b; the smaller root index becomes the root (returned)."""
    a = find_root(parent, a)
    b = find_root(parent, b)
    if a < b:
        parent[b] = a
        return a
    parent[a] = b
    return b


@njit(cache=True)
def absorb_small(parent, size, edges_a, edges_b, min_size):  # pragma: no cover - compiled
    """Felzenszwalb's minimum-size pass: along the edges in the order given (cheapest first), join
    the two sides whenever either is under ``min_size``; updates ``parent`` and ``size``."""
    for e in range(edges_a.size):
        absorb_pair(parent, size, edges_a[e], edges_b[e], min_size)


@njit(cache=True)
def absorb_pair(parent, size, a, b, min_size):  # pragma: no cover - compiled
    """One step of the minimum-size pass: join the trees of a and b if either is under
    ``min_size``."""
    a = find_root(parent, a)
    b = find_root(parent, b)
    if a != b and (size[a] < min_size or size[b] < min_size):
        r = union_min(parent, a, b)
        size[r] = size[a] + size[b]


def merge_small_by_cost(rag: Rag, costs: np.ndarray, min_size: float) -> np.ndarray:
    """Labels 1..k after every region under ``min_size`` pixels joined a neighbour, across the
    cheapest of the RAG's edges first (``costs``, one per edge)."""
    order = np.argsort(costs, kind="stable")
    parent = np.arange(rag.n)
    absorb_small(parent, rag.sizes.astype(np.float64), rag.a[order], rag.b[order], float(min_size))
    seq, _ = relabel_sequential(flatten(parent))
    return (seq + 1).astype(np.int32)[rag.labels]


@njit(cache=True)
def flatten(parent):  # pragma: no cover - compiled
    """Point every node of a union-find forest at its root, in place; returns ``parent``."""
    for i in range(parent.size):
        parent[i] = find_root(parent, i)
    return parent


@njit(cache=True)
def _neighbours(i, head, nxt, indptr, indices, parent, stamp, token, buf):  # pragma: no cover
    """Current neighbour regions of region i (into buf; returns their count): the regions of the
    original neighbours of its member nodes. No hash sets: a stamp array removes duplicates."""
    count = 0
    m = head[i]
    while m != -1:
        for e in range(indptr[m], indptr[m + 1]):
            r = find_root(parent, indices[e])
            if r != i and stamp[r] != token:
                stamp[r] = token
                buf[count] = r
                count += 1
        m = nxt[m]
    return count


@njit(cache=True)
def _merge_into(i, j, means, sizes, parent, head, nxt, tail):  # pragma: no cover - compiled
    """Merge region j into region i: means weighted by size, member lists joined."""
    total = sizes[i] + sizes[j]
    for k in range(means.shape[1]):
        means[i, k] = (means[i, k] * sizes[i] + means[j, k] * sizes[j]) / total
    sizes[i] = total
    parent[j] = i
    nxt[tail[i]] = head[j]
    tail[i] = tail[j]


@njit(cache=True)
def _agglomerate(n, indptr, indices, means, sizes, linkage, threshold, n_target, min_size):  # pragma: no cover
    parent = np.arange(n)
    head = np.arange(n)
    tail = np.arange(n)
    nxt = np.full(n, -1)
    stamp = np.full(n, -1)
    buf = np.empty(n, np.int64)
    token = 0
    version = np.zeros(n, np.int64)
    heap = [(0.0, np.int64(0), np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    if linkage == 2:
        # small regions, smallest first, each into its most similar neighbour: the cost of a
        # merge is proportional to the small region's own boundary, not to its big neighbour's
        for i in range(n):
            if sizes[i] < min_size:
                heap.append((sizes[i], np.int64(i), np.int64(i), np.int64(0), np.int64(0)))
        heapq.heapify(heap)
        while len(heap) > 0:
            _, j, _, vj, _ = heapq.heappop(heap)
            if parent[j] != j or version[j] != vj:
                continue
            token += 1
            count = _neighbours(j, head, nxt, indptr, indices, parent, stamp, token, buf)
            if count == 0:
                continue  # an isolated region has nobody to join
            best = buf[0]
            best_cost = _cost(0, means, sizes, j, best)
            for q in range(1, count):
                c = _cost(0, means, sizes, j, buf[q])
                if c < best_cost or (c == best_cost and buf[q] < best):
                    best, best_cost = buf[q], c
            _merge_into(best, j, means, sizes, parent, head, nxt, tail)
            version[best] += 1
            if sizes[best] < min_size:
                heapq.heappush(heap, (sizes[best], best, best, version[best], np.int64(0)))
    else:
        for i in range(n):
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                if i < j:
                    heap.append((_cost(linkage, means, sizes, i, j), np.int64(i), j, np.int64(0), np.int64(0)))
        heapq.heapify(heap)
        remaining = n
        while len(heap) > 0 and remaining > n_target:
            c, i, j, vi, vj = heapq.heappop(heap)
            if parent[i] != i or parent[j] != j or version[i] != vi or version[j] != vj:
                continue  # stale: one side has merged since this entry was pushed
            if c > threshold:
                break
            if sizes[j] > sizes[i]:  # keep the larger region's index
                i, j = j, i
            _merge_into(i, j, means, sizes, parent, head, nxt, tail)
            version[i] += 1
            remaining -= 1
            token += 1
            count = _neighbours(i, head, nxt, indptr, indices, parent, stamp, token, buf)
            for q in range(count):
                k = buf[q]
                heapq.heappush(heap, (_cost(linkage, means, sizes, i, k), i, k, version[i], version[k]))
    return flatten(parent)


def agglomerate(
    rag: Rag,
    *,
    linkage: str = "mean",
    threshold: float = np.inf,
    n_target: int = 1,
    min_size: float = 0,
) -> np.ndarray:
    """Merge the RAG's regions greedily (cheapest edge first) and return labels 1..k.

    ``linkage="mean"`` merges while the distance between mean features is at most ``threshold``;
    ``"ward"`` merges until ``n_target`` regions are left, cheapest increase of the within-region
    sum of squares first; ``"small"`` merges each region under ``min_size`` pixels into its most
    similar neighbour. Regions are only merged with regions they touch.
    """
    if rag.n == 0:
        return np.zeros_like(rag.labels)
    ends = np.concatenate([rag.a, rag.b])
    order = np.argsort(ends, kind="stable")
    indptr = np.zeros(rag.n + 1, np.int64)
    np.cumsum(np.bincount(ends, minlength=rag.n), out=indptr[1:])
    roots = _agglomerate(
        rag.n, indptr, np.concatenate([rag.b, rag.a])[order], rag.means.astype(np.float64).copy(), rag.sizes.astype(np.float64).copy(),
        LINKAGES[linkage], float(threshold), int(max(n_target, 1)), float(min_size),
    )
    seq, _ = relabel_sequential(roots)
    return (seq + 1).astype(np.int32)[rag.labels]

"""Felzenszwalb-Huttenlocher's merge on the 8-connected pixel grid, without an edge list.

scikit-image (and this package before) built the grid's 4 edges per pixel as arrays (two int64
ends and a float64 cost each, then their sorted copies: 278 bytes per pixel at the peak, measured
at 4096², about 19 GB at 8192²) and argsorted the costs. Here an edge is its index: the four directions in blocks, raster order
inside each block (scikit-image's layout, so equal costs keep its order). Its ends come from the
index by arithmetic and its cost from the image when needed, computed as numpy does (the same
float64 operations in the same order, so the same bits). Only the costs' float32 roundings are
sorted (a radix sort, ``_radix.sort_uint32``); edges whose roundings tie are put in float64 order.
Kruskal's merge then walks the sorted edges, prefetching the union-find entries and image pixels
of the edges some steps ahead (``_radix.prefetch``), since edges in cost order jump across the
image. About 80 bytes per pixel at the peak (``benchmarks/peak_memory.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._radix import prefetch, sort_uint32
from ._rag import absorb_pair, find_root, flatten, union_min

__all__ = ["edge_costs", "merge_grid", "sorted_edges"]

_AHEAD = 32  # edges of the sorted order prefetched ahead of the one merged


def merge_grid(image: np.ndarray, scale: float, min_size: int) -> np.ndarray:
    """Felzenszwalb's segments of a smoothed float64 image, as scikit-image's merge gives them.

    Parameters
    ----------
    image : (Y, X, C) float64
        The smoothed image, in [0, 1] units.
    scale : float
        The merge threshold's k, in the image's units (scikit-image's ``scale / 255``).
    min_size : int
        Segments under this many pixels join their cheapest neighbour afterwards.

    Returns
    -------
    (Y, X) int32 labels 1..k, numbered in the order of each segment's first pixel.
    """
    h, w, _ = image.shape
    img = np.ascontiguousarray(image, dtype=np.float64)
    order = sorted_edges(img)
    index = np.int32 if h * w < 2**31 else np.int64
    roots = _merge(order, img, scale, int(min_size), np.arange(h * w, dtype=index))
    present = np.zeros(h * w + 1, np.int32)
    present[roots] = 1
    lut = np.cumsum(present, dtype=np.int32)  # roots -> 1..k in order of first index
    return lut[roots].reshape(h, w)


def sorted_edges(image: np.ndarray) -> np.ndarray:
    """The grid's edges (indices, see :func:`edge_costs`) in the stable order of their costs."""
    img = np.ascontiguousarray(image, dtype=np.float64)
    keys = np.empty(_edge_count(*img.shape[:2]), np.float32)
    _costs(img, keys)  # non-negative float32: their bits sort like them
    sorted_keys, order = sort_uint32(keys.view(np.uint32), in_place=True)
    del keys
    _order_ties(order, sorted_keys, img)
    return order


def edge_costs(image: np.ndarray) -> np.ndarray:
    """Every grid edge's cost (Euclidean colour difference of its ends), float64, in edge order:
    down, right, down-right, then up-right pairs, each block in raster order."""
    img = np.ascontiguousarray(image, dtype=np.float64)
    out = np.empty(_edge_count(*img.shape[:2]), np.float64)
    _costs(img, out)
    return out


def _edge_count(h: int, w: int) -> int:
    return (h - 1) * w + h * (w - 1) + 2 * (h - 1) * (w - 1)


@njit(cache=True, nogil=True, inline="always")
def _ends(e, h, w):  # pragma: no cover - compiled
    """The two pixels (flat indices) edge ``e`` joins; the first is numpy's ``p`` in ``p - q``."""
    down = (h - 1) * w
    right = h * (w - 1)
    diagonal = (h - 1) * (w - 1)
    if e < down:  # img[1:, :] - img[:-1, :]
        y, x = e // w, e % w
        return (y + 1) * w + x, y * w + x
    e -= down
    if e < right:  # img[:, 1:] - img[:, :-1]
        y, x = e // (w - 1), e % (w - 1)
        return y * w + x + 1, y * w + x
    e -= right
    y, x = e // (w - 1) % (h - 1), e % (w - 1)
    if e < diagonal:  # img[1:, 1:] - img[:-1, :-1]
        return (y + 1) * w + x + 1, y * w + x
    return y * w + x + 1, (y + 1) * w + x  # img[:-1, 1:] - img[1:, :-1]


@njit(cache=True, nogil=True, inline="always")
def _cost(img, a, b):  # pragma: no cover - compiled
    """sqrt(((p - q) ** 2).sum(-1)) for pixels a, b of the (Y, X, C) image, numpy's operations
    in numpy's order."""
    w = img.shape[1]
    ya, xa, yb, xb = a // w, a % w, b // w, b % w
    total = 0.0
    for c in range(img.shape[2]):
        d = img[ya, xa, c] - img[yb, xb, c]
        total += d * d
    return np.sqrt(total)


@njit(cache=True, nogil=True, inline="always")
def _prefetch_ends(order, e, h, w, array, stride):  # pragma: no cover - compiled
    """Prefetch ``array``'s entries (``stride`` per pixel) of the ends of edge ``order[e]``, if any."""
    if e < order.size:
        a, b = _ends(order[e], h, w)
        prefetch(array, a * stride)
        prefetch(array, b * stride)


@njit(cache=True, nogil=True)
def _costs(img, out):  # pragma: no cover - compiled
    """Each edge's cost into ``out`` (float64, or float32 rounded from float64)."""
    h, w = img.shape[0], img.shape[1]
    for e in range(out.size):
        a, b = _ends(e, h, w)
        out[e] = _cost(img, a, b)


@njit(cache=True, nogil=True)
def _order_ties(order, sorted_keys, img):  # pragma: no cover - compiled
    """Sort ``order`` by the edges' float64 costs (stably) within runs of equal float32 keys.

    One pass over the sorted edges computes the costs of tied ones, prefetching the pixels of the
    edges some steps ahead (most runs are two or three edges long, so ahead means past them)."""
    h, w, c = img.shape
    flat = img.reshape(h * w * c)
    n = order.size
    costs = np.empty(64)
    start = 0
    while start < n:
        end = start + 1
        while end < n and sorted_keys[end] == sorted_keys[start]:
            end += 1
        length = end - start
        if length == 1:
            start = end
            continue
        if length > costs.size:
            costs = np.empty(2 * length)
        ordered = True
        for t in range(start, end):
            _prefetch_ends(order, t + _AHEAD, h, w, flat, c)
            a, b = _ends(order[t], h, w)
            costs[t - start] = _cost(img, a, b)
            if t > start and costs[t - start] < costs[t - start - 1]:
                ordered = False
        if not ordered and length > 32:  # (runs already in order, as flat regions' 0.0, stay)
            run = order[start:end].copy()
            order[start:end] = run[np.argsort(costs[:length], kind="mergesort")]
        elif not ordered:  # insertion sort: the runs are short
            for i in range(1, length):
                item, v = order[start + i], costs[i]
                j = i - 1
                while j >= 0 and costs[j] > v:
                    order[start + j + 1], costs[j + 1] = order[start + j], costs[j]
                    j -= 1
                order[start + j + 1], costs[j + 1] = item, v
        start = end


@njit(cache=True, nogil=True)
def _merge(order, img, scale, min_size, parent):  # pragma: no cover - compiled
    """Kruskal's merge along the sorted edges, then the minimum-size pass; returns each pixel's
    root (``parent`` flattened).

    A component's internal difference and size share a row of ``node`` (one cache line for both).
    Prefetching runs in two stages: the ends' parents ``_AHEAD`` edges ahead, then, half-way,
    the grandparents (usually the roots) they point to and those roots' rows."""
    h, w, c = img.shape
    n = h * w
    node = np.zeros((n, 2))  # internal difference, size
    node[:, 1] = 1.0
    flat = img.reshape(n * c)
    m = order.size
    near = _AHEAD // 2
    for e in range(m):
        _prefetch_ends(order, e + _AHEAD, h, w, parent, 1)
        _prefetch_ends(order, e + _AHEAD, h, w, flat, c)
        if e + near < m:
            fa, fb = _ends(order[e + near], h, w)
            ra, rb = parent[parent[fa]], parent[parent[fb]]
            prefetch(parent, ra)
            prefetch(parent, rb)
            prefetch(node, 2 * ra)
            prefetch(node, 2 * rb)
        a0, b0 = _ends(order[e], h, w)
        a = find_root(parent, a0)
        b = find_root(parent, b0)
        if a == b:
            continue
        cost = _cost(img, a0, b0)
        if cost < min(node[a, 0] + scale / node[a, 1], node[b, 0] + scale / node[b, 1]):
            r = union_min(parent, a, b)
            node[r, 1] = node[a, 1] + node[b, 1]
            node[r, 0] = cost
    size = node[:, 1]
    flatten(parent)  # one hop to a root: the roots left are few, and stay in the cache
    for e in range(m):  # small components join their cheapest neighbour
        _prefetch_ends(order, e + _AHEAD, h, w, parent, 1)
        a0, b0 = _ends(order[e], h, w)
        absorb_pair(parent, size, a0, b0, min_size)
    return flatten(parent)

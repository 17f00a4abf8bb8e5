"""Region-based segmentation: quadtree split-and-merge, seeded region growing, watershed, random walker.

Colour distances are in CIE Lab units (L spans 0..100); gray images use their intensity scaled to
0..100, so the same tolerance means the same thing for gray and colour images.
"""

from __future__ import annotations

import heapq
import warnings
from typing import Annotated, Literal

import numpy as np
from numba import njit
from scipy import ndimage as ndi

from .. import cv_compat
from ._catalog import Input, Range, When, technique
from ._flood import h_minima
from ._flood import watershed as flood
from ._image import ImageInfo, lab_gradient, to_lab
from ._rag import agglomerate, build_rag

__all__ = ["grow", "quadtree_leaves", "random_walker", "split_merge", "watershed"]


# -- split and merge -------------------------------------------------------------------------------


def _pool(stats: tuple[np.ndarray, ...], predicate: str) -> tuple[np.ndarray, ...]:
    """Statistics of 2x2 groups of blocks from those of the blocks (sums add, extremes combine)."""
    def group(a: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        return a.reshape(h // 2, 2, w // 2, 2, -1)

    if predicate == "std":
        return tuple(group(s).sum(axis=(1, 3)) for s in stats)
    lo, hi = stats
    return group(lo).min(axis=(1, 3)), group(hi).max(axis=(1, 3))


def _spread(stats: tuple[np.ndarray, ...], predicate: str, block: int) -> np.ndarray:
    """Largest channel standard deviation (or range) of each block from its pooled statistics."""
    if predicate == "std":
        n = float(block * block)
        mean = stats[0] / n
        return np.sqrt(np.maximum(stats[1] / n - mean * mean, 0)).max(-1)
    return (stats[1] - stats[0]).max(-1)


def quadtree_leaves(lab: np.ndarray, threshold: float, min_block: int, predicate: str = "std") -> np.ndarray:
    """Labels 1..n of the leaves of a quadtree split (Horowitz & Pavlidis 1976).

    The image is padded (edge values) to a square of side ``min_block * 2^L``; a block is a leaf
    when its spread is at most ``threshold`` or it has reached ``min_block`` pixels per side,
    otherwise it splits into four. Block statistics are computed once at the finest level and
    pooled upwards (sums of values and squares, or minima and maxima); the split is decided level
    by level on block grids, without loops over pixels.
    """
    h, w = lab.shape[:2]
    side = min_block
    while side < max(h, w):
        side *= 2
    padded = np.pad(lab, ((0, side - h), (0, side - w), (0, 0)), mode="edge")
    fine = padded.reshape(side // min_block, min_block, side // min_block, min_block, -1)
    if predicate == "std":
        as64 = fine.astype(np.float64)
        stats = (as64.sum(axis=(1, 3)), (as64 * as64).sum(axis=(1, 3)))
    else:
        stats = (fine.min(axis=(1, 3)), fine.max(axis=(1, 3)))
    levels = [stats]  # levels[i]: blocks of side min_block * 2^i
    while levels[-1][0].shape[0] > 1:
        levels.append(_pool(levels[-1], predicate))
    ids = np.zeros((side // min_block, side // min_block), np.int32)  # leaf id per finest block
    undecided = np.ones((1, 1), bool)
    next_id = 1
    for i in range(len(levels) - 1, -1, -1):
        block = min_block << i
        homogeneous = _spread(levels[i], predicate, block) <= threshold if i > 0 else np.ones_like(undecided)
        leaf = undecided & homogeneous
        n = int(leaf.sum())
        if n:
            grid = np.zeros(leaf.shape, np.int32)
            grid[leaf] = np.arange(next_id, next_id + n, dtype=np.int32)
            factor = 1 << i
            ids += np.repeat(np.repeat(grid, factor, 0), factor, 1)
            next_id += n
        undecided = undecided & ~homogeneous
        if i == 0 or not undecided.any():
            break
        undecided = np.repeat(np.repeat(undecided, 2, 0), 2, 1)
    return np.repeat(np.repeat(ids, min_block, 0), min_block, 1)[:h, :w]


@technique("region.split_merge", family="Region-based", output="labels", label_kind="instance", channels="color")
def split_merge(
    image: np.ndarray,
    *,
    info: ImageInfo,
    predicate: Literal["std", "range"] = "std",
    split_threshold: Annotated[float, Range(0.0, 100.0, step=0.5)] = 5.0,
    min_block: Annotated[int, Range(1, 256)] = 4,
    merge_threshold: Annotated[float, Range(0.0, 100.0, step=0.5)] = 10.0,
    min_size: Annotated[int, Range(1, 100000)] = 16,
) -> np.ndarray:
    """Split and merge: quadtree split into homogeneous blocks, then merging of similar neighbours.

    Blocks split into four while their colour spread (standard deviation or range, in Lab units)
    exceeds ``split_threshold`` and they are larger than ``min_block``; the leaves then form a
    region adjacency graph and the pair of touching regions with the closest mean colours merges
    until none is closer than ``merge_threshold``; regions under ``min_size`` pixels finally join
    their most similar neighbour.

    Parameters
    ----------
    predicate : str
        Homogeneity measure of a block: ``std`` (largest channel standard deviation) or ``range``
        (largest channel max - min).
    split_threshold : float
        A block is homogeneous when its spread is at most this (Lab units).
    min_block : int
        Smallest block side, in pixels.
    merge_threshold : float
        Touching regions merge while their mean colours are closer than this (Lab units).
    min_size : int
        Regions smaller than this (pixels) join their most similar neighbour.
    """
    lab = to_lab(image, info)
    leaves = quadtree_leaves(lab, split_threshold, min_block, predicate)
    merged = agglomerate(build_rag(leaves, lab), linkage="mean", threshold=merge_threshold)
    if min_block > 1:
        merged = _refine_mixed_blocks(merged, leaves, lab, min_block)
    if min_size > 1:
        merged = agglomerate(build_rag(merged, lab), linkage="small", min_size=min_size)
    return merged


def _refine_mixed_blocks(merged: np.ndarray, leaves: np.ndarray, lab: np.ndarray, block: int) -> np.ndarray:
    """Pixel-accurate boundaries: each pixel of a minimal block (one that straddles an edge)
    joins the region, among its own and those ``block`` pixels away, closest to it in colour."""
    sizes = np.bincount(leaves.ravel())
    mixed = sizes[leaves] <= block * block
    if not mixed.any():
        return merged
    n = int(merged.max()) + 1
    flat = merged.ravel()
    counts = np.maximum(np.bincount(flat, minlength=n), 1)
    means = np.stack([np.bincount(flat, weights=lab[..., j].ravel(), minlength=n) for j in range(lab.shape[-1])], 1) / counts[:, None]
    padded = np.pad(merged, block, mode="edge")
    h, w = merged.shape
    ys, xs = np.nonzero(mixed)
    cands = np.stack([padded[ys + block + dy, xs + block + dx] for dy in (-block, 0, block) for dx in (-block, 0, block)])
    dist = ((means[cands] - lab[ys, xs][None]) ** 2).sum(-1)
    out = merged.copy()
    out[ys, xs] = cands[dist.argmin(0), np.arange(len(ys))]
    return out


# -- seeded region growing -------------------------------------------------------------------------


@njit(cache=True)
def _grow(lab, markers, tolerance, adaptive):  # pragma: no cover - compiled
    """Seeded region growing (Adams & Bischof 1994): the unlabelled pixel closest in colour to the
    region it touches joins it first; pixels farther than ``tolerance`` from every region stay 0."""
    h, w, c = lab.shape
    out = markers.copy()
    n = 0
    for y in range(h):
        for x in range(w):
            n = max(n, out[y, x])
    sums = np.zeros((n + 1, c))
    counts = np.zeros(n + 1)
    for y in range(h):
        for x in range(w):
            r = out[y, x]
            if r > 0:
                counts[r] += 1
                for q in range(c):
                    sums[r, q] += lab[y, x, q]
    heap = [(0.0, np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    tol2 = tolerance * tolerance
    for y in range(h):
        for x in range(w):
            r = out[y, x]
            if r == 0:
                continue
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and out[yy, xx] == 0:
                    d = 0.0
                    for q in range(c):
                        diff = lab[yy, xx, q] - sums[r, q] / counts[r]
                        d += diff * diff
                    if d <= tol2:
                        heap.append((d, np.int64(yy), np.int64(xx), np.int64(r)))
    heapq.heapify(heap)
    while len(heap) > 0:
        _, y, x, r = heapq.heappop(heap)
        if out[y, x] != 0:
            continue
        out[y, x] = r
        if adaptive:
            counts[r] += 1
            for q in range(c):
                sums[r, q] += lab[y, x, q]
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            yy, xx = y + dy, x + dx
            if 0 <= yy < h and 0 <= xx < w and out[yy, xx] == 0:
                d = 0.0
                for q in range(c):
                    diff = lab[yy, xx, q] - sums[r, q] / counts[r]
                    d += diff * diff
                if d <= tol2:
                    heapq.heappush(heap, (d, np.int64(yy), np.int64(xx), r))
    return out


@technique("region.grow", family="Region-based", output="labels", label_kind="instance", channels="color")
def grow(
    image: np.ndarray,
    *,
    info: ImageInfo,
    seeds: Annotated[np.ndarray | None, Input("points", "labels", required=True)] = None,
    tolerance: Annotated[float, Range(0.0, 100.0, step=0.5)] = 10.0,
    reference: Literal["region_mean", "seed"] = "region_mean",
) -> np.ndarray:
    """Region growing from seeds: neighbours join while their colour stays within a tolerance.

    Seeded region growing (Adams & Bischof 1994): all regions grow at once, the pixel closest in
    Lab colour to a region it touches joining first, so that regions meet where the image changes;
    pixels farther than ``tolerance`` from every touching region stay background. Each point of a
    Points layer (or each label of a Labels layer) is one region.

    Parameters
    ----------
    seeds : array
        Seed points (one region each) or seed labels.
    tolerance : float
        Largest colour distance (Lab units) between a pixel and the region it joins.
    reference : str
        Compare with the region's running mean colour (adapts as it grows) or with the seed's
        own colour (fixed).

    Notes
    -----
    The order is by colour distance, which changes as a region's mean does, so the frontier is a
    binary heap: O(n log n), and once the heap and image leave the CPU cache each step waits on
    memory. Its cost per pixel grows about 2x from 256² to 8192² (three seeds; docs/benchmarks.md,
    "How cost grows with image size"); the live preview runs on a downscaled image.
    """
    lab = np.ascontiguousarray(to_lab(image, info))
    markers = np.array(seeds, np.int32)
    markers[markers < 0] = 0  # a negative id in a labels layer seeds nothing (a region -1 would divide by zero)
    return _grow(lab, markers, float(tolerance), reference == "region_mean")


# -- watershed -------------------------------------------------------------------------------------


@technique("region.watershed", family="Region-based", output="labels", label_kind="instance", channels="color")
def watershed(
    image: np.ndarray,
    *,
    info: ImageInfo,
    seeds: Annotated[np.ndarray | None, Input("points", "labels")] = None,
    markers: Literal["minima", "distance"] = "minima",
    surface: Annotated[Literal["gradient", "image", "inverted"], When("markers", "minima")] = "gradient",
    h: Annotated[float, Range(0.0, 100.0, step=0.5), When("markers", "minima")] = 4.0,
    min_distance: Annotated[int, Range(1, 200), When("markers", "distance")] = 7,
    invert: Annotated[bool, When("markers", "distance")] = False,
    sigma: Annotated[float, Range(0.0, 10.0, step=0.1)] = 1.0,
    compactness: Annotated[float, Range(0.0, 10.0, step=0.001)] = 0.0,
) -> tuple[np.ndarray, dict]:
    """Watershed: basins of a surface flooded from markers (seeds, h-minima or distance peaks).

    The surface is the colour gradient (objects are where colour is uniform), or the image itself
    (``image``: dark cells between bright membranes; ``inverted``: bright blobs on a dark
    background), as its lightness smoothed by ``sigma`` and stretched to 0..100 over the slice.
    With seeds (a Points or Labels layer) it is flooded from them. Without, markers are found
    automatically: ``minima`` takes the surface's regional minima deeper than ``h`` (h-minima
    transform, which suppresses shallow basins); ``distance`` thresholds the image (Otsu), takes
    the peaks of the distance transform at least ``min_distance`` apart and floods the inverted
    distance inside the foreground: the usual way to split touching round objects.
    ``compactness`` > 0 gives compact watershed (more regular regions).

    Parameters
    ----------
    seeds : array
        Marker points or labels; when absent, markers are automatic.
    markers : str
        Automatic markers: ``minima`` (h-minima of the gradient) or ``distance`` (peaks of the
        distance transform of the Otsu foreground).
    surface : str
        What is flooded from seeds or minima: ``gradient`` (Lab gradient magnitude), ``image``
        (lightness: basins are dark) or ``inverted`` (basins are bright).
    h : float
        Depth of the minima kept as markers, in the surface's units: Lab per pixel for the
        gradient; for the image, percent of the slice's smoothed lightness range.
    min_distance : int
        Smallest distance between two distance-transform peaks, in pixels.
    invert : bool
        Objects are darker than the background (for ``distance``).
    sigma : float
        Gaussian smoothing before the gradient, in pixels.
    compactness : float
        Compact watershed weight (0 = classic watershed).

    Notes
    -----
    The flood is linear in pixels (``_flood.py``), but it visits pixels in the order of their
    value, which jumps across the image: once the image leaves the CPU cache each pixel waits on
    memory. Prefetching the pixels ahead in that order hides part of the wait, and the cost per
    pixel grows about 3x from 256² to 8192² (it was 5x; docs/benchmarks.md, "How cost grows with
    image size"); the live preview runs on a downscaled image.
    """
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed as sk_watershed

    lab = to_lab(image, info)
    notes = []
    mask = None
    if markers == "distance" and seeds is None:
        gray = lab[..., 0]
        thr = cv_compat.otsu_u8(np.clip(gray * 2.55, 0, 255).astype(np.uint8)) / 2.55
        mask = gray <= thr if invert else gray > thr
        dist = ndi.distance_transform_edt(mask)
        peaks = peak_local_max(dist, min_distance=min_distance, labels=mask.astype(np.int32), exclude_border=False)
        seeds = np.zeros(mask.shape, np.int32)
        seeds[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        surface = -dist
    else:
        surface = _flooded(lab, surface, sigma)
        if seeds is None:
            seeds, _ = ndi.label(h_minima(surface, h) if h > 0 else _regional_minima(surface))
    if not seeds.any():
        notes.append("no markers were found: nothing to flood")
        return np.zeros(lab.shape[:2], np.int32), {"notes": notes}
    if compactness > 0:
        out = sk_watershed(surface, seeds, mask=mask, compactness=compactness)
    else:  # the same flood in linear time (techniques/_flood.py)
        out = flood(surface, seeds, mask)
    return out.astype(np.int32), {"notes": notes}


def _flooded(lab: np.ndarray, kind: str, sigma: float) -> np.ndarray:
    """The surface :func:`watershed` floods (see its ``surface``)."""
    if kind == "gradient":
        return lab_gradient(lab, sigma)
    light = np.ascontiguousarray(lab[..., 0])
    if sigma > 0:
        light = cv_compat.gaussian(light, sigma)
    lo, hi = float(light.min()), float(light.max())  # stretched to 0..100 over the slice: h is a share of its range
    light = (light - np.float32(lo)) * np.float32(100.0 / ((hi - lo) or 1.0))
    return np.float32(100) - light if kind == "inverted" else light


def _regional_minima(surface: np.ndarray) -> np.ndarray:
    from skimage.morphology import local_minima

    return local_minima(surface, allow_borders=True)


# -- random walker ---------------------------------------------------------------------------------


@technique("region.random_walker", family="Region-based", output="labels", label_kind="instance", channels="color")
def random_walker(
    image: np.ndarray,
    *,
    info: ImageInfo,
    seeds: Annotated[np.ndarray | None, Input("labels", "points", required=True)] = None,
    beta: Annotated[float, Range(1.0, 100000.0, step=10.0)] = 1000.0,
    tol: Annotated[float, Range(1e-6, 0.1)] = 1e-3,
    max_pixels: Annotated[int, Range(1024, 10**8)] = 65536,
) -> tuple[np.ndarray, dict]:
    """Random walker (Grady 2006): each pixel takes the seed label a random walk reaches first.

    Seeds come from a Labels layer (e.g. 1 = object, 2 = background; several objects allowed) or
    a Points layer (one label per point). Solved with scikit-image's conjugate-gradient solver
    with a Jacobi preconditioner on the Lab image scaled to [0, 1].

    Parameters
    ----------
    seeds : array
        Seed labels (at least two different labels).
    beta : float
        Edge penalty: larger values make the walk stop harder at colour edges.
    tol : float
        Tolerance of the linear solver.
    max_pixels : int
        Larger images are solved on a copy shrunk by an integer factor to at most this many
        pixels; the label probabilities are then interpolated back to full size (the solver's
        cost grows faster than the pixel count: a 1024 x 1024 image takes minutes at full size).
    """
    from skimage.segmentation import random_walker as sk_random_walker

    values = np.unique(seeds[seeds > 0])
    if len(values) < 2:
        notes = ["random walker needs at least two seed labels (e.g. object and background): every pixel was given the only one"]
        return np.full(seeds.shape, values[0] if len(values) else 0, np.int32), {"notes": notes}
    data = to_lab(image, info) / np.float32(100)
    if float(np.ptp(data)) == 0:
        return np.full(seeds.shape, values[0], np.int32), {}
    h, w = seeds.shape
    factor = int(np.ceil(np.sqrt(h * w / max_pixels)))
    notes = []
    small_seeds = seeds
    if factor > 1:
        size = (max(w // factor, 2), max(h // factor, 2))
        data = cv_compat.resize(data, (size[1], size[0]), "area").reshape(size[1], size[0], -1)
        small_seeds = np.zeros((size[1], size[0]), np.int32)
        ys, xs = np.nonzero(seeds)
        small_seeds[np.minimum(ys * size[1] // h, size[1] - 1), np.minimum(xs * size[0] // w, size[0] - 1)] = seeds[ys, xs]
        notes.append(f"solved at 1/{factor} resolution (image larger than max_pixels), probabilities interpolated back")
    with warnings.catch_warnings():  # probabilities a hair outside [0, 1] do not change the argmax
        warnings.filterwarnings("ignore", message="The probability range is outside")
        prob = sk_random_walker(data, small_seeds, beta=beta, mode="cg_j", tol=tol, channel_axis=-1, return_full_prob=True)
    if prob.shape[1:] != (h, w):
        prob = np.stack([cv_compat.resize(p.astype(np.float32), (h, w), "linear") for p in prob])
    out = values[prob.argmax(0)].astype(np.int32)
    out[seeds > 0] = seeds[seeds > 0]  # seeds keep their own label
    return out, {"notes": notes}

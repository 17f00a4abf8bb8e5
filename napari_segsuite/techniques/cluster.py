"""Clustering of pixel colours (optionally with their position) into classes."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from numba import njit, prange

from .. import cv_compat
from ._catalog import Range, When, technique
from ._image import ImageInfo, to_lab, to_unit
from ._kmeans import lloyd, plus_plus
from ._rag import agglomerate, build_rag, flatten, merge_small_by_cost, touching_pairs, union_min
from ._texture import histogram_boundaries
from .cancel import checkpoint

__all__ = ["contrast_scale", "fuzzy_cmeans", "fuzzy_cmeans_fit", "hierarchical", "kmeans", "lloyd", "meanshift", "meanshift_sweep"]

SAMPLE = 20_000  # pixels used to find the centres before the full-image refinement


def _features(image: np.ndarray, info: ImageInfo, color_space: str, spatial_weight: float) -> np.ndarray:
    """(d, N) float32 features, one contiguous plane per feature: colour in the chosen space,
    plus scaled (y, x) if asked. Planes keep the distance products fast."""
    h, w, c = image.shape
    if c == 3 and color_space == "hsv":
        feats = cv_compat.rgb_to_hsv(np.clip(to_unit(image, info), 0, 1))  # hue in turns, like s and v
    elif c == 3 and color_space == "lab":
        feats = to_lab(image, info) / np.float32(100)  # L in 0..1; a, b about -1..1
    else:
        feats = to_unit(image, info)
    planes = [np.ascontiguousarray(feats[..., j], dtype=np.float32).ravel() for j in range(feats.shape[-1])]
    if spatial_weight > 0:
        scale = np.float32(spatial_weight / max(h, w))
        planes.append(np.repeat(np.arange(h, dtype=np.float32) * scale, w))
        planes.append(np.tile(np.arange(w, dtype=np.float32) * scale, h))
    return np.stack(planes)


@technique("cluster.kmeans", family="Clustering", output="labels", label_kind="semantic", channels="color")
def kmeans(
    image: np.ndarray,
    *,
    info: ImageInfo,
    k: Annotated[int, Range(2, 32)] = 4,
    color_space: Literal["lab", "rgb", "hsv"] = "lab",
    spatial_weight: Annotated[float, Range(0.0, 10.0, step=0.1)] = 0.0,
    n_init: Annotated[int, Range(1, 10)] = 3,
    seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
) -> tuple[np.ndarray, dict]:
    """K-means: pixel colours clustered into k classes, numbered 1..k by increasing brightness.

    Centres are found with greedy k-means++ and Lloyd iterations on a random sample of 20 000
    pixels (best of ``n_init`` starts), then refined by one Lloyd iteration on every pixel; the
    inertia (sum of squared distances) is within 1 % of scikit-learn's full-data KMeans (tested).

    Parameters
    ----------
    k : int
        Number of clusters (classes).
    color_space : str
        Features for colour images: CIE Lab (perceptual), RGB, or HSV; gray images use intensity.
    spatial_weight : float
        Adds pixel position to the features: 0 = colour only; larger values make compact regions.
    n_init : int
        Number of k-means++ starts on the sample; the best is refined.
    seed : int
        Random seed for the sample and the starts (results are reproducible).
    """
    h, w, c = image.shape
    xt = _features(image, info, color_space, spatial_weight)
    n = xt.shape[1]
    rng = np.random.default_rng(seed)
    sample = xt if n <= SAMPLE else np.ascontiguousarray(xt[:, rng.choice(n, SAMPLE, replace=False)])
    notes = []
    if len(np.unique(sample[:, : 4 * k * k], axis=1).T) < k:  # cheap screen; then count exactly
        distinct = len(np.unique(xt, axis=1).T)
        if distinct < k:
            notes.append(f"only {distinct} distinct colours: {distinct} clusters instead of {k}")
            k = distinct
    best = None
    for _ in range(n_init):
        checkpoint()
        centres, _, inertia = lloyd(sample, plus_plus(sample, k, rng), 100)
        if best is None or inertia < best[1]:
            best = (centres, inertia)
    centres, labels, inertia = lloyd(xt, best[0], 0 if n <= SAMPLE else 1)
    # number the clusters by brightness, so that ids stay put while parameters change
    if c == 3 and color_space == "lab":
        brightness = centres[:, 0]
    elif c == 3 and color_space == "hsv":
        brightness = centres[:, 2]
    else:
        brightness = centres[:, :c].mean(1)
    rank = np.empty(k, np.uint8)
    rank[np.argsort(brightness, kind="stable")] = np.arange(1, k + 1)
    return rank[labels].reshape(h, w), {"inertia": inertia, "notes": notes}


def _rank_by_brightness(centres: np.ndarray) -> np.ndarray:
    """Cluster ids 1..k ordered by the first feature (L or intensity): ids stay put while tuning."""
    rank = np.empty(len(centres), np.int32)
    rank[np.argsort(centres[:, 0], kind="stable")] = np.arange(1, len(centres) + 1)
    return rank


# -- mean shift ------------------------------------------------------------------------------------


@njit(parallel=True, fastmath=True, cache=True)
def _meanshift_rows(lab, hs, hr, step, max_iter, top, bottom, out):  # pragma: no cover - compiled
    """Joint spatial-range mean shift filtering with flat kernels (Comaniciu & Meer 2002) of rows
    ``top:bottom`` into ``out``: every pixel climbs to its mode in (y, x, colour); the window is
    sampled every ``step`` pixels."""
    h, w, c = lab.shape
    hr2 = hr * hr
    for y in prange(top, bottom):
        col = np.empty(c, np.float32)
        acc = np.empty(c, np.float32)
        for x in range(w):
            cy = float(y)
            cx = float(x)
            for q in range(c):
                col[q] = lab[y, x, q]
            for _ in range(max_iter):
                sy = 0.0
                sx = 0.0
                n = 0
                acc[:] = 0
                iy, ix = int(cy + 0.5), int(cx + 0.5)
                y0 = max(iy - hs, 0)
                y0 += (step - y0 % step) % step  # samples on a fixed lattice: stable results
                x0 = max(ix - hs, 0)
                x0 += (step - x0 % step) % step
                for yy in range(y0, min(iy + hs + 1, h), step):
                    for xx in range(x0, min(ix + hs + 1, w), step):
                        d = 0.0
                        for q in range(c):
                            diff = lab[yy, xx, q] - col[q]
                            d += diff * diff
                        if d <= hr2:
                            sy += yy
                            sx += xx
                            for q in range(c):
                                acc[q] += lab[yy, xx, q]
                            n += 1
                if n == 0:
                    break
                ny, nx = sy / n, sx / n
                shift = (ny - cy) ** 2 + (nx - cx) ** 2
                for q in range(c):
                    v = acc[q] / n
                    shift += (v - col[q]) ** 2
                    col[q] = v
                cy, cx = ny, nx
                if shift < 0.01:
                    break
            for q in range(c):
                out[y, x, q] = col[q]


def meanshift_filter(lab: np.ndarray, hs: int, hr: np.float32, step: int, max_iter: int) -> np.ndarray:
    """The mean shift modes of every pixel of ``lab``, filtered in bands of rows so that a run
    can be cancelled between two bands (see :mod:`.cancel`)."""
    out = np.empty_like(lab)
    h = lab.shape[0]
    band = max(32, -(-h // 8))
    for top in range(0, h, band):
        checkpoint()
        _meanshift_rows(lab, hs, hr, step, max_iter, top, min(top + band, h), out)
    return out


@njit(cache=True)
def _fuse(modes, hr):  # pragma: no cover - compiled
    """Union of 4-neighbours whose modes are closer than ``hr`` in colour; labels 0..n-1."""
    h, w, c = modes.shape
    parent = np.arange(h * w)
    hr2 = hr * hr
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (1, 0)):
                yy, xx = y + dy, x + dx
                if yy >= h or xx >= w:
                    continue
                d = 0.0
                for q in range(c):
                    diff = modes[y, x, q] - modes[yy, xx, q]
                    d += diff * diff
                if d < hr2:
                    union_min(parent, y * w + x, yy * w + xx)
    return flatten(parent).reshape(h, w)


BOUNDARY_COLOUR_WEIGHT = 0.1  # merge="boundary": histogram gradient + this x Lab distance
CONTRAST_REFERENCE = 2.0  # range_scale="contrast": the median Lab gradient at which the bandwidth stays as given


def contrast_scale(lab: np.ndarray) -> float:
    """sqrt(median Lab gradient magnitude / CONTRAST_REFERENCE), clipped to [0.25, 4]: how much
    ``range_scale="contrast"`` widens (busy, high-contrast image) or narrows (smooth, faint image)
    the range bandwidth. The gradient is per pixel, after a Gaussian blur of sigma 1."""
    if min(lab.shape[:2]) < 2:
        return 1.0  # no gradient in a single row or column of pixels: the bandwidth as given
    gy, gx = np.gradient(cv_compat.gaussian(np.asarray(lab, np.float32), 1.0), axis=(0, 1))
    magnitude = np.sqrt((gx * gx + gy * gy).reshape(gx.shape[0], gx.shape[1], -1).sum(-1))
    return float(np.clip(np.sqrt(np.median(magnitude) / CONTRAST_REFERENCE), 0.25, 4.0))


@technique("cluster.meanshift", family="Clustering", output="labels", label_kind="instance", channels="color")
def meanshift(
    image: np.ndarray,
    *,
    info: ImageInfo,
    spatial_bandwidth: Annotated[int, Range(1, 64)] = 8,
    range_bandwidth: Annotated[float, Range(0.5, 100.0, step=0.5)] = 8.0,
    min_size: Annotated[int, Range(1, 100000)] = 50,
    max_samples: Annotated[int, Range(3, 33)] = 7,
    merge: Literal["colour", "boundary"] = "colour",
    range_scale: Literal["fixed", "contrast"] = "fixed",
) -> np.ndarray:
    """Mean shift: pixels climb to their mode in (position, Lab colour); equal modes form regions.

    Comaniciu & Meer (2002) segmentation: joint spatial-range filtering with flat kernels of
    radius ``spatial_bandwidth`` pixels and ``range_bandwidth`` Lab units, then touching pixels
    whose modes are closer than half the range bandwidth are fused, and regions under
    ``min_size`` pixels join their most similar neighbour. The spatial window is sampled on a
    lattice of at most ``max_samples`` x ``max_samples`` pixels, which bounds the cost for large
    bandwidths.

    Parameters
    ----------
    spatial_bandwidth : int
        Spatial radius of the kernel, in pixels.
    range_bandwidth : float
        Colour radius of the kernel, in Lab units (L spans 0..100).
    min_size : int
        Regions smaller than this (pixels) merge into their most similar neighbour.
    max_samples : int
        Samples per side of the spatial window (more = closer to exact, slower).
    merge : {"colour", "boundary"}
        Where a small region goes: to the neighbour of closest mode colour, or across its weakest
        border, the lowest mean oriented histogram gradient of colour and texture along it plus
        0.1 x the colour distance (an edge-confidence fusion in the spirit of EDISON's synergistic
        segmentation; about 1.4 s more per image, scored at 600 pixels of diagonal at most).
    range_scale : {"fixed", "contrast"}
        ``fixed``: the range bandwidth as given. ``contrast``: multiplied by the square root of the
        image's median Lab gradient over 2 Lab units per pixel (clipped to 0.25..4x), so one
        setting suits faint and busy images alike: a faint image is cut at a finer colour radius.
    """
    return meanshift_sweep(image, info, [range_bandwidth], spatial_bandwidth=spatial_bandwidth, min_size=min_size,
                           max_samples=max_samples, merge=merge, range_scale=range_scale)[0]


def meanshift_sweep(
    image: np.ndarray, info: ImageInfo, range_bandwidths, *, spatial_bandwidth: int, min_size: int,
    max_samples: int, merge: str, range_scale: str,
) -> list[np.ndarray]:
    """``cluster.meanshift`` of a prepared slice at several range bandwidths, sharing the Lab image,
    the contrast scale and the boundary cue; one label image each. The other parameters are the
    technique's (its catalog entry holds their defaults)."""
    lab = np.ascontiguousarray(to_lab(image, info))
    scale = contrast_scale(lab) if range_scale == "contrast" else 1.0
    step = max(1, int(np.ceil((2 * spatial_bandwidth + 1) / max_samples)))
    cue = histogram_boundaries(lab) if merge == "boundary" else None
    out = []
    for bandwidth in range_bandwidths:
        hr = np.float32(bandwidth * scale)
        modes = meanshift_filter(lab, spatial_bandwidth, hr, step, 20)
        rag = build_rag(_fuse(modes, np.float32(hr / 2)), modes)
        if cue is None:
            out.append(agglomerate(rag, linkage="small", min_size=min_size))
            continue
        *_, border = touching_pairs(rag.labels, rag.n, along=cue)
        colour = np.linalg.norm(rag.means[rag.a] - rag.means[rag.b], axis=1)
        out.append(merge_small_by_cost(rag, border + BOUNDARY_COLOUR_WEIGHT * colour, min_size))
    return out


# -- hierarchical ----------------------------------------------------------------------------------


@technique("cluster.hierarchical", family="Clustering", output="labels", label_kind="instance", channels="color")
def hierarchical(
    image: np.ndarray,
    *,
    info: ImageInfo,
    n_clusters: Annotated[int, Range(1, 1000)] = 8,
    linkage: Literal["ward", "centroid"] = "ward",
    n_segments: Annotated[int, Range(2, 20000)] = 1000,
    compactness: Annotated[float, Range(0.01, 100.0, step=0.5)] = 10.0,
) -> np.ndarray:
    """Hierarchical clustering with spatial connectivity, on superpixels so that it scales.

    Agglomerative clustering in which only touching regions may merge: the image is cut into
    SLIC superpixels, then the touching pair whose merge costs least joins until ``n_clusters``
    regions remain. Ward's cost is the increase of the within-cluster sum of squared Lab colour
    differences (each superpixel counted by its pixels); centroid linkage merges the closest
    mean colours.

    Parameters
    ----------
    n_clusters : int
        Number of regions to stop at (disconnected parts of the image count separately).
    linkage : str
        ``ward`` (compact, even regions) or ``centroid`` (closest mean colours).
    n_segments : int
        Number of SLIC superpixels the clustering starts from.
    compactness : float
        SLIC compactness (squareness of the superpixels).
    """
    from .graph import superpixel_rag

    rag, _ = superpixel_rag(image, info, n_segments, compactness)
    return agglomerate(rag, linkage="ward" if linkage == "ward" else "mean", n_target=n_clusters)


# -- fuzzy c-means ---------------------------------------------------------------------------------


@njit(cache=True, fastmath=True)
def _fcm_memberships(x, centres, m, u, lo, hi):  # pragma: no cover - compiled
    """Memberships of points lo..hi, written into u."""
    k, d = centres.shape
    expo = 1.0 / (m - 1.0)
    inv = np.empty(k)
    for i in range(lo, hi):
        zero = -1
        total = 0.0
        for j in range(k):
            s = 0.0
            for q in range(d):
                diff = x[i, q] - centres[j, q]
                s += diff * diff
            if s == 0.0:
                zero = j
                break
            inv[j] = 1.0 / s if expo == 1.0 else s ** -expo  # u_ij is proportional to d_ij^(-2/(m-1))
            total += inv[j]
        for j in range(k):
            if zero >= 0:
                u[i, j] = 1.0 if j == zero else 0.0
            else:
                u[i, j] = inv[j] / total


@njit(parallel=True, cache=True, fastmath=True)
def _fcm_step(x, weights, centres, m, u):  # pragma: no cover - compiled
    """One fuzzy c-means update: memberships u (written) from the centres, then the new centres
    (membership^m-weighted means of the points x (N, d) with multiplicities ``weights``)."""
    n, d = x.shape
    k = centres.shape[0]
    chunks = 64
    partial = np.zeros((chunks, k, d + 1))
    for c in prange(chunks):
        lo = c * n // chunks
        hi = (c + 1) * n // chunks
        _fcm_memberships(x, centres, m, u, lo, hi)
        for i in range(lo, hi):
            for j in range(k):
                um = (u[i, j] * u[i, j] if m == 2.0 else u[i, j] ** m) * weights[i]
                partial[c, j, d] += um
                for q in range(d):
                    partial[c, j, q] += um * x[i, q]
    sums = partial.sum(0)
    new = centres.copy()
    for j in range(k):
        if sums[j, d] > 0:
            for q in range(d):
                new[j, q] = sums[j, q] / sums[j, d]
    return new


def fuzzy_cmeans_fit(
    x: np.ndarray, weights: np.ndarray, centres: np.ndarray, m: float, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Fuzzy c-means (Bezdek 1981) on points ``x`` (N, d) with multiplicities ``weights`` from
    initial ``centres`` (k, d); returns (centres, memberships (N, k), iterations). Stops when no
    centre moves more than ``tol``."""
    x = np.ascontiguousarray(x, np.float64)
    w = np.ascontiguousarray(weights, np.float64)
    centres = np.array(centres, np.float64)
    u = np.empty((len(x), len(centres)))
    it = 0
    for it in range(1, max_iter + 1):
        checkpoint()
        new = _fcm_step(x, w, centres, m, u)
        moved = float(np.abs(new - centres).max())
        centres = new
        if moved < tol:
            break
    _fcm_step(x, w, centres, m, u)  # memberships of the final centres
    return centres, u, it


def _fcm_output(params) -> str:
    """labels with output=labels; an image (membership map) otherwise"""
    return "labels" if params["output"] == "labels" else "image"


@technique("cluster.fuzzy_cmeans", family="Clustering", output=_fcm_output, label_kind="semantic", channels="color")
def fuzzy_cmeans(
    image: np.ndarray,
    *,
    info: ImageInfo,
    k: Annotated[int, Range(2, 16)] = 4,
    m: Annotated[float, Range(1.1, 5.0, step=0.1)] = 2.0,
    color_space: Literal["lab", "rgb"] = "lab",
    output: Literal["labels", "membership", "certainty"] = "labels",
    cluster: Annotated[int, Range(1, 16), When("output", "membership")] = 1,
    max_iter: Annotated[int, Range(1, 1000)] = 100,
    seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
) -> tuple[np.ndarray, dict]:
    """Fuzzy c-means: every pixel belongs to each of k clusters with a membership in [0, 1].

    Bezdek's algorithm with fuzzifier m: memberships u_ij = 1 / sum_l (d_ij / d_il)^(2 / (m - 1)),
    centres = membership^m-weighted means, iterated until no centre moves more than 1e-5. Equal
    colours are counted once with their multiplicity, which gives the same fixed point as
    iterating over every pixel. Clusters are numbered 1..k by increasing brightness; the labels
    output is the cluster of largest membership, ``membership`` shows one cluster's membership
    map, ``certainty`` the largest membership of each pixel.

    Parameters
    ----------
    k : int
        Number of clusters.
    m : float
        Fuzzifier (> 1): 2 is usual; larger values give softer memberships.
    color_space : str
        Features for colour images: CIE Lab or RGB (scaled to 0..1); gray images use intensity.
    output : str
        ``labels`` (cluster of largest membership), ``membership`` (one cluster's map, an image)
        or ``certainty`` (largest membership, an image).
    cluster : int
        Which cluster's membership map to show (1..k, by brightness).
    max_iter : int
        Largest number of iterations.
    seed : int
        Random seed of the initial centres (k-means++ on a sample).
    """
    h, w, c = image.shape
    # features are a function of the colour: cluster each distinct colour once, with its count
    colours, inverse, counts = _unique_rows(image.reshape(-1, c))
    colours = colours.reshape(-1, 1, c)
    feats = to_lab(colours, info) / np.float32(100) if (c == 3 and color_space == "lab") else to_unit(colours, info)
    uniq = feats.reshape(len(counts), -1)
    notes = []
    if len(uniq) < k:
        notes.append(f"only {len(uniq)} distinct colours: {len(uniq)} clusters instead of {k}")
        k = len(uniq)
    if k < 2:
        centres, u = uniq.astype(np.float64), np.ones((len(uniq), 1))
    else:
        rng = np.random.default_rng(seed)
        sample = uniq if len(uniq) <= SAMPLE else uniq[rng.choice(len(uniq), SAMPLE, replace=False)]
        start = plus_plus(np.ascontiguousarray(sample.T, np.float32), k, rng)
        centres, u, _ = fuzzy_cmeans_fit(uniq, counts, start, m, max_iter, 1e-5)
    rank = _rank_by_brightness(centres)
    order = np.argsort(rank)  # column of the cluster with id 1, 2, ...
    if output == "labels":
        ids = rank[u.argmax(1)]
        return ids[inverse].reshape(h, w).astype(np.uint8), {"centres": centres[order].tolist(), "notes": notes}
    if output == "certainty":
        return u.max(1).astype(np.float32)[inverse].reshape(h, w), {"notes": notes}
    if cluster > k:
        notes.append(f"there are only {k} clusters: showing cluster {k}")
    column = order[min(cluster, k) - 1]
    return u[:, column].astype(np.float32)[inverse].reshape(h, w), {"notes": notes}


def _unique_rows(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of (N, d) float32 values with the inverse index and counts (rows of small
    whole numbers, as from 8-bit images, are packed into one integer key, which is much faster)."""
    rows = np.ascontiguousarray(flat, np.float32)
    if rows.shape[1] <= 3 and rows.min() >= 0 and rows.max() < 2**20 and np.all(rows == np.floor(rows)):
        ints = rows.astype(np.int64)
        key = ints[:, 0]
        for j in range(1, rows.shape[1]):
            key = (key << 20) | ints[:, j]
        _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        return rows[first], inverse.ravel(), counts
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    return rows[first], inverse.ravel(), counts

"""Edge-based segmentation: Canny, gradient operators (Sobel, Prewitt, Scharr) and the Laplacian
of Gaussian with zero crossings.

Each outputs the edge map (an image layer) or, with ``output="regions"``, instance labels: the
areas that edges enclose become markers and a watershed on the gradient magnitude assigns every
pixel (edge pixels included) to one region. Thresholds are quantiles of the gradient magnitude,
so the same values work for any dtype and intensity range.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from numba import njit
from skimage.segmentation import watershed

from .. import cv_compat
from ._catalog import Range, When, technique
from ._image import ImageInfo, to_gray, to_lab

__all__ = ["canny", "gradient", "laplacian_of_gaussian"]

Output = Literal["edges", "regions"]
BORDER = "reflect"  # d c b a | a b c d


def _output(params: dict[str, Any]) -> str:
    """image (edge map), or labels with output=regions"""
    return "labels" if params["output"] == "regions" else "image"


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return image
    radius = max(int(4.0 * sigma + 0.5), 1)
    return cv_compat.gaussian(image, sigma, radius, BORDER)


def _quantile(values: np.ndarray, q: float | tuple[float, ...], bins: int = 4096) -> float | list[float]:
    """Approximate quantile(s) of non-negative values from one histogram (much faster than
    sorting); a tuple of ``q`` gives a list."""
    qs = q if isinstance(q, tuple) else (q,)
    top = float(values.max())
    if top <= 0:
        found = [0.0] * len(qs)
    else:
        found = _histogram_quantiles(cv_compat.histogram(values * np.float32((bins - 1) / top), bins), top, qs)
    return found if isinstance(q, tuple) else found[0]


def _histogram_quantiles(hist: np.ndarray, top: float, qs: tuple[float, ...]) -> list[float]:
    """Quantiles ``qs`` of the values binned in ``hist`` (bin i: i to i + 1 in units of top / (bins - 1))."""
    cdf = np.cumsum(hist) / hist.sum()
    return [float(np.searchsorted(cdf, x) + 0.5) * top / (hist.size - 1) for x in qs]


@njit(cache=True)
def _zero_crossing_jumps(log, jump):  # pragma: no cover - compiled
    """Per pixel, the larger jump |log - neighbour| over its right and lower neighbours where the
    sign changes (0 where it changes toward neither); returns the largest jump. One pass, no
    temporaries (the arrays are the image's size)."""
    h, w = log.shape
    top = 0.0
    for y in range(h):
        for x in range(w):
            v = log[y, x]
            best = np.float32(0.0)
            if x + 1 < w and np.signbit(v) != np.signbit(log[y, x + 1]):
                best = abs(v - log[y, x + 1])
            if y + 1 < h and np.signbit(v) != np.signbit(log[y + 1, x]):
                best = max(best, abs(v - log[y + 1, x]))
            jump[y, x] = best
            top = max(top, float(jump[y, x]))
    return top


@njit(cache=True)
def _positive_histogram(values, scale, bins):  # pragma: no cover - compiled
    """Counts of floor(v * scale) (in float32, as :func:`napari_segsuite.cv_compat.histogram`
    bins) of the positive values, in one pass."""
    hist = np.zeros(bins, np.int64)
    flat = values.ravel()
    for i in range(flat.size):
        v = flat[i]
        if v > 0:
            b = int(v * scale)
            if b < bins:
                hist[b] += 1
    return hist


def _regions(elevation: np.ndarray, interior: np.ndarray, min_size: int) -> np.ndarray:
    """Watershed of ``elevation`` from the connected components of ``interior`` (>= min_size px)."""
    markers, n = cv_compat.components(interior, connectivity=1)
    n += 1  # ids 0..n-1, the background's included
    small = np.flatnonzero(np.bincount(markers.ravel(), minlength=n) < min_size)
    if small.size:
        lut = np.arange(n, dtype=np.int32)
        lut[small] = 0
        lut[0] = 0
        keep = np.flatnonzero(lut)
        lut[keep] = np.arange(1, keep.size + 1)
        markers = lut[markers]
    if not markers.any():
        return np.ones(elevation.shape, np.int32) if elevation.size else markers
    return watershed(elevation, markers).astype(np.int32)


def _sobel_xy(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cv_compat.sobel(image, 1, 0, BORDER), cv_compat.sobel(image, 0, 1, BORDER)


def _colour_gradient(image: np.ndarray, info: ImageInfo, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Derivatives of the Lab channel whose gradient is strongest at each pixel (colour edges:
    a red/green boundary of equal luminance is still an edge)."""
    lab = to_lab(image, info)
    best = None
    for c in range(lab.shape[-1]):
        dx, dy = _sobel_xy(_smooth(np.ascontiguousarray(lab[..., c]), sigma))
        mag = cv_compat.magnitude(dx, dy)
        if best is None:
            best = [dx, dy, mag]
            continue
        stronger = mag > best[2]
        for b, v in zip(best, (dx, dy, mag)):
            np.copyto(b, v, where=stronger)
    return best[0], best[1]


@technique("edges.canny", family="Edges", output=_output, label_kind="instance", channels="color")
def canny(
    image: np.ndarray,
    *,
    info: ImageInfo,
    gradient: Literal["luminance", "colour"] = "luminance",
    sigma: Annotated[float, Range(0.0, 10.0, step=0.1)] = 1.5,
    low: Annotated[float, Range(0.0, 1.0, step=0.01)] = 0.80,
    high: Annotated[float, Range(0.0, 1.0, step=0.01)] = 0.92,
    output: Output = "edges",
    min_size: Annotated[int, Range(1, 100000), When("output", "regions")] = 30,
) -> tuple[np.ndarray, dict]:
    """Canny edges: Gaussian smoothing, Sobel gradients, non-maximum suppression, hysteresis.

    Parameters
    ----------
    gradient : str
        ``luminance``: gradients of the gray image (classic Canny); ``colour``: of each Lab
        channel, the strongest per pixel (finds edges between colours of equal brightness).
    sigma : float
        Gaussian smoothing before the gradients, in pixels (0 = none).
    low : float
        Weak-edge threshold as a quantile of the gradient magnitude (0.8 = the strongest 20 %).
    high : float
        Strong-edge (seed) threshold as a quantile of the gradient magnitude; at least ``low``.
    output : str
        ``edges``: the binary edge map as an image; ``regions``: labels of the enclosed areas.
    min_size : int
        Enclosed areas smaller than this (pixels) do not start a region.

    Notes
    -----
    Linear in pixels once a process has run it at a size (0.17 s at 4096², 0.67 s at 8192²); the
    first run at 8192² costs about 3x that, for the fresh memory of its 256 MB temporaries
    (docs/benchmarks.md, "How cost grows with image size").
    """
    if high < low:
        raise ValueError(f"edges.canny: high ({high}) must be at least low ({low})")
    if gradient == "colour" and image.shape[-1] == 3:
        dx, dy = _colour_gradient(image, info, sigma)
    else:
        dx, dy = _sobel_xy(_smooth(to_gray(image), sigma))
    magnitude = cv_compat.magnitude(dx, dy)
    t_low, t_high = _quantile(magnitude, (low, high))
    top = float(max(np.abs(dx).max(), np.abs(dy).max()))
    if top == 0:
        edges = np.zeros(image.shape[:2], np.uint8)
    else:
        # Canny takes int16 derivatives (as OpenCV's does): scale them (and the thresholds) to that range
        scale = 32000.0 / top
        dx16 = (dx * np.float32(scale)).astype(np.int16)
        dy16 = (dy * np.float32(scale)).astype(np.int16)
        edges = cv_compat.canny(dx16, dy16, t_low * scale, max(t_high, t_low) * scale)
    info = {"thresholds": [t_low, t_high]}
    if output == "edges":
        return edges, info
    regions = _regions(magnitude, edges == 0, min_size)
    if regions.max() < 3 and regions.size > 10_000:
        info["notes"] = [f"the edges enclose only {int(regions.max())} region(s): Canny's edges are seldom closed "
                         f"curves; lower sigma or the thresholds, or use a region-based or graph-based tool for regions"]
    return regions, info


_KERNELS = {
    "sobel": (np.array([1, 2, 1], np.float32) / 4, np.array([-1, 0, 1], np.float32)),
    "prewitt": (np.array([1, 1, 1], np.float32) / 3, np.array([-1, 0, 1], np.float32)),
    "scharr": (np.array([3, 10, 3], np.float32) / 16, np.array([-1, 0, 1], np.float32)),
}


@technique("edges.sobel", family="Edges", output=_output, label_kind="instance")
def gradient(
    image: np.ndarray,
    *,
    operator: Literal["sobel", "prewitt", "scharr"] = "sobel",
    sigma: Annotated[float, Range(0.0, 10.0, step=0.1)] = 0.0,
    output: Output = "edges",
    flat: Annotated[float, Range(0.01, 0.99, step=0.01), When("output", "regions")] = 0.5,
    min_size: Annotated[int, Range(1, 100000), When("output", "regions")] = 30,
) -> tuple[np.ndarray, dict]:
    """Gradient magnitude with the Sobel, Prewitt or Scharr operator.

    Kernels are those of ``skimage.filters.sobel_h`` etc. (smoothing weights sum to 1), borders
    are reflected, and the magnitude is sqrt(dx^2 + dy^2), i.e. ``skimage.filters.sobel`` times
    sqrt(2) (scikit-image divides by the square root of the number of axes).

    Parameters
    ----------
    operator : str
        sobel, prewitt or scharr.
    sigma : float
        Gaussian smoothing before the operator, in pixels (0 = none).
    output : str
        ``edges``: the gradient magnitude as an image; ``regions``: watershed regions.
    flat : float
        With regions: pixels below this quantile of the magnitude are region interiors (markers).
    min_size : int
        Interiors smaller than this (pixels) do not start a region.
    """
    smoothed = _smooth(image, sigma)
    smooth_k, diff_k = _KERNELS[operator]
    dx = cv_compat.sep_filter(smoothed, diff_k[::-1], smooth_k, BORDER)
    dy = cv_compat.sep_filter(smoothed, smooth_k, diff_k[::-1], BORDER)
    magnitude = cv_compat.magnitude(dx, dy)
    if output == "edges":
        return magnitude, {}
    return _regions(magnitude, magnitude < _quantile(magnitude, flat), min_size), {}


@technique("edges.log", family="Edges", output=_output, label_kind="instance")
def laplacian_of_gaussian(
    image: np.ndarray,
    *,
    sigma: Annotated[float, Range(0.5, 20.0, step=0.1)] = 2.0,
    strength: Annotated[float, Range(0.0, 1.0, step=0.01)] = 0.7,
    output: Output = "edges",
    min_size: Annotated[int, Range(1, 100000), When("output", "regions")] = 30,
) -> tuple[np.ndarray, dict]:
    """Laplacian of Gaussian (Marr-Hildreth): edges at zero crossings of the filtered image.

    A pixel is an edge when the LoG changes sign between it and its right or lower neighbour and
    the jump across the crossing exceeds the ``strength`` quantile of all such jumps.

    Parameters
    ----------
    sigma : float
        Scale of the Gaussian, in pixels.
    strength : float
        Quantile of the zero-crossing jumps below which crossings are ignored (suppresses noise).
    output : str
        ``edges``: the binary zero-crossing map as an image; ``regions``: watershed regions.
    min_size : int
        Enclosed areas smaller than this (pixels) do not start a region.
    """
    smoothed = _smooth(image, sigma)
    log = cv_compat.laplacian(smoothed, BORDER)
    jump = np.empty(image.shape, np.float32)
    top = _zero_crossing_jumps(log, jump)
    if top > 0:  # as _quantile(jump[jump > 0], strength), without the copy or the scaled temporary
        t = _histogram_quantiles(_positive_histogram(jump, np.float32(4095 / top), 4096), top, (strength,))[0]
        edges = (jump >= t).view(np.uint8)
    else:
        t, edges = 0.0, np.zeros(image.shape, np.uint8)
    if output == "edges":
        return edges, {"thresholds": [t]}
    dx, dy = _sobel_xy(smoothed)
    return _regions(cv_compat.magnitude(dx, dy), edges == 0, min_size), {"thresholds": [t]}

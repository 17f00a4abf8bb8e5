"""Thresholding: global (manual or automatic), multi-level Otsu and adaptive (local) thresholds.

Foreground is ``image > T`` (``image <= T`` with ``invert``), as in scikit-image. Colour images are
converted to gray first (see :mod:`napari_segsuite.techniques._image`); thresholds are in the
image's own units. Automatic thresholds are computed on the finite pixels of each 2D slice.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from skimage import filters

from .. import cv_compat
from ._catalog import Range, When, technique
from ._image import ImageInfo, intensity_histogram

__all__ = ["adaptive", "global_threshold", "local_threshold", "multiotsu", "threshold_value"]

GlobalMethod = Literal["otsu", "li", "yen", "triangle", "isodata", "mean", "minimum", "manual"]
HISTOGRAM_METHODS = ("otsu", "yen", "triangle", "isodata", "minimum")
LocalMethod = Literal["gaussian", "mean", "median", "sauvola", "niblack"]


def _kind(params: dict[str, Any]) -> str:
    """semantic (0/1), or instance with components"""
    return "instance" if params["components"] else "semantic"


def _to_labels(foreground: np.ndarray, components: bool, connectivity: int) -> np.ndarray:
    """Binary mask -> uint8 {0, 1} labels, or int32 connected components (one id per object)."""
    mask = foreground.view(np.uint8) if foreground.dtype == np.bool_ else foreground.astype(np.uint8)
    if not components:
        return mask
    return cv_compat.components(mask, connectivity)[0]


def _finite_values(image: np.ndarray, info: ImageInfo) -> np.ndarray:
    values = image[np.isfinite(image)] if info.n_nonfinite else image.ravel()
    return values.astype(np.int64) if info.integer_valued else values


def threshold_value(image: np.ndarray, info: ImageInfo, method: str, *, nbins: int = 256, value: float = 0.0) -> float:
    """The global threshold of a prepared gray slice by ``method`` (manual returns ``value``).

    Histogram methods use :func:`intensity_histogram` (one bin per value for integer images, as
    scikit-image does), so the result equals ``skimage.filters.threshold_<method>`` on the same
    gray image. A constant image has no automatic threshold: its value is returned, which makes
    everything background.
    """
    if method == "manual":
        return float(value)
    if info.is_constant:
        return info.vmin
    if method == "mean":
        return float(np.mean(_finite_values(image, info), dtype=np.float64))
    if method == "li":
        return float(filters.threshold_li(_finite_values(image, info)))
    if method == "triangle":
        return float(filters.threshold_triangle(_finite_values(image, info), nbins=nbins))
    hist = intensity_histogram(image, info, nbins)
    func = {"otsu": filters.threshold_otsu, "yen": filters.threshold_yen,
            "isodata": filters.threshold_isodata, "minimum": filters.threshold_minimum}[method]
    try:
        return float(func(hist=hist))
    except RuntimeError as e:  # threshold_minimum on a histogram without two peaks
        raise ValueError(
            f"the {method} method found no threshold for this image ({e}); choose another method"
        ) from None


def _global_overlap(p) -> int | None:
    """A manual threshold is per pixel; an automatic one depends on the whole image's histogram."""
    return 0 if p["method"] == "manual" and not p["components"] else None


def _adaptive_overlap(p) -> int | None:
    """The window (a Gaussian reaches 4 sigma = 2/3 of it); the median method and components are not
    local (the median quantises with the slice's range; components span the image)."""
    return None if p["method"] == "median" or p["components"] else int(p["block_size"])


@technique(
    "threshold.global", family="Thresholding", output="labels", label_kind=_kind,
    nan_policy="propagate", histogram=True, overlap=_global_overlap,
)
def global_threshold(
    image: np.ndarray,
    *,
    info: ImageInfo,
    method: GlobalMethod = "otsu",
    value: Annotated[float, Range(from_data="values"), When("method", "manual")] = 0.0,
    nbins: Annotated[int, Range(2, 4096), When("method", *HISTOGRAM_METHODS)] = 256,
    invert: bool = False,
    components: bool = False,
    connectivity: Annotated[int, Range(1, 2), When("components", True)] = 1,
) -> tuple[np.ndarray, dict]:
    """Global threshold: one value for the whole slice, set by hand or by an automatic method.

    Parameters
    ----------
    method : str
        ``manual`` uses ``value``; the others compute the threshold from the image (Otsu, Li,
        Yen, triangle, isodata, mean, minimum; see ``skimage.filters``).
    value : float
        Manual threshold, in the image's units.
    nbins : int
        Histogram bins for histogram-based methods on non-integer images.
    invert : bool
        Foreground is dark (``image <= T``) instead of bright.
    components : bool
        Label connected components (one id per object, instance labels) instead of a binary mask.
    connectivity : int
        1: pixels touching by an edge are connected; 2: by a corner too.
    """
    t = threshold_value(image, info, method, nbins=nbins, value=value)
    fg = image <= t if invert else image > t
    if info.n_nonfinite:
        fg &= np.isfinite(image)
    return _to_labels(fg, components, connectivity), {"thresholds": [t], "notes": polarity_notes(fg, invert)}


def polarity_notes(fg: np.ndarray, invert: bool) -> list[str]:
    """A hint when the foreground looks like the background: it covers most of the slice and most of
    its border (the objects are probably on the other side of the threshold: dark nuclei on a bright
    stain, for instance)."""
    if fg.ndim != 2 or min(fg.shape) < 3:
        return []
    border = np.concatenate([fg[0], fg[-1], fg[1:-1, 0], fg[1:-1, -1]])
    if fg.mean() <= 0.5 or border.mean() <= 0.6:
        return []
    side = "brighter" if invert else "darker"
    advice = "untick invert" if invert else "tick invert"
    return [f"the foreground covers {fg.mean():.0%} of the image and {border.mean():.0%} of its border: the objects "
            f"are probably {side} than the background ({advice})"]


@technique(
    "threshold.multiotsu", family="Thresholding", output="labels", label_kind="semantic",
    nan_policy="propagate", histogram=True,
)
def multiotsu(
    image: np.ndarray,
    *,
    info: ImageInfo,
    classes: Annotated[int, Range(2, 6)] = 3,
    nbins: Annotated[int, Range(8, 4096)] = 256,
    invert: bool = False,
) -> tuple[np.ndarray, dict]:
    """Multi-level Otsu: N - 1 thresholds split the image into N intensity classes.

    The darkest class is 0 (background), then 1 ... N - 1 by increasing intensity; with
    ``invert`` the brightest class is background. Thresholds are those of
    ``skimage.filters.threshold_multiotsu``.

    Parameters
    ----------
    classes : int
        Number of intensity classes N.
    nbins : int
        Histogram bins on non-integer images.
    invert : bool
        Number the classes from the brightest (0) to the darkest.
    """
    if info.is_constant:
        return np.zeros(image.shape, np.uint8), {"thresholds": []}
    # the search is O(bins^(classes-1)): integer images get one bin per value only up to nbins values
    counts, centers = intensity_histogram(image, info, nbins, max_integer_bins=nbins)
    levels = centers[counts > 0]
    if levels.size <= classes:
        # too few intensity levels for the classes asked: each level becomes its own class
        thresholds = (levels[:-1] + levels[1:]) / 2
        notes = [f"only {levels.size} intensity levels: {levels.size} classes instead of {classes}"]
    else:
        notes = []
        thresholds = filters.threshold_multiotsu(classes=classes, hist=(counts, centers))
    regions = np.digitize(image, bins=thresholds).astype(np.uint8)
    if invert:
        regions = (len(thresholds) - regions).astype(np.uint8)
    return regions, {"thresholds": [float(t) for t in thresholds], "notes": notes}


def _median_8bit(image: np.ndarray, info: ImageInfo, block_size: int) -> np.ndarray:
    """Window median with a constant-time 8-bit median filter, reflected borders.

    Exact for integer images within 0..255; other images are quantized to 256 levels over
    [min, max] first, so the median is within half a level, (max - min) / 510, of the exact one.
    """
    pad = block_size // 2
    exact = info.integer_valued and info.vmin >= 0 and info.vmax <= 255
    if exact:
        lo, step = 0.0, 1.0
    else:
        lo, step = info.vmin, (info.vmax - info.vmin) / 255.0 or 1.0
    levels = np.rint((image - np.float32(lo)) * np.float32(1.0 / step)).clip(0, 255).astype(np.uint8)
    padded = np.pad(levels, pad, mode="symmetric")  # symmetric = d c b a | a b c d
    med = cv_compat.median_u8(padded, block_size)[pad:-pad, pad:-pad]
    return med.astype(np.float32) * np.float32(step) + np.float32(lo)


def local_threshold(
    image: np.ndarray, info: ImageInfo, method: str, block_size: int, *, offset: float = 0.0, k: float = 0.2, r: float = 0.0
) -> np.ndarray:
    """Per-pixel threshold surface T(x) of a float32 gray image (see :func:`adaptive`)."""
    border = "reflect"  # d c b a | a b c d
    if method == "gaussian":
        sigma = (block_size - 1) / 6.0
        radius = int(4.0 * sigma + 0.5)
        return cv_compat.gaussian(image, sigma, radius, border) - np.float32(offset)
    if method == "mean":
        return cv_compat.box_mean(image, block_size, border) - np.float32(offset)
    if method == "median":
        return _median_8bit(image, info, block_size) - np.float32(offset)
    # Sauvola / Niblack: mean and standard deviation over the window, in float64
    img64 = image.astype(np.float64)
    m = cv_compat.box_mean(img64, block_size, border)
    m2 = cv_compat.box_mean(img64 * img64, block_size, border)
    s = np.sqrt(np.maximum(m2 - m * m, 0.0))
    if method == "niblack":
        return (m - k * s).astype(np.float32)
    if r <= 0:
        lo, hi = info.dtype_range
        r = 0.5 * (hi - lo) or 1.0
    return (m * (1.0 + k * (s / r - 1.0))).astype(np.float32)


@technique("threshold.adaptive", family="Thresholding", output="labels", label_kind=_kind, histogram=True,
           overlap=_adaptive_overlap)
def adaptive(
    image: np.ndarray,
    *,
    info: ImageInfo,
    method: LocalMethod = "gaussian",
    block_size: Annotated[int, Range(3, 1001, step=2, odd=True)] = 51,
    offset: Annotated[float, Range(from_data="span"), When("method", "gaussian", "mean", "median")] = 0.0,
    k: Annotated[float, Range(-1.0, 1.0, step=0.01), When("method", "sauvola", "niblack")] = 0.2,
    r: Annotated[float, Range(0.0, None), When("method", "sauvola")] = 0.0,
    invert: bool = False,
    components: bool = False,
    connectivity: Annotated[int, Range(1, 2), When("components", True)] = 1,
) -> tuple[np.ndarray, dict]:
    """Adaptive threshold: each pixel is compared with a statistic of its neighbourhood.

    With window w = block_size and borders reflected (``d c b a | a b c d``), the threshold is

    * gaussian: T = G * I - offset, G a Gaussian with sigma = (w - 1) / 6 truncated at 4 sigma
      (as ``skimage.filters.threshold_local``);
    * mean: T = mean over the w x w window - offset; median: T = window median - offset (exact
      for 8-bit images; others are quantized to 256 levels first, see ``_median_8bit``);
    * niblack: T = m - k s; sauvola: T = m (1 + k (s / R - 1)), with m and s the window's mean and
      standard deviation.

    Foreground is I > T. Non-finite pixels are filled with the image mean for the filters.

    Parameters
    ----------
    method : str
        Local statistic: gaussian, mean, median, sauvola or niblack.
    block_size : int
        Odd window size in pixels.
    offset : float
        Subtracted from the local statistic (gaussian, mean, median), in image units.
    k : float
        Weight of the local standard deviation (sauvola, niblack).
    r : float
        Sauvola's dynamic range of the standard deviation; 0 = half the range of the input dtype
        (127.5 for uint8, as scikit-image) or, for float images, of the image's values.
    invert : bool
        Foreground is dark (``image <= T``).
    components : bool
        Label connected components (one id per object, instance labels) instead of a binary mask.
    connectivity : int
        1: pixels touching by an edge are connected; 2: by a corner too.
    """
    t = local_threshold(image, info, method, block_size, offset=offset, k=k, r=r)
    fg = image <= t if invert else image > t
    return _to_labels(fg, components, connectivity), {"thresholds": []}

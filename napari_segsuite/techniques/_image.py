"""Input checking and preparation shared by every technique.

Conventions (stated once, used everywhere):

* Spatial axes are the last two (``..., Y, X``); with ``channel_axis`` given, channels are moved
  last (``..., Y, X, C``). Every leading axis is a slice axis: techniques run per 2D slice.
* Gray conversion of colour: ITU-R BT.709 luminance ``0.2125 R + 0.7154 G + 0.0721 B`` (as
  ``skimage.color.rgb2gray``), alpha dropped, computed in float32 **without rescaling**, so values
  stay in the input's units (a uint8 image gives gray values in 0..255). One channel is used as
  is; gray + alpha keeps the gray; other channel counts are averaged.
* Booleans are read as 0/1. Complex numbers are refused (take ``abs`` or ``real`` first).
* Non-finite pixels (NaN, inf) are ignored by the statistics and are background in the output.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import cv_compat
from ..io.masks import guess_channel_axis

__all__ = [
    "ImageInfo", "check_image", "guess_channel_axis", "intensity_histogram", "iter_slices", "lab_gradient", "prepare_slice",
    "to_gray", "to_lab", "to_unit",
    "check_input", "slice_input",
]

LUMINANCE = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


def check_image(image: Any, *, channel_axis: int | None = None) -> Any:
    """Validate an image and return it with channels (if any) on the last axis.

    Raises ``TypeError`` for unsupported dtypes and ``ValueError`` for bad shapes, with a message
    that says what to do. Array-likes with ``shape``/``dtype`` (dask, zarr) are not loaded here.
    """
    if not (hasattr(image, "shape") and hasattr(image, "dtype") and hasattr(image, "ndim")):
        try:
            image = np.asarray(image)
        except Exception as e:  # pragma: no cover - exotic objects
            raise TypeError(f"expected an image array, got {type(image).__name__}") from e
    dtype = np.dtype(image.dtype)
    if dtype.kind == "c":
        raise TypeError("complex images are not supported: pass np.abs(image) or image.real instead")
    if dtype.kind not in "biuf":
        raise TypeError(f"images must be numeric (bool, integer or float), got dtype {dtype}")
    min_ndim = 2 if channel_axis is None else 3
    if image.ndim < min_ndim:
        what = "a 2D image (Y, X)" if channel_axis is None else "a 2D colour image (Y, X, C)"
        raise ValueError(f"expected at least {what}, got an array of shape {tuple(image.shape)}")
    if channel_axis is not None:
        axis = channel_axis % image.ndim if -image.ndim <= channel_axis < image.ndim else None
        if axis is None:
            raise ValueError(f"channel_axis={channel_axis} is out of bounds for shape {tuple(image.shape)}")
        if axis != image.ndim - 1:
            image = np.moveaxis(image, axis, -1)
    if int(np.prod(image.shape)) == 0:
        raise ValueError(f"the image is empty (shape {tuple(image.shape)}): there is nothing to segment")
    return image


def iter_slices(shape: tuple[int, ...], *, has_channels: bool) -> Iterator[tuple[int, ...]]:
    """Indices of the 2D slices of an array of ``shape`` (one empty tuple for a 2D image)."""
    lead = shape[: len(shape) - (3 if has_channels else 2)]
    return itertools.product(*(range(n) for n in lead))


@dataclass
class ImageInfo:
    """Facts about one prepared slice that techniques and widgets use."""

    dtype: np.dtype
    integer_valued: bool
    vmin: float
    vmax: float
    n_nonfinite: int = 0
    fill_value: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def is_constant(self) -> bool:
        return self.vmin == self.vmax

    @property
    def dtype_range(self) -> tuple[float, float]:
        """The nominal range of the source dtype (ints: its limits; bool: 0..1; float: data range)."""
        if self.dtype.kind == "b":
            return 0.0, 1.0
        if self.dtype.kind in "iu":
            ii = np.iinfo(self.dtype)
            return float(ii.min), float(ii.max)
        return self.vmin, self.vmax

    @staticmethod
    def nonfinite_mask(image: np.ndarray) -> np.ndarray:
        mask = ~np.isfinite(image)
        return mask if image.ndim == 2 else mask.any(axis=-1)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Convert an (Y, X, C) array to float32 gray with the module's documented rule."""
    c = image.shape[-1]
    if c in (1, 2):
        return np.asarray(image[..., 0], dtype=np.float32)
    if c in (3, 4):
        rgb = image[..., :3]
        if rgb.dtype != np.float32:
            rgb = rgb.astype(np.float32)
        return rgb @ LUMINANCE
    return np.asarray(image, dtype=np.float32).mean(axis=-1)


def prepare_slice(slice_: Any, *, has_channels: bool, mode: str = "gray") -> tuple[np.ndarray, ImageInfo]:
    """Turn one 2D slice (``Y, X`` or ``Y, X, C``) into float32 data plus its :class:`ImageInfo`.

    ``mode="gray"`` returns ``(Y, X)``; ``mode="color"`` returns ``(Y, X, C)`` (alpha dropped,
    gray given one channel).
    """
    raw = np.asarray(slice_)
    dtype = raw.dtype
    notes = []
    if mode == "labels":
        return _prepare_labels(raw, has_channels)
    if dtype.kind == "b":
        notes.append("boolean image read as 0/1")
        raw = raw.view(np.uint8)
    raw = _within_float32(raw, notes)
    if mode == "gray":
        data = to_gray(raw) if has_channels else np.asarray(raw, dtype=np.float32)
        integer_valued = dtype.kind in "biu" and (not has_channels or raw.shape[-1] in (1, 2))
    else:
        data = raw if has_channels else raw[..., None]
        if data.shape[-1] == 4:
            data = data[..., :3]
        data = np.asarray(data, dtype=np.float32)
        integer_valued = dtype.kind in "biu"
    n_bad = 0
    if dtype.kind == "f":
        finite = np.isfinite(data)
        if not finite.all():
            bad_pixels = ~finite if data.ndim == 2 else ~finite.all(axis=-1)  # any channel non-finite
            n_bad = int(np.count_nonzero(bad_pixels))
            values = data[finite]
            notes.append(f"{n_bad} non-finite (NaN/inf) pixels were ignored and left as background")
        else:
            values = data
    else:
        values = data
    if values.size == 0:
        notes.append("the image has no finite pixel")
        vmin = vmax = fill = 0.0
    else:
        vmin, vmax = float(values.min()), float(values.max())
        fill = float(values.mean()) if n_bad else 0.0
    return data, ImageInfo(np.dtype(dtype), integer_valued, vmin, vmax, n_bad, fill, notes)


_FLOAT32_SAFE = float(np.finfo(np.float32).max) / 16  # headroom for the sums techniques form


def _within_float32(raw: np.ndarray, notes: list[str]) -> np.ndarray:
    """``raw`` scaled by a power of two when its finite values exceed what float32 (the techniques'
    working type) holds, so they stay finite instead of becoming inf; a note says by how much."""
    if raw.dtype.kind != "f" or raw.dtype.itemsize <= 4 or not raw.size:
        return raw
    with np.errstate(invalid="ignore"):
        top = float(np.nanmax(np.where(np.isfinite(raw), np.abs(raw), 0)))
    if top <= _FLOAT32_SAFE:
        return raw
    k = int(np.ceil(np.log2(top / _FLOAT32_SAFE)))
    notes.append(f"values up to {top:.3g} exceed float32's range: the image was divided by 2^{k} for processing "
                 f"(intensities and thresholds shown are in those units)")
    return raw / np.float64(2.0**k)


def _prepare_labels(raw: np.ndarray, has_channels: bool) -> tuple[np.ndarray, ImageInfo]:
    """A label image as int32/int64 ids (booleans give 0/1; floats must hold whole numbers)."""
    if has_channels:
        raise ValueError("post-processing works on a label image (one id per pixel; it has no channels): give it a "
                         "mask, e.g. the output of a segmentation technique (in napari: a labels layer)")
    if raw.dtype.kind == "f":
        finite = np.isfinite(raw)
        if not finite.all() or not np.array_equal(raw, np.round(raw)):
            raise TypeError(
                f"post-processing works on labels (whole numbers), got {raw.dtype} values with fractions "
                "or NaN: run a segmentation technique first, or give it a mask (in napari: a labels layer)"
            )
    if raw.dtype.kind in "iuf" and raw.size and raw.min() < 0:
        raise ValueError("label images must not hold negative ids: 0 is background, objects are 1, 2, ...")
    big = raw.size and raw.dtype.kind in "iuf" and raw.max() >= 2**31
    data = raw.astype(np.int64 if big else np.int32)
    vmax = float(data.max()) if data.size else 0.0
    return data, ImageInfo(np.dtype(raw.dtype), True, float(data.min()) if data.size else 0.0, vmax)


def intensity_histogram(
    image: np.ndarray, info: ImageInfo, nbins: int = 256, *, max_integer_bins: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of the finite values of a prepared gray slice: ``(counts, bin_centers)``.

    Integer-valued images get one bin per integer value (as ``skimage.exposure.histogram``) when
    their range spans at most ``max_integer_bins`` values; other images get ``nbins`` equal bins
    over [min, max].
    """
    lo, hi = info.vmin, info.vmax
    if info.integer_valued and hi - lo < max_integer_bins:
        idx = image.astype(np.intp) if not info.n_nonfinite else image[np.isfinite(image)].astype(np.intp)
        idx -= int(lo)
        counts = np.bincount(idx.ravel(), minlength=int(hi - lo) + 1)
        return counts, np.arange(int(lo), int(hi) + 1, dtype=np.float64)
    values = image if not info.n_nonfinite else image[np.isfinite(image)]
    if hi == lo:
        return np.array([values.size]), np.array([lo])
    scale = nbins / (hi - lo)
    idx = ((values - np.float32(lo)) * np.float32(scale)).astype(np.intp)
    np.clip(idx, 0, nbins - 1, out=idx)
    counts = np.bincount(idx.ravel(), minlength=nbins)
    width = (hi - lo) / nbins
    return counts, lo + width * (np.arange(nbins) + 0.5)


def to_unit(image: np.ndarray, info: ImageInfo) -> np.ndarray:
    """float32 copy scaled to [0, 1]: integers by their dtype's range, floats by their data range
    (widened to include [0, 1], so images already in [0, 1] are unchanged)."""
    lo, hi = info.dtype_range if info.dtype.kind in "biu" else (min(info.vmin, 0.0), max(info.vmax, 1.0))
    return (image - np.float32(lo)) * np.float32(1.0 / ((hi - lo) or 1.0))


def to_lab(image: np.ndarray, info: ImageInfo) -> np.ndarray:
    """(Y, X, C) float32 CIE Lab (L in 0..100) of a prepared colour slice; one-channel images give
    their intensity scaled to 0..100, so distances have the same units for gray and colour."""
    unit = to_unit(image, info)  # a fresh array: clipped in place
    np.clip(unit, 0, 1, out=unit)
    if unit.ndim == 3 and unit.shape[-1] == 3:
        return cv_compat.rgb_to_lab(unit)
    return unit.reshape(unit.shape[:2] + (-1,)) * np.float32(100)


def check_input(value: Any, spatial_shape: tuple[int, ...], name: str = "seeds") -> Any:
    """Validate a layer input for an image whose spatial shape (leading axes, Y, X) is given.

    Accepts ``None``, a label/mask array of exactly ``spatial_shape`` (integers or booleans), or
    point coordinates of shape ``(N, len(spatial_shape))`` (or ``(N, 2)`` for any image: the
    points then apply to every slice). Raises ``ValueError`` saying what was wrong otherwise.
    """
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.shape == tuple(spatial_shape):
        if arr.dtype.kind not in "biu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
            raise TypeError(f"{name}: a label image must hold whole numbers, got dtype {arr.dtype}")
        return ("labels", arr)
    if arr.ndim == 2 and arr.shape[1] in (2, len(spatial_shape)) and arr.dtype.kind in "biuf":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: point coordinates must be finite numbers")
        return ("points", arr.astype(np.float64))
    if arr.ndim == 2 and arr.shape[1] == 0:
        return ("points", np.zeros((0, len(spatial_shape))))
    raise ValueError(
        f"{name}: expected a label image of shape {tuple(spatial_shape)} (the image's shape without "
        f"channels) or point coordinates of shape (N, {len(spatial_shape)}); got shape {arr.shape}"
    )


def slice_input(checked: Any, index: tuple[int, ...], plane: tuple[int, ...]) -> tuple[np.ndarray | None, list[str]] | None:
    """Cut a :func:`check_input` value to one 2D slice: ``(markers int32 (Y, X) or None, notes)``.

    Points become one seed id each (1..N, in order); points on other slices are skipped; points
    outside the image are dropped with a note. A slice without any seed gives ``None`` markers.
    """
    if checked is None:
        return None
    kind, arr = checked
    if kind == "labels":
        markers = np.asarray(arr[index]).astype(np.int32)
        return (markers if markers.any() else None), []
    notes = []
    pts = arr
    if pts.shape[1] > 2:
        lead = np.round(pts[:, :-2]).astype(np.int64)
        pts = pts[np.all(lead == np.asarray(index, np.int64), axis=1)]
    yx = np.round(pts[:, -2:]).astype(np.int64)
    inside = (yx[:, 0] >= 0) & (yx[:, 0] < plane[0]) & (yx[:, 1] >= 0) & (yx[:, 1] < plane[1])
    if not inside.all():
        notes.append(f"{int((~inside).sum())} seed point(s) outside the image were ignored")
    markers = np.zeros(plane, np.int32)
    ids = np.flatnonzero(inside) + 1
    markers[yx[inside, 0], yx[inside, 1]] = ids
    return (markers if len(ids) else None), notes


def lab_gradient(lab: np.ndarray, sigma: float) -> np.ndarray:
    """Colour gradient magnitude (Sobel on each Lab channel, the largest per pixel).

    The buffers the first channel's steps make serve the other channels: on a large image, fresh
    memory (pages the system must supply) costs more than the arithmetic."""
    if sigma > 0:
        lab = cv_compat.gaussian(lab, sigma, border="reflect")
    if lab.ndim == 2:
        lab = lab[..., None]
    channel = np.empty(lab.shape[:2], lab.dtype)
    gx = gy = mag = out = None
    for c in range(lab.shape[-1]):
        np.copyto(channel, lab[..., c])
        gx = cv_compat.sobel(channel, 1, 0, out=gx)
        gy = cv_compat.sobel(channel, 0, 1, out=gy)
        if out is None:
            out = cv_compat.magnitude(gx, gy)
        else:
            mag = cv_compat.magnitude(gx, gy, out=mag)
            np.maximum(out, mag, out=out)
    return out

"""Conversion of any napari image slice to the RGB uint8 that SAM's encoder expects.

* gray (H, W) -> the same value in R, G and B;
* RGB (H, W, 3) kept; RGBA (H, W, 4) -> the alpha channel dropped; other channel counts refused;
* uint8 kept as is; bool -> 0 / 255; every other integer or float dtype (16-bit microscopy, float
  intensities) is stretched linearly so that its 0.1st..99.9th percentile of finite values maps to
  0..255 (clipped), channels together so colour balance is kept; NaN and infinity become 0;
* a constant image becomes black (SAM still runs; there is nothing to find).

:func:`resize_longest_side` then scales it to the encoder's input size as segment-anything does.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["LazyRGB", "image_hash", "is_lazy", "resize_longest_side", "to_sam_rgb"]

MIN_SIDE = 8


def to_sam_rgb(image: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 from a 2D gray or colour slice (see the module docstring)."""
    a = _channels_last(np.asarray(image), channel_axis)
    if a.dtype == np.uint8 or a.dtype == bool:
        return _to_uint8(a, None)
    f = a.astype(np.float32)
    finite = np.isfinite(f)
    if not finite.any():
        raise ValueError("the image has no finite value (all NaN or infinite); nothing to segment")
    vals = f[finite]
    if vals.size > 1_000_000:  # percentiles of a strided sample: same to the grey level, faster
        vals = vals[:: vals.size // 1_000_000]
    return _to_uint8(f, _limits(vals))


class LazyRGB:
    """A large slice kept where it is (a dask or zarr array, a memory-mapped file) and converted to
    SAM's RGB uint8 one window at a time, with the stretch of the whole slice: the 0.1st..99.9th
    percentile of a strided sample of about a million pixels (read once, here). A 40000² slide is
    then never in memory whole: tiles read only their own pixels."""

    def __init__(self, image, channel_axis: int | None = None) -> None:
        self.source = _channels_last(image, channel_axis)
        self.shape = tuple(int(n) for n in self.source.shape[:2])
        step = max(1, int(np.ceil(np.sqrt(self.shape[0] * self.shape[1] / 1_000_000))))
        sample = np.asarray(self.source[::step, ::step])
        self.limits = None
        if sample.dtype != np.uint8 and sample.dtype != bool:
            vals = sample.astype(np.float32)
            vals = vals[np.isfinite(vals)]
            if not vals.size:
                raise ValueError("the image has no finite value (all NaN or infinite); nothing to segment")
            self.limits = _limits(vals)
        self.identity = image_hash(sample) + repr((self.shape, str(sample.dtype)))  # names it without reading it all

    def crop(self, rows: slice, cols: slice) -> np.ndarray:
        """The RGB uint8 of ``[rows, cols]``, read now."""
        return _to_uint8(np.asarray(self.source[rows, cols]), self.limits)


def is_lazy(image) -> bool:
    """Whether ``image`` is not (only) in memory: a memory map, or an array-like that is not numpy's."""
    return isinstance(image, np.memmap) or not isinstance(image, np.ndarray)


def _channels_last(a, channel_axis: int | None):
    """``a`` as (H, W, C) with C in 1 or 3, checked (numpy, dask and zarr arrays alike)."""
    if channel_axis is not None:
        a = np.moveaxis(a, channel_axis, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"SAM needs one 2D slice (gray or colour); got an array of shape {a.shape}. "
                         f"Pick a 2D image or let the widget pass the displayed slice.")
    c = a.shape[-1]
    if c == 4:
        a = a[..., :3]
    elif c == 2 or c > 4:
        raise ValueError(f"SAM takes gray, RGB or RGBA images; this one has {c} channels. "
                         f"Split the channels (napari: right-click the layer, Split Stack) and pick one.")
    if min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"the image is {a.shape[0]} x {a.shape[1]} pixels; SAM needs at least "
                         f"{MIN_SIDE} x {MIN_SIDE}")
    if not (a.dtype == bool or (np.issubdtype(a.dtype, np.number) and not np.issubdtype(a.dtype, np.complexfloating))):
        raise ValueError(f"SAM cannot read images of dtype {a.dtype}; convert it to numbers first")
    return a


def _limits(vals: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(vals, [0.1, 99.9])
    if hi <= lo:
        lo, hi = float(vals.min()), float(vals.max())
    return float(lo), float(hi)


def _to_uint8(a: np.ndarray, limits: tuple[float, float] | None) -> np.ndarray:
    """(H, W, 3) uint8: ``a`` as it is (uint8), 0/255 (bool), or stretched from ``limits`` to 0..255
    (NaN and infinity 0)."""
    if a.dtype == np.uint8:
        out = a
    elif a.dtype == bool:
        out = a.astype(np.uint8) * 255
    else:
        f = a.astype(np.float32, copy=False)
        lo, hi = limits
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        out = np.clip(np.rint(np.where(np.isfinite(f), (f - lo) * scale, 0)), 0, 255).astype(np.uint8)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out)


def image_hash(rgb: np.ndarray) -> str:
    """Content hash of an image array (shape, dtype and bytes): SHA-256, 32 hex digits. SHA-256
    rather than BLAKE2, which is faster in software, because CPUs hash SHA-256 in hardware: 2 ms
    for a 1024 x 1024 RGB image where BLAKE2b took 7 ms (the Xeon host of an H100)."""
    h = hashlib.sha256()
    h.update(repr((rgb.shape, str(rgb.dtype))).encode())
    h.update(np.ascontiguousarray(rgb).data)
    return h.hexdigest()[:32]


def resized_shape(shape: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The (H, W) that :func:`resize_longest_side` gives an image of ``shape``
    (segment-anything's ``ResizeLongestSide.get_preprocess_shape``)."""
    h, w = shape
    scale = long_side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def resize_longest_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 scaled so that its longer side is ``long_side``, as
    segment-anything's ``ResizeLongestSide.apply_image`` scales it (same output shape; bilinear
    with antialiasing), but through torch's uint8 kernel instead of a round trip through PIL: the
    same values to one grey level (rounding, on under 1% of them), two to three times faster.
    An image already at that size is returned as it is (stock copies it through PIL)."""
    h, w = rgb.shape[:2]
    size = resized_shape((h, w), long_side)
    if size == (h, w):
        return rgb
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
    out = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return np.ascontiguousarray(out[0].permute(1, 2, 0).numpy())

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

__all__ = ["image_hash", "resize_longest_side", "to_sam_rgb"]

MIN_SIDE = 8


def to_sam_rgb(image: np.ndarray, channel_axis: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 from a 2D gray or colour slice (see the module docstring)."""
    a = np.asarray(image)
    if channel_axis is not None:
        a = np.moveaxis(a, channel_axis, -1)
    elif a.ndim == 3 and a.shape[-1] in (3, 4) and a.shape[0] > 4:
        pass  # channels last, as napari's rgb images
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
    if a.dtype == np.uint8:
        out = a
    elif a.dtype == bool:
        out = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.number) and not np.iscomplexobj(a):
        f = a.astype(np.float32)
        finite = np.isfinite(f)
        if not finite.any():
            raise ValueError("the image has no finite value (all NaN or infinite); nothing to segment")
        vals = f[finite]
        if vals.size > 1_000_000:  # percentiles of a strided sample: same to the grey level, faster
            vals = vals[:: vals.size // 1_000_000]
        lo, hi = np.percentile(vals, [0.1, 99.9])
        if hi <= lo:
            lo, hi = float(vals.min()), float(vals.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        f = np.where(finite, (f - lo) * scale, 0)
        out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"SAM cannot read images of dtype {a.dtype}; convert it to numbers first")
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

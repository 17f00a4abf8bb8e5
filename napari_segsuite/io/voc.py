"""Pascal VOC label masks: palette PNGs with the standard VOC colours, 255 kept as the ignore label.

``SegmentationClass`` PNGs hold class indices (0 = background, 1..20 the VOC classes, 255 = void /
ignore at object borders); ``SegmentationObject`` PNGs hold object indices in the same way. Both are
8-bit palette images whose palette is :func:`voc_palette`; read them as indices, never as RGB.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write

__all__ = ["VOC_CLASSES", "VOC_IGNORE", "read_voc_mask", "voc_palette", "write_voc_mask"]

VOC_IGNORE = 255
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def voc_palette(n: int = 256) -> np.ndarray:
    """The VOC colour map, (n, 3) uint8: the bits of each index spread over R, G and B from the top bit
    down (index 1 = (128, 0, 0), 255 = (224, 224, 192))."""
    out = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


def read_voc_mask(path: str | os.PathLike) -> np.ndarray:
    """Indices (uint8, 255 = ignore) of a VOC palette PNG. An RGB PNG painted in the VOC colours is
    mapped back to indices; any other colour is an error naming it."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            mode = im.mode
            arr = np.asarray(im.convert("RGB") if mode not in ("P", "L") else im)
    except Exception as e:
        raise ValueError(f"{path}: cannot read this file as a PNG mask ({type(e).__name__}: {e})") from e
    if mode in ("P", "L"):
        return arr.astype(np.uint8)
    pal = voc_palette()
    key = (pal[:, 0].astype(np.int64) << 16) | (pal[:, 1].astype(np.int64) << 8) | pal[:, 2]
    codes = (arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2]
    order = np.argsort(key)
    pos = np.clip(np.searchsorted(key[order], codes), 0, len(key) - 1)
    found = key[order][pos] == codes
    if not found.all():
        y, x = np.argwhere(~found)[0]
        raise ValueError(f"{path}: pixel ({y}, {x}) has colour {tuple(arr[y, x])}, which is not a VOC palette colour")
    return order[pos].astype(np.uint8)


def write_voc_mask(path: str | os.PathLike, labels: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write class or object indices (0..254, 255 = ignore) as a VOC palette PNG, atomically."""
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"a VOC mask is one 2-D image; got shape {labels.shape}")
    if labels.dtype.kind not in "biu":
        raise TypeError(f"VOC masks hold integer indices, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > VOC_IGNORE):
        raise ValueError(f"VOC masks hold indices 0..254 and 255 (ignore); these labels span "
                         f"{labels.min()}..{labels.max()}: write PNG/TIFF label masks or COCO instead")
    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette(voc_palette().ravel().tolist())

    def write(f):
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        f.write(buf.getvalue())

    return atomic_write(path, write, overwrite=overwrite)

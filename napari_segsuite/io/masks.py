"""Label masks as PNG, TIFF or NPY files, and images read for the CLI."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..labels import smallest_label_dtype
from .atomic import atomic_write

__all__ = ["CLASSES_KEY", "MASK_FORMATS", "open_image_lazy", "read_image", "read_label_classes", "write_labels"]

CLASSES_KEY = "napari-segsuite:classes"  # PNG text chunk / TIFF description holding the classes as JSON

MASK_FORMATS = ("png", "tif", "npy")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (NPY, TIFF, or anything imageio reads) into an array.

    Raises ``ValueError`` naming the file when it cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(path)
        import imageio.v3 as iio

        return np.asarray(iio.imread(path))
    except Exception as e:
        raise ValueError(f"{path}: cannot read this file as an image ({type(e).__name__}: {e})") from e


def read_label_classes(path: str | os.PathLike) -> list[dict[str, Any]] | None:
    """The classes that :func:`write_labels` stored in a PNG or TIFF mask, or None."""
    import json

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".png":
            from PIL import Image

            with Image.open(path) as im:
                text = getattr(im, "text", {}).get(CLASSES_KEY)
            return json.loads(text) if text else None
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                description = tif.pages[0].description or ""
            return json.loads(description).get(CLASSES_KEY) if CLASSES_KEY in description else None
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the classes stored in this mask ({e})") from e
    return None


def open_image_lazy(path: str | os.PathLike) -> np.ndarray:
    """The image of ``path`` memory-mapped when its format allows it (NPY, uncompressed TIFF), so
    that pixels are read from disk only as they are used; otherwise read whole (:func:`read_image`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False)
        if suffix in (".tif", ".tiff"):
            import tifffile

            return tifffile.memmap(path, mode="r")
    except (ValueError, OSError):  # compressed or tiled TIFF, odd NPY: read it whole
        pass
    return read_image(path)


def write_labels(path: str | os.PathLike, labels: Any, *, overwrite: bool = False,
                 classes: list[dict[str, Any]] | None = None) -> Path:
    """Write a label map atomically; the format follows the suffix (.png, .tif/.tiff, .npy).

    PNG takes 2D maps and is uint8 up to 255 labels, else uint16 (more than 65535 labels: use TIFF
    or NPY). TIFF keeps nD stacks and uses uint32 beyond 65535 labels. NPY keeps the array as is.
    ``classes`` (``[{"id", "name", "color"}]``) go into the PNG's text chunk or the TIFF's
    description (read them back with :func:`read_label_classes`); NPY cannot carry them.
    """
    import json

    note = json.dumps({CLASSES_KEY: classes}) if classes else None
    path = Path(path)
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biu":
        raise TypeError(f"label maps must be integers, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError("label maps cannot hold negative labels")
    top = int(labels.max()) if labels.size else 0
    suffix = path.suffix.lower()
    if suffix == ".npy":
        def write(f):
            np.save(f, labels, allow_pickle=False)
    elif suffix in (".tif", ".tiff"):
        import tifffile

        data = labels.astype(smallest_label_dtype(top))

        def write(f):
            buf = io.BytesIO()
            tifffile.imwrite(buf, data, compression="zlib", **({"description": note, "metadata": None} if note else {}))
            f.write(buf.getvalue())
    elif suffix == ".png":
        if labels.ndim != 2:
            raise ValueError(f"PNG holds 2D label maps; this one has shape {labels.shape}: use .tif or .npy")
        if top > 65535:
            raise ValueError(f"PNG holds at most 65535 labels; this map has label {top}: use .tif or .npy")
        data = labels.astype(np.uint8 if top <= 255 else np.uint16)

        def write(f):
            from PIL import Image, PngImagePlugin

            info = PngImagePlugin.PngInfo()
            if note:
                info.add_text(CLASSES_KEY, json.dumps(classes))
            buf = io.BytesIO()
            Image.fromarray(data).save(buf, format="PNG", pnginfo=info)
            f.write(buf.getvalue())
    else:
        raise ValueError(f"{path}: unknown label format {suffix!r}; use one of .png, .tif, .npy")
    return atomic_write(path, write, overwrite=overwrite)

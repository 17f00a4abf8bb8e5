"""Label masks as PNG, TIFF or NPY files, and images read for the CLI."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .labels import smallest_label_dtype
from .limits import check_pixels

__all__ = ["CLASSES_KEY", "MASK_FORMATS", "guess_channel_axis", "open_image_lazy", "read_image", "read_image_with_notes", "read_label_classes",
           "write_labels"]

CLASSES_KEY = "napari-segsuite:classes"  # PNG text chunk / TIFF description holding the classes as JSON

MASK_FORMATS = ("png", "tif", "npy")


def guess_channel_axis(shape: tuple[int, ...]) -> int | None:
    """Return -1 when ``shape`` looks like an RGB(A) image (last axis 3 or 4, as napari guesses)."""
    return -1 if len(shape) >= 3 and shape[-1] in (3, 4) else None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (NPY, TIFF, or anything imageio reads) into an array.

    Raises ``ValueError`` naming the file when it is empty, damaged, not an image, or declares more
    pixels than :func:`napari_segsuite.io.limits.max_pixels`. A gray + alpha image is read as gray
    (:func:`read_image_with_notes` says so).
    """
    return read_image_with_notes(path)[0]


_PILLOW_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def _damaged(path: Path, e: BaseException | str) -> ValueError:
    if path.stat().st_size == 0:
        return ValueError(f"{path}: the file is empty (0 bytes)")
    detail = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
    detail = detail.replace(str(path), path.name)
    return ValueError(f"{path}: the file is damaged or not a {path.suffix.lstrip('.').upper() or 'image'} image ({detail})")


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype an NPY file declares, checked against its size before anything is allocated."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = header(f)
        data_bytes = path.stat().st_size - f.tell()
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which are never loaded")
    check_pixels(path, shape, "array")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize > data_bytes:
        raise ValueError(f"it declares shape {shape} of {dtype} but holds only {data_bytes} bytes of data (truncated)")
    return shape, dtype


def _check_tiff(path: Path) -> None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ValueError("it holds no image")
        check_pixels(path, tif.series[0].shape, "TIFF image")


def read_image_with_notes(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """:func:`read_image`, and notes on what was assumed (a gray + alpha image read as gray)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    notes: list[str] = []
    try:
        if suffix == ".npy":
            _npy_header(path)
            image = np.load(path, allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            _check_tiff(path)
            image = tifffile.imread(path)
        else:
            import imageio.v3 as iio
            from PIL import Image

            try:
                with Image.open(path) as im:
                    check_pixels(path, (im.size[1], im.size[0], getattr(im, "n_frames", 1)))
            except Image.UnidentifiedImageError:
                if suffix in _PILLOW_SUFFIXES:  # no other reader would do better: say it is damaged
                    raise _damaged(path, "its content is not an image Pillow recognises") from None
            image = np.asarray(iio.imread(path))
            if image.ndim == 3 and image.shape[-1] == 2:  # gray + alpha (PNG "LA")
                image = image[..., 0]
                notes.append(f"{path.name} is gray + alpha: read as gray, the alpha channel dropped")
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise _damaged(path, e) from None
    except Exception as e:  # every decoder failure (EOFError, IndexError, zlib/struct errors, bombs) is the file's
        raise _damaged(path, e) from None
    if image.ndim < 2 or 0 in image.shape:
        raise ValueError(f"{path}: the file is damaged or holds no 2D image (read shape {image.shape})")
    return image, notes


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
            _npy_header(path)
            image = np.load(path, mmap_mode="r", allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            _check_tiff(path)
            image = tifffile.memmap(path, mode="r")
        else:
            image = None
    except Exception:  # compressed or tiled TIFF, odd or damaged file: read_image reads it or says what is wrong
        image = None
    if image is None or image.ndim < 2 or 0 in image.shape:
        return read_image(path)
    return image


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

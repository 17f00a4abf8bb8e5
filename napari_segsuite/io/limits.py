"""Limits that keep a small file from making us allocate gigabytes, and safe reading of JSON.

Every reader checks the size a file *declares* (an image's shape, a COCO entry's height and width,
a .mat variable's byte count) against :func:`max_pixels` before allocating, the way Pillow refuses
decompression bombs. ``$NAPARI_SEGSUITE_MAX_PIXELS`` raises the limit for honest huge data.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["ENV_MAX_PIXELS", "check_pixels", "max_pixels", "read_json"]

ENV_MAX_PIXELS = "NAPARI_SEGSUITE_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 2**28  # 16384 x 16384: 1 GiB as int32 labels
MAX_JSON_BYTES = 1 << 30


def max_pixels() -> int:
    """Largest pixel (voxel) count a declared size may have: ``$NAPARI_SEGSUITE_MAX_PIXELS`` or 2**28."""
    text = os.environ.get(ENV_MAX_PIXELS)
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except ValueError:
        raise ValueError(f"${ENV_MAX_PIXELS} must be a number of pixels, e.g. 1e9; got {text!r}") from None
    if value < 1:
        raise ValueError(f"${ENV_MAX_PIXELS} must be positive, got {text!r}")
    return value


def check_pixels(source: str | os.PathLike, shape: Any, what: str = "image") -> None:
    """Raise ``ValueError`` naming ``source`` when ``shape`` holds more pixels than :func:`max_pixels`
    (or is not a shape of non-negative integers)."""
    try:
        dims = [int(d) for d in shape]
    except (TypeError, ValueError):
        raise ValueError(f"{source}: the {what} declares a size that is not a list of integers ({shape!r})") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{source}: the {what} declares a negative size {tuple(dims)}")
    limit = max_pixels()
    count = math.prod(dims)
    if count > limit:
        raise ValueError(f"{source}: the {what} declares {' x '.join(map(str, dims))} = {count:,} pixels, over the "
                         f"limit of {limit:,}; if the data is genuinely this large, set ${ENV_MAX_PIXELS} higher")


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Parse a JSON file; every way it can be unreadable becomes one ``ValueError`` naming the file.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file should be, for the message ("preset", "COCO file", ...).

    Returns
    -------
    object
        The parsed value (its type is the caller's to check).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ValueError(f"{path}: {size:,} bytes is too large for a {what}")
        raw = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: cannot read this {what} ({e.strerror or e})") from None
    if not raw.strip():
        raise ValueError(f"{path}: the {what} is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: the {what} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{path}: the {what} is nested too deeply to be read") from None
    except ValueError as e:
        raise ValueError(f"{path}: the {what} is not valid JSON ({e})") from None

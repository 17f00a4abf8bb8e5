"""Local techniques over very large images, in overlapping tiles (dask ``map_overlap``).

A technique declares in the catalog how much context each output pixel needs (``overlap``); a
chain needs the sum of its steps'. Each tile is processed with that much of its neighbours around
it (none beyond the image's true border, so border handling is the whole image's), and the margin is
cut away again: the result equals the untiled one exactly, while only a few tiles are in memory at
once. A memory-mapped input (NPY, uncompressed TIFF: ``io.open_image_lazy``) is read tile by tile,
so it may be larger than memory; the mask is assembled in memory (one byte per pixel for up to 255
labels). Steps whose result depends on the whole image (automatic global thresholds, connected
components, hole filling...) are refused with their name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .chain import Chain

__all__ = ["run_tiled"]


def run_tiled(chain: Chain, image: Any, *, channel_axis: int | None = None, tile: int = 2048,
              workers: int | None = None) -> np.ndarray:
    """Labels of ``chain`` on a 2D image (gray, or with ``channel_axis``), computed tile by tile."""
    import dask.array as da

    depth = chain.require_local()
    if tile < 16:
        raise ValueError(f"tiles must be at least 16 pixels wide, got {tile}")
    if not hasattr(image, "chunks") and not isinstance(image, np.ndarray):
        image = np.asarray(image)  # memory maps stay memory maps: tiles are read as they are needed
    if channel_axis is not None:
        image = np.moveaxis(image, channel_axis, -1)
    spatial = image.ndim - (channel_axis is not None)
    if spatial != 2:
        raise ValueError(f"tiled runs take one 2D image (with optional channels), got {spatial} spatial axes")
    has_channels = channel_axis is not None
    sample = np.asarray(image[:16, :16])
    dtype = chain.run(sample, channel_axis=-1 if has_channels else None).data.dtype
    chunks = (tile, tile) + ((-1,) if has_channels else ())
    arr = da.from_array(image, chunks=chunks)
    if image.dtype.kind == "f" and not bool(da.isfinite(arr).all().compute(scheduler="threads", num_workers=workers)):
        raise ValueError("the image has NaN/inf pixels, which are filled with the whole image's mean: run it untiled")

    def block(x: np.ndarray) -> np.ndarray:
        return chain.run(x, channel_axis=-1 if has_channels else None).data.astype(dtype, copy=False)

    depths = {0: depth, 1: depth, **({2: 0} if has_channels else {})}
    out = arr.map_overlap(block, depth=depths, boundary="none", trim=True, dtype=dtype,
                          drop_axis=[2] if has_channels else [])
    return out.compute(scheduler="threads", num_workers=workers)

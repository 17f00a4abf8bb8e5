"""Large images embedded as overlapping tiles at full resolution, each computed when a click needs it.

SAM's encoder sees 1024 x 1024 pixels. An image much larger than that, shrunk to fit, loses the
small objects a person wants to click (a 4096² histology tile shrinks 4x). Above
``tile_above`` x the encoder's input on its long side (1.5 by default), :meth:`.SamSession.set_image`
returns a :class:`TiledImage` instead of embedding anything: the image is covered by windows of the
encoder's size at full resolution, overlapping by twice the ``halo``, and a window is embedded the
first time a prompt needs it (kept in the session's memory LRU and disk cache like any image, keyed
by the window's own pixels, so a reopened image loads only the windows clicked again).

A prompt set (points and / or a box) is answered on the window that holds all of it with the most
context around it (:func:`prompt_window`); one that no tile holds (a box wider than a tile, or
prompts on both sides of a seam) gets a window of its own around it, embedded like a tile (shrunk
if it is larger than the encoder's input), so a prompt is never cut. The mask comes back in
full-image coordinates (:class:`TiledPrediction`). An image at or below the threshold is embedded
whole as before: same results.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .image import LazyRGB, image_hash
from .prompts import Prediction, check_prompts

__all__ = ["HALO", "TILE_ABOVE", "TiledImage", "TiledPrediction", "Window", "embed_tiles", "is_tiled",
           "predict_tiled", "prompt_window", "tile_embedding", "tile_windows"]

TILE_ABOVE = 1.5  # SamSession's default: tile images whose long side is over this x the encoder's input
HALO = 128  # SamSession's default overlap of neighbouring tiles, in pixels


def is_tiled(shape: tuple[int, ...], side: int, tile_above: float | None = TILE_ABOVE) -> bool:
    """Whether an image of ``shape`` (H, W, ...) is worked on by tiles rather than whole: its long
    side exceeds ``tile_above`` x ``side`` (the encoder's input; ``tile_above`` None: never)."""
    return tile_above is not None and max(shape[:2]) > tile_above * side


@dataclass(frozen=True)
class Window:
    """A rectangle of the image: rows ``y0:y0+h``, columns ``x0:x0+w``."""

    y0: int
    x0: int
    h: int
    w: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y0 + self.h), slice(self.x0, self.x0 + self.w)

    def margin(self, bbox: tuple[float, float, float, float]) -> float:
        """The smallest distance from ``bbox`` (x0, y0, x1, y1) to this window's edges; negative
        when the box is not inside it."""
        x0, y0, x1, y1 = bbox
        return min(x0 - self.x0, y0 - self.y0, self.x0 + self.w - 1 - x1, self.y0 + self.h - 1 - y1)


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def tile_windows(shape: tuple[int, int], tile: int, halo: int) -> list[Window]:
    """Windows of ``tile`` x ``tile`` pixels (smaller where the image is) covering an image of
    ``shape``, neighbours overlapping by ``2 * halo`` (their cores, the window less the halo, tile
    the image), row by row."""
    if not 0 <= 2 * halo < tile:
        raise ValueError(f"the halo ({halo} px) must be under half the tile ({tile} px)")
    h, w = shape
    stride = tile - 2 * halo
    return [Window(y, x, min(tile, h), min(tile, w)) for y in _starts(h, tile, stride) for x in _starts(w, tile, stride)]


def prompt_window(shape: tuple[int, int], windows: list[Window], bbox: tuple[float, float, float, float],
                  tile: int, prefer: Window | None = None) -> Window:
    """The window to answer prompts spanning ``bbox`` (x0, y0, x1, y1) on: ``prefer`` (the window
    of the previous prediction, whose logits refine this one) if it holds them, else the tile
    holding them with the widest margin, else a window of its own centred on them: ``tile`` wide,
    or the prompts' extent plus a quarter of it on each side when that is wider (then shrunk to the
    encoder's input like any large image), clipped to the image."""
    if prefer is not None and prefer.margin(bbox) >= 0:
        return prefer
    inside = [w for w in windows if w.margin(bbox) >= 0]
    if inside:
        return max(inside, key=lambda w: w.margin(bbox))
    h, w = shape
    x0, y0, x1, y1 = bbox
    side = int(max(tile, 1.5 * (x1 - x0 + 1), 1.5 * (y1 - y0 + 1)))
    hh, ww = min(side, h), min(side, w)
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    top = int(np.clip(round(cy - hh / 2), 0, h - hh))
    left = int(np.clip(round(cx - ww / 2), 0, w - ww))
    return Window(top, left, hh, ww)


@dataclass
class TiledImage:
    """A large image prepared for tiled prompting (what ``set_image`` returns for it): nothing is
    embedded yet. ``pixels`` is the whole image converted once (so that every tile shares one
    intensity stretch), or for an image not in memory (dask, zarr, a memory map) a
    :class:`.image.LazyRGB` that reads and converts each tile when it is needed; ``windows`` the tiles."""

    pixels: np.ndarray | LazyRGB
    image_hash: str
    key: Hashable
    windows: list[Window]
    tile: int
    halo: int
    last_window: Window | None = field(default=None, repr=False)  # where the previous prediction was made
    source: str = "tiled"

    @property
    def original_size(self) -> tuple[int, int]:
        return tuple(self.pixels.shape[:2])

    def crop(self, window: Window) -> np.ndarray:
        """The RGB uint8 pixels of ``window``."""
        if isinstance(self.pixels, LazyRGB):
            return self.pixels.crop(*window.slices)
        return np.ascontiguousarray(self.pixels[window.slices])


class TiledPrediction:
    """A :class:`.prompts.Prediction` made on one window, with masks in full-image coordinates."""

    def __init__(self, inner: Prediction, window: Window, full_size: tuple[int, int]) -> None:
        self.inner, self.window, self.original_size = inner, window, tuple(full_size)
        self._full: dict[int, np.ndarray] = {}

    scores = property(lambda self: self.inner.scores)
    logits = property(lambda self: self.inner.logits)  # of the window: refine on the same window only
    notes = property(lambda self: self.inner.notes)
    best = property(lambda self: self.inner.best)

    def mask(self, i: int | None = None) -> np.ndarray:
        """Mask ``i`` (default: the best) at the full image's size, bool (zeros outside the window)."""
        i = self.best if i is None else int(i)
        if i not in self._full:
            full = np.zeros(self.original_size, bool)  # calloc: only the window's pages are touched
            full[self.window.slices] = self.inner.mask(i)
            self._full[i] = full
        return self._full[i]

    @property
    def masks(self) -> np.ndarray:
        return np.stack([self.mask(i) for i in range(len(self.scores))])


def tile_embedding(session: Any, image: TiledImage, window: Window) -> Any:
    """``session``'s embedding of ``window`` of ``image`` (from its caches, or encoded now)."""
    crop = image.crop(window)
    return session.embedding_of(crop, image_hash(crop), (image.key, window))


def predict_tiled(session: Any, image: TiledImage, points, labels, box, mask_input, multimask: bool) -> TiledPrediction:
    """Prompts on a tiled image, answered by ``session`` (a :class:`.session.SamSession`) on one
    window (:func:`prompt_window`), embedded there if it is not yet; the logits of the previous
    prediction refine this one only on the same window."""
    pts, lbs, bx, notes = check_prompts(points, labels, box, image.original_size)
    corners = np.concatenate([a for a in (pts, None if bx is None else bx.reshape(2, 2)) if a is not None])
    bbox = (*corners.min(0), *corners.max(0))
    prefer = image.last_window if mask_input is not None else None
    window = prompt_window(image.original_size, image.windows, bbox, image.tile, prefer=prefer)
    embedding = tile_embedding(session, image, window)
    offset = np.array([window.x0, window.y0], float)
    inner = session.predict(points=None if pts is None else pts - offset, labels=lbs,
                            box=None if bx is None else bx - np.tile(offset, 2),
                            mask_input=mask_input if window == image.last_window else None,
                            multimask=multimask, embedding=embedding)
    inner.notes[:0] = notes
    image.last_window = window
    return TiledPrediction(inner, window, image.original_size)


def embed_tiles(session: Any, image: TiledImage, *, progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> int:
    """Embed every tile of ``image`` now (into ``session``'s caches), before an annotation session
    or from ``napari-segsuite embed``; returns how many the encoder computed. ``cancel()`` returning
    True stops after the tile being embedded (those done stay cached)."""
    before = session.encoder_runs
    for i, window in enumerate(image.windows):
        if cancel is not None and cancel():
            break
        tile_embedding(session, image, window)
        if progress is not None:
            progress(i + 1, len(image.windows))
    return session.encoder_runs - before

"""Precompute SAM image embeddings for a data set into the disk cache (``napari-segsuite embed``).

Each image (and each 2D slice of a stack; each tile of a large one, :mod:`.tiled`) is encoded once
and written to the embedding cache that the dock and ``SamSession`` read, so opening those images
later skips the encoder. Locally one
session (one model on one device) serves every file. With a dask.distributed scheduler each worker
loads the model once on its own device (one GPU per worker when the cluster has them) and the files
are spread over the workers; the cache folder must then be one that all workers and the user's
machine see. There the work is spread by tile, not by file: the files' headers are read here to
plan their pieces (each slice, or each tile of a slice larger than 1.5x the encoder's input), and
each worker embeds single pieces (:func:`embed_piece`), so one large image keeps the whole cluster busy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io.batch import Outcome
from .tiled import HALO, TiledImage, embed_tiles, is_tiled, tile_embedding, tile_windows

__all__ = ["embed_file", "embed_files", "embed_piece", "pieces_of"]

ENCODER_INPUT = 1024  # every registry model's (SAM 1 and SAM 2): what the plan of tiles is made for

# one session per (model, checkpoint, device, cache) in each worker process: the model is loaded
# once per worker, not once per file
_SESSIONS: dict[tuple, Any] = {}


def _session(model: Any, checkpoint: str | None, device: str, cache_dir: str | None) -> Any:
    from .sessions import open_session

    key = (model if isinstance(model, str) else id(model), checkpoint, device, cache_dir)
    if key not in _SESSIONS:
        _SESSIONS[key] = open_session(model, checkpoint, device, cache_dir=cache_dir or True)
    return _SESSIONS[key]


def embed_file(path: str, model: Any = "vit_b", checkpoint: str | None = None, device: str = "auto",
               cache_dir: str | None = None) -> Outcome:
    """Embed every 2D slice of one image file into the cache; failures become an Outcome."""
    from ..io import read_image
    from ..techniques import guess_channel_axis, iter_slices

    t0 = time.perf_counter()
    try:
        session = _session(model, checkpoint, device, cache_dir)
        image = read_image(path)
        before = session.encoder_runs
        session.cache_error = None
        axis = guess_channel_axis(image.shape)
        slices = list(iter_slices(image.shape, has_channels=axis is not None))
        pieces = 0  # embeddings the file needs: one per slice, or one per tile of a large slice
        for index in slices:
            emb = session.set_image(np.asarray(image[index]), channel_axis=axis)
            if isinstance(emb, TiledImage):
                embed_tiles(session, emb)
                pieces += len(emb.windows)
            else:
                pieces += 1
        if session.cache_error:  # embedded, but not kept: the whole point of this command failed
            raise OSError(session.cache_error)
    except Exception as e:  # one file's failure (a bad image, an unwritable cache) is reported, the rest go on
        return Outcome(path, "", "failed", str(e) or type(e).__name__, time.perf_counter() - t0)
    new = session.encoder_runs - before
    return Outcome(path, str(session.cache_dir), "written", _summary(len(slices), pieces, new), time.perf_counter() - t0)


def _summary(n_slices: int, pieces: int, new: int) -> str:
    """What one file's embedding did: its slices, its tiles if any, how many pieces were encoded."""
    tiles = f" in {pieces} tiles" if pieces != n_slices else ""
    return f"{n_slices} slice{'s' * (n_slices > 1)}{tiles}, {new} encoded, {pieces - new} already cached"


def pieces_of(path: str) -> tuple[int, list[tuple[tuple[int, ...], int | None]]]:
    """The plan of one file: its number of slices and its pieces, (slice index, tile number or None
    for a slice embedded whole), as a session with the default tiling embeds them. Only the header
    is read where the format allows (:func:`napari_segsuite.io.open_image_lazy`)."""
    from ..io import open_image_lazy
    from ..techniques import guess_channel_axis, iter_slices

    image = open_image_lazy(path)
    axis = guess_channel_axis(image.shape)
    slices = list(iter_slices(image.shape, has_channels=axis is not None))
    plane = tuple(image.shape[len(slices[0]):len(slices[0]) + 2])  # iter_slices: any channels come last
    if is_tiled(plane, ENCODER_INPUT):
        tiles = range(len(tile_windows(tuple(plane), ENCODER_INPUT, HALO)))
        return len(slices), [(index, t) for index in slices for t in tiles]
    return len(slices), [(index, None) for index in slices]


_LAST_SLICE: dict[str, Any] = {}  # the slice a worker converted last: its other tiles reuse it


def embed_piece(path: str, index: tuple[int, ...], tile: int | None, model: Any = "vit_b",
                checkpoint: str | None = None, device: str = "auto", cache_dir: str | None = None) -> tuple[int, str]:
    """Embed one piece of :func:`pieces_of` into the cache: slice ``index`` of ``path`` whole, or
    its tile number ``tile``. Returns (encoder runs, error message or "")."""
    from ..io import open_image_lazy
    from ..techniques import guess_channel_axis

    try:
        session = _session(model, checkpoint, device, cache_dir)
        before = session.encoder_runs
        key = (path, tuple(index), id(session))
        if _LAST_SLICE.get("key") != key:
            image = open_image_lazy(path)
            _LAST_SLICE.clear()
            _LAST_SLICE.update(key=key, emb=session.set_image(np.array(image[tuple(index)]),
                                                              channel_axis=guess_channel_axis(image.shape),
                                                              tiled=tile is not None))
        emb = _LAST_SLICE["emb"]
        if tile is not None:
            if len(emb.windows) <= tile:
                raise ValueError(f"tile {tile} of slice {index} does not exist (the worker's tiling differs)")
            tile_embedding(session, emb, emb.windows[tile])
        if session.cache_error:
            raise OSError(session.cache_error)
    except Exception as e:  # reported with its file; the other pieces go on
        return 0, str(e) or type(e).__name__
    return session.encoder_runs - before, ""


def _embed_distributed(paths: list[str], args: tuple, scheduler: str, finished: Callable[[int, Outcome], None]) -> None:
    """Every piece of every file on the cluster; ``finished(file number, Outcome)`` as each file completes."""
    from ..io.batch import run_distributed

    t0 = time.perf_counter()
    jobs, owner, left, tally = [], [], {}, {}
    for i, path in enumerate(paths):
        try:
            n_slices, pieces = pieces_of(path)
        except Exception as e:  # an unreadable file: reported now, the others go on
            finished(i, Outcome(path, "", "failed", str(e) or type(e).__name__, time.perf_counter() - t0))
            continue
        left[i], tally[i] = len(pieces), [n_slices, len(pieces), 0, []]
        for index, tile in pieces:
            jobs.append((path, index, tile, *args))
            owner.append(i)

    def piece_done(j: int, result: tuple[int, str]) -> None:
        i = owner[j]
        encoded, error = result
        tally[i][2] += encoded
        if error and error not in tally[i][3]:
            tally[i][3].append(error)
        left[i] -= 1
        if left[i]:
            return
        n_slices, pieces, new, errors = tally[i]
        elapsed = time.perf_counter() - t0
        if errors:
            finished(i, Outcome(paths[i], "", "failed", "; ".join(errors), elapsed))
            return
        finished(i, Outcome(paths[i], args[-1] or "the default embedding cache", "written",
                            _summary(n_slices, pieces, new), elapsed))

    if jobs:
        run_distributed(scheduler, list(range(len(jobs))), jobs, piece_done, func=embed_piece)


def embed_files(
    files: Sequence[os.PathLike | str],
    *,
    model: Any = "vit_b",
    checkpoint: str | None = None,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    scheduler: str | None = None,
    progress: Callable[[Outcome, int, int], None] | None = None,
) -> list[Outcome]:
    """Embed ``files`` (here, or on the dask.distributed scheduler at ``scheduler``, tile by tile)."""
    paths = [str(Path(f)) for f in files]
    cache = str(cache_dir) if cache_dir else None
    outcomes: dict[int, Outcome] = {}

    def finished(i: int, outcome: Outcome) -> None:
        outcomes[i] = outcome
        if progress is not None:
            progress(outcome, len(outcomes), len(paths))

    if scheduler:
        _embed_distributed(paths, (model, checkpoint, device, cache), scheduler, finished)
    else:
        _session(model, checkpoint, device, cache)  # a bad model or checkpoint fails here, before any file
        for i, p in enumerate(paths):
            finished(i, embed_file(p, model, checkpoint, device, cache))
    return [outcomes[i] for i in sorted(outcomes)]

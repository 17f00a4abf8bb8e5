"""Precompute SAM image embeddings for a data set into the disk cache (``napari-segsuite embed``).

Each image (and each 2D slice of a stack; each tile of a large one, :mod:`.tiled`) is encoded once
and written to the embedding cache that the dock and ``SamSession`` read, so opening those images
later skips the encoder. Locally one
session (one model on one device) serves every file. With a dask.distributed scheduler each worker
loads the model once on its own device (one GPU per worker when the cluster has them) and the files
are spread over the workers; the cache folder must then be one that all workers and the user's
machine see.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io.batch import Outcome
from .tiled import TiledImage, embed_tiles

__all__ = ["embed_file", "embed_files"]

# one session per (model, checkpoint, device, cache) in each worker process: the model is loaded
# once per worker, not once per file
_SESSIONS: dict[tuple, Any] = {}


def _session(model: Any, checkpoint: str | None, device: str, cache_dir: str | None) -> Any:
    from .session import SamSession

    key = (model if isinstance(model, str) else id(model), checkpoint, device, cache_dir)
    if key not in _SESSIONS:
        _SESSIONS[key] = SamSession(model, checkpoint, device, cache_dir=cache_dir or True)
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
    tiles = f" in {pieces} tiles" if pieces != len(slices) else ""
    what = f"{len(slices)} slice{'s' * (len(slices) > 1)}{tiles}, {new} encoded, {pieces - new} already cached"
    return Outcome(path, str(session.cache_dir), "written", what, time.perf_counter() - t0)


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
    """Embed ``files`` (here, or on the dask.distributed scheduler at ``scheduler``)."""
    paths = [str(Path(f)) for f in files]
    cache = str(cache_dir) if cache_dir else None
    outcomes: dict[int, Outcome] = {}

    def finished(i: int, outcome: Outcome) -> None:
        outcomes[i] = outcome
        if progress is not None:
            progress(outcome, len(outcomes), len(paths))

    if scheduler:
        from ..io.batch import run_distributed

        run_distributed(scheduler, list(range(len(paths))), [(p, model, checkpoint, device, cache) for p in paths],
                         finished, func=embed_file)
    else:
        _session(model, checkpoint, device, cache)  # a bad model or checkpoint fails here, before any file
        for i, p in enumerate(paths):
            finished(i, embed_file(p, model, checkpoint, device, cache))
    return [outcomes[i] for i in sorted(outcomes)]

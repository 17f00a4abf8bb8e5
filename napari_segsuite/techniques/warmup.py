"""Compile the numba kernels ahead of their first use.

The kernels are compiled once per machine and kept in numba's on-disk cache (``cache=True``), but
that first compilation takes tens of seconds (mean shift, fuzzy c-means, the region adjacency
graph), and a user meeting it on a first preview waits for nothing visible. The SegSuite dock
calls :func:`start_warm_up` when it is made (once per process): every technique runs once on a
tiny image in a background thread, so the kernels are compiled (or loaded from the cache, in well
under a second) before they are needed.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["start_warm_up", "warm_up"]


def warm_up(names: Iterable[str] | None = None, *, size: int = 40) -> list[str]:
    """Run each technique (all by default) once on a tiny image; returns the names that ran.

    Failures are ignored (a technique that needs seeds, a degenerate tiny image): the point is the
    kernels it compiles on the way.
    """
    from . import CATALOG

    rng = np.random.default_rng(0)
    rgb = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    labels = (rng.random((size, size)) > 0.5).astype(np.int32)
    ran = []
    for name in names or list(CATALOG):
        tech = CATALOG.get(name)
        if tech is None or any(i.required for i in tech.inputs):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if tech.channels == "labels":
                    tech.run(labels)
                else:
                    tech.run(rgb, channel_axis=-1)
            except Exception:  # noqa: BLE001 - warming up: a failure here is met again, and reported, on real use
                continue
        ran.append(name)
    return ran


_started: threading.Thread | None = None


def start_warm_up(also: Iterable[Callable[[], object]] = ()) -> threading.Thread:
    """:func:`warm_up`, then each of ``also`` (other first-use costs, failures ignored), in a
    daemon thread; started once per process (later calls return the same thread)."""
    global _started
    if _started is None:
        def run() -> None:
            warm_up()
            for extra in also:
                try:
                    extra()
                except Exception:  # noqa: BLE001 - a warm-up that fails leaves the cost where it was
                    pass

        _started = threading.Thread(target=run, name="segsuite-numba-warm-up", daemon=True)
        _started.start()
    return _started

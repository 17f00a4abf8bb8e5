"""Timing helpers shared by the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeat: int = 10, warm_up: bool = True) -> tuple[float, Any]:
    """Median wall time of ``fn()`` in ms over ``repeat`` runs (after one warm-up), and its last result."""
    if warm_up:
        fn()
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def median_ms(fn: Callable[[], Any], repeat: int = 10, warm_up: bool = True) -> float:
    """Median wall time of ``fn()`` in ms."""
    return timed(fn, repeat, warm_up)[0]


def median_ms_over(fn: Callable[[Any], Any], items) -> float:
    """Median wall time in ms of ``fn(item)`` for each of ``items`` (after one warm-up on the first)."""
    fn(items[0])
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def settle_while(busy: Callable[[], bool]) -> None:
    """Process Qt events until ``busy()`` is False, then once more."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    while busy():
        app.processEvents()
    app.processEvents()

"""Cooperative cancellation inside a running technique.

A run started with a ``cancel() -> bool`` callback (a Stop button, a newer preview request)
should end soon after the callback turns True, not when the technique's last iteration is done.
The run installs the callback for its thread with :func:`cancellable`; long loops call
:func:`checkpoint` once per iteration (scikit-image's iterative solvers through their
``iter_callback``), which raises :class:`Cancelled`. A loop costs one thread-local read per
iteration; without a callback nothing is ever raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Cancelled", "cancellable", "checkpoint", "run_steps"]

_state = threading.local()


class Cancelled(RuntimeError):
    """Raised inside a run when its ``cancel`` callback returns True."""


@contextmanager
def cancellable(cancel: Callable[[], bool] | None) -> Iterator[None]:
    """Make ``cancel`` the callback that :func:`checkpoint` asks, in this thread, for the block."""
    previous = getattr(_state, "cancel", None)
    _state.cancel = cancel
    try:
        yield
    finally:
        _state.cancel = previous


def checkpoint(*_: object) -> None:
    """Raise :class:`Cancelled` if the current run was asked to stop (any arguments are ignored,
    so that it can serve as an ``iter_callback``)."""
    cancel = getattr(_state, "cancel", None)
    if cancel is not None and cancel():
        raise Cancelled("cancelled")


def run_steps(steps: Generator[tuple[int, int], None, Any], progress: Callable[[int, int], None] | None,
              cancel: Callable[[], bool] | None, stop: Exception) -> Any:
    """Run a generator that yields ``(done, total)`` and returns a result (the ``iter_*`` form of a
    long job) to its end: ``progress(done, total)`` after each step, and when ``cancel()`` turns
    True the generator is closed and ``stop`` raised. Returns the generator's result."""
    while True:
        try:
            done, total = next(steps)
        except StopIteration as end:
            return end.value
        if progress is not None:
            progress(done, total)
        if cancel is not None and cancel():
            steps.close()
            raise stop

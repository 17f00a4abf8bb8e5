"""Workers for long jobs: one message per failure, and one job at a time behind a start button
and a Cancel button."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from napari.utils.notifications import show_error, show_info

__all__ = ["EXPECTED", "Job", "describe_error", "start_worker"]

# failures a user can meet and fix (bad input, no checkpoint, no network, a full disk): a message,
# no traceback. Anything else is a bug: the message says so and the traceback goes to the log.
EXPECTED = (ValueError, TypeError, KeyError, OSError, RuntimeError, MemoryError, ImportError, InterruptedError)
_log = logging.getLogger("napari_segsuite")


def describe_error(what: str, error: BaseException) -> str:
    """One line for a failed ``what``: the error's own words for expected failures, its type too
    for unexpected ones (whose traceback is logged)."""
    text = str(error.args[0]) if len(getattr(error, "args", ())) == 1 else str(error)
    if isinstance(error, EXPECTED):
        return f"{what} failed: {text or type(error).__name__}"
    _log.error("%s failed", what, exc_info=(type(error), error, error.__traceback__))
    return f"{what} failed ({type(error).__name__}: {text}); this is a bug in napari-segsuite, please report it"


def start_worker(func: Callable, *args: Any, what: str, on_error: Callable[[BaseException], None] | None = None,
                 start: bool = False, **kwargs: Any) -> Any:
    """A napari worker for ``func(*args, **kwargs)`` whose failure is reported exactly once.

    superqt's ``create_worker`` re-raises a worker's exception in the main thread unless an
    ``errored`` handler is given when it is made (a handler connected afterwards adds a second
    report, and a plain Qt application aborts on the re-raise). Here the handler is given at
    creation: ``on_error(error)`` if passed (it reports, once), else one napari error
    notification worded by :func:`describe_error`. A cancelled run (``Cancelled``,
    ``InterruptedError``) is not an error: the job's own "cancelled" message says it.
    ``_progress`` and other ``create_worker`` options pass through; connect the other signals,
    then call ``worker.start()`` (or pass ``start=True``).
    """
    from napari.qt.threading import create_worker

    from ..techniques import Cancelled

    def errored(error: BaseException) -> None:
        if isinstance(error, (Cancelled, InterruptedError)):
            return
        if on_error is not None:
            on_error(error)
        else:
            show_error(describe_error(what, error))

    worker = create_worker(func, *args, _connect={"errored": errored}, _start_thread=False, **kwargs)
    if start:
        worker.start()
    return worker


class Job:
    """Runs one napari worker at a time: disables ``start`` and enables ``cancel`` while it runs."""

    def __init__(self, start_button: Any, cancel_button: Any) -> None:
        self.start_button = start_button
        self.cancel_button = cancel_button
        self.worker: Any = None
        cancel_button.enabled = False
        cancel_button.changed.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, worker: Any, *, cancelled: str) -> Any:
        """Start ``worker``; ``cancelled`` is the message shown if the user cancels it (a generator
        worker stops at a yield; a function worker when it raises ``Cancelled``)."""
        from ..techniques import Cancelled

        if hasattr(worker, "aborted"):
            worker.aborted.connect(lambda: show_info(cancelled))
        worker.errored.connect(lambda e: show_info(cancelled) if isinstance(e, Cancelled) else None)
        worker.finished.connect(self._finished)
        self.worker = worker
        self.start_button.enabled, self.cancel_button.enabled = False, True
        worker.start()
        return worker

    def cancel(self, *_: Any) -> None:
        """Ask the worker to stop at its next yield."""
        if self.worker is not None:
            self.worker.quit()

    def _finished(self) -> None:
        self.worker = None
        self.start_button.enabled, self.cancel_button.enabled = True, False

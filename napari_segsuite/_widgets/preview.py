"""Live preview scheduling: debounced, off the UI thread, latest request wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from qtpy.QtCore import QObject, QTimer, Signal

from ..techniques.cancel import Cancelled

__all__ = ["PreviewRunner"]


class PreviewRunner(QObject):
    """Run preview jobs one at a time in a worker thread.

    ``request(job)`` (re)starts a short debounce timer; when it fires the latest job runs in the
    worker. Requests made while a job runs are coalesced: only the newest one runs next. A result
    is delivered (``done`` on the UI thread, with the job's result or exception) only if no newer
    result has been delivered already, so stale runs never overwrite fresh ones.

    A job requested with ``cancellable=True`` is called with a ``cancelled() -> bool`` callback:
    a newer request or :meth:`stop` turns it True, and a job that then raises
    :class:`~napari_segsuite.techniques.cancel.Cancelled` is dropped without a word, so a slow
    preview (Chan-Vese at 1000 iterations) gives way at once to the one the user asked for next.
    """

    done = Signal(object, object)  # (result or None, exception or None)
    _finished = Signal(int, object)

    def __init__(self, delay_ms: int = 15, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segsuite-preview")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._start)
        self._finished.connect(self._on_finished)
        self._pending: tuple[int, Callable[..., Any], bool] | None = None
        self._running_stop: threading.Event | None = None  # set to cancel the running job
        self._requested = 0
        self._delivered = 0
        self._busy = False
        self._held = False
        self.dropped = 0  # results discarded because a newer one had been shown
        self.cancelled = 0  # jobs that stopped early because a newer request or stop() came

    @property
    def busy(self) -> bool:
        """A job runs, waits, or is about to be decided on (see :meth:`hold`)."""
        return self._busy or self._pending is not None or self._held

    def hold(self) -> None:
        """Count as busy until :meth:`release`: the owner will request a job, or decide not to,
        in a moment (a widget waiting to be placed before it previews)."""
        self._held = True

    def release(self) -> None:
        self._held = False

    def request(self, job: Callable[..., Any], *, cancellable: bool = False) -> int:
        """Schedule ``job`` (called as ``job(cancelled)`` when ``cancellable``, see the class);
        a cancellable job still running is asked to stop. Returns the sequence number."""
        self._requested += 1
        self._pending = (self._requested, job, cancellable)
        if self._running_stop is not None:
            self._running_stop.set()
        self._timer.start()
        return self._requested

    def cancel_pending(self) -> None:
        self._pending = None
        self._timer.stop()

    def stop(self) -> None:
        """Drop the pending job and ask the running one to stop (if it was made cancellable)."""
        self.cancel_pending()
        if self._running_stop is not None:
            self._running_stop.set()

    def shutdown(self) -> None:
        self.cancel_pending()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> None:
        if self._busy or self._pending is None:
            return
        seq, job, cancellable = self._pending
        self._pending = None
        self._busy = True
        if cancellable:
            stop = self._running_stop = threading.Event()
            fut = self._executor.submit(job, stop.is_set)
        else:
            self._running_stop = None
            fut = self._executor.submit(job)
        fut.add_done_callback(lambda f, seq=seq: self._deliver(seq, f))

    def _deliver(self, seq: int, fut: Future) -> None:
        """From the worker thread: hand the result to the UI thread, unless the widget is gone."""
        try:
            self._finished.emit(seq, fut)
        except RuntimeError:  # the dock was closed while this preview ran: nobody to tell
            pass

    def _on_finished(self, seq: int, fut: Future) -> None:
        self._busy = False
        self._running_stop = None
        if isinstance(fut.exception(), Cancelled):
            self.cancelled += 1
        elif seq > self._delivered:
            self._delivered = seq
            exc = fut.exception()
            self.done.emit(None if exc else fut.result(), exc)
        else:
            self.dropped += 1
        if self._pending is not None:
            self._start()

"""One long job at a time behind a start button and a Cancel button."""

from __future__ import annotations

from typing import Any

from napari.utils.notifications import show_info

__all__ = ["Job"]


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
        """Start ``worker``; ``cancelled`` is the message shown if the user cancels it."""
        worker.aborted.connect(lambda: show_info(cancelled))
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

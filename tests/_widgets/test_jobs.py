"""Every worker failure is reported once, in one line, with no traceback and no re-raise."""

from __future__ import annotations

import pytest

from napari_segsuite._widgets import jobs


@pytest.mark.parametrize("error, expected", [
    (OSError("no route to host"), "the download of vit_b failed: no route to host"),
    (ValueError("the image is empty"), "the download of vit_b failed: the image is empty"),
    (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero); this is a bug"),
])
def test_a_failing_worker_says_so_once(qtbot, monkeypatch, error, expected):
    seen = []
    monkeypatch.setattr(jobs, "show_error", seen.append)

    def fail():
        raise error

    worker = jobs.start_worker(fail, what="the download of vit_b")
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    qtbot.wait(20)
    assert len(seen) == 1 and expected in seen[0] and "Traceback" not in seen[0]


def test_a_cancelled_run_is_not_an_error(qtbot, monkeypatch):
    from napari_segsuite.techniques import Cancelled

    seen = []
    monkeypatch.setattr(jobs, "show_error", seen.append)

    def cancelled():
        raise Cancelled("stopped")

    worker = jobs.start_worker(cancelled, what="a sweep")
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    qtbot.wait(20)
    assert seen == []


def test_a_handler_given_replaces_the_notification(qtbot, monkeypatch):
    seen, handled = [], []
    monkeypatch.setattr(jobs, "show_error", seen.append)

    def fail():
        raise RuntimeError("out of memory")

    worker = jobs.start_worker(fail, what="training", on_error=handled.append)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    qtbot.wait(20)
    assert seen == [] and len(handled) == 1 and isinstance(handled[0], RuntimeError)

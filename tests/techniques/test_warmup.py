"""The app's background warm-up runs every technique that needs no seeds, and fails on nothing."""

from __future__ import annotations

from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.warmup import start_warm_up, warm_up


def test_every_technique_without_required_inputs_runs():
    ran = warm_up()
    expected = [n for n, t in CATALOG.items() if not any(i.required for i in t.inputs) and not n.startswith("learn.")]
    assert set(expected) <= set(ran) and "cluster.meanshift" in ran and "cluster.fuzzy_cmeans" in ran


def test_the_warm_up_runs_in_a_daemon_thread():
    thread = start_warm_up()
    assert thread.daemon
    thread.join(timeout=120)
    assert not thread.is_alive()

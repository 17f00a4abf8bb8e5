"""The hostile-file suite: every probe builds its bad file itself and must stay small and quick.

Each test runs under a budget: at most ~1 GiB of memory allocated through Python and numpy (traced
with tracemalloc, which numpy reports to) and at most a few seconds, so a check that allocates
before it validates fails here instead of taking the machine down.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

MEMORY_BUDGET = 1 << 30
SECONDS_BUDGET = 20.0  # generous for a loaded 2-core CI machine; the probes take well under a second each


@pytest.fixture(autouse=True)
def _budget(request):
    if request.node.get_closest_marker("no_budget"):
        yield
        return
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - t0
    assert peak < MEMORY_BUDGET, f"the probe allocated {peak / 2**20:.0f} MiB (budget {MEMORY_BUDGET / 2**20:.0f} MiB)"
    assert seconds < SECONDS_BUDGET, f"the probe took {seconds:.1f} s (budget {SECONDS_BUDGET:.0f} s)"


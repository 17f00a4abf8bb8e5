"""A running technique stops within an iteration when its cancel callback turns True."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from napari_segsuite.techniques import CATALOG, Cancelled
from napari_segsuite.techniques.cancel import cancellable, checkpoint
from napari_segsuite.techniques.cluster import _meanshift_rows, meanshift_filter


def test_checkpoint_raises_only_inside_a_cancelled_run():
    checkpoint()  # no run: nothing to cancel
    with cancellable(lambda: False):
        checkpoint()
    with cancellable(lambda: True), pytest.raises(Cancelled):
        checkpoint()
    checkpoint()  # the callback is gone with its block


def test_the_callback_belongs_to_its_thread():
    seen = []
    with cancellable(lambda: True):
        t = threading.Thread(target=lambda: seen.append(checkpoint() is None))
        t.start()
        t.join()
    assert seen == [True], "another thread's run is not cancelled"


def _blobs(size=256, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    img = rng.normal(0.2, 0.05, (size, size))
    for cy, cx in rng.integers(20, size - 20, (12, 2)):
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < 150] += 0.6
    return img.astype(np.float32)


@pytest.mark.parametrize("name, params, colour", [
    ("contour.chan_vese", {"iterations": 200}, False),
    ("contour.geodesic", {"iterations": 300, "balloon": 0.0}, False),
    ("cluster.meanshift", {}, True),
])
def test_a_long_run_stops_soon_after_cancel(name, params, colour):
    """Started with a callback that turns True after 5 % of the run's time, the run ends well
    before it would (the slow techniques of the catalog, each at about a second here)."""
    image = _blobs(256)
    image = np.stack([image, image**2, 1 - image], -1) if colour else image
    axis = -1 if colour else None
    tech = CATALOG[name]
    t0 = time.perf_counter()
    tech.run(image, channel_axis=axis, **params)
    whole = time.perf_counter() - t0
    start = time.perf_counter()
    with pytest.raises(Cancelled):
        tech.run(image, channel_axis=axis, cancel=lambda: time.perf_counter() - start > 0.05 * whole, **params)
    stopped = time.perf_counter() - start
    assert stopped < 0.5 * whole, f"{name}: cancelled after {stopped:.2f} s of a {whole:.2f} s run"


def test_mean_shift_in_bands_equals_one_pass():
    lab = np.ascontiguousarray(np.random.default_rng(1).uniform(0, 50, (150, 90, 3)).astype(np.float32))
    whole = np.empty_like(lab)
    _meanshift_rows(lab, 6, np.float32(8.0), 2, 20, 0, lab.shape[0], whole)
    np.testing.assert_array_equal(meanshift_filter(lab, 6, np.float32(8.0), 2, 20), whole)

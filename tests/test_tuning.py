"""Parameter sweeps scored against ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.io import samples
from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.tuning import METRICS, grid_values, sweep, tunable


def test_grid_values_respect_types_and_odd_sizes():
    adaptive = CATALOG["threshold.adaptive"]
    sizes = grid_values(adaptive.param("block_size"), 3, 21, 5)
    assert sizes[0] == 3 and sizes[-1] == 21 and len(sizes) == 5 and sizes == sorted(set(sizes))
    assert all(isinstance(v, int) and v % 2 == 1 for v in sizes + grid_values(adaptive.param("block_size"), 4, 40, 7))
    assert grid_values(adaptive.param("method")) == ["gaussian", "mean", "median", "sauvola", "niblack"]
    assert grid_values(adaptive.param("k"), -0.2, 0.2, 3) == pytest.approx([-0.2, 0.0, 0.2])
    with pytest.raises(ValueError, match="out of range"):
        grid_values(adaptive.param("k"), 0, 5, 3)
    assert {p.name for p in tunable(adaptive)} >= {"method", "block_size", "offset", "k"}
    assert "invert" not in {p.name for p in tunable(adaptive)}


def test_manual_threshold_sweep_finds_the_best_value():
    image, gt = samples.cells()
    tech = CATALOG["threshold.global"]
    values = grid_values(tech.param("value"), 300, 1500, 13)
    res = sweep(tech, image, gt, {"value": values}, base_params={"method": "manual"}, metric="foreground IoU")
    assert res.scores.shape == (13,)
    # the reported best is the best of the scores, and applying it reproduces that score
    assert res.best_score == np.nanmax(res.scores)
    from napari_segsuite.metrics import score

    out = tech(image, method="manual", value=res.best_params["value"])
    assert score(out, gt, binary=True).summary["foreground_iou"] == pytest.approx(res.best_score)
    # and it is at least as good as Otsu's threshold, which lies inside the swept range
    otsu = score(tech(image), gt, binary=True).summary["foreground_iou"]
    assert res.best_score >= otsu - 0.01


def test_two_parameter_sweep_and_cancel():
    from napari_segsuite.techniques import Cancelled

    image, gt = samples.cells()
    tech = CATALOG["threshold.adaptive"]
    grid = {"block_size": [31, 61, 101], "offset": [-200.0, -100.0, 0.0]}
    res = sweep(tech, image, gt, grid, metric="object F1 @ IoU 0.5", base_params={"components": True})
    assert res.scores.shape == (3, 3) and np.isfinite(res.scores).all()
    assert set(res.best_params) == {"block_size", "offset"}
    calls = []
    with pytest.raises(Cancelled):
        sweep(tech, image, gt, grid, cancel=lambda: calls.append(1) or len(calls) > 2)


def test_bad_sweeps_are_refused():
    image, gt = samples.cells()
    tech = CATALOG["threshold.global"]
    with pytest.raises(ValueError, match="unknown metric"):
        sweep(tech, image, gt, {"nbins": [8]}, metric="vibes")
    with pytest.raises(ValueError, match="shape"):
        sweep(tech, image, gt[:10], {"nbins": [8]})
    with pytest.raises(ValueError, match="one or two"):
        sweep(tech, image, gt, {})
    assert set(METRICS) >= {"foreground IoU", "panoptic quality"}

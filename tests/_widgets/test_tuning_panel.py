"""Parameter tuning from the technique widget: sweep, plot, use best."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite._widgets import ThresholdingWidget
from napari_segsuite.io import samples
from napari_segsuite.metrics import score
from napari_segsuite.techniques import CATALOG

TIMEOUT = 20_000


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    image, gt = samples.cells()
    viewer.add_image(image, name="cells")
    viewer.add_labels(gt, name="cells ground truth")
    w = ThresholdingWidget(viewer)
    viewer.window.add_dock_widget(w)
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    return viewer, w


def run_sweep(qtbot, panel):
    worker = panel.run()
    assert worker is not None, panel.status.text()
    qtbot.waitUntil(lambda: not panel.job.running, timeout=TIMEOUT)
    return panel.result


def test_one_parameter_sweep_plots_and_sets_the_best(widget, qtbot):
    viewer, w = widget
    panel = w.tuning
    assert panel.gt.value.name == "cells ground truth"
    w.form.set_values({"method": "manual"})
    name, lo, hi, steps = panel.axes[0]
    name.value = "value"
    lo.value, hi.value, steps.value = 300.0, 1500.0, 9
    result = run_sweep(qtbot, panel)
    assert result.scores.shape == (9,) and np.isfinite(result.scores).all()
    assert panel.figure.axes, "a plot is drawn"
    panel.use_best()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    assert w.params()["value"] == pytest.approx(result.best_params["value"])
    image, gt = samples.cells()
    got = score(w.preview_layer.data, gt, binary=True).summary["foreground_iou"]
    assert got == pytest.approx(result.best_score)


def test_two_parameter_sweep_over_a_choice_and_a_number(widget, qtbot):
    viewer, w = widget
    w.technique.value = "threshold.adaptive"
    panel = w.tuning
    assert "block_size" in panel.axes[0][0].choices, "parameters follow the technique"
    panel.axes[0][0].value = "method"
    assert not panel.axes[0][1].visible or panel.axes[0][1].native.isHidden()
    name, lo, hi, steps = panel.axes[1]
    name.value = "block_size"
    lo.value, hi.value, steps.value = 31, 91, 3
    panel.metric.value = "foreground Dice"
    result = run_sweep(qtbot, panel)
    assert result.scores.shape == (5, 3)
    assert result.names == ["method", "block_size"]
    best = result.best_params
    image, gt = samples.cells()
    out = CATALOG["threshold.adaptive"](image, **{**w.params(), **best})
    assert score(out, gt, binary=True).summary["foreground_dice"] == pytest.approx(result.best_score)


def test_sweep_without_ground_truth_is_explained(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(samples.cells()[0], name="cells")
    w = ThresholdingWidget(viewer)
    assert w.tuning.run() is None
    assert "ground-truth" in w.tuning.status.text()


def test_only_parameters_that_matter_are_offered(widget, qtbot):
    viewer, w = widget
    w.technique.value = "threshold.adaptive"
    panel = w.tuning
    w.form.set_values({"method": "sauvola"})
    offered = list(panel.axes[0][0].choices)
    assert "k" in offered and "offset" not in offered, "Sauvola ignores offset: a sweep of it is flat"
    w.form.set_values({"method": "gaussian"})
    offered = list(panel.axes[0][0].choices)
    assert "offset" in offered and "k" not in offered

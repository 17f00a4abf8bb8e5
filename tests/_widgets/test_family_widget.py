"""The thresholding dock widget driven as a user would: parameters, preview, apply, undo, presets."""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.notifications import notification_manager

from napari_segsuite._widgets import ThresholdingWidget
from napari_segsuite.io import samples
from napari_segsuite.techniques import CATALOG

TIMEOUT = 10_000


@pytest.fixture
def notes():
    """Messages shown to the user as napari notifications during the test."""
    seen: list[str] = []

    def grab(n):
        seen.append(str(n.message))

    notification_manager.notification_ready.connect(grab)
    yield seen
    notification_manager.notification_ready.disconnect(grab)


@pytest.fixture
def cells_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    image, _ = samples.cells()
    viewer.add_image(image, name="cells")
    return viewer


def make_widget(viewer, qtbot):
    w = ThresholdingWidget(viewer)
    viewer.window.add_dock_widget(w)
    wait_idle(qtbot, w)
    return w


def shown(widget) -> bool:
    """Whether a magicgui widget is shown (within its parent; the test viewer itself is hidden)."""
    return not widget.native.isHidden()


def wait_idle(qtbot, w):
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    qtbot.wait(10)


def test_preview_appears_and_follows_parameters(cells_viewer, qtbot):
    w = make_widget(cells_viewer, qtbot)
    image = cells_viewer.layers["cells"].data
    preview = w.preview_layer
    assert preview is not None and preview.name == "Thresholding preview"
    np.testing.assert_array_equal(preview.data, CATALOG["threshold.global"](image))
    assert "otsu" in w.technique.value or w.params()["method"] == "otsu"
    n_layers = len(cells_viewer.layers)

    w.form["method"].value = "manual"
    w.form["value"].value = 1500.0
    wait_idle(qtbot, w)
    assert w.preview_layer is preview, "the same preview layer is updated in place"
    assert len(cells_viewer.layers) == n_layers
    np.testing.assert_array_equal(preview.data, (image > 1500).astype(np.uint8))
    assert w.histogram.thresholds == [1500.0]
    assert cells_viewer.layers.selection.active is not preview, "a preview does not steal the selection"


def test_switching_technique_shows_its_parameters(cells_viewer, qtbot):
    w = make_widget(cells_viewer, qtbot)
    w.technique.value = "threshold.adaptive"
    wait_idle(qtbot, w)
    assert shown(w.forms["threshold.adaptive"]) and not shown(w.forms["threshold.global"])
    form = w.form
    assert shown(form["offset"]) and not shown(form["k"])
    form["method"].value = "sauvola"
    assert shown(form["k"]) and not shown(form["offset"])
    form["block_size"].value = 20  # even: the widget itself shows the next odd size, which is used
    wait_idle(qtbot, w)
    assert form["block_size"].value == 21 and form.values()["block_size"] == 21
    image = cells_viewer.layers["cells"].data
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["threshold.adaptive"](image, method="sauvola", block_size=21))
    # one rule everywhere: a preset (or the CLI, or a call) with an even size is refused with the same words
    with pytest.raises(ValueError, match="must be odd, got 20 \\(try 21\\)"):
        form.set_values({"block_size": 20})
    with pytest.raises(ValueError, match="must be odd, got 20 \\(try 21\\)"):
        CATALOG["threshold.adaptive"].validate_params({"block_size": 20})


def test_histogram_click_sets_a_manual_threshold(cells_viewer, qtbot):
    w = make_widget(cells_viewer, qtbot)
    hist = w.histogram
    x = hist.value_to_x(1000.0)
    from qtpy.QtCore import QPoint, Qt

    qtbot.mouseClick(hist, Qt.MouseButton.LeftButton, pos=QPoint(int(x), hist.height() // 2))
    wait_idle(qtbot, w)
    assert w.params()["method"] == "manual"
    assert w.params()["value"] == pytest.approx(1000.0, rel=0.02)
    assert w.histogram.thresholds[0] == pytest.approx(w.params()["value"])


def test_apply_to_new_layer_then_into_existing_with_undo(cells_viewer, qtbot):
    viewer = cells_viewer
    w = make_widget(viewer, qtbot)
    w.form.set_values({"components": True})
    wait_idle(qtbot, w)
    created = w.apply()
    assert created is not None and created in viewer.layers and created is not w.preview_layer
    expected = CATALOG["threshold.global"](viewer.layers["cells"].data, components=True)
    np.testing.assert_array_equal(created.data, expected)
    assert created.metadata["segsuite"]["kind"] == "instance"

    # an existing, partly painted labels layer: painted pixels survive, ids do not collide
    painted = np.zeros(expected.shape, np.int32)
    painted[:40, :40] = 99
    target = viewer.add_labels(painted.copy(), name="my labels")
    w.target.value = target
    w.apply()
    assert np.all(target.data[:40, :40] == 99)
    new_ids = np.unique(target.data[target.data != 99])
    assert new_ids[0] == 0 and new_ids[1] > 99
    target.undo()
    np.testing.assert_array_equal(target.data, painted)

    # overwrite mode replaces the painted pixels the result covers
    w.mode.value = "overwrite"
    w.apply()
    assert np.any(target.data[:40, :40] != 99)


def test_target_with_wrong_shape_is_refused_and_untouched(cells_viewer, qtbot, notes):
    w = make_widget(cells_viewer, qtbot)
    small = cells_viewer.add_labels(np.zeros((10, 10), np.uint8), name="small")
    w.target.value = small
    assert w.apply() is None
    assert not small.data.any()
    assert any("shape" in n and "small" in n for n in notes)


def test_labels_layers_are_not_offered_as_input(cells_viewer, qtbot):
    cells_viewer.add_labels(np.zeros((256, 256), np.uint8), name="labels")
    w = make_widget(cells_viewer, qtbot)
    names = [c[0] if isinstance(c, tuple) else c.name for c in w.input.choices]
    assert "labels" not in names and "cells" in [getattr(c, "name", c) for c in w.input.choices]


def test_nan_and_constant_images_are_reported(make_napari_viewer, qtbot, notes):
    viewer = make_napari_viewer()
    img = samples.cells()[0].astype(np.float32)
    img[:20] = np.nan
    viewer.add_image(img, name="nan image")
    w = make_widget(viewer, qtbot)
    assert not w.preview_layer.data[:20].any()
    assert w.preview_layer.data[20:].any()
    assert any("non-finite" in n for n in notes)
    viewer.add_image(np.full((50, 50), 3.0), name="flat")
    w.input.value = viewer.layers["flat"]
    wait_idle(qtbot, w)
    assert any("constant" in n for n in notes)
    assert not w.preview_layer.data.any()


def test_rgb_image_is_converted_to_gray(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    rgb, _, _ = samples.scene()
    viewer.add_image(rgb, name="scene", rgb=True)
    w = make_widget(viewer, qtbot)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["threshold.global"](rgb, channel_axis=-1))


def test_preview_follows_the_displayed_slice_and_apply_all_slices(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    img, _ = samples.cells()
    stack = np.stack([img, img[::-1], img[:, ::-1], img.T])
    viewer.add_image(stack, name="stack")
    w = make_widget(viewer, qtbot)
    viewer.dims.set_current_step(0, 2)
    wait_idle(qtbot, w)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["threshold.global"](stack[2]))

    # apply on the displayed slice only
    layer = w.apply()
    assert layer.data.shape == stack.shape
    assert layer.data[2].any() and not layer.data[[0, 1, 3]].any()

    # apply to all slices runs in a worker with progress, into the same layer, undoable
    w.target.value = layer
    with qtbot.waitSignal(w.apply_all_slices().finished, timeout=TIMEOUT):
        pass
    qtbot.waitUntil(lambda: layer.data[0].any(), timeout=TIMEOUT)
    np.testing.assert_array_equal(layer.data, CATALOG["threshold.global"](stack))
    layer.undo()
    assert layer.data[2].any() and not layer.data[0].any()


def test_cancel_apply_all_slices_changes_nothing(make_napari_viewer, qtbot, notes):
    viewer = make_napari_viewer()
    # about 1000 x 3 ms of work: the cancel lands long before the end
    big = np.random.default_rng(0).integers(0, 255, (1000, 256, 256)).astype(np.uint8)
    viewer.add_image(big, name="big")
    w = make_widget(viewer, qtbot)
    w.technique.value = "threshold.adaptive"
    w.form.set_values({"method": "sauvola", "block_size": 31})
    wait_idle(qtbot, w)
    n_layers = len(viewer.layers)
    w.apply_all_slices()
    assert w.cancel_button.enabled
    w.cancel()
    qtbot.waitUntil(lambda: not w.job.running, timeout=TIMEOUT)
    qtbot.wait(50)
    assert len(viewer.layers) == n_layers
    assert any("cancelled" in n for n in notes)
    assert w.apply_all_button.enabled and not w.cancel_button.enabled


def test_presets_round_trip_through_the_widget(cells_viewer, qtbot, tmp_path, notes):
    w = make_widget(cells_viewer, qtbot)
    w.technique.value = "threshold.adaptive"
    w.form.set_values({"method": "niblack", "block_size": 33, "k": -0.1})
    path = w.save_preset(tmp_path / "mine.json")
    w.form.set_values({"method": "gaussian", "block_size": 5})
    w.technique.value = "threshold.global"
    w.load_preset(path)
    assert w.technique.value == "threshold.adaptive"
    assert w.params() == {**CATALOG["threshold.adaptive"].defaults(), "method": "niblack", "block_size": 33, "k": -0.1}
    wait_idle(qtbot, w)
    image = cells_viewer.layers["cells"].data
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["threshold.adaptive"](image, method="niblack", block_size=33, k=-0.1))

    bad = tmp_path / "bad.json"
    bad.write_text('{"technique": "threshold.adaptive", "params": {"block_size": 2}}')
    with pytest.raises(ValueError, match="out of range"):
        w.load_preset(bad)
    assert w.params()["block_size"] == 33, "a bad preset changes nothing"


def test_widget_docks_from_the_plugin_manifest_and_cli_builds_the_app(make_napari_viewer, qtbot):
    from napari_segsuite._widgets import ScoringWidget, SegSuiteWidget
    from napari_segsuite._widgets.suite import TOOLS
    from napari_segsuite.cli import build_viewer

    viewer = make_napari_viewer()
    suite = build_viewer(viewer, sample="scene")
    assert isinstance(suite, SegSuiteWidget) and list(suite.tools) == ["Thresholding"], "other tools wait until picked"
    w = suite.current
    assert isinstance(w, ThresholdingWidget)
    assert {"scene", "scene ground truth"} <= {layer.name for layer in viewer.layers}
    wait_idle(qtbot, w)
    assert w.input.value.name == "scene" and w.preview_layer is not None
    scoring = suite.show_tool("Scoring")
    assert isinstance(scoring, ScoringWidget) and suite.current is scoring
    assert scoring.gt.value.name == "scene ground truth", "the ground truth layer is found by its name"
    assert [suite.picker.itemText(i) for i in range(suite.picker.count())] == list(TOOLS)


def test_gui_update_is_fast_enough_to_follow_a_slider(make_napari_viewer, qtbot):
    """Not a benchmark (see benchmarks/threshold.py): a generous bound that catches a broken path."""
    import time

    viewer = make_napari_viewer()
    img = np.random.default_rng(0).integers(0, 255, (1024, 1024, 3)).astype(np.uint8)
    viewer.add_image(img, name="rgb", rgb=True)
    w = make_widget(viewer, qtbot)
    w.form["method"].value = "manual"
    wait_idle(qtbot, w)
    t0 = time.perf_counter()
    w.form["value"].value = 100.0
    wait_idle(qtbot, w)
    assert time.perf_counter() - t0 < 2.0


def test_no_image_layer_is_explained(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    w = make_widget(viewer, qtbot)
    assert "No image layer" in w.status.text()
    assert w.apply() is None
    viewer.add_image(np.zeros((10, 10)), name="late")
    assert w.input.value is not None and w.input.value.name == "late"


def test_closed_widget_stops_listening(cells_viewer, qtbot):
    w = make_widget(cells_viewer, qtbot)
    cells_viewer.window.remove_dock_widget(w)
    w.close()
    cells_viewer.add_image(np.ones((5, 5)), name="after close")  # must not reach the closed widget
    cells_viewer.dims.set_current_step(0, 0)
    assert len(cells_viewer.layers) >= 2


def test_apply_writes_exactly_what_the_preview_shows(cells_viewer, qtbot):
    w = make_widget(cells_viewer, qtbot)
    w.technique.value = "threshold.multiotsu"
    w.form.set_values({"classes": 4})
    wait_idle(qtbot, w)
    shown_now = w.preview_layer.data.copy()
    layer = w.apply()
    np.testing.assert_array_equal(layer.data, shown_now)
    assert layer.metadata["segsuite"]["kind"] == "semantic"


def test_only_the_shown_tool_previews_and_shows_its_preview(make_napari_viewer, qtbot):
    """Tools never picked compute nothing; picking a tool shows its preview and hides the one of
    the tool shown before."""
    from napari_segsuite._widgets.layers import is_preview
    from napari_segsuite.cli import build_viewer

    viewer = make_napari_viewer(show=True)
    suite = build_viewer(viewer, sample="scene")
    first = suite.current
    qtbot.waitUntil(lambda: first.preview_layer is not None, timeout=20_000)
    wait_idle(qtbot, first)
    qtbot.wait(300)
    previews = [layer for layer in viewer.layers if is_preview(layer)]
    assert previews == [first.preview_layer], f"other tools computed previews: {[p.name for p in previews]}"

    def visible():
        return [layer for layer in viewer.layers if is_preview(layer) and layer.visible]

    other = suite.show_tool("Clustering")
    qtbot.waitUntil(lambda: other.preview_layer is not None, timeout=60_000)
    wait_idle(qtbot, other)
    qtbot.waitUntil(lambda: visible() == [other.preview_layer], timeout=5_000)
    suite.show_tool("Thresholding")
    qtbot.waitUntil(lambda: visible() == [first.preview_layer], timeout=5_000)
    one = [tuple(np.round(t.preview_layer.colormap.map(np.array([1]))[0], 2)) for t in (first, other)]
    assert one[0] != one[1] and first.preview_layer.opacity == 0.5, "each tool's preview has its own colour"
    sam = suite.show_tool("Segment Anything")
    qtbot.waitUntil(lambda: first.preview_layer not in visible(), timeout=5_000)
    assert sam.preview_layer.visible and sam.points_layer.visible
    suite.show_tool("Thresholding")  # SAM's helper layers are hidden, not removed (removing them crashed vispy)
    qtbot.wait(300)
    assert visible() == [first.preview_layer]
    assert not sam.points_layer.visible and not sam.box_layer.visible and sam.points_layer in viewer.layers


def test_tools_made_but_not_picked_add_no_layer(make_napari_viewer, qtbot):
    """``suite.tool(name)`` makes a tool without showing it (a script, the annotation project's
    link to the SAM tool): it computes no preview and adds no layer, even when a new image comes,
    until it is picked."""
    import numpy as np

    from napari_segsuite._widgets.layers import is_preview
    from napari_segsuite._widgets.suite import TOOLS
    from napari_segsuite.cli import build_viewer

    viewer = make_napari_viewer(show=True)
    suite = build_viewer(viewer, sample="cells")
    tools = {name: suite.tool(name) for name in TOOLS}
    qtbot.wait(1500)
    viewer.add_image(np.random.default_rng(0).random((64, 64)), name="new")
    qtbot.wait(1500)
    helpers = [layer.name for layer in viewer.layers if is_preview(layer) and layer.name != "Thresholding preview"]
    assert helpers == [], f"tools not shown added layers: {helpers}"  # (the widgets hold napari's proxies of layers)
    assert all(not t.runner.busy for t in tools.values() if hasattr(t, "runner"))
    edges = suite.show_tool("Edges")
    qtbot.waitUntil(lambda: edges.preview_layer is not None and edges.preview_layer.visible, timeout=20_000)


def test_a_slow_preview_says_so_with_its_time_and_can_be_stopped(cells_viewer, qtbot, monkeypatch):
    import dataclasses
    import time

    w = make_widget(cells_viewer, qtbot)
    tech = w.current
    slow = dataclasses.replace(tech, func=lambda image, **k: (time.sleep(1.5), tech.func(image, **k))[1])
    monkeypatch.setitem(w.techniques, tech.name, slow)
    w.form["nbins"].value = 128
    qtbot.waitUntil(lambda: "computing the" in w.status.text(), timeout=5_000)
    assert " s" in w.status.text() and not w.stop_button.native.isHidden()
    w.stop_button.changed.emit(True)
    assert not w.live.value and "stopped" in w.status.text()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10_000)
    assert "stopped" in w.status.text(), "the late result was dropped"


def test_stop_ends_a_running_chan_vese_and_a_newer_request_replaces_it(cells_viewer, qtbot, notes):
    """Chan-Vese at 1000 iterations takes seconds: Stop ends the computation itself (the worker is
    free within a fraction of that), and changing a parameter while it runs cancels it for the
    new request instead of waiting for it."""
    import time

    from napari_segsuite._widgets import ContourWidget

    w = ContourWidget(cells_viewer)
    cells_viewer.window.add_dock_widget(w)
    w.technique.value = "contour.chan_vese"
    wait_idle(qtbot, w)
    t0 = time.perf_counter()
    w.form["iterations"].value = 1000
    qtbot.waitUntil(lambda: not w.stop_button.native.isHidden(), timeout=TIMEOUT)
    w.stop_button.changed.emit(True)
    stopped = time.perf_counter()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    assert time.perf_counter() - stopped < 1.0, "the worker stopped at its next iteration"
    assert w.runner.cancelled == 1 and "stopped" in w.status.text()
    w.live.value = True  # runs 1000 iterations again; then a newer request cancels it
    qtbot.waitUntil(lambda: w.runner.busy, timeout=TIMEOUT)
    qtbot.wait(300)
    w.form["iterations"].value = 20
    wait_idle(qtbot, w)
    assert w.runner.cancelled == 2
    assert w.last_result.seconds < 2, "the 20-iteration preview is the one shown"
    assert not [n for n in notes if "failed" in n or "ancelled" in n], notes
    assert time.perf_counter() - t0 < 20


def test_apply_without_a_matching_preview_runs_in_a_worker_and_cancel_stops_it(cells_viewer, qtbot, notes):
    """With live preview off there is no result to reuse: Apply computes in a worker (the UI
    stays free), and Cancel stops the computation and changes no layer."""
    import time

    from napari_segsuite._widgets import ContourWidget

    w = ContourWidget(cells_viewer)
    cells_viewer.window.add_dock_widget(w)
    w.technique.value = "contour.chan_vese"
    wait_idle(qtbot, w)
    w.live.value = False
    w.form["iterations"].value = 1000
    layers = len(cells_viewer.layers)
    t0 = time.perf_counter()
    assert w.apply() is None and time.perf_counter() - t0 < 0.5
    assert not w.apply_button.enabled and "full resolution" in w.status.text()
    qtbot.wait(300)
    w.cancel_button.changed.emit(True)
    qtbot.waitUntil(lambda: w.apply_button.enabled, timeout=3_000)
    qtbot.wait(100)
    assert len(cells_viewer.layers) == layers
    assert [n for n in notes if "cancelled, no layer was changed" in n], notes
    w.form["iterations"].value = 5  # and a quick one is written when it is done
    w.apply()
    qtbot.waitUntil(lambda: len(cells_viewer.layers) == layers + 1, timeout=10_000)


def test_a_tool_opened_alone_follows_its_own_dock_tab(cells_viewer, qtbot):
    """Opened from the Plugins menu, a tool sits in a dock of its own: put behind another tab it
    hides its preview, raised again it shows it (FollowsDock, shared with the SAM tool)."""
    from napari_segsuite._widgets.suite import own_dock

    w = make_widget(cells_viewer, qtbot)
    dock = own_dock(w)
    assert dock is not None
    w.follow_own_dock()
    w.follow_own_dock()  # once per dock: a second call connects nothing more
    assert w.preview_layer is not None and w.preview_layer.visible
    dock.visibilityChanged.emit(False)
    assert not w.preview_layer.visible
    dock.visibilityChanged.emit(True)
    wait_idle(qtbot, w)
    assert w.preview_layer.visible

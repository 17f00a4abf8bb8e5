"""Widgets with layer inputs (seeds, initial shapes), post-processing steps and labels input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segsuite._widgets import ContourWidget, PostProcessingWidget, RegionWidget, ThresholdingWidget
from napari_segsuite.io import samples
from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.chain import Chain

TIMEOUT = 20_000


def wait(qtbot, w):
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    qtbot.wait(20)


@pytest.fixture
def cells(make_napari_viewer):
    viewer = make_napari_viewer()
    image, truth = samples.cells()
    viewer.add_image(image, name="cells")
    return viewer, image


def test_region_growing_follows_the_seeds_a_user_clicks(cells, qtbot, tmp_path):
    from napari.utils.notifications import notification_manager

    viewer, image = cells
    errors = []
    notification_manager.notification_ready.connect(lambda n: errors.append(str(n.message)))
    w = RegionWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.technique.value = "region.grow"
    wait(qtbot, w)
    assert "needs seeds" in w.status.text()  # no seed layer yet: the status says what to do
    assert "Waiting for input" in w.status.text() and "e06c60" not in w.status.styleSheet()
    assert not [e for e in errors if "needs seeds" in e], "a missing seed is a hint, not an error toast"
    points = w.input_forms["region.grow"]._add_points_layer()
    assert w.input_forms["region.grow"]["seeds"].value is points
    points.add([40, 40])
    wait(qtbot, w)
    one = w.preview_layer.data.copy()
    expected = CATALOG["region.grow"](image, seeds=np.array([[40, 40]]))
    np.testing.assert_array_equal(one, expected)
    points.add([150, 150])  # a second click re-runs the preview with both seeds
    wait(qtbot, w)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["region.grow"](image, seeds=np.array([[40, 40], [150, 150]])))
    out = w.apply()
    np.testing.assert_array_equal(out.data > 0, w.preview_layer.data > 0)


def test_watershed_markers_from_a_labels_layer(cells, qtbot):
    viewer, image = cells
    markers = np.zeros(image.shape, np.int32)
    markers[40, 40], markers[150, 150] = 1, 2
    viewer.add_labels(markers, name="markers")
    w = RegionWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.technique.value = "region.watershed"
    w.input_forms["region.watershed"]["seeds"].value = viewer.layers["markers"]
    wait(qtbot, w)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["region.watershed"](image, seeds=markers))


def test_geodesic_contour_starts_from_a_drawn_rectangle(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    y, x = np.mgrid[:120, :160]
    disk = (x - 80) ** 2 + (y - 60) ** 2 < 30**2
    image = np.where(disk, 180, 50).astype(np.uint8)
    viewer.add_image(image, name="disk")
    shapes = viewer.add_shapes([[[15, 35], [105, 125]]], shape_type="rectangle", name="box")
    w = ContourWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.technique.value = "contour.geodesic"
    w.input_forms["contour.geodesic"]["init"].value = shapes
    wait(qtbot, w)
    out = w.preview_layer.data > 0
    assert 2 * (out & disk).sum() / (out.sum() + disk.sum()) > 0.9


def test_active_contours_offer_a_new_shapes_layer_with_a_clear_fill(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    y, x = np.mgrid[:120, :160]
    disk = (x - 80) ** 2 + (y - 60) ** 2 < 30**2
    viewer.add_image(np.where(disk, 180, 50).astype(np.uint8), name="disk")
    w = ContourWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.technique.value = "contour.geodesic"
    form = w.input_forms["contour.geodesic"]
    assert not form.new_shapes.native.isHidden() and form.new_points.native.isHidden()
    form.new_shapes.changed.emit(True)
    layer = form["init"].value
    assert layer is not None and layer.name == "initial shape" and layer.mode == "add_rectangle"
    layer.add_rectangles(np.array([[15, 35], [105, 125]]))
    assert layer.face_color[0][3] == 0, "the shape's inside stays see-through"
    wait(qtbot, w)
    out = w.preview_layer.data > 0
    assert 2 * (out & disk).sum() / (out.sum() + disk.sum()) > 0.9


def test_post_processing_steps_chain_preview_and_preset(cells, qtbot, tmp_path):
    viewer, image = cells
    w = ThresholdingWidget(viewer)
    viewer.window.add_dock_widget(w)
    wait(qtbot, w)
    w.post.add_step("post.fill_holes")
    w.post.add_step("post.split_touching", {"min_distance": 6})
    wait(qtbot, w)
    chain = Chain([("threshold.global", {}), ("post.fill_holes", {}), ("post.split_touching", {"min_distance": 6})])
    np.testing.assert_array_equal(w.preview_layer.data, chain.run(image).data)
    path = w.save_preset(tmp_path / "chain.json")
    assert len(json.loads(path.read_text())["steps"]) == 3
    w.post.clear()
    wait(qtbot, w)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["threshold.global"](image))
    w.load_preset(path)
    wait(qtbot, w)
    assert [t.name for t, _ in w.post.steps()] == ["post.fill_holes", "post.split_touching"]
    np.testing.assert_array_equal(w.preview_layer.data, chain.run(image).data)


def test_post_processing_widget_takes_a_labels_layer(cells, qtbot):
    viewer, image = cells
    w = PostProcessingWidget(viewer)
    viewer.window.add_dock_widget(w)
    wait(qtbot, w)
    assert "No labels layer" in w.status.text()
    labels = CATALOG["threshold.global"](image)
    viewer.add_labels(labels, name="mask", metadata={"segsuite": {"kind": "semantic"}})
    w.input.value = viewer.layers["mask"]
    w.technique.value = "post.remove_small"
    w.form.set_values({"min_size": 200})
    wait(qtbot, w)
    assert w.params()["kind"] == "semantic"  # read from the layer's metadata
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["post.remove_small"](labels, min_size=200, kind="semantic"))
    assert [layer.name for layer in w.input.choices] == ["mask"], "image layers are not post-processing inputs"


def test_huge_slices_preview_a_shrunk_copy_and_apply_at_full_size(make_napari_viewer, qtbot, monkeypatch):
    viewer = make_napari_viewer()
    image, _ = samples.cells()
    viewer.add_image(image, name="cells")
    monkeypatch.setattr(ThresholdingWidget, "preview_max_pixels", image.size // 16)  # "huge" = this test's image
    w = ThresholdingWidget(viewer)
    viewer.window.add_dock_widget(w)
    wait(qtbot, w)
    assert w.preview_layer.data.shape == (image.shape[0] // 4, image.shape[1] // 4)
    np.testing.assert_allclose(w.preview_layer.scale, [4, 4])
    assert w.apply() is None, "a shrunk preview is not written: Apply computes the full slice in a worker"
    assert not w.apply_button.enabled and w.cancel_button.enabled
    qtbot.waitUntil(lambda: "cells threshold.global" in viewer.layers, timeout=10_000)
    out = viewer.layers["cells threshold.global"]
    assert out.data.shape == image.shape and w.apply_button.enabled
    np.testing.assert_array_equal(out.data, CATALOG["threshold.global"](image))

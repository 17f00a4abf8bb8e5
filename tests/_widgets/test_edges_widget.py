"""The Edges widget: image-valued previews, switching to regions, applying both kinds."""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Labels

from napari_segsuite._widgets import EdgesWidget
from napari_segsuite.io import samples
from napari_segsuite.techniques import CATALOG

TIMEOUT = 10_000


def wait(qtbot, w):
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    qtbot.wait(10)


def test_edge_map_preview_then_regions(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    image, _ = samples.cells()
    viewer.add_image(image, name="cells")
    w = EdgesWidget(viewer)
    viewer.window.add_dock_widget(w)
    wait(qtbot, w)
    assert isinstance(w.preview_layer, Image)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["edges.canny"](image))
    edge_map = w.apply()
    assert isinstance(edge_map, Image) and edge_map is not w.preview_layer

    w.form["output"].value = "regions"
    wait(qtbot, w)
    assert isinstance(w.preview_layer, Labels)
    assert sum(layer.name == "Edges preview" for layer in viewer.layers) == 1, "the image preview was replaced"
    regions = w.apply()
    assert isinstance(regions, Labels) and regions.metadata["segsuite"]["kind"] == "instance"
    np.testing.assert_array_equal(regions.data, CATALOG["edges.canny"](image, output="regions"))

    w.technique.value = "edges.sobel"
    wait(qtbot, w)
    assert isinstance(w.preview_layer, Image) and w.preview_layer.data.dtype == np.float32


def scene_widget(make_napari_viewer, qtbot, widget_class):
    """A family widget docked in a viewer showing the colour scene, after its first preview."""
    viewer = make_napari_viewer()
    rgb, _, _ = samples.scene()
    viewer.add_image(rgb, name="scene", rgb=True)
    w = widget_class(viewer)
    viewer.window.add_dock_widget(w)
    wait(qtbot, w)
    return rgb, w


def test_clustering_widget_previews_kmeans_on_colour(make_napari_viewer, qtbot):
    from napari_segsuite._widgets import ClusteringWidget

    rgb, w = scene_widget(make_napari_viewer, qtbot, ClusteringWidget)
    assert isinstance(w.preview_layer, Labels)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["cluster.kmeans"](rgb, channel_axis=-1))
    w.form["k"].value = 6
    wait(qtbot, w)
    assert w.preview_layer.data.max() == 6
    layer = w.apply()
    assert layer.metadata["segsuite"]["kind"] == "semantic"


def test_graph_widget_previews_felzenszwalb(make_napari_viewer, qtbot):
    from napari_segsuite._widgets import GraphWidget

    rgb, w = scene_widget(make_napari_viewer, qtbot, GraphWidget)
    np.testing.assert_array_equal(w.preview_layer.data, CATALOG["graph.felzenszwalb"](rgb, channel_axis=-1))
    before = w.preview_layer.data.max()
    w.form["scale"].value = 1000.0
    wait(qtbot, w)
    assert w.preview_layer.data.max() < before

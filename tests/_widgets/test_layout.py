"""The app fits the screen: at 1280x800 and 1920x1080, with 64-character layer names, every tool is
readable, nothing scrolls sideways or is cut off, and the canvas keeps at least half the window."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractButton, QComboBox, QLabel, QScrollArea, QSlider

from napari_segsuite._widgets.suite import TOOLS

LONG = "0" * 8 + "e5f1c9d2b7a84f6e9d3c1b5a7f2e8d4c6b9a1f3e5d7c9b2a4f6e8d0c2b4a6"  # a DSB2018 file name: 64 characters


def _setup(make_napari_viewer, qtbot, size):
    from napari_segsuite.io import samples

    viewer = make_napari_viewer(show=True)
    image, truth = samples.cells()
    viewer.add_image(image, name=LONG)
    viewer.add_labels(truth, name=LONG + " ground truth")
    viewer.window.resize(*size)
    _, suite = viewer.window.add_plugin_dock_widget("napari-segsuite", "SegSuite")
    qtbot.wait(300)
    return viewer, suite


def _cut_off(suite, tool) -> list[str]:
    """Visible controls of ``tool`` whose right edge lies beyond the dock's."""
    out = []
    right = suite.width()
    for kind in (QAbstractButton, QComboBox, QLabel, QSlider):
        for w in tool.findChildren(kind):
            if not w.isVisibleTo(suite) or w.width() == 0:
                continue
            edge = w.mapTo(suite, w.rect().topRight()).x()
            if edge > right + 1:
                out.append(f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r} ends at {edge} > {right}")
    return out


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_every_tool_fits_with_long_layer_names(make_napari_viewer, qtbot, size):
    viewer, suite = _setup(make_napari_viewer, qtbot, size)
    canvas = viewer.window._qt_viewer.canvas.native
    for name in TOOLS:
        tool = suite.show_tool(name)
        qtbot.wait(150)
        scrolls = [s for s in tool.findChildren(QScrollArea) if s.isVisibleTo(suite)]
        assert not [s for s in scrolls if s.horizontalScrollBar().isVisible()], f"{name}: a horizontal scrollbar"
        assert not _cut_off(suite, tool), f"{name} at {size}: {_cut_off(suite, tool)}"
        # napari's labels-layer controls take 337 px; our dock's 270 px leave the canvas half of 1280
        assert canvas.width() >= 0.5 * size[0], f"{name} at {size}: the canvas is {canvas.width()} px wide"
    picker = suite.picker
    widest = max(picker.fontMetrics().horizontalAdvance(picker.itemText(i)) for i in range(picker.count()))
    assert picker.width() >= widest, "every tool's name is readable in the picker"


def test_layout_screenshots(make_napari_viewer, qtbot, tmp_path):
    """The README's layout screenshots, retaken at 1280x800 (written to docs/images when
    $SEGSUITE_SCREENSHOTS is set; here into a temporary folder, to check they can be made)."""
    import os
    from pathlib import Path

    import imageio.v3 as iio

    out = Path(os.environ.get("SEGSUITE_SCREENSHOTS") or tmp_path)
    viewer, suite = _setup(make_napari_viewer, qtbot, (1280, 800))
    for name, file in (("Thresholding", "layout_1280_thresholding.png"), ("Segment Anything", "layout_1280_sam.png"),
                       ("Scoring", "layout_1280_scoring.png")):
        tool = suite.show_tool(name)
        if hasattr(tool, "runner") and hasattr(tool, "preview_layer"):
            qtbot.waitUntil(lambda tool=tool: tool.preview_layer is not None and not tool.runner.busy, timeout=20_000)
        qtbot.wait(500)
        shot = viewer.screenshot(canvas_only=False)
        iio.imwrite(out / file, np.asarray(shot))
        assert shot.shape[1] >= 1200


@pytest.mark.parametrize("name", ["Thresholding", "Region-based", "Active contours", "Segment Anything", "Train a network",
                                  "Annotation project", "Scoring"])
def test_a_tool_opened_alone_fits_too(make_napari_viewer, qtbot, name):
    """Plugins → SegSuite → <tool> docks the tool by itself: it keeps the suite's width and fits in it."""
    from napari_segsuite._widgets.suite import DOCK_WIDTH
    from napari_segsuite.io import samples

    viewer = make_napari_viewer(show=True)
    image, truth = samples.cells()
    viewer.add_image(image, name=LONG)
    viewer.add_labels(truth, name=LONG + " ground truth")
    viewer.window.resize(1280, 800)
    dock, tool = viewer.window.add_plugin_dock_widget("napari-segsuite", name)
    qtbot.wait(300)
    assert tool.minimumSizeHint().width() <= DOCK_WIDTH, f"{name} alone needs {tool.minimumSizeHint().width()} px"
    dock.resize(DOCK_WIDTH, dock.height())
    viewer.window._qt_window.resizeDocks([dock], [DOCK_WIDTH], Qt.Orientation.Horizontal)
    qtbot.wait(150)
    scrolls = [s for s in tool.findChildren(QScrollArea) if s.isVisibleTo(tool)]
    assert not [s for s in scrolls if s.horizontalScrollBar().isVisible()], f"{name}: a horizontal scrollbar"
    assert not _cut_off(tool, tool), _cut_off(tool, tool)


def test_the_sam_tool_still_fits_after_a_click(make_napari_viewer, qtbot):
    """What a click writes under the prompts ("classical mask: watershed from the points · 12 ms")
    wraps inside the dock instead of widening it into a sideways scroll."""
    from test_sam_widget import click, settle

    viewer, suite = _setup(make_napari_viewer, qtbot, (1280, 800))
    tool = suite.show_tool("Segment Anything")
    tool.image.value = viewer.layers[LONG]
    qtbot.waitUntil(lambda: tool.embedding_ready, timeout=20_000)
    click(tool.points_layer, (100, 120))
    settle(qtbot, tool)
    qtbot.wait(300)
    assert tool.candidate_label.text().startswith("classical mask")
    model = tool.backend.native  # the model's name is read whole ("classical (no c…" was cut)
    assert model.fontMetrics().horizontalAdvance(model.currentText()) + 24 <= model.width(), model.currentText()
    scrolls = [s for s in tool.findChildren(QScrollArea) if s.isVisibleTo(suite)]
    assert not [s for s in scrolls if s.horizontalScrollBar().isVisible()], "a horizontal scrollbar after a click"
    assert not _cut_off(suite, tool), _cut_off(suite, tool)


def test_the_propagate_choices_are_read_whole_at_1280(make_napari_viewer, qtbot):
    """Each choice of the Propagate section (axis, direction, objects) fits its box at 1280x800
    ("axis 0 (31 slic" and "shown or sele" were cut)."""
    viewer = make_napari_viewer(show=True)
    viewer.add_image(np.zeros((131, 64, 64), np.float32), name=LONG + "_z131.tif")
    viewer.window.resize(1280, 800)
    _, suite = viewer.window.add_plugin_dock_widget("napari-segsuite", "SegSuite")
    qtbot.wait(300)
    tool = suite.show_tool("Segment Anything")
    tool.image.value = viewer.layers[LONG + "_z131.tif"]
    tool.propagate_section.expand(animate=False)
    tool.propagation.reset_choices()
    panel = tool.propagation
    combos = (panel.axis.native, panel.direction.native, panel.which.native)

    def cut() -> list[tuple[str, int]]:
        return [(c.itemText(i), c.width()) for c in combos for i in range(c.count())
                if c.fontMetrics().horizontalAdvance(c.itemText(i)) + 24 > c.width()]

    try:  # the layout settles in its own time on a busy machine; a cut text stays cut
        qtbot.waitUntil(lambda: not cut(), timeout=5000)
    except Exception:  # noqa: BLE001 - reported by the assertion below
        pass
    assert all(c.count() > 0 and c.isVisibleTo(suite) for c in combos)
    assert not cut(), cut()
    assert panel.axis.native.currentText() == "0, 131 slices"
    assert not _cut_off(suite, tool), _cut_off(suite, tool)

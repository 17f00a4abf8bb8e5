"""The SegSuite dock: every tool of the plugin behind one picker, one tool shown at a time.

Eleven docks tabbed in one area cannot be read (``T… E… Cl…``) and squeeze the canvas; one dock
with a tool picker scales to any number of tools and keeps a fixed, modest width. Tools are made
the first time they are picked (a tool never picked costs nothing and computes nothing), and only
the shown tool previews: picking another hides the previous tool's preview and shows the new
one's. Each tool also opens alone from Plugins → SegSuite and from Layers → Segment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QSize
from qtpy.QtWidgets import QComboBox, QDockWidget, QLabel, QStackedWidget, QVBoxLayout, QWidget

from .fit import fit_width

__all__ = ["TOOLS", "FollowsDock", "SegSuiteWidget", "own_dock"]

# picker label -> (what it does, how to make it); the order is the picker's
TOOLS: dict[str, tuple[str, str]] = {
    "Thresholding": ("global, multi-level Otsu and adaptive thresholds", "ThresholdingWidget"),
    "Edges": ("Canny, Sobel, Laplacian of Gaussian", "EdgesWidget"),
    "Clustering": ("k-means, mean shift, hierarchical, fuzzy c-means", "ClusteringWidget"),
    "Graph-based": ("Felzenszwalb, SLIC, normalized cuts, RAG merging", "GraphWidget"),
    "Region-based": ("split and merge, region growing, watershed, random walker", "RegionWidget"),
    "Active contours": ("Chan-Vese, geodesic", "ContourWidget"),
    "Post-processing": ("morphology, holes, small objects, splitting", "PostProcessingWidget"),
    "Segment Anything": ("points and boxes, automatic masks", "SamWidget"),
    "Train a network": ("U-Net, SegNet, DeepLab on your annotations", "LearnWidget"),
    "Annotation project": ("a folder of images, autosaved, exported", "ProjectWidget"),
    "Scoring": ("scores against a ground-truth layer, live", "ScoringWidget"),
}
DOCK_WIDTH = 270  # px: the dock's preferred width; with napari's layer controls (337 px) the canvas keeps half of 1280


def own_dock(widget: QWidget) -> QDockWidget | None:
    """The dock ``widget`` sits in by itself (opened alone from the Plugins menu), or None inside the
    SegSuite panel, which tells its tools when they are shown (:meth:`SegSuiteWidget.show_tool`)."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QDockWidget):
        if isinstance(parent, SegSuiteWidget):
            return None
        parent = parent.parentWidget()
    return parent


class FollowsDock:
    """For a tool that may be opened alone in a dock of its own: its ``set_tab_visible(visible)``
    is called as that dock's tab is raised or put behind another (inside the SegSuite panel the
    panel calls it). Call :meth:`follow_own_dock` from ``showEvent``."""

    _dock: QDockWidget | None = None

    def set_tab_visible(self, visible: bool) -> None:  # pragma: no cover - each tool says what it does
        raise NotImplementedError

    def follow_dock(self, dock: QDockWidget) -> None:
        """Follow ``dock``'s tab from now on (once per dock)."""
        if self._dock is dock:
            return
        self._dock = dock
        dock.visibilityChanged.connect(self.set_tab_visible)

    def follow_own_dock(self) -> None:
        """Follow the dock this widget sits in by itself, if any (:func:`own_dock`)."""
        dock = own_dock(self)  # type: ignore[arg-type]
        if dock is not None:
            self.follow_dock(dock)


def _napari_first_layers() -> None:
    """napari compiles (or loads) numba kernels when the first Shapes layer is made (its
    triangulation: half a second on the UI thread when a tool makes its box layer) and when the
    first Labels layer of a dtype maps its colours (a first int32 labels layer took 0.92 s in a
    bare viewer, 0.26 s after this). Layers made here, outside any viewer, pay both in the
    background."""
    import numpy as np
    from napari.layers import Labels, Shapes

    Shapes()
    for dtype in (np.uint8, np.int32):
        Labels(np.zeros((4, 4), dtype)).colormap.map(np.arange(3, dtype=dtype))


class SegSuiteWidget(QWidget):
    """One dock for every tool: a picker above, the picked tool below (see the module docstring)."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None, *, tool: str = "Thresholding") -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.tools: dict[str, QWidget] = {}
        self._shown: QWidget | None = None
        self.picker = QComboBox()
        for i, (name, (what, _)) in enumerate(TOOLS.items()):
            self.picker.addItem(name)
            self.picker.setItemData(i, f"{name}: {what}", 3)  # Qt.ToolTipRole
        self.picker.setToolTip("Choose a tool; each also opens alone from Plugins → SegSuite")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: gray")
        self.stack = QStackedWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.picker)
        layout.addWidget(self.hint)
        layout.addWidget(self.stack, 1)
        fit_width(self)
        self.picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # tool names are short: whole
        self.picker.currentTextChanged.connect(self.show_tool)
        self.picker.setCurrentText(tool)
        self.show_tool(tool)
        from ..techniques.warmup import start_warm_up

        start_warm_up(also=[_napari_first_layers])  # first previews and the first prompt layer without a wait

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        hint = super().sizeHint()
        return QSize(min(hint.width(), DOCK_WIDTH), hint.height())

    @property
    def current(self) -> QWidget | None:
        """The tool shown now."""
        return self.tools.get(self.picker.currentText())

    def tool(self, name: str, *, shown: bool = False) -> QWidget:
        """The tool called ``name`` (made now if it was never picked; unless it is being ``shown``,
        a tool made here stays hidden: it computes nothing and adds no layer until picked)."""
        if name not in self.tools:
            factory: Callable[[Any], QWidget] = getattr(importlib.import_module(__package__), TOOLS[name][1])
            widget = factory(self.viewer)  # a family tool previews once it is placed and shown (it fits itself)
            self.tools[name] = widget
            if not shown and hasattr(widget, "set_tab_visible"):
                widget.set_tab_visible(False)  # before it is placed: it adds no layer on the way
            self.stack.addWidget(widget)
            self._wire()
        return self.tools[name]

    def show_tool(self, name: str) -> QWidget:
        """Show tool ``name``; the tool shown before hides its preview."""
        if name not in TOOLS:
            raise KeyError(f"no tool {name!r}; tools: {', '.join(TOOLS)}")
        widget = self.tool(name, shown=True)
        if self.picker.currentText() != name:
            self.picker.setCurrentText(name)  # re-enters here once, through the signal
            return widget
        previous, self._shown = self._shown, widget
        if previous is not None and previous is not widget and hasattr(previous, "set_tab_visible"):
            previous.set_tab_visible(False)
        self.stack.setCurrentWidget(widget)
        self.hint.setText(TOOLS[name][0])
        if hasattr(widget, "set_tab_visible"):
            widget.set_tab_visible(True)
        return widget

    def _wire(self) -> None:
        """The annotation project embeds the next image with the Segment Anything tool's model."""
        project, sam = self.tools.get("Annotation project"), self.tools.get("Segment Anything")
        if project is not None:
            project.sam_widget = sam

"""One dock widget per technique family, generated from the catalog.

The widget gathers an input layer, a technique and its parameters, runs the engine off the UI
thread for a live preview of the displayed slice (family_preview.py), and commits results into a
labels layer through napari's undo history (family_commit.py). It holds no algorithm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Image, Labels
from napari.utils.notifications import show_info
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QDockWidget, QFileDialog, QLabel, QWidget
from superqt import QCollapsible

from ..techniques import Result, Technique, families
from ..techniques.chain import Chain
from ..techniques.presets import load_preset, save_preset
from . import settings
from .family_commit import KEEP, NEW_LAYER, OVERWRITE, CommitsResults
from .family_preview import PreviewsLive
from .fit import fit_width
from .histogram import HistogramView
from .inputs import InputsForm
from .jobs import Job
from .layers import (
    is_preview,
    layer_choices,
    reset_keeping_value,
    scrolling_content,
    spatial_shape,
)
from .params import ParamsForm
from .post_steps import PostStepsPanel
from .preview import PreviewRunner
from .suite import FollowsDock
from .tuning_panel import TuningPanel

__all__ = ["FamilyWidget"]



class FamilyWidget(PreviewsLive, CommitsResults, QWidget, FollowsDock):
    """Dock widget for all techniques of one catalog family (e.g. "Thresholding")."""

    #: slices larger than this preview on a copy shrunk by an integer factor (Apply is full size)
    preview_max_pixels = 2048 * 2048

    def __init__(self, viewer: Any, family: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.family = family
        self.techniques: dict[str, Technique] = {t.name: t for t in families()[family]}
        self.takes_labels = all(t.channels == "labels" for t in self.techniques.values())
        self.preview_layer: Labels | Image | None = None
        self.last_result: Result | None = None
        self._prepared: tuple[Any, np.ndarray, Any] | None = None  # (key, data, info)
        self._notified: set[str] = set()
        self._watched: Image | None = None  # input layer whose data events we follow
        self._watched_inputs: list[Any] = []  # seed / shape layers whose edits re-run the preview
        self._preview_when_shown = False
        self._tab_hidden = False
        self._hid_preview = False  # the preview layer was hidden because the tab went behind another
        self._waited_for_dock = False
        self._dock: QDockWidget | None = None
        self._last_request: tuple | None = None  # (slice key, technique, params) of last_result
        self.runner = PreviewRunner(parent=self)
        self.runner.done.connect(self._on_preview_done)

        self.input = widgets.ComboBox(
            label="labels" if self.takes_labels else "image", choices=self._image_choices,
            tooltip="Labels layer to post-process" if self.takes_labels else "Image layer to segment",
        )
        self.technique = widgets.ComboBox(
            label="technique", choices=[(t.title, name) for name, t in self.techniques.items()]
        )
        self.forms = {name: ParamsForm(t) for name, t in self.techniques.items()}
        self.input_forms = {
            name: InputsForm(t, viewer, exclude=self._is_own_layer, spatial=self._input_shape) for name, t in self.techniques.items()
        }
        self.post = PostStepsPanel()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.histogram = HistogramView()
        self.live = widgets.CheckBox(value=True, text="live preview", tooltip="Re-run on every parameter change")
        self.stop_button = widgets.PushButton(text="Stop preview", visible=False,
                                              tooltip="Stop the running preview (at its next iteration) and pause live preview")
        self._requested_at = 0.0
        self._busy_timer = QTimer(self)
        self._busy_timer.setInterval(250)
        self._busy_timer.timeout.connect(self._show_busy)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.target = widgets.ComboBox(label="write to", choices=self._target_choices, tooltip="Labels layer that Apply writes into")
        self.mode = widgets.ComboBox(
            label="labelled pixels", choices=[KEEP, OVERWRITE], value=KEEP,
            tooltip="Keep pixels that already carry a label (default), or overwrite them",
        )
        self.apply_button = widgets.PushButton(text="Apply")
        self.apply_all_button = widgets.PushButton(text="All slices", tooltip="Apply to every slice of the stack (in a worker, with progress)")
        self.cancel_button = widgets.PushButton(text="Cancel")
        self.save_button = widgets.PushButton(text="Save preset…")
        self.load_button = widgets.PushButton(text="Load preset…")

        layout = scrolling_content(self)
        layout.addWidget(widgets.Container(widgets=[self.input, self.technique]).native)
        layout.addWidget(self.summary)
        for name, form in self.forms.items():
            layout.addWidget(self.input_forms[name].native)
            layout.addWidget(form.native)
        layout.addWidget(self.histogram)
        self.post_section = QCollapsible("Post-processing steps")
        self.post_section.addWidget(self.post)
        layout.addWidget(self.post_section)
        layout.addWidget(widgets.Container(widgets=[self.live, self.stop_button], labels=False).native)
        layout.addWidget(self.status)
        layout.addWidget(widgets.Container(widgets=[self.target, self.mode]).native)
        row = widgets.Container(layout="horizontal", labels=False, widgets=[self.apply_button, self.apply_all_button, self.cancel_button])
        layout.addWidget(row.native)
        presets = widgets.Container(layout="horizontal", labels=False, widgets=[self.save_button, self.load_button])
        layout.addWidget(presets.native)
        self.tuning_section = QCollapsible("Tune against ground truth")
        layout.addWidget(self.tuning_section)
        layout.addStretch(1)

        self.input.changed.connect(self._on_input_changed)
        self.technique.changed.connect(self._on_technique_changed)
        self._form_before: dict[str, dict[str, Any]] = {}  # each form's values at its last change
        for form in self.forms.values():
            form.changed.connect(self._carry_threshold_over)
            form.changed.connect(self.request_preview)
        for inputs in self.input_forms.values():
            inputs.changed.connect(self._on_layer_inputs_changed)
        self.post.changed.connect(self.request_preview)
        self.live.changed.connect(self._on_live_toggled)
        self.stop_button.changed.connect(self.stop_preview)
        self.apply_button.changed.connect(self.apply)
        self.apply_all_button.changed.connect(self.apply_all_slices)
        self.job = Job(self.apply_all_button, self.cancel_button)
        self.apply_job = Job(self.apply_button, self.cancel_button)  # a full-resolution slice (see apply)
        self.save_button.changed.connect(self._save_dialog)
        self.load_button.changed.connect(self._load_dialog)
        self.histogram.threshold_picked.connect(self._on_histogram_pick)
        for emitter, slot in self._connections():
            emitter.connect(slot)
        self._on_technique_changed()
        self._on_input_changed()
        self.tuning = TuningPanel(self)  # after the technique selector exists
        self.tuning_section.addWidget(self.tuning)
        fit_width(self)

    # -- state ----------------------------------------------------------------------------------
    @property
    def current(self) -> Technique:
        return self.techniques[self.technique.value]

    @property
    def form(self) -> ParamsForm:
        return self.forms[self.technique.value]

    def params(self) -> dict[str, Any]:
        return self.form.values()

    def chain(self) -> Chain:
        """The current technique with its parameters, then the post-processing steps."""
        return Chain([(self.current, self.params()), *self.post.steps()])

    def _input_shape(self) -> tuple[int, ...] | None:
        layer = self.input.value if hasattr(self, "input") else None
        return spatial_shape(layer) if layer is not None else None

    def _is_own_layer(self, layer: Any) -> bool:
        return layer is self.preview_layer or is_preview(layer)

    def _image_choices(self, _w: Any = None) -> list[tuple[str, Image]]:
        return layer_choices(self.viewer, Labels if self.takes_labels else Image, self.preview_layer)

    def _target_choices(self, _w: Any = None) -> list[Any]:
        return [(NEW_LAYER, NEW_LAYER), *layer_choices(self.viewer, Labels, self.preview_layer)]

    def _reset_choices(self, *_: Any) -> None:
        reset_keeping_value(self.input)
        reset_keeping_value(self.target)
        for inputs in self.input_forms.values():
            for combo in inputs:
                if isinstance(combo, widgets.ComboBox):
                    reset_keeping_value(combo)

    def _has_channels(self, layer: Image) -> bool:
        return bool(getattr(layer, "rgb", False))

    def _on_layer_inputs_changed(self, *_: Any) -> None:
        """Follow the edits of the picked seed / shape layers (a new point re-runs the preview)."""
        for layer in self._watched_inputs:
            layer.events.data.disconnect(self.request_preview)
        self._watched_inputs = self.input_forms[self.technique.value].layers()
        for layer in self._watched_inputs:
            layer.events.data.connect(self.request_preview)
        self.request_preview()

    # -- presets ----------------------------------------------------------------------------------
    def save_preset(self, path: str | Path) -> Path:
        """Save the current technique, its parameters and the post-processing steps as a JSON preset."""
        post = [(t, p) for t, p in self.post.steps()]
        return save_preset(path, self.current, self.params(), post=post, overwrite=True)

    def load_preset(self, path: str | Path) -> None:
        """Select a preset's technique and set its parameters (the preview follows)."""
        preset = load_preset(path)
        if preset.technique.name not in self.techniques:
            raise ValueError(
                f"{path}: this preset is for {preset.technique.name} ({preset.technique.family}); "
                f"open it in the {preset.technique.family} widget"
            )
        self.technique.value = preset.technique.name
        self.form.set_values(preset.params)
        self.post.clear()
        for step in preset.post:
            self.post.add_step(step.technique.name, step.params)

    def _save_dialog(self, *_: Any) -> None:
        folder = settings.get("presets.folder", "")
        path, _ = QFileDialog.getSaveFileName(self, "Save preset", str(Path(folder) / f"{self.current.name}.json"),
                                              "Presets (*.json)")
        if path:
            settings.remember("presets.folder", str(Path(path).parent))
            try:
                show_info(f"preset saved to {self.save_preset(path)}")
            except (OSError, ValueError) as e:
                self._report_error(e)

    def _load_dialog(self, *_: Any) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load preset", settings.get("presets.folder", ""), "Presets (*.json)")
        if path:
            settings.remember("presets.folder", str(Path(path).parent))
            try:
                self.load_preset(path)
            except (OSError, ValueError) as e:
                self._report_error(e)

    def cleanup(self) -> None:
        """Stop previews and disconnect from the viewer (the widget is going away)."""
        self.runner.shutdown()
        self.cancel()
        for emitter, slot in self._connections():
            emitter.disconnect(slot)
        if self._watched is not None:
            self._watched.events.data.disconnect(self._on_input_data_changed)
            self._watched = None
        for layer in self._watched_inputs:
            layer.events.data.disconnect(self.request_preview)
        self._watched_inputs = []

    def _connections(self) -> list[tuple[Any, Any]]:
        return [
            (self.viewer.layers.events.inserted, self._reset_choices),
            (self.viewer.layers.events.removed, self._reset_choices),
            (self.viewer.dims.events.current_step, self._on_slice_changed),
        ]

    def _behind_another_tab(self) -> bool:
        """Whether this widget's dock is a tab behind another, or not shown at all in a shown
        window (its previews wait until it is raised)."""
        if self._tab_hidden:
            return True
        window = self.window()
        return window is not self and window.isVisible() and not self.isVisible()

    def set_tab_visible(self, visible: bool) -> None:
        """Raised: show this tool's preview again (and run the one put off); behind another tab:
        hide it, so only the raised tool's preview is on the image."""
        self._tab_hidden = not visible
        layer = self.preview_layer
        if layer is not None and layer in self.viewer.layers:
            if not visible and layer.visible:
                layer.visible = False
                self._hid_preview = True
            elif visible and self._hid_preview:
                layer.visible = True
                self._hid_preview = False
        if visible and self._preview_when_shown:
            self.request_preview()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self.follow_own_dock()  # opened alone: preview only while its dock is the raised tab
        if self._preview_when_shown and not self._behind_another_tab():
            self.request_preview()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.cleanup()
        super().closeEvent(event)

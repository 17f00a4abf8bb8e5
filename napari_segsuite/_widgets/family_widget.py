"""One dock widget per technique family, generated from the catalog.

The widget gathers an input layer, a technique and its parameters, runs the engine off the UI
thread for a live preview of the displayed slice, and commits results into a labels layer through
napari's undo history. It holds no algorithm.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QDockWidget, QFileDialog, QLabel, QWidget
from superqt import QCollapsible

from .. import settings
from ..presets import load_preset, save_preset
from ..techniques import MissingInput, Result, Technique, check_image, families, intensity_histogram, prepare_slice
from ..techniques.chain import Chain
from .family_commit import KEEP, NEW_LAYER, NO_IMAGE, NO_LABELS, OVERWRITE, CommitsResults
from .fit import fit_width
from .histogram import HistogramView
from .inputs import InputsForm
from .jobs import Job
from .layers import (
    FAMILY_COLOURS,
    displayed_slice,
    is_preview,
    label_kind_of,
    layer_choices,
    preview_colormap,
    reset_keeping_value,
    scrolling_content,
    spatial_shape,
    update_preview_layer,
)
from .params import ParamsForm
from .post_steps import PostStepsPanel
from .preview import PreviewRunner
from .suite import FollowsDock
from .tuning_panel import TuningPanel

__all__ = ["FamilyWidget"]



class FamilyWidget(CommitsResults, QWidget, FollowsDock):
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

    # -- preview ----------------------------------------------------------------------------------
    def _on_technique_changed(self, *_: Any) -> None:
        for name, form in self.forms.items():
            form.native.setVisible(name == self.technique.value)
            self.input_forms[name].native.setVisible(name == self.technique.value and bool(self.techniques[name].inputs))
        t = self.current
        self.summary.setText(t.summary)
        self.histogram.setVisible(t.histogram)
        self._on_layer_inputs_changed()

    def _on_input_changed(self, *_: Any) -> None:
        self._prepared = None
        for inputs in self.input_forms.values():  # label layers offered as seeds must match the image
            for combo in inputs:
                if isinstance(combo, widgets.ComboBox):
                    reset_keeping_value(combo)
        layer = self.input.value
        self._update_apply_all()
        if self._watched is not None:
            self._watched.events.data.disconnect(self._on_input_data_changed)
        self._watched = layer
        if layer is not None:
            layer.events.data.connect(self._on_input_data_changed)
            kind = label_kind_of(layer) if isinstance(layer, Labels) else None
            if kind in ("instance", "semantic"):  # post-processing reads the layer as it was made
                for form in self.forms.values():
                    if "kind" in form.technique.defaults():
                        form.set_values({"kind": kind})
        self.request_preview()

    def _update_apply_all(self, *_: Any) -> None:
        layer = self.input.value
        self.apply_all_button.enabled = not self.job.running and layer is not None and len(layer.data.shape) - self._has_channels(layer) > 2

    def _on_input_data_changed(self, *_: Any) -> None:
        self._prepared = None
        self.request_preview()

    def _on_slice_changed(self, *_: Any) -> None:
        layer = self.input.value
        if layer is not None and layer.ndim > 2:
            self.request_preview()

    def _on_live_toggled(self, on: bool) -> None:
        if on:
            self.request_preview()
        elif self.preview_layer is not None and self.preview_layer in self.viewer.layers:
            self.preview_layer.visible = False

    def _prepare(self) -> tuple[tuple[int, ...], np.ndarray, Any]:
        """The displayed slice of the input, converted once and cached until it changes."""
        layer = self.input.value
        if layer is None:
            raise ValueError(NO_LABELS if self.takes_labels else NO_IMAGE)
        index, raw = displayed_slice(self.viewer, layer)
        key = (id(layer), index, self.current.channels)
        if self._prepared is None or self._prepared[0] != key:
            check_image(raw, channel_axis=-1 if self._has_channels(layer) else None)
            data, info = prepare_slice(raw, has_channels=self._has_channels(layer), mode=self.current.channels)
            self._prepared = (key, data, info)
            for form in self.forms.values():
                form.set_data_range(info.vmin, info.vmax)
            if data.ndim == 2 and self.current.channels != "labels":
                display_info = dataclasses.replace(info, integer_valued=False)
                self.histogram.set_histogram(*intensity_histogram(data, display_info, 256))
        return index, self._prepared[1], self._prepared[2]

    def request_preview(self, *_: Any) -> None:
        """Re-run the current technique on the displayed slice (debounced, in a worker)."""
        if self.input.value is None:
            self.status.setText(NO_LABELS if self.takes_labels else NO_IMAGE)
            return
        if not self.live.value:
            return
        if self.parentWidget() is None:
            # just made, not yet docked (the app or napari is about to put it in a dock, maybe as a
            # tab behind another): decide once it is placed (or shown), so hidden tabs compute nothing
            self._preview_when_shown = True
            if not self._waited_for_dock:
                self._waited_for_dock = True
                self.runner.hold()
                QTimer.singleShot(0, self._placed)
            return
        if self._behind_another_tab():
            self._preview_when_shown = True  # a tab behind another: preview when it is raised
            return
        self._preview_when_shown = False
        try:
            index, data, info = self._prepare()
            chain = self.chain()
            inputs = self._slice_inputs(index)
        except (ValueError, TypeError) as e:
            self._report_error(e)
            return
        factor = int(np.ceil(np.sqrt(data.shape[0] * data.shape[1] / self.preview_max_pixels)))
        if factor > 1:  # a huge slice: preview a shrunk copy instead of freezing
            data = np.ascontiguousarray(data[::factor, ::factor])
            inputs = {k: _shrink_input(v, factor) for k, v in inputs.items()}
            self._notify(
                f"the slice is {info_pixels(self._prepared[1])} pixels: the preview runs on a copy "
                f"shrunk {factor}x per side; Apply runs at full resolution"
            )
        request = self._request_key(chain, inputs, factor)
        self.runner.request(lambda cancelled: (request, chain.run_prepared(data, info, inputs, cancel=cancelled)),
                            cancellable=True)
        self._requested_at = time.perf_counter()
        self._busy_timer.start()

    def _placed(self) -> None:
        """A turn after being made: preview now, unless this tool is hidden or still not placed."""
        self.runner.release()
        self.request_preview()

    def _slice_inputs(self, index: tuple[int, ...]) -> dict[str, Any]:
        return self.input_forms[self.technique.value].slice_values(spatial_shape(self.input.value), index)

    def _request_key(self, chain: Chain, inputs: dict[str, Any], shrunk: int = 1) -> tuple:
        """What a result was computed from: slice, steps with parameters, the seeds' content, and
        how many times the slice was shrunk per side (1: full resolution, as Apply needs)."""
        seeds = tuple((k, None if v is None or v[0] is None else hash(v[0].tobytes())) for k, v in sorted(inputs.items()))
        return (self._prepared[0], tuple((s.technique.name, tuple(sorted(s.params.items()))) for s in chain.steps), seeds, shrunk)

    def _show_busy(self) -> None:
        """While a preview takes long (Chan-Vese at 1000 iterations, a first mean shift), say so,
        with the time it has taken, and offer to stop it."""
        if not self.runner.busy:
            self._busy_timer.stop()
            self.stop_button.visible = False
            return
        elapsed = time.perf_counter() - self._requested_at
        if elapsed > 0.5:
            self.status.setStyleSheet("")
            self.status.setText(f"computing the {self.current.title.lower()} preview … {elapsed:.1f} s")
            self.stop_button.visible = True

    def stop_preview(self, *_: Any) -> None:
        """Stop a long preview: live preview pauses and the running computation stops at its next
        iteration (the iterative techniques check between iterations; a single solver call, as the
        random walker's, finishes first and its result is dropped)."""
        self.runner.stop()
        self.live.value = False
        self._busy_timer.stop()
        self.stop_button.visible = False
        self.status.setText("preview stopped; tick live preview to run it again")

    def _on_preview_done(self, done: tuple[tuple, Result] | None, exc: BaseException | None) -> None:
        if not self.runner.busy:
            self._busy_timer.stop()
            self.stop_button.visible = False
        if not self.live.value:
            return  # a run that finished after live preview was switched off
        if self._tab_hidden:
            self._preview_when_shown = True  # finished after the tab went behind another
            return
        if exc is not None:
            self._report_error(exc)
            return
        assert done is not None
        self._last_request, result = done
        self.last_result = result
        layer = self.input.value
        if layer is None:
            return
        name = f"{self.family} preview"
        before = self.preview_layer
        self.preview_layer = update_preview_layer(
            self.viewer, self.preview_layer, result.data, name=name, source=layer, output=result.output, factor=self._last_request[-1]
        )
        if self.preview_layer is not before and result.output == "labels":
            if result.kind == "semantic":  # class 1 in the tool's colour; object ids keep napari's colours
                self.preview_layer.colormap = preview_colormap(FAMILY_COLOURS.get(self.family, (1.0, 1.0, 0.0)))
            self.preview_layer.opacity = 0.5  # the image stays readable under the mask
        self.preview_layer.visible = True
        thresholds = result.info.get("thresholds", [])
        caption = ", ".join(f"{t:.4g}" for t in thresholds) if thresholds else "threshold varies per pixel"
        self.histogram.set_thresholds(thresholds, caption)
        n = int(result.data.max()) if result.data.size else 0
        if result.output == "image":
            what = "image output"
        else:
            what = f"{n} objects" if result.kind == "instance" else _classes_text(result.data, n)
        self.status.setStyleSheet("")
        self.status.setText(f"{what} · {result.seconds * 1000:.1f} ms")
        for note in result.notes:
            self._notify(note)

    def _carry_threshold_over(self, *_: Any) -> None:
        """Switching an automatic method (Otsu) to manual starts the manual value at the threshold the
        automatic one found, so the result does not jump."""
        name, values = self.technique.value, self.form.values()
        result, request = self.last_result, self._last_request
        shown = request is not None and request[1][0][0] == name  # the shown result is this technique's
        before = self._form_before.get(name) or (dict(request[1][0][1]) if shown else None)
        self._form_before[name] = values
        if before is None or result is None or not shown or not result.info.get("thresholds"):
            return
        threshold = float(result.info["thresholds"][0])
        for p in self.current.params:
            if p.range is None or p.range.from_data != "values" or p.when is None:
                continue
            switched_on = values.get(p.when.param) in p.when.values and before.get(p.when.param) not in p.when.values
            untouched = values.get(p.name) == before.get(p.name)  # not set in the same change (a histogram click)
            if switched_on and untouched and values.get(p.name) != threshold:
                self._form_before[name] = {**values, p.name: threshold}
                self.form.set_values({p.name: threshold})
                return

    def _on_histogram_pick(self, value: float) -> None:
        for p in self.current.params:
            if p.range is not None and p.range.from_data == "values":
                extra = {p.when.param: p.when.values[0]} if p.when is not None else {}
                self.form.set_values({**extra, p.name: value})
                return

    def _report_error(self, exc: BaseException) -> None:
        msg = str(exc) or type(exc).__name__
        if isinstance(exc, MissingInput):  # a seed not yet given: a hint in the status, no red toast
            self.status.setStyleSheet("")
            self.status.setText(f"Waiting for input: {msg}")
            return
        self.status.setStyleSheet("color: #e06c60")
        self.status.setText(msg)
        self._notify(msg, error=True)

    def _notify(self, msg: str, *, error: bool = False) -> None:
        if msg in self._notified:
            return  # said once per message: dragging a slider must not flood the user
        self._notified.add(msg)
        (show_error if error else show_warning)(f"{self.family}: {msg}")

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


def _shrink_input(value: Any, factor: int) -> Any:
    """Seeds cut to a slice, moved onto a grid shrunk ``factor`` times (no seed is lost)."""
    if value is None or value[0] is None:
        return value
    markers, notes = value
    h, w = markers.shape
    small = np.zeros(((h + factor - 1) // factor, (w + factor - 1) // factor), markers.dtype)
    ys, xs = np.nonzero(markers)
    small[ys // factor, xs // factor] = markers[ys, xs]
    return small, notes


def info_pixels(data: np.ndarray) -> str:
    return f"{data.shape[0]} x {data.shape[1]}"


def _classes_text(data: np.ndarray, top: int) -> str:
    """What a semantic result holds, in words: its classes, and how much of the image they cover
    when that is not all of it."""
    labelled = int(np.count_nonzero(data))
    if top == 0:
        return "nothing labelled"
    classes = "1 class" if top == 1 else f"classes 1–{top}"
    if labelled == data.size:
        return f"{classes}, every pixel labelled"
    return f"{classes} on {labelled / data.size:.0%} of the image ({labelled} pixels)"

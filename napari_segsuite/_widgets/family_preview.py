"""The live preview of a family dock: the displayed slice is prepared and the technique run in a
worker on every change (parameters, input layer, slice, seed layers), newest request first, on a
shrunk copy when the slice is large; the result fills the dock's preview layer, its summary and
histogram, and a failure is reported once.

A mixin of :class:`.family_widget.FamilyWidget`, which provides the forms, layers and runner.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Labels
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import QTimer

from ..techniques import MissingInput, Result, check_image, intensity_histogram, prepare_slice
from ..techniques.chain import Chain
from .family_commit import NO_IMAGE, NO_LABELS
from .layers import (
    FAMILY_COLOURS,
    displayed_slice,
    label_kind_of,
    preview_colormap,
    reset_keeping_value,
    spatial_shape,
    update_preview_layer,
)

__all__ = ["PreviewsLive"]


class PreviewsLive:
    """Live preview for a FamilyWidget (see the module docstring)."""

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

"""Segment Anything dock: click points / drag boxes, the mask preview follows, Enter commits.

The dock is assembled from three mixins: the model (sam_model.py), the prompt layers
(sam_prompts.py) and the embedding (sam_embedding.py); this module decodes and commits. The image
embedding of the displayed slice is computed in a worker thread when an image is chosen
(or the slice changes): the slice is read, converted and hashed there too, never on the UI thread.
Prompts given meanwhile are queued and answered when it is ready. Each prompt change then runs only
the decoder (or the classical fallback's GrabCut / watershed), also in a worker, newest request
first. The embedding a click is decoded against is the one of the click's own slice (kept with its
key), never whatever image the session embedded last: a background precompute or the project's
next-image embedding cannot change which image a click answers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Image, Labels, Points, Shapes
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QLabel, QWidget
from superqt import QCollapsible

from .. import cv_compat
from ..io.labels import labels_metadata
from ..sam import ClassicalSession, SamSession, available_devices, registry
from ..sam.tiled import TiledImage
from .fit import fit_width
from .jobs import Job, describe_error
from .layers import (
    commit_labels,
    layer_choices,
    reset_keeping_value,
    scrolling_content,
)
from .post_steps import PostStepsPanel
from .preview import PreviewRunner
from .sam_auto_panel import AutoMasksPanel
from .sam_embedding import EmbedsSlices
from .sam_keys import KeysPanel
from .sam_model import CLASSICAL, LoadsModels
from .sam_prompts import KEYS, PromptLayers
from .sam_propagate_panel import PropagatePanel
from .sam_refine_panel import RefinePanel
from .suite import FollowsDock

__all__ = ["SamWidget"]


class SamWidget(LoadsModels, PromptLayers, EmbedsSlices, QWidget, FollowsDock):
    """Prompt a SAM model (or the classical fallback) with points and boxes; commit masks."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session: SamSession | ClassicalSession = ClassicalSession()
        self.points_layer: Points | None = None
        self.box_layer: Shapes | None = None
        self.preview_layer: Labels | None = None
        self.prediction = None
        self.candidate = 0
        self.ready_key: tuple | None = None  # (image layer id, slice index) whose embedding is current
        self.embedding: Any = None  # the embedding of ready_key's slice, passed with every click on it
        self.pending = False  # prompts arrived before the embedding: answer when it is ready
        self._prompt_version = 0  # bumped on every prompt change: a late answer to older prompts is dropped
        self.clicks = PreviewRunner(delay_ms=0, parent=self)
        self.clicks.done.connect(self._on_decoded)
        self.worker = None
        self._load_worker = None  # a model being loaded (sam_model.py)
        self.last_click_ms: float | None = None
        self._logits: np.ndarray | None = None
        self._recolouring = False
        self._tab_hidden = False
        self._dock = None

        names = [CLASSICAL, *registry.REGISTRY]
        self.backend = widgets.ComboBox(label="model", choices=names, value=CLASSICAL,
                                        tooltip="SAM architecture, or the classical fallback (GrabCut for boxes, seeded watershed for points)")
        self.checkpoint = widgets.FileEdit(label="checkpoint", mode="r", filter="*.pth *.pt",
                                           tooltip="A local checkpoint; empty = the downloaded official one")
        self.device = widgets.ComboBox(label="device", choices=available_devices(), value="auto")
        self.models_dir = widgets.FileEdit(label="models", mode="d", value=str(registry.models_dir()),
                                           tooltip="Where checkpoints are downloaded (also $NAPARI_SEGSUITE_MODELS)")
        self.load_button = widgets.PushButton(text="Load model")
        self.download_button = widgets.PushButton(text="Download", tooltip="Download the official checkpoint of the chosen model")
        self.image = widgets.ComboBox(label="image", choices=self._image_choices, nullable=True)
        self.precompute_button = widgets.PushButton(text="Precompute all slices")
        self.cancel_precompute_button = widgets.PushButton(text="Cancel")
        self.precompute_job = Job(self.precompute_button, self.cancel_precompute_button)
        self.negative = widgets.CheckBox(value=False, text="background clicks",
                                        tooltip="Clicks add background points, as Shift-click or Alt-click do")
        self.target = widgets.ComboBox(label="write into", choices=self._labels_choices, nullable=True,
                                       tooltip="Labels layer to commit into; empty = a new 'SAM labels' layer")
        self.mode = widgets.ComboBox(label="commit as", choices=["new instance", "class id"], value="new instance")
        self.class_id = widgets.SpinBox(label="class id", value=1, min=1, max=65535, visible=False)
        self.overwrite = widgets.CheckBox(value=False, text="overwrite existing labels")
        self.next_button = widgets.PushButton(text="Next mask", tooltip="Show the next candidate mask (N in the SAM points layer)")
        self.commit_button = widgets.PushButton(text="Commit", tooltip="Write the mask into the labels layer (Enter)")
        self.clear_button = widgets.PushButton(text="Clear", tooltip="Remove this slice's prompts (Escape)")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.candidate_label = QLabel()
        self.candidate_label.setWordWrap(True)  # "classical mask: watershed from the points · 12 ms" is wider than the dock
        self.keys_panel = KeysPanel()
        self._bound_keys: dict[str, str] = {}
        self.keys_help = QLabel(KEYS.format(keys=self.keys_panel.describe()))
        self.keys_help.setWordWrap(True)

        layout = scrolling_content(self)
        layout.addWidget(widgets.Container(widgets=[self.backend, self.checkpoint, self.device, self.models_dir]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=[self.load_button, self.download_button]).native)
        layout.addWidget(self.status)
        layout.addWidget(widgets.Container(widgets=[self.image]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False,
                                           widgets=[self.precompute_button, self.cancel_precompute_button]).native)
        layout.addWidget(widgets.Container(labels=False, widgets=[self.negative]).native)
        layout.addWidget(self.candidate_label)
        buttons = [self.next_button, self.commit_button, self.clear_button]
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=buttons).native)
        layout.addWidget(widgets.Container(widgets=[self.target, self.mode, self.class_id, self.overwrite]).native)
        layout.addWidget(self.keys_help)
        self.auto = AutoMasksPanel(self)
        self.auto_section = QCollapsible("Automatic masks")
        self.auto_section.addWidget(self.auto)
        layout.addWidget(self.auto_section)
        self.post = PostStepsPanel()
        self.post_section = QCollapsible("Post-processing")
        self.post_section.addWidget(self.post)
        layout.addWidget(self.post_section)
        self.propagation = PropagatePanel(self)
        self.propagate_section = QCollapsible("Propagate through z or time")
        self.propagate_section.addWidget(self.propagation)
        layout.addWidget(self.propagate_section)
        self.refine = RefinePanel(self)
        self.refine_section = QCollapsible("Refine a labels layer")
        self.refine_section.addWidget(self.refine)
        layout.addWidget(self.refine_section)
        self.keys_section = QCollapsible("Keys")
        self.keys_section.addWidget(self.keys_panel)
        layout.addWidget(self.keys_section)
        layout.addStretch(1)

        self._restore_settings()
        self.post.changed.connect(lambda: self.auto.refilter())
        self.keys_panel.changed.connect(lambda: self.points_layer is not None and self._bind_keys(self.points_layer))
        self.models_dir.changed.connect(lambda v: registry.set_models_dir(v) if v and str(v) not in ("", ".") else None)
        self.load_button.changed.connect(lambda *_: self.load_model())
        self.download_button.changed.connect(lambda *_: self.download())
        self.image.changed.connect(lambda *_: self._image_changed())
        self.image.changed.connect(lambda *_: self.propagation.reset_choices())
        self.precompute_button.changed.connect(lambda *_: self.precompute_all())
        self.mode.changed.connect(lambda v: setattr(self.class_id, "visible", v == "class id"))
        self.next_button.changed.connect(lambda *_: self.next_candidate())
        self.commit_button.changed.connect(lambda *_: self.commit())
        self.clear_button.changed.connect(lambda *_: self.clear())
        napari_viewer.layers.events.inserted.connect(self._reset_choices)
        napari_viewer.layers.events.removed.connect(self._reset_choices)
        napari_viewer.dims.events.current_step.connect(self._slice_changed)
        self._reset_choices()
        self._show_status()
        fit_width(self)

    # -- model ----------------------------------------------------------------------------------

    def post_process(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` through the dock's post-processing steps (none: unchanged)."""
        steps = self.post.steps()
        if not steps:
            return labels
        from ..techniques.chain import Chain

        return np.asarray(Chain(steps).run(labels).data)

    # -- layers ---------------------------------------------------------------------------------

    def _image_choices(self, _w: Any = None) -> list[tuple[str, Image]]:
        return layer_choices(self.viewer, Image)

    def _labels_choices(self, _w: Any = None) -> list[tuple[str, Labels]]:
        return layer_choices(self.viewer, Labels, self.preview_layer)

    def _reset_choices(self, *_: Any) -> None:
        before = self.image.value
        reset_keeping_value(self.image)
        reset_keeping_value(self.target)
        if hasattr(self, "refine"):
            self.refine.reset_choices()
            self.propagation.reset_choices()
        images = self._image_choices()
        if self.image.value is None and images:
            self.image.value = images[0][1]
        elif self.image.value is not before:
            self._image_changed()

    # -- prompts --------------------------------------------------------------------------------

    def _prompts_changed(self) -> None:
        """Decode the prompts of the displayed slice in a worker, against that slice's embedding."""
        self._prompt_version += 1
        cur = self.displayed()
        if cur is None:
            return
        image, index = cur
        points, labels, box = self._prompts_on_slice(index)
        if points is None and box is None:
            self._logits = None
            self.clicks.cancel_pending()
            self._show_mask(None)
            return
        if not self.embedding_ready:
            self.pending = True
            self._show_status("computing")
            return
        session, embedding, logits = self.session, self.embedding, self._logits
        request = (self._prompt_version, self.ready_key)

        def decode():
            t0 = time.perf_counter()
            pred = session.predict(points=points, labels=labels, box=box, mask_input=logits, embedding=embedding)
            pred.mask(pred.best)  # upsampled here, not on the UI thread
            return request, pred, (time.perf_counter() - t0) * 1000

        self.clicks.request(decode)

    def _on_decoded(self, value: Any, error: BaseException | None) -> None:
        if error is not None:
            if isinstance(error, ValueError):  # a prompt this backend cannot take: a hint, not an error
                self.status.setText(str(error))
            else:
                show_error(describe_error("the mask", error))
            return
        (version, key), pred, ms = value
        if version != self._prompt_version or key != self.ready_key:
            return  # the prompts or the slice changed meanwhile: a newer request answers them
        for note in pred.notes:
            show_info(note)
        self.prediction = pred
        self.candidate = pred.best
        if pred.logits.size:
            self._logits = pred.logits[self.candidate]
        self._show_mask(pred.mask(self.candidate))
        self.last_click_ms = ms
        self._show_status()

    @property
    def decoding(self) -> bool:
        """Whether a click is being answered."""
        return self.clicks.busy

    def _show_mask(self, mask: np.ndarray | None) -> None:
        cur = self.displayed()
        if cur is None:
            return
        image = cur[0]
        if mask is None:
            if self.preview_layer is not None and self.preview_layer in self.viewer.layers and self.preview_layer.data.any():
                self.preview_layer.data[...] = 0
                self.preview_layer.refresh()
            self.prediction = None
            self.candidate_label.setText("")
            return
        self._preview_for(image, mask.astype(np.uint8))
        n = len(self.prediction.scores)
        if self.session.backend == "classical":  # one mask, no predicted IoU: say what made it
            box_made = "GrabCut in the box" if cv_compat.available() else "watershed in the box"
            made = box_made if self._prompts_on_slice(cur[1])[2] is not None else "watershed from the points"
            ms = f" · {self.last_click_ms:.0f} ms" if self.last_click_ms is not None else ""
            self.candidate_label.setText(f"classical mask: {made}{ms}")
        else:
            self.candidate_label.setText(f"mask {self.candidate + 1} of {n} · predicted IoU "
                                         f"{self.prediction.scores[self.candidate]:.3f}" + ("" if n > 1 else " (single candidate)"))
        for layer in (self.points_layer, self.box_layer):  # prompts stay on top of the preview
            if layer is not None and layer in self.viewer.layers and self.viewer.layers.index(layer) < self.viewer.layers.index(self.preview_layer):
                self.viewer.layers.move(self.viewer.layers.index(layer), len(self.viewer.layers))

    def next_candidate(self) -> None:
        """Show the next of the candidate masks (N)."""
        if self.prediction is None:
            return
        self.candidate = (self.candidate + 1) % len(self.prediction.scores)
        if self.prediction.logits.size:
            self._logits = self.prediction.logits[self.candidate]
        self._show_mask(self.prediction.mask(self.candidate))

    def commit(self) -> None:
        """Write the shown mask into the target labels layer (Enter): a new instance id or the class
        id; labelled pixels are kept unless 'overwrite' is ticked; Ctrl+Z undoes it."""
        cur = self.displayed()
        if cur is None or self.prediction is None:
            show_info("nothing to commit: click on an object first")
            return
        image, index = cur
        mask = self.prediction.mask(self.candidate)
        if not mask.any():
            show_info("the mask is empty; nothing was written")
            return
        target = self.target.value
        if self.mode.value == "class id":
            value, kind = int(self.class_id.value), "semantic"
        else:
            value, kind = (int(np.max(target.data)) + 1 if target is not None else 1), None
        try:
            layer, notes = commit_labels(self.viewer, target, (mask * value).astype(np.int32), source=image, index=index,
                                         kind=kind, overwrite=self.overwrite.value, name="SAM labels")
        except ValueError as e:
            show_error(str(e))
            return
        if kind is None and "segsuite" not in layer.metadata:
            layer.metadata = {**layer.metadata, **labels_metadata("instance")}
        for note in notes:
            show_info(note)
        if target is None:
            reset_keeping_value(self.target)
            self.target.value = layer
        self.clear()
        if self.points_layer is not None:
            self.viewer.layers.selection.active = self.points_layer

    # -- status ---------------------------------------------------------------------------------

    def _show_status(self, embedding: str | None = None) -> None:
        if embedding is None:
            embedding = "cached" if self.embedding_ready else "none"
            if embedding == "cached" and isinstance(self.embedding, TiledImage):
                embedding = (f"tiled, {len(self.embedding.windows)} tiles of {self.embedding.tile} px at full "
                             "resolution, each computed when a click first needs it")
        backend = self.session.describe() if hasattr(self.session, "describe") else str(self.session)
        if self.session.backend == "classical":  # no encoder, no decoder: say what it did
            embedding = "not needed" if embedding == "cached" else embedding
            runs = f" · {self.session.decoder_runs} classical masks computed"
        else:
            runs = f" · encoder runs {self.session.encoder_runs}, decoder runs {self.session.decoder_runs}"
        self.status.setText(f"<b>backend:</b> {backend}<br><b>embedding:</b> {embedding}{runs}")

    def _dock_visibility(self, visible: bool) -> None:
        self._tab_hidden = not visible
        helpers = [layer for layer in (self.preview_layer, self.points_layer, self.box_layer)
                   if layer is not None and layer in self.viewer.layers]
        for layer in helpers:  # only the shown tool's preview and prompts are on the image
            layer.visible = visible
        if not visible and self.viewer.layers.selection.active in helpers and self.image.value is not None:
            self.viewer.layers.selection.active = self.image.value  # clicks no longer go to SAM
        cur = self.displayed() if visible else None
        if cur is not None:
            self._ensure_prompt_layers(cur[0])

    def set_tab_visible(self, visible: bool) -> None:
        """Whether the dock is the raised tab; a hidden one hides its mask preview and prompt layers.
        (Hidden, not removed: removing them as another tool was shown crashed napari's OpenGL
        drawing under Xvfb, in vispy's glDrawArrays.)"""
        self._dock_visibility(visible)

    def event(self, event: Any) -> bool:
        """Placed in a dock (and not hidden behind another tool): the prompt layers appear."""
        if event.type() == QEvent.Type.ParentChange and self.parentWidget() is not None and not self._tab_hidden:
            cur = self.displayed()
            if cur is not None:
                self._ensure_prompt_layers(cur[0])
        return super().event(event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Opened alone, follow the dock's tab; the prompt layers appear once the dock is shown."""
        super().showEvent(event)
        self.follow_own_dock()  # prompt layers only while its dock is the raised tab
        if not self._tab_hidden:
            self._dock_visibility(True)


    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.viewer.layers.events.inserted.disconnect(self._reset_choices)
        self.viewer.layers.events.removed.disconnect(self._reset_choices)
        self.viewer.dims.events.current_step.disconnect(self._slice_changed)
        self.clicks.shutdown()
        super().closeEvent(event)

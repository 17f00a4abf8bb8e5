"""Segment Anything dock: click points / drag boxes, the mask preview follows, Enter commits.

The image embedding of the displayed slice is computed in a worker thread when an image is chosen
(or the slice changes): the slice is read, converted and hashed there too, never on the UI thread.
Prompts given meanwhile are queued and answered when it is ready. Each prompt change then runs only
the decoder (or the classical fallback's GrabCut / watershed), also in a worker, newest request
first. The embedding a click is decoded against is the one of the click's own slice (kept with its
key), never whatever image the session embedded last: a background precompute or the project's
next-image embedding cannot change which image a click answers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Image, Labels, Points, Shapes
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QLabel, QWidget
from superqt import QCollapsible

from .. import settings
from ..labels import labels_metadata
from ..sam import ClassicalSession, SamSession, available_devices, registry
from .fit import fit_width
from .jobs import Job, describe_error, start_worker
from .layers import (
    PREVIEW,
    PREVIEW_CYAN,
    commit_labels,
    layer_choices,
    preview_colormap,
    reset_keeping_value,
    scrolling_content,
    update_preview_layer,
)
from .post_steps import PostStepsPanel
from .preview import PreviewRunner
from .sam_auto_panel import AutoMasksPanel
from .sam_embedding import EmbedsSlices
from .sam_keys import KeysPanel
from .sam_refine_panel import RefinePanel
from .suite import FollowsDock

__all__ = ["SamWidget"]

CLASSICAL = "classical (no checkpoint)"
POSITIVE, NEGATIVE = (0.1, 0.85, 0.2, 1.0), (0.95, 0.15, 0.15, 1.0)
KEYS = ("Click: object point · Shift/Alt-click: background point · draw a rectangle in 'SAM box' · "
        "in 'SAM points': {keys} (change them under Keys; the 'SAM box' layer keeps napari's own keys)")


def _on_slice(coords: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """Which rows of ``coords`` (n, ndim) lie on the 2-D slice ``index`` of the leading axes."""
    if not index:
        return np.ones(len(coords), bool)
    return np.all(np.round(coords[:, : len(index)]) == np.asarray(index), axis=1)


class SamWidget(EmbedsSlices, QWidget, FollowsDock):
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

    def _restore_settings(self) -> None:
        """Preselect the last session's model, checkpoint, device and models folder (nothing is
        loaded until *Load model*), and remember each change."""
        folder = settings.get("sam.models_dir")
        if folder and Path(folder).is_dir():
            self.models_dir.value = folder
            registry.set_models_dir(folder)
        for key, w, valid in (("sam.model", self.backend, lambda v: v in self.backend.choices),
                              ("sam.device", self.device, lambda v: v in self.device.choices),
                              ("sam.checkpoint", self.checkpoint, lambda v: Path(v).is_file())):
            kept = settings.get(key)
            if kept and valid(kept):
                w.value = kept
        for key, w in (("sam.model", self.backend), ("sam.device", self.device), ("sam.checkpoint", self.checkpoint),
                       ("sam.models_dir", self.models_dir)):
            w.changed.connect(lambda value, key=key: settings.remember(key, str(value)))

    def post_process(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` through the dock's post-processing steps (none: unchanged)."""
        steps = self.post.steps()
        if not steps:
            return labels
        from ..techniques.chain import Chain

        return np.asarray(Chain(steps).run(labels).data)

    def use_session(self, session: SamSession | ClassicalSession) -> None:
        """Make ``session`` the active backend (the current embedding is recomputed for it)."""
        self.session = session
        name = getattr(session, "model_name", None)
        if session.backend == "classical":
            self.backend.value = CLASSICAL
        elif name in registry.REGISTRY:
            self.backend.value = name
        self.ready_key = None
        self.embedding = None
        self._logits = None
        self._show_status()
        self._image_changed()

    def load_model(self) -> None:
        """Load the chosen backend (model + checkpoint + device)."""
        name = self.backend.value
        if name == CLASSICAL:
            self.use_session(ClassicalSession())
            return
        path = self.checkpoint.value
        ckpt = path if path and str(path) not in ("", ".") and path.is_file() else None
        try:
            session = SamSession(name, ckpt, device=self.device.value, notify=show_warning)
        except (registry.CheckpointError, RuntimeError, KeyError) as e:
            active = getattr(self.session, "model_name", "classical")
            still = "the classical fallback" if self.session.backend == "classical" else f"SAM {active}"
            show_error(f"{e}\n{still} stays active.")
            self.backend.value = CLASSICAL if self.session.backend == "classical" else active  # say what is in use
            return
        self.use_session(session)

    def download(self) -> None:
        name = self.backend.value
        if name == CLASSICAL:
            show_info("the classical fallback needs no download; choose a SAM model first")
            return
        self.download_button.enabled = False
        self.status.setText(f"downloading {name} ({registry.REGISTRY[name].size / 1e6:.0f} MB) into {registry.models_dir()} …")
        worker = start_worker(registry.download, name, progress=False, what=f"the download of {name}",
                              _progress={"desc": f"downloading SAM {name}"})
        worker.returned.connect(lambda path: (show_info(f"{name} downloaded to {path}"), self.load_model()))
        worker.finished.connect(lambda: (setattr(self.download_button, "enabled", True), self._show_status()))
        worker.start()

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
        images = self._image_choices()
        if self.image.value is None and images:
            self.image.value = images[0][1]
        elif self.image.value is not before:
            self._image_changed()

    def _ensure_prompt_layers(self, image: Image) -> None:
        scale, translate = image.scale[-2:], image.translate[-2:]
        ndim = image.ndim  # napari counts spatial axes only (not RGB)
        if self.preview_layer is None or self.preview_layer not in self.viewer.layers:
            self._preview_for(image)  # below the prompt layers: made before them when both are new
        if self.points_layer is None or self.points_layer not in self.viewer.layers:
            pts = self.viewer.add_points(
                np.empty((0, ndim)), name="SAM points", size=max(6, int(min(image.data.shape[-3 if image.rgb else -2:][:2]) / 40)),
                face_color=[POSITIVE], border_color="white", features={"positive": np.zeros(0, bool)},
                scale=(1,) * (ndim - 2) + tuple(scale), translate=(0,) * (ndim - 2) + tuple(translate), metadata={PREVIEW: True},
            )
            pts.feature_defaults = {"positive": True}
            pts.mouse_drag_callbacks.insert(0, self._on_press)
            pts.events.data.connect(self._on_points)
            self._bind_keys(pts)
            pts.mode = "add"
            self.points_layer = pts
        if self.box_layer is None or self.box_layer not in self.viewer.layers:
            box = self.viewer.add_shapes(
                name="SAM box", ndim=ndim, edge_color="yellow", face_color=[0, 0, 0, 0], edge_width=2,
                scale=(1,) * (ndim - 2) + tuple(scale), translate=(0,) * (ndim - 2) + tuple(translate), metadata={PREVIEW: True},
            )
            box.events.data.connect(self._on_box)
            self.box_layer = box
            self.viewer.layers.selection.active = self.points_layer

    def _preview_for(self, image: Image, mask: np.ndarray | None = None) -> Labels:
        """The mask preview layer over ``image`` (made empty with the prompt layers, so that the
        first click only fills it: making a layer takes napari a few hundred ms)."""
        fresh = self.preview_layer is None or self.preview_layer not in self.viewer.layers
        if mask is None:
            spatial = image.data.shape[-3:-1] if image.rgb else image.data.shape[-2:]
            mask = np.zeros(tuple(spatial), np.uint8)
        self.preview_layer = update_preview_layer(self.viewer, self.preview_layer, mask, name="SAM preview",
                                                  source=image, output="labels")
        if fresh:  # one bright colour, whatever napari's label palette gives to 1
            self.preview_layer.colormap = preview_colormap(PREVIEW_CYAN, only=True)
        return self.preview_layer

    def _bind_keys(self, layer: Any) -> None:
        handlers = {"next": self.next_candidate, "commit": self.commit, "clear": self.clear}
        self._bound_keys = self.keys_panel.bind(layer, handlers, previous=self._bound_keys)
        self.keys_help.setText(KEYS.format(keys=self.keys_panel.describe()))

    # -- prompts --------------------------------------------------------------------------------

    def _on_press(self, layer: Points, event: Any):
        negative = self.negative.value or any(m in event.modifiers for m in ("Shift", "Alt"))
        layer.feature_defaults = {"positive": not negative}
        layer.current_face_color = NEGATIVE if negative else POSITIVE  # drawn right at once
        yield
        while event.type == "mouse_move":
            yield

    def _on_points(self, event: Any) -> None:
        action = str(getattr(event, "action", "changed"))
        if action.lower().endswith("ing") or self._recolouring:
            return
        self._recolour()
        self._prompts_changed()

    def _recolour(self) -> None:
        pts = self.points_layer
        if pts is None or not len(pts.data):
            return
        positive = np.asarray(pts.features["positive"], bool) if "positive" in pts.features else np.ones(len(pts.data), bool)
        wanted = np.where(positive[:, None], POSITIVE, NEGATIVE)
        if np.allclose(pts.face_color, wanted):
            return
        self._recolouring = True
        try:
            pts.face_color = wanted
        finally:
            self._recolouring = False

    def _on_box(self, event: Any) -> None:
        if not str(getattr(event, "action", "changed")).lower().endswith("ing"):
            self._prompts_changed()

    def _prompts_on_slice(self, index: tuple[int, ...]):
        """Points as (x, y) + labels, and the last box (x0, y0, x1, y1), on the slice ``index``."""
        points = labels = box = None
        if self.points_layer is not None and len(self.points_layer.data):
            data = np.asarray(self.points_layer.data)
            on = _on_slice(data, index)
            if on.any():
                points = data[on][:, [-1, -2]]
                pos = self.points_layer.features["positive"] if "positive" in self.points_layer.features else np.ones(len(data), bool)
                labels = np.asarray(pos, bool)[on].astype(int)
        if self.box_layer is not None and len(self.box_layer.data):
            on = _on_slice(np.array([np.asarray(v)[0] for v in self.box_layer.data]), index)
            if on.any():
                v = np.asarray(self.box_layer.data[int(np.flatnonzero(on)[-1])])  # the last box drawn there
                (y0, x0), (y1, x1) = v[:, -2:].min(0), v[:, -2:].max(0)
                box = np.array([x0, y0, x1, y1])
        return points, labels, box

    def _has_prompts(self) -> bool:
        return bool((self.points_layer is not None and len(self.points_layer.data)) or (self.box_layer is not None and len(self.box_layer.data)))

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
            made = "GrabCut in the box" if self._prompts_on_slice(cur[1])[2] is not None else "watershed from the points"
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

    def clear(self) -> None:
        """Remove the prompts of the displayed slice and the preview (Esc)."""
        cur = self.displayed()
        index = cur[1] if cur is not None else ()
        for layer in (self.points_layer, self.box_layer):
            if layer is None or not len(layer.data):
                continue
            firsts = np.asarray(layer.data) if layer is self.points_layer else np.array([np.asarray(v)[0] for v in layer.data])
            on = _on_slice(firsts, index)
            if on.any():
                layer.selected_data = set(np.flatnonzero(on).tolist())
                layer.remove_selected()
        self._logits = None
        self._prompt_version += 1  # an answer still on its way is for prompts that are gone
        self.clicks.cancel_pending()
        self._show_mask(None)

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

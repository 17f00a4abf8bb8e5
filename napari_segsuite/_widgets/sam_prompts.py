"""The prompt side of the Segment Anything dock: the "SAM points" and "SAM box" layers, the mask
preview layer beneath them, what a click adds (object or background point), the prompts of one
slice, and clearing them.

A mixin of :class:`.sam_widget.SamWidget`, which provides the viewer, the key panel and the
decoding that :meth:`PromptLayers._prompts_changed` starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image, Labels, Points

from .layers import PREVIEW, PREVIEW_CYAN, preview_colormap, update_preview_layer

__all__ = ["KEYS", "NEGATIVE", "POSITIVE", "PromptLayers", "on_slice"]

POSITIVE, NEGATIVE = (0.1, 0.85, 0.2, 1.0), (0.95, 0.15, 0.15, 1.0)
KEYS = ("Click: object point · Shift/Alt-click: background point · draw a rectangle in 'SAM box' · "
        "in 'SAM points': {keys} (change them under Keys; the 'SAM box' layer keeps napari's own keys)")


def on_slice(coords: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """Which rows of ``coords`` (n, ndim) lie on the 2-D slice ``index`` of the leading axes."""
    if not index:
        return np.ones(len(coords), bool)
    return np.all(np.round(coords[:, : len(index)]) == np.asarray(index), axis=1)


class PromptLayers:
    """Prompt and preview layers of a SamWidget (see the module docstring)."""

    def _ensure_prompt_layers(self, image: Image) -> None:
        scale, translate = image.scale[-2:], image.translate[-2:]
        ndim = image.ndim  # napari counts spatial axes only (not RGB)
        for name in ("points_layer", "box_layer"):  # made for an image of other dimensions: made anew
            layer = getattr(self, name)
            if layer is not None and layer in self.viewer.layers and layer.ndim != ndim:
                self.viewer.layers.remove(layer)
                setattr(self, name, None)
        if self.preview_layer is None or self.preview_layer not in self.viewer.layers:
            self._preview_for(image)  # below the prompt layers: made before them when both are new
        if self.points_layer is None or self.points_layer not in self.viewer.layers:
            pts = self.viewer.add_points(
                np.empty((0, ndim)), name="SAM points", size=max(6, int(min(image.data.shape[-3 if image.rgb else -2:][:2]) / 40)),
                face_color=[POSITIVE], border_color="white", features={"positive": np.zeros(0, bool)},
                canvas_size_limits=(6, 24),  # zoomed into a large image, a marker never hides the object clicked
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
            on = on_slice(data, index)
            if on.any():
                points = data[on][:, [-1, -2]]
                pos = self.points_layer.features["positive"] if "positive" in self.points_layer.features else np.ones(len(data), bool)
                labels = np.asarray(pos, bool)[on].astype(int)
        if self.box_layer is not None and len(self.box_layer.data):
            on = on_slice(np.array([np.asarray(v)[0] for v in self.box_layer.data]), index)
            if on.any():
                v = np.asarray(self.box_layer.data[int(np.flatnonzero(on)[-1])])  # the last box drawn there
                (y0, x0), (y1, x1) = v[:, -2:].min(0), v[:, -2:].max(0)
                box = np.array([x0, y0, x1, y1])
        return points, labels, box

    def _has_prompts(self) -> bool:
        return bool((self.points_layer is not None and len(self.points_layer.data)) or (self.box_layer is not None and len(self.box_layer.data)))

    def clear(self) -> None:
        """Remove the prompts of the displayed slice and the preview (Esc)."""
        cur = self.displayed()
        index = cur[1] if cur is not None else ()
        for layer in (self.points_layer, self.box_layer):
            if layer is None or not len(layer.data):
                continue
            firsts = np.asarray(layer.data) if layer is self.points_layer else np.array([np.asarray(v)[0] for v in layer.data])
            on = on_slice(firsts, index)
            if on.any():
                layer.selected_data = set(np.flatnonzero(on).tolist())
                layer.remove_selected()
        self._logits = None
        self._prompt_version += 1  # an answer still on its way is for prompts that are gone
        self.clicks.cancel_pending()
        self._show_mask(None)

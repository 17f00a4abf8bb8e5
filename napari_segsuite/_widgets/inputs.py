"""Layer pickers for a technique's layer inputs: seeds from Points/Labels, initial shapes from
Shapes/Labels. They turn the chosen layer into what the engine takes (see ``techniques.Input``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Labels, Points, Shapes

from ..techniques import Technique, check_input, slice_input

__all__ = ["InputsForm", "layer_input_value"]

LAYER_TYPES = {"points": Points, "labels": Labels, "shapes": Shapes}
NONE = "automatic"  # no layer: the technique finds its own (markers, initial contour)


def layer_input_value(layer: Any, spatial: tuple[int, ...]) -> np.ndarray | None:
    """What the engine takes from a layer: point coordinates, label data, or rasterised shapes."""
    if layer is None:
        return None
    if isinstance(layer, Points):
        return np.asarray(layer.data)
    if isinstance(layer, Shapes):
        if not len(layer.data):
            return None
        return layer.to_labels(labels_shape=spatial)
    return layer.data


class InputsForm(widgets.Container):
    """One layer combo box per layer input of ``technique`` (hidden when it has none)."""

    def __init__(self, technique: Technique, viewer: Any, exclude: Any = None, spatial: Any = None) -> None:
        self.technique = technique
        self.viewer = viewer
        self._exclude = exclude or (lambda layer: False)
        self._spatial = spatial or (lambda: None)  # the input image's shape: label layers must match
        combos = []
        for spec in technique.inputs:
            combo = widgets.ComboBox(
                name=spec.name, label=spec.name, choices=self._choices_for(spec),
                tooltip=f"{spec.doc} ({' or '.join(spec.layers)} layer{'' if spec.required else '; optional'})",
            )
            combos.append(combo)
        self.new_points = widgets.PushButton(text="New points layer for seeds", visible=False)
        if any("points" in s.layers for s in technique.inputs):
            self.new_points.visible = True
            self.new_points.changed.connect(self._add_points_layer)
        self.new_shapes = widgets.PushButton(text="New shapes layer", visible=False,
                                             tooltip="A shapes layer for the initial shape: drag a rectangle or draw a polygon around the object")
        if any("shapes" in s.layers for s in technique.inputs):
            self.new_shapes.visible = True
            self.new_shapes.changed.connect(self._add_shapes_layer)
        super().__init__(widgets=[*combos, self.new_points, self.new_shapes], labels=True)

    def _choices_for(self, spec: Any):
        def choices(_w: Any = None) -> list[tuple[str, Any]]:
            types = tuple(LAYER_TYPES[t] for t in spec.layers)
            shape = self._spatial()
            found = [
                (layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, types) and not self._exclude(layer)
                and (shape is None or not isinstance(layer, Labels) or tuple(layer.data.shape) == tuple(shape))
            ]
            return found if spec.required else [(NONE, None), *found]

        return choices

    def _add_points_layer(self, *_: Any) -> Points:
        layer = self.viewer.add_points(name="seeds", ndim=max(2, self.viewer.dims.ndim), size=8, face_color="yellow")
        layer.mode = "add"
        return self._pick(layer, "points")

    def _pick(self, layer: Any, kind: str) -> Any:
        """Offer the new ``layer`` and pick it for the first input that takes a ``kind`` layer."""
        self.reset_choices()
        spec = next(s for s in self.technique.inputs if kind in s.layers)
        self[spec.name].value = layer
        return layer

    def _add_shapes_layer(self, *_: Any) -> Shapes:
        """An empty shapes layer, in rectangle mode with a transparent fill (the image stays visible
        inside the shape), picked as this technique's initial shape."""
        layer = self.viewer.add_shapes(name="initial shape", ndim=max(2, self.viewer.dims.ndim), edge_color="yellow",
                                       face_color=[0, 0, 0, 0], edge_width=2)
        layer.current_face_color = [0, 0, 0, 0]
        layer.mode = "add_rectangle"
        return self._pick(layer, "shapes")

    def layers(self) -> list[Any]:
        """The layers currently picked (to follow their edits)."""
        return [self[s.name].value for s in self.technique.inputs if self[s.name].value is not None]

    def full_values(self, spatial: tuple[int, ...]) -> dict[str, Any]:
        """Keyword arguments for ``Technique.run`` on the whole image."""
        return {s.name: layer_input_value(self[s.name].value, spatial) for s in self.technique.inputs}

    def slice_values(self, spatial: tuple[int, ...], index: tuple[int, ...]) -> dict[str, Any]:
        """Inputs cut to one displayed slice, for ``run_prepared`` (raises ValueError on bad shapes)."""
        out = {}
        for name, value in self.full_values(spatial).items():
            if isinstance(value, np.ndarray) and value.shape == spatial and index:
                value = value[index]  # a label image: only the displayed plane is needed
                out[name] = slice_input(check_input(value, spatial[-2:], name), (), spatial[-2:])
            else:
                out[name] = slice_input(check_input(value, spatial, name), index, spatial[-2:])
        return out

"""Layer plumbing: which slice is displayed, preview layers, and committing labels with undo."""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image, Labels

from ..io.labels import LabelKind, commit_plan, labels_metadata

__all__ = ["FAMILY_COLOURS", "PREVIEW", "PREVIEW_CYAN", "scrolling_content", "commit_labels", "displayed_index", "displayed_slice",
           "preview_colormap", "read_slice", "slice_view", "is_preview", "label_kind_of", "layer_choices", "reset_keeping_value",
           "segsuite_metadata", "spatial_shape", "update_preview_layer"]


def reset_keeping_value(combo: Any) -> None:
    """Refresh a layer combo box's choices, keeping its layer selected if it is still offered.

    (magicgui matches the old value by its label, which a renamed layer no longer has.)
    """
    value = combo.value
    combo.reset_choices()
    offered = [c[1] if isinstance(c, tuple) else c for c in combo.choices]
    if value is not None and any(value is c for c in offered):
        combo.value = value


def spatial_shape(layer: Image) -> tuple[int, ...]:
    """Shape of an image layer without its RGB(A) channel axis."""
    shape = tuple(layer.data.shape)
    return shape[:-1] if getattr(layer, "rgb", False) else shape


def displayed_slice(viewer: Any, layer: Image) -> tuple[tuple[int, ...], Any]:
    """The index of the 2D slice of ``layer`` shown now, and that slice (with channels if RGB).

    The engine treats the layer's last two axes as Y, X; when the viewer displays other axes
    (after a transpose or in 3D), a ``ValueError`` says how to get back.
    """
    index = displayed_index(viewer, layer)
    return index, (layer.data if not index else np.asarray(layer.data[index]))


def read_slice(layer: Image, index: tuple[int, ...]) -> np.ndarray:
    """The pixels of slice ``index`` of ``layer`` (the whole 2D layer for ``()``). Reading a dask or
    large slice takes time: call it in a worker."""
    return np.asarray(layer.data[index] if index else layer.data)


def slice_view(layer: Image, index: tuple[int, ...]) -> Any:
    """Slice ``index`` of ``layer`` without reading it: a view of a numpy array, still lazy for a
    dask or zarr one (SAM reads a large one tile by tile)."""
    return layer.data[index] if index else layer.data


def displayed_index(viewer: Any, layer: Image) -> tuple[int, ...]:
    """The index of the 2D slice of ``layer`` shown now, without reading any pixel (see
    :func:`displayed_slice`)."""
    ndim = layer.ndim
    if ndim == 2:
        return ()
    if viewer.dims.ndisplay != 2:
        raise ValueError("previews work on a 2D view: switch the viewer to 2D (the 2D/3D button)")
    displayed = [d - (viewer.dims.ndim - ndim) for d in viewer.dims.displayed]
    if sorted(displayed) != [ndim - 2, ndim - 1]:
        raise ValueError("previews run on the layer's last two axes: reset the axis order (the transpose button) first")
    data_point = layer.world_to_data(viewer.dims.point[-ndim:])
    return tuple(int(np.clip(round(float(c)), 0, n - 1)) for c, n in zip(data_point[:-2], layer.data.shape[: ndim - 2]))


def segsuite_metadata(layer: Labels) -> dict[str, Any]:
    """The ``layer.metadata["segsuite"]`` entry (kind, classes), or an empty dict."""
    entry = layer.metadata.get("segsuite") if isinstance(layer.metadata, dict) else None
    return entry if isinstance(entry, dict) else {}


def label_kind_of(layer: Labels) -> LabelKind | None:
    """The label kind recorded in a labels layer's metadata, if any."""
    return segsuite_metadata(layer).get("kind")


PREVIEW = "segsuite_preview"  # metadata flag of preview layers: never offered as inputs or targets


def is_preview(layer: Any) -> bool:
    """Whether ``layer`` is a SegSuite preview layer (of any widget)."""
    return isinstance(getattr(layer, "metadata", None), dict) and bool(layer.metadata.get(PREVIEW))


def layer_choices(viewer: Any, kind: type, *skip: Any) -> list[tuple[str, Any]]:
    """``(name, layer)`` of the viewer's layers of ``kind`` a person made or opened: preview
    layers and the widget's own helper layers in ``skip`` are left out."""
    return [(layer.name, layer) for layer in viewer.layers
            if isinstance(layer, kind) and not is_preview(layer) and not any(layer is other for other in skip)]


def update_preview_layer(
    viewer: Any, layer: Labels | Image | None, data: np.ndarray, *, name: str, source: Image, output: str, factor: int = 1
) -> Labels | Image:
    """Put ``data`` into the preview layer (created on first use, then updated in place).

    When the output switches between labels and image, the old preview layer is replaced.
    ``factor`` > 1: ``data`` was computed on a copy shrunk that many times per side, and is shown
    stretched over the source.
    """
    wanted = Labels if output == "labels" else Image
    if layer is not None and layer in viewer.layers and not isinstance(layer, wanted):
        viewer.layers.remove(layer)
    if layer is not None and layer in viewer.layers and isinstance(layer, wanted):
        if layer.data.shape == data.shape and layer.data.dtype == data.dtype:
            layer.data[...] = data
            layer.refresh()
        else:
            layer.data = data
        if output != "labels":
            layer.contrast_limits = _limits(data)
        scale, translate = np.asarray(source.scale[-2:]) * factor, np.asarray(source.translate[-2:])
        if not (np.array_equal(layer.scale, scale) and np.array_equal(layer.translate, translate)):
            layer.scale, layer.translate = tuple(scale), tuple(translate)  # each set re-lays out the viewer: only on change
        _keep_above(viewer, layer, source)
        return layer
    scale = tuple(np.asarray(source.scale[-2:]) * factor)
    translate = tuple(source.translate[-2:])
    active = viewer.layers.selection.active
    if output == "labels":
        layer = viewer.add_labels(data, name=name, scale=scale, translate=translate, opacity=0.6, metadata={PREVIEW: True})
    else:
        layer = viewer.add_image(
            data, name=name, scale=scale, translate=translate, blending="additive", colormap="yellow",
            contrast_limits=_limits(data), metadata={PREVIEW: True},
        )
    if active is not None:  # a preview appearing must not change the layer the user works on
        viewer.layers.selection.active = active
    return layer


def _keep_above(viewer: Any, layer: Any, source: Any) -> None:
    """Move the preview just above its source if it sits below it (an opaque image hides it)."""
    if source in viewer.layers:
        i, j = viewer.layers.index(layer), viewer.layers.index(source)
        if i < j:
            viewer.layers.move(i, j)


def _limits(data: np.ndarray) -> tuple[float, float]:
    """Contrast limits spanning the finite values (a 0/1 edge map shows at full brightness)."""
    finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def commit_labels(
    viewer: Any,
    target: Labels | None,
    result: np.ndarray,
    *,
    source: Image,
    index: tuple[int, ...] = (),
    kind: LabelKind | None,
    overwrite: bool = False,
    name: str = "labels",
) -> tuple[Labels, list[str]]:
    """Write ``result`` (the slice at ``index``, or the whole stack) into ``target`` with undo.

    ``target=None`` creates a new labels layer of the image's shape. Into an existing layer the
    write goes through ``Labels.data_setitem`` (one undo step, Ctrl+Z reverts it) and follows
    :func:`napari_segsuite.io.labels.commit_plan`: labelled pixels are kept unless ``overwrite``.
    Returns the layer and user-facing notes.
    """
    shape = spatial_shape(source)
    if target is None:
        full = np.zeros(shape, dtype=result.dtype if result.dtype.itemsize >= 4 else np.int32)
        full[index] = result
        layer = viewer.add_labels(
            full, name=name, scale=source.scale[-len(shape):], translate=source.translate[-len(shape):],
            metadata=labels_metadata(kind) if kind else {},
        )
        return layer, []
    if tuple(target.data.shape) != shape:
        raise ValueError(
            f"the labels layer {target.name!r} has shape {tuple(target.data.shape)} but the image "
            f"{source.name!r} has shape {shape}: choose a matching labels layer or 'new layer'"
        )
    target_kind = label_kind_of(target)
    if target_kind is not None and kind is not None and target_kind != kind:
        raise ValueError(
            f"the labels layer {target.name!r} holds {target_kind} labels but this result is {kind}: "
            "write into a new layer, or change the technique's output"
        )
    plan = commit_plan(np.asarray(target.data[index]), result, kind=kind, overwrite=overwrite)
    if plan.values.size:
        prefix = tuple(np.full(plan.values.size, i, dtype=np.intp) for i in index)
        target.data_setitem(prefix + plan.indices, plan.values)
    if target_kind is None and kind is not None:
        target.metadata = {**target.metadata, **labels_metadata(kind)}
    return target, plan.notes


def scrolling_content(widget: Any) -> Any:
    """Give ``widget`` a frameless scroll area and return the layout of its content: everything
    scrolls inside the dock, so an expanded section never forces the window taller."""
    from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

    content = QWidget()
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(content)
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    layout = QVBoxLayout(content)
    layout.setContentsMargins(2, 4, 2, 4)  # the dock has its own margin: the form gets the width
    return layout


PREVIEW_CYAN = (0.0, 0.898, 1.0)  # #00e5ff: the SAM mask preview
# label 1's colour in each family's preview, so that previews of different tools are told apart
FAMILY_COLOURS = {
    "Thresholding": (1.0, 0.78, 0.1), "Edges": (1.0, 0.3, 0.85), "Clustering": (0.2, 0.85, 1.0),
    "Graph-based": (0.55, 1.0, 0.3), "Region-based": (1.0, 0.5, 0.2), "Active contours": (0.7, 0.5, 1.0),
    "Post-processing": (0.3, 1.0, 0.75),
}


def preview_colormap(colour: tuple[float, float, float], *, only: bool = False) -> Any:
    """A labels colour map for a preview layer: label 1 in ``colour`` and the other labels in
    napari's label colours, or every label in ``colour`` with ``only``. A cyclic map: napari's
    direct maps compile a numba kernel on first use, seconds on the UI thread."""
    from napari.utils.colormaps import CyclicLabelColormap, label_colormap

    if only:
        return CyclicLabelColormap(colors=[[0.0, 0.0, 0.0, 0.0], [*colour, 1.0]])
    colors = np.array(label_colormap(49).colors, dtype=np.float32)
    colors[1] = (*colour, 1.0)
    return CyclicLabelColormap(colors=colors)


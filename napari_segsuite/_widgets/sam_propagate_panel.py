"""The *Propagate through the stack* section of the Segment Anything dock (z-stacks, time-lapses).

Segment an object on one slice (click it, or pick a label already in the labels layer), then
*Propagate*: the dock's backend carries it slice by slice along the chosen axis
(:func:`napari_segsuite.sam.propagate.iter_propagate`) in a worker, with a progress bar and
*Cancel*, and the result is written into the labels layer as one undo step (Ctrl+Z on that layer
takes it back). The object keeps its id in every slice; other objects' pixels are kept unless
*overwrite existing labels* is ticked. Propagating an object again (after correcting a slice)
replaces it on the side(s) propagated, from the slice after the start on. *Every object on this
slice* carries them all together: with a time axis, ids stay the same through time (tracking).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from ..sam.propagate import DIRECTIONS, iter_propagate, write_plan
from .jobs import Job, start_worker
from .layers import label_kind_of, slice_view

__all__ = ["PropagatePanel", "SliceStack"]

# the clicked mask (else the selected label), or every object of the slice; short enough to be read
# whole in a 1280 px wide window (the tooltip says the rest)
WHICH = ("this object", "all objects")


class SliceStack:
    """The slices of ``image`` along ``axis`` through the displayed slice ``index`` (the other
    leading axes fixed), read one at a time: a lazy image is never loaded whole."""

    def __init__(self, image: Image, index: tuple[int, ...], axis: int) -> None:
        self.image, self.index, self.axis = image, tuple(index), axis

    def __len__(self) -> int:
        return int(self.image.data.shape[self.axis])

    def at(self, k: int) -> tuple[int, ...]:
        """The full slice index of slice ``k`` along the axis."""
        return self.index[: self.axis] + (int(k),) + self.index[self.axis + 1:]

    def __getitem__(self, k: int) -> Any:
        return slice_view(self.image, self.at(k))  # the session reads it (a large lazy one by tiles)


def _axis_name(names: tuple[str, ...], axis: int) -> str:
    """The viewer's name of a layer axis ("z", "t"), or its index when napari only numbers them."""
    name = names[axis] if axis < len(names) else ""
    return name if name and not name.lstrip("-").isdigit() else str(axis)


class PropagatePanel(QWidget):
    """Carry the shown object (or every object of the slice) through z or t."""

    def __init__(self, owner: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.owner = owner
        self.axis = widgets.ComboBox(label="along", choices=self._axis_choices,
                                     tooltip="The stack axis to follow the object along (z or t), named as the "
                                             "viewer names it (else by its index), and its length")
        self.direction = widgets.ComboBox(label="direction", choices=list(DIRECTIONS), value="both",
                                          tooltip="forward: increasing index (later in time); backward: decreasing")
        self.which = widgets.ComboBox(label="objects", choices=list(WHICH), value=WHICH[0],
                                      tooltip="this object: the mask shown (else the labels layer's selected "
                                              "label); all objects: every object on the displayed slice (with a "
                                              "time axis: tracking)")
        self.min_overlap = widgets.FloatSpinBox(label="stop below IoU", value=0.5, min=0.0, max=1.0, step=0.05,
                                                tooltip="An object stops where its mask overlaps the previous slice's "
                                                        "by less than this (intersection over union)")
        self.min_score = widgets.FloatSpinBox(label="min predicted IoU", value=0.0, min=0.0, max=1.0, step=0.05,
                                              tooltip="SAM models: an object stops where SAM rates its mask below this")
        self.regrowth = widgets.CheckBox(value=True, text="stop where it widens again",
                                         tooltip="In z, objects narrow away from their widest slice; a mask that "
                                                 "widens again has reached the next object. Untick for a time-lapse.")
        self.run_button = widgets.PushButton(text="Propagate")
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widgets.Container(widgets=[self.axis, self.direction, self.which, self.min_overlap,
                                                    self.min_score, self.regrowth]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False,
                                           widgets=[self.run_button, self.cancel_button]).native)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.job = Job(self.run_button, self.cancel_button)
        self.run_button.changed.connect(lambda *_: self.propagate())

    def _axis_choices(self, _w: Any = None) -> list[tuple[str, int]]:
        image = self.owner.image.value if hasattr(self.owner, "image") else None
        if image is None or image not in self.owner.viewer.layers:
            return []
        names = tuple(self.owner.viewer.dims.axis_labels)[-image.ndim:]  # the layer's axes are the viewer's last
        return [(f"{_axis_name(names, a)}, {image.data.shape[a]} slices", a) for a in range(image.ndim - 2)]

    def reset_choices(self) -> None:
        self.axis.reset_choices()

    @property
    def worker(self) -> Any:
        """The running propagation, if any."""
        return self.job.worker

    def propagate(self) -> None:
        """Propagate from the displayed slice, in a worker; the result is written when it ends."""
        owner = self.owner
        cur = owner.displayed()
        if cur is None:
            show_info("choose an image to propagate on")
            return
        image, index = cur
        self.reset_choices()
        if not index or self.axis.value is None:
            show_info(f"{image.name!r} is a single 2D image: propagation needs a z or time axis")
            return
        stack = SliceStack(image, index, int(self.axis.value))
        if len(stack) < 2:
            show_info(f"the axis has one slice in {image.name!r}: nothing to propagate to")
            return
        start = index[stack.axis]
        picked = self._start_labels(image, index)
        if picked is None:
            return
        target, labels, objects = picked
        replace = label_kind_of(target) != "semantic"
        directions = DIRECTIONS[self.direction.value]
        session = owner.session
        gen_args = dict(direction=self.direction.value, objects=objects, channel_axis=-1 if image.rgb else None,
                        min_overlap=self.min_overlap.value, min_score=self.min_score.value, regrowth=self.regrowth.value)

        def run():
            result = yield from iter_propagate(session, stack, start, labels, **gen_args)
            current = {k: np.asarray(target.data[stack.at(k)]) for k in range(len(stack))
                       if any((k - start) * d > 0 for d in directions)}
            return result, write_plan(current, result, directions, overwrite=owner.overwrite.value, replace=replace), current

        worker = start_worker(run, what="propagation", _progress={"desc": f"propagating with {session.describe()}"})
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda out: self._write(out, target, stack))
        worker.finished.connect(lambda: self.progress.setVisible(False))
        self.progress.setRange(0, max(1, len(stack) - 1))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setText(f"propagating {len(objects)} object(s) from slice {start} …")
        self.job.start(worker, cancelled="propagation cancelled; nothing was written")

    def _start_labels(self, image: Image, index: tuple[int, ...]) -> tuple[Labels, np.ndarray, list[int]] | None:
        """The labels layer, its labels on the displayed slice, and the ids to propagate; the shown
        mask is committed first (it becomes the object). None (said to the user) when there is none."""
        owner = self.owner
        if owner.prediction is not None and self.which.value == WHICH[0]:
            mask = owner.prediction.mask(owner.candidate)
            owner.commit()  # one undo step of its own
            target = owner.target.value
            if target is None or not mask.any():
                return None  # commit said why
            labels = np.asarray(target.data[index])
            committed = labels[mask]
            committed = committed[committed > 0]
            if not committed.size:  # every pixel was someone else's and overwrite is off
                show_info("the mask lies on other objects only; nothing to propagate")
                return None
            return target, labels, [int(np.bincount(committed).argmax())]  # the id it was written as
        target = owner.target.value
        if target is None:
            show_info("click an object first, or choose a labels layer under 'write into' that holds one")
            return None
        if tuple(target.data.shape) != tuple(image.data.shape[: target.ndim]):
            show_error(f"the labels layer {target.name!r} has shape {tuple(target.data.shape)}, not the image's")
            return None
        labels = np.asarray(target.data[index])
        if self.which.value == WHICH[1]:
            ids = [int(i) for i in np.unique(labels[labels > 0])]
            if not ids:
                show_info(f"slice {index} of {target.name!r} holds no object: segment one there first")
                return None
            return target, labels, ids
        chosen = int(target.selected_label)
        if not (labels == chosen).any():
            show_info(f"label {chosen} (the selected label of {target.name!r}) is not on this slice: click the "
                      "object, or select its label with the labels layer's picker")
            return None
        return target, labels, [chosen]

    def _on_progress(self, event: tuple[int, int]) -> None:
        done, total = event
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _write(self, out: tuple, target: Labels, stack: SliceStack) -> None:
        result, plan, snapshot = out
        if target not in self.owner.viewer.layers:
            show_error(f"the labels layer {target.name!r} was closed while propagating; nothing was written")
            return
        parts_index, parts_value = [], []
        for k, (pixels, values) in plan.items():
            at = stack.at(k)
            still = np.asarray(target.data[at])[pixels] == snapshot[k][pixels]  # painted meanwhile: kept
            prefix = tuple(np.full(int(still.sum()), i, dtype=np.intp) for i in at)
            parts_index.append(prefix + tuple(p[still] for p in pixels))
            parts_value.append(values[still])
        if parts_index:
            indices = tuple(np.concatenate(axis) for axis in zip(*parts_index))
            target.data_setitem(indices, np.concatenate(parts_value))
        lines = []
        for i, (first, last) in sorted(result.extent.items()):
            ends = "; ".join(f"{'below' if d < 0 else 'above'}: {why}" for d, why in sorted(result.stopped[i].items()))
            lines.append(f"object {i}: slices {first}–{last} ({ends})")
        self.status.setText("<br>".join(lines[:8]) + (f"<br>… and {len(lines) - 8} more" if len(lines) > 8 else ""))
        show_info(f"propagated {len(result.extent)} object(s) through {len(result.labels)} slices "
                  f"of {target.name!r} (Ctrl+Z on the layer undoes it)")

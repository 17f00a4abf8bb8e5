"""The *Refine a labels layer* section of the Segment Anything dock (classical -> SAM).

Each object of the chosen labels layer (a threshold, clustering or watershed result) is sent to the
active backend as a box and/or point prompt on the displayed slice, in a worker with progress and
Cancel; the answers go into a new labels layer, so the source labels are never changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Labels
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..io.labels import labels_metadata
from ..sam.hybrid import MODES, refine_labels
from .jobs import Job, start_worker
from .layers import layer_choices, read_slice, reset_keeping_value

__all__ = ["RefinePanel"]


class RefinePanel(QWidget):
    """Redraw the objects of a labels layer with the dock's backend."""

    def __init__(self, owner: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.owner = owner
        self.result_layer: Labels | None = None
        self.source = widgets.ComboBox(label="labels", choices=self._choices, nullable=True,
                                       tooltip="Objects to redraw (e.g. a threshold or watershed result)")
        self.mode = widgets.ComboBox(label="prompt with", choices=list(MODES), value="box")
        self.min_area = widgets.SpinBox(label="min area (px)", value=10, min=0, max=10_000_000)
        self.run_button = widgets.PushButton(text="Refine")
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widgets.Container(widgets=[self.source, self.mode, self.min_area]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=[self.run_button, self.cancel_button]).native)
        layout.addWidget(self.status)
        self.job = Job(self.run_button, self.cancel_button)
        self.run_button.changed.connect(lambda *_: self.refine())

    def _choices(self, _w: Any = None) -> list[tuple[str, Labels]]:
        return layer_choices(self.owner.viewer, Labels, getattr(self.owner, "preview_layer", None))

    def reset_choices(self) -> None:
        reset_keeping_value(self.source)

    def refine(self) -> None:
        cur = self.owner.displayed()
        source = self.source.value
        if cur is None or source is None:
            show_info("choose an image and a labels layer to refine")
            return
        image, index = cur
        if tuple(source.data.shape) != tuple(image.data.shape[: source.ndim]):
            show_error(f"the labels layer {source.name!r} has shape {tuple(source.data.shape)}, not the image's")
            return
        labels = np.asarray(source.data[index])
        session = self.owner.session

        mode, min_area = self.mode.value, self.min_area.value
        holder: dict = {}

        def run():
            try:  # Cancel is checked between objects; a cancelled run writes nothing
                result = refine_labels(session, read_slice(image, index), labels, mode=mode, min_area=min_area,
                                       cancel=lambda: holder["worker"].abort_requested)
            except InterruptedError:
                yield None
                return None
            yield None
            return result

        worker = start_worker(run, what="refinement", _progress={"desc": f"refining {source.name} with {session.describe()}"})
        holder["worker"] = worker
        worker.returned.connect(lambda out: self._done(out, image, index, source))
        worker.aborted.connect(lambda: self.status.setText("cancelled: nothing was written"))
        self.status.setText(f"refining the objects of {source.name!r} …")
        self.job.start(worker, cancelled="refinement cancelled; nothing was written")

    @property
    def worker(self) -> Any:
        """The running worker, if any."""
        return self.job.worker

    def _done(self, out: tuple | None, image: Any, index: tuple, source: Labels) -> None:
        if out is None:
            return
        refined, notes = out
        refined = self.owner.post_process(refined)
        full = np.zeros(tuple(source.data.shape), np.int32)
        full[index] = refined
        name = f"{source.name} refined"
        self.result_layer = self.owner.viewer.add_labels(full, name=name, scale=source.scale, translate=source.translate,
                                                         metadata=labels_metadata("instance"))
        for note in notes:
            show_info(note)
        self.status.setText(f"{int(refined.max())} objects redrawn into {name!r}; {source.name!r} is unchanged")

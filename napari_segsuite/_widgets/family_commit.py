"""The commit side of a family dock: Apply (the displayed slice), Apply to all slices, Cancel.

Results go into the target labels layer through napari's undo history (labelled pixels kept unless
the user chose to overwrite them), or into a new image layer for image outputs. A mixin of
:class:`.family_widget.FamilyWidget`, which provides the layers, forms, jobs and preview it reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image, Labels
from napari.utils.notifications import show_info

from ..techniques import Result, Technique
from .jobs import start_worker
from .layers import commit_labels, spatial_shape

__all__ = ["KEEP", "NEW_LAYER", "NO_IMAGE", "NO_LABELS", "OVERWRITE", "CommitsResults"]

NEW_LAYER = "new layer"
KEEP, OVERWRITE = "keep existing labels", "overwrite"
NO_IMAGE = "No image layer to segment: open an image or a sample (File > Open Sample > SegSuite). Labels layers are not inputs."
NO_LABELS = "No labels layer to post-process: segment an image first (any SegSuite widget), or open a label image."


class CommitsResults:
    """Apply, Apply to all slices and Cancel of a FamilyWidget (see the module docstring)."""

    def _target_layer(self) -> Labels | None:
        value = self.target.value
        return None if value == NEW_LAYER else value

    def apply(self, *_: Any) -> Labels | Image | None:
        """Write the displayed slice's result into the target layer (undoable).

        The preview's result is written at once when it is what Apply would compute (same slice,
        parameters and seeds, at full resolution); else the technique runs in a worker (Cancel
        stops it) and the layer changes when it is done: the returned value is then None.
        """
        layer = self.input.value
        try:
            index, data, info = self._prepare()
            tech, chain = self.current, self.chain()
            inputs = self._slice_inputs(index)
            request = self._request_key(chain, inputs)  # full resolution: a shrunk preview is not reused
        except (ValueError, TypeError) as e:
            self._report_error(e)
            return None
        if self.last_result is not None and self._last_request == request and not self.runner.busy:
            return self._write(self.last_result, layer, index, tech)  # what the preview shows is what gets written
        worker: Any = None

        def run() -> Result:
            return chain.run_prepared(data, info, inputs, cancel=lambda: worker.abort_requested)

        worker = start_worker(run, what=f"{tech.name} on the displayed slice", on_error=self._report_error)
        worker.returned.connect(lambda result: self._write(result, layer, index, tech))
        self.status.setText(f"computing {tech.title} at full resolution …")
        self.apply_job.start(worker, cancelled=f"{tech.name}: cancelled, no layer was changed")
        return None

    def _write(self, result: Result, layer: Any, index: tuple[int, ...], tech: Technique) -> Labels | Image | None:
        """Put a slice's result into the target layer (labels) or a new image layer (maps)."""
        if result.output != "labels":
            return self._add_image(result.data, source=layer, index=index, name=f"{layer.name} {tech.name}")
        return self._commit(result, layer, index, tech, self._target_layer(), notes=())

    def _commit(self, result: Result, layer: Any, index: tuple[int, ...], tech: Technique, target: Labels | None, *,
                notes: Any) -> Labels | None:
        """Labels into ``target`` (a new layer when None) through napari's undo, then select it;
        the notes of the commit and ``notes`` are shown once each."""
        try:
            out, said = commit_labels(
                self.viewer, target, result.data, source=layer, index=index, kind=result.kind,
                overwrite=self.mode.value == OVERWRITE, name=f"{layer.name} {tech.name}",
            )
        except (ValueError, TypeError) as e:
            self._report_error(e)
            return None
        for note in [*said, *notes]:
            show_info(note)
        self.target.reset_choices()
        self.target.value = out
        return out

    def _add_image(self, data: np.ndarray, *, source: Image, index: tuple[int, ...], name: str) -> Image:
        """Image outputs (edge maps, memberships) go to a new image layer of the source's shape."""
        shape = spatial_shape(source)
        full = np.zeros(shape, dtype=data.dtype) if index else data
        if index:
            full[index] = data
        return self.viewer.add_image(full, name=name, scale=source.scale[-len(shape):], translate=source.translate[-len(shape):])

    def apply_all_slices(self, *_: Any) -> Any:
        """Run on the whole stack in a worker with napari progress; Cancel stops it."""
        layer = self.input.value
        if layer is None:
            self._report_error(ValueError(NO_LABELS if self.takes_labels else NO_IMAGE))
            return None
        tech, target = self.current, self._target_layer()
        try:
            chain = self.chain()
            inputs = self.input_forms[self.technique.value].full_values(spatial_shape(layer))
        except (ValueError, TypeError) as e:
            self._report_error(e)
            return None
        channel_axis = -1 if self._has_channels(layer) else None
        n = int(np.prod(layer.data.shape[: layer.ndim - 2]))
        worker = start_worker(
            chain.iter_run, layer.data, channel_axis=channel_axis, **inputs, what=f"{tech.name} on every slice",
            on_error=self._report_error, _progress={"total": n, "desc": f"{tech.name} on {n} slices"},
        )

        def finished(result: Result) -> None:
            if result.output != "labels":
                self._add_image(result.data, source=layer, index=(), name=f"{layer.name} {tech.name}")
            else:
                self._commit(result, layer, (), tech, target, notes=result.notes)

        worker.returned.connect(finished)
        self.job.start(worker, cancelled=f"{tech.name}: cancelled, no layer was changed")
        worker.finished.connect(self._update_apply_all)  # after the job's own reset
        return worker

    def cancel(self, *_: Any) -> None:
        self.job.cancel()
        self.apply_job.cancel()

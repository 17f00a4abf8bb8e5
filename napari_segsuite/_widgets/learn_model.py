"""The model side of the *Train a network* dock: the current model (trained here or loaded), saving
it, loading one (in a worker), and applying it to the chosen image in a worker.

A mixin of :class:`.learn_widget.LearnWidget`, which provides the viewer, the controls and the
status line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from napari.utils.notifications import show_error, show_info

from ..io.labels import ClassInfo, labels_metadata
from .jobs import describe_error, start_worker
from .layers import commit_labels, displayed_index, read_slice

__all__ = ["UsesModel"]


class UsesModel:
    """Model handling for a LearnWidget (see the module docstring)."""

    def use_model(self, model: Any) -> None:
        """Make ``model`` current and register it as the technique ``learn.<name>``."""
        from ..learn.technique import register_model

        self.model = model
        self.name.value = model.name
        self.history = list(model.history)
        self._draw()
        tech = register_model(model)
        for button in (self.save_button, self.predict_button, self.predict_all_button):
            button.enabled = True
        self.min_size.enabled = model.config.task == "instance"
        if model.config.task == "instance":
            self.min_size.value = model.min_object_size
        show_info(f"model {model.name!r} ready (also as technique {tech.name})")

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Save the current model to ``path`` (NAME.json + NAME.pt); with *keep*, also into the
        learned-models folder so that ``learn.NAME`` is found in later sessions."""
        from ..learn.store import save_model
        from ..learn.technique import keep_model

        if self.model is None:
            raise ValueError("no model yet: train or load one first")
        self.model.name = self.name.value or self.model.name
        out = save_model(self.model, path, overwrite=overwrite)
        if self.keep.value:
            keep_model(self.model)
        return out

    def load(self, path: str | Path) -> None:
        """Load a saved model and make it current (here, blocking: the Load button reads it in a
        worker)."""
        from ..learn.store import load_model

        self.use_model(load_model(path))

    def _save_dialog(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, "Save model", f"{self.name.value}.json", "Model (*.json)")
        if path:
            try:
                show_info(f"saved {self.save(path, overwrite=True)}")
            except (OSError, ValueError) as e:
                show_error(str(e))

    def _load_dialog(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Load model", "", "Model (*.json)")
        if path:
            self.load_in_background(path)

    def load_in_background(self, path: str | Path) -> Any:
        """Read a saved model (hash check, weights) in a worker, then make it current; a file that
        cannot be read is reported once. Returns the worker."""
        from ..learn.store import load_model

        def loaded(model: Any) -> None:
            self.use_model(model)
            self.status.setText(f"loaded {Path(path).name}")

        what = f"loading {path}"
        worker = start_worker(load_model, path, what=what, on_error=self._failure_reporter(what))
        worker.returned.connect(loaded)
        self.status.setText(f"loading {Path(path).name} …")
        worker.start()
        return worker

    def predict(self, *, all_slices: bool) -> Any:
        """Apply the model to the chosen image (displayed slice, or all) in a worker; the result
        goes into a new labels layer (``prediction_layer``) when it is done. Returns the worker."""
        from ..learn.technique import register_model

        image = self.image.value
        if self.model is None or image is None:
            show_info("train or load a model, and choose an image")
            return None
        config = self.model.config
        kind = "instance" if config.task == "instance" else "semantic"
        params = {"flips": self.flips.value} | ({"min_size": self.min_size.value} if kind == "instance" else {})
        try:
            tech = register_model(self.model)
            index = () if all_slices or image.ndim == 2 else displayed_index(self.viewer, image)
        except (ValueError, TypeError) as e:
            show_error(str(e))
            self.status.setText(str(e))
            return None
        rgb = bool(image.rgb)

        def run():  # the slice is read and the network applied here, never on the UI thread
            return tech.run(read_slice(image, index), channel_axis=-1 if rgb else None, **params).data

        classes = [ClassInfo(int(i), n, None) for i, n in ((int(k), v) for k, v in config.class_names.items())]
        name = f"{self.model.name} prediction"

        def done(result: np.ndarray) -> None:
            if image not in self.viewer.layers:
                return  # the image went away meanwhile
            layer, _ = commit_labels(self.viewer, None, result, source=image, index=index, kind=kind, name=name)
            if classes and kind == "semantic":
                layer.metadata.update(labels_metadata(kind, classes))
            self.prediction_layer = layer
            self.status.setText(f"{name}: {int(result.max())} {'objects' if kind == 'instance' else 'classes at most'}")

        worker = start_worker(run, what="the prediction", on_error=self._failure_reporter("the prediction"),
                              _progress={"desc": f"predicting with {self.model.name}"})
        worker.returned.connect(done)
        worker.finished.connect(lambda: setattr(self, "predict_worker", None))
        self.predict_worker = worker
        self.status.setText(f"predicting with {self.model.name} …")
        worker.start()
        return worker

    def _failure_reporter(self, what: str) -> Any:
        """A worker's ``on_error`` for ``what``: one error notification, the same words in the status."""
        def failed(error: BaseException) -> None:
            message = describe_error(what, error)
            show_error(message)
            self.status.setText(message)

        return failed

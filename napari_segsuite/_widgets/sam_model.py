"""The model side of the Segment Anything dock: which backend answers clicks, loading a checkpoint
(in a worker: reading and checking a SAM checkpoint takes seconds) and downloading one.

A mixin of :class:`.sam_widget.SamWidget`, which provides the model controls (``backend``,
``checkpoint``, ``device``, ``models_dir``, the Load and Download buttons), the status line and
the embedding it restarts when the session changes.
"""

from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_error, show_info, show_warning

from ..sam import ClassicalSession, SamSession, open_session, registry
from . import settings
from .jobs import describe_error, start_worker

__all__ = ["CLASSICAL", "LoadsModels"]

CLASSICAL = "classical"  # no checkpoint needed: the tooltip and the status line say what it does


class LoadsModels:
    """Backend choice, checkpoint loading and downloads for a SamWidget (see the module docstring)."""

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
        """Load the chosen backend (model + checkpoint + device) in a worker; clicks keep going to
        the active session until the new one is ready, and a failure leaves it active."""
        name = self.backend.value
        if name == CLASSICAL:
            self.use_session(ClassicalSession())
            return
        path = self.checkpoint.value
        ckpt = path if path and str(path) not in ("", ".") and path.is_file() else None

        def failed(error: BaseException) -> None:
            active = getattr(self.session, "model_name", "classical")
            still = "the classical fallback" if self.session.backend == "classical" else f"SAM {active}"
            expected = isinstance(error, (registry.CheckpointError, RuntimeError, KeyError, OSError))
            show_error(f"{error if expected else describe_error(f'loading SAM {name}', error)}\n{still} stays active.")
            self.backend.value = CLASSICAL if self.session.backend == "classical" else active  # say what is in use

        self.load_button.enabled = False
        self.status.setText(f"loading SAM {name} (checkpoint, then the model onto {self.device.value}) …")
        worker = start_worker(open_session, name, ckpt, device=self.device.value, notify=show_warning,
                              what=f"loading SAM {name}", on_error=failed)
        worker.returned.connect(self.use_session)
        worker.finished.connect(self._model_loaded)
        self._load_worker = worker
        worker.start()

    def _model_loaded(self) -> None:
        self.load_button.enabled = True
        self._load_worker = None
        self._show_status()

    @property
    def loading(self) -> bool:
        """Whether a model is being loaded."""
        return self._load_worker is not None

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

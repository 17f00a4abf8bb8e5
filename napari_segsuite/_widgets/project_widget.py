"""The *Annotation project* dock: annotate a folder of images one after the other.

*Open* loads a folder (resuming at the image shown last) into a *project image* and a *project
labels* layer. *Previous* / *Next* save the labels (atomically, into ``<folder>_labels/``) and load
the neighbour; changes are also saved every N seconds. The status says which image this is and how
many are annotated. When the Segment Anything dock has a SAM model loaded, the next image's
embedding is computed in the background, so clicking on it is immediate. *Export VOC…* and *Export
COCO…* write the whole project.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from magicgui import widgets
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import QLabel, QProgressBar, QWidget

from ..io.labels import labels_metadata, object_classes
from ..io.project import Project
from .fit import fit_width
from .jobs import start_worker
from .layers import scrolling_content

__all__ = ["ProjectWidget"]


class _NotSaved(OSError):
    """The labels shown could not be saved, so the dock stays where it is."""


def _read_labels(project: Project, i: int | None = None) -> tuple[np.ndarray | None, str | None]:
    """The saved labels of image ``i`` (None when there are none) and a note when they are damaged."""
    try:
        return project.labels(i), None
    except ValueError as e:  # a damaged mask: start from empty labels, keep the file, and say so
        return None, f"{e}; the file is left as it is, and this image starts with empty labels"

IMAGE, LABELS = "project image", "project labels"


class ProjectWidget(QWidget):
    """Open, walk through, autosave and export an annotation project.

    Every mask is written by one writer thread, in the order asked: the autosave runs there while
    the person paints on (a large mask takes a second to compress), and Save now, Previous, Next,
    Open and Export wait for it, so the newest labels are always the ones written last.
    """

    _autosaved = Signal(object, int)  # (the finished write, the edit count it saved)

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.project: Project | None = None
        self.sam_widget: Any = None  # the Segment Anything tool, when the SegSuite panel holds one (else found)
        self.dirty = False
        self._edits = 0  # paint strokes and data changes so far: an autosave clears `dirty` only if none came since
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segsuite-project-save")
        self._autosaving = False
        self._autosaved.connect(self._on_autosaved)
        self._switch_worker: Any = None
        self._loading = False
        self._precompute = None
        self.folder = widgets.FileEdit(label="images folder", mode="d", value="")
        self.fmt = widgets.ComboBox(label="save masks as", choices=["png", "tif", "npy"], value="png",
                                    tooltip="for a new project; an existing one keeps its format")
        self.autosave = widgets.SpinBox(label="autosave every (s)", value=30, min=0, max=3600, tooltip="0 = only on image change")
        self.open_button = widgets.PushButton(text="Open")
        self.prev_button = widgets.PushButton(text="◀ Previous", enabled=False)
        self.next_button = widgets.PushButton(text="Next ▶", enabled=False)
        self.save_button = widgets.PushButton(text="Save now", enabled=False)
        self.voc_button = widgets.PushButton(text="Export VOC…", enabled=False)
        self.coco_button = widgets.PushButton(text="Export COCO…", enabled=False)
        self.status = QLabel("Choose a folder of images and press Open.")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setFormat("%v of %m annotated")
        layout = scrolling_content(self)
        layout.addWidget(widgets.Container(widgets=[self.folder, self.fmt, self.autosave]).native)
        layout.addWidget(widgets.Container(labels=False, widgets=[self.open_button]).native)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False,
                                           widgets=[self.prev_button, self.next_button, self.save_button]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=[self.voc_button, self.coco_button]).native)
        layout.addStretch(1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._autosave)
        self.open_button.changed.connect(lambda *_: self.open(self.folder.value))
        self.prev_button.changed.connect(lambda *_: self.step(-1))
        self.next_button.changed.connect(lambda *_: self.step(+1))
        self.save_button.changed.connect(lambda *_: self.save())
        self.autosave.changed.connect(lambda *_: self._restart_timer())
        self.voc_button.changed.connect(lambda *_: self._export_dialog("voc"))
        self.coco_button.changed.connect(lambda *_: self._export_dialog("coco"))
        fit_width(self)

    # -- project ------------------------------------------------------------------------------
    def open(self, folder: str | Path) -> Any:
        """Open (or resume) the project of ``folder``, in a worker; returns it (None when a switch
        is already running). Labels not yet saved are saved first; when that fails the current
        project stays open, its labels untouched, and nothing else is opened."""
        fmt = self.fmt.value

        def read() -> tuple:
            project = Project(folder, fmt=fmt)
            image = project.image()  # a damaged first image is said now, before any layer changes
            return (project, image, *_read_labels(project))

        def failed(message: str) -> None:
            show_error(message)
            self.status.setText(message)

        return self._switch(read, lambda result: self._opened(folder, *result), failed,
                            unsaved="The labels of the open image could not be saved, so no other project was opened "
                                    "(they are still in the layer): fix the problem, press Save now, then Open.")

    def _opened(self, folder: str | Path, project: Project, image: np.ndarray, labels: Any, note: str | None) -> None:
        self.project = project
        self.fmt.value = self.project.fmt
        self.folder.value = str(folder)
        for button in (self.prev_button, self.next_button, self.save_button, self.voc_button, self.coco_button):
            button.enabled = True
        self._load(image, labels, note)
        self._restart_timer()

    def step(self, delta: int) -> Any:
        """Save, then show the previous (-1) or next (+1) image, read in a worker; returns it."""
        if self.project is None:
            return None
        project = self.project
        target = int(np.clip(project.index + delta, 0, len(project) - 1))

        def read() -> tuple:
            image = project.image(target)
            return (image, *_read_labels(project, target))

        def shown(result: tuple) -> None:
            try:
                project.go(target)
            except OSError as e:
                show_error(f"could not record the current image in the project ({e}); the labels are saved")
            self._load(*result)

        return self._switch(read, shown, show_error)

    @property
    def switching(self) -> bool:
        """Whether an Open, Previous or Next is saving and reading in its worker."""
        return self._switch_worker is not None

    def _switch(self, read: Callable[[], tuple], show: Callable[[tuple], None], failed: Callable[[str], None], *,
                unsaved: str | None = None) -> Any:
        """Save the labels (in the writer thread), then ``read()`` the next image in a worker and
        ``show`` it; a failed save or read calls ``failed(message)`` and nothing switches. The
        labels layer is locked meanwhile, so no stroke can land on an image being left."""
        if self._switch_worker is not None:
            return None
        queued = self._write()
        layer = self.labels_layer

        def job() -> tuple:
            if queued is not None:
                wait([queued[0]])
                if queued[0].exception() is not None:
                    raise _NotSaved(queued[0].exception())
            return read()

        def errored(error: BaseException) -> None:
            if isinstance(error, _NotSaved):
                show_error(f"the labels were NOT saved ({error}); they are still in the layer: fix the problem and save again")
                if unsaved:
                    self.status.setText(unsaved)
            else:
                failed(str(error) or type(error).__name__)

        def returned(result: tuple) -> None:
            if queued is not None:
                self._saved(queued[0], queued[1])
            show(result)

        def finished() -> None:
            self._switch_worker = None
            if layer is not None and layer in self.viewer.layers:
                layer.editable = True
            self._update_buttons()

        worker = start_worker(job, what="switching image", on_error=errored)
        worker.returned.connect(returned)
        worker.finished.connect(finished)
        self._switch_worker = worker
        if layer is not None:
            layer.editable = False
        for button in (self.open_button, self.prev_button, self.next_button, self.save_button):
            button.enabled = False
        worker.start()
        return worker

    @property
    def labels_layer(self) -> Any:
        return self.viewer.layers[LABELS] if LABELS in self.viewer.layers else None

    def _load(self, image: np.ndarray, labels: np.ndarray | None, note: str | None = None) -> None:
        """Show the project's current ``image`` and its saved ``labels`` (read in a worker; None:
        empty ones). ``note`` says why saved labels could not be used."""
        p = self.project
        if note:
            show_error(note)
        rgb = image.ndim == 3 and image.shape[-1] in (3, 4)
        shape = image.shape[:-1] if rgb else image.shape
        if labels is None or labels.shape != shape:
            labels = np.zeros(shape, np.int32)
        self._loading = True
        try:
            for name in (IMAGE, LABELS):
                if name in self.viewer.layers:
                    self.viewer.layers.remove(name)
            self.viewer.add_image(image, name=IMAGE, rgb=rgb)
            layer = self.viewer.add_labels(labels.astype(np.int32, copy=False), name=LABELS,
                                           metadata=labels_metadata("instance", project=str(p.images_dir)))
            classes = p.object_classes()
            if classes:
                ids = sorted(classes)
                layer.features = {"index": ids, "class_id": [classes[i] for i in ids],
                                  "class_name": [p.classes.get(classes[i], str(classes[i])) for i in ids]}
            layer.events.paint.connect(self._changed)
            layer.events.data.connect(self._changed)
            self.viewer.layers.selection.active = layer
            self.viewer.reset_view()
        finally:
            self._loading = False
        self.dirty = False
        self._show_status()
        self._precompute_next()

    def _changed(self, *_: Any) -> None:
        if not self._loading:
            self.dirty = True
            self._edits += 1

    def _show_status(self) -> None:
        p = self.project
        done, total = p.progress
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        mark = " (annotated)" if p.is_annotated() else ""
        self.status.setText(f"image {p.index + 1} of {total}: {p.images[p.index].name}{mark}; {done} of {total} annotated; "
                            f"labels saved in {p.labels_dir}")
        self._update_buttons()

    def _update_buttons(self) -> None:
        p, idle = self.project, self._switch_worker is None
        self.open_button.enabled = idle
        self.save_button.enabled = idle and p is not None
        self.prev_button.enabled = idle and p is not None and p.index > 0
        self.next_button.enabled = idle and p is not None and p.index < len(p) - 1

    def _write(self) -> tuple[Future, int] | None:
        """Queue a copy of the labels layer for the writer thread; None without a project."""
        layer = self.labels_layer
        if self.project is None or layer is None:
            return None
        labels = np.array(layer.data, copy=True)  # the person may paint on while it is written
        return self._writer.submit(self.project.save, labels, object_classes=object_classes(layer.features)), self._edits

    def _saved(self, write: Future, edits: int) -> Path | None:
        """Report a finished write: the path, or None after one message saying the labels are safe."""
        error = write.exception()
        if error is not None:
            show_error(f"the labels were NOT saved ({error}); they are still in the layer: fix the problem and save again")
            return None
        if edits == self._edits:
            self.dirty = False
        self._show_status()
        return write.result()

    def save(self) -> Path | None:
        """Save the labels layer into the project (atomic) and wait for it (after any autosave
        still being written); None when there is nothing to save or the write failed."""
        queued = self._write()
        if queued is None:
            return None
        write, edits = queued
        wait([write])
        return self._saved(write, edits)

    def _restart_timer(self) -> None:
        self.timer.stop()
        if self.project is not None and self.autosave.value > 0:
            self.timer.start(int(self.autosave.value * 1000))

    def _autosave(self) -> None:
        """Write the labels in the background (one autosave at a time); the UI stays free."""
        if not self.dirty or self._autosaving:
            return
        queued = self._write()
        if queued is None:
            return
        self._autosaving = True
        write, edits = queued
        write.add_done_callback(lambda done: self._autosaved.emit(done, edits))

    def _on_autosaved(self, write: Future, edits: int) -> None:
        self._autosaving = False
        if self.project is not None:
            self._saved(write, edits)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        """The dock closes: stop autosaving and let a write under way finish (its thread ends)."""
        self.timer.stop()
        self._writer.shutdown(wait=True)
        super().closeEvent(event)

    # -- SAM ------------------------------------------------------------------------------------
    def _docked_sam(self) -> Any:
        """The Segment Anything dock opened on its own (Plugins menu) in this window, or the SAM
        tool of a SegSuite panel there; None when there is none (nothing to embed with). Found
        among the window's Qt widgets (any napari version), duck-typed: importing the SAM dock's
        class would import torch."""
        top = self.window()
        if top is self:
            return None  # not docked in a window
        for w in top.findChildren(QWidget):
            if w is not self and hasattr(w, "session") and hasattr(w, "embedding_ready"):
                return w
        return None

    def _precompute_next(self, index: int | None = None, waited: int = 0) -> None:
        """Embed the next image in the background when the SAM dock has a SAM model, once the dock's
        own embedding of the shown image is ready (that one comes first)."""
        p, sam = self.project, self.sam_widget or self._docked_sam()
        index = p.index if index is None else index
        session = getattr(sam, "session", None)
        if session is None or getattr(session, "backend", "") != "sam" or index != p.index or index + 1 >= len(p):
            return
        if not getattr(sam, "embedding_ready", True) and waited < 600:  # up to 5 minutes
            QTimer.singleShot(500, lambda: self._precompute_next(index, waited + 1))
            return
        path = p.images[index + 1]

        def embed():
            image = p.image(index + 1)
            axis = -1 if image.ndim == 3 and image.shape[-1] in (3, 4) else None
            session.set_image(image, channel_axis=axis)
            return path.name

        self._precompute = start_worker(embed, what=f"the SAM embedding of the next image ({path.name})")
        self._precompute.returned.connect(lambda name: show_info(f"SAM embedding of the next image ({name}) is ready"))
        self._precompute.start()

    # -- export ---------------------------------------------------------------------------------
    def export(self, kind: str, target: str | Path) -> Path | None:
        """Save, then export the project to VOC (a folder) or COCO (a JSON file)."""
        if self.project is None:
            return None
        if self.labels_layer is not None and self.save() is None:
            return None  # the message said why; exporting now would leave those labels out
        try:
            if kind == "voc":
                out = self.project.export_voc(target, overwrite=True)
            else:
                out = self.project.export_coco(target, overwrite=True)
        except Exception as e:
            show_error(str(e) or type(e).__name__)
            return None
        show_info(f"project exported to {out}")
        return out

    def _export_dialog(self, kind: str) -> None:
        from qtpy.QtWidgets import QFileDialog

        if kind == "voc":
            target = QFileDialog.getExistingDirectory(self, "Export to a VOC folder")
        else:
            target, _ = QFileDialog.getSaveFileName(self, "Export to COCO", "instances.json", "COCO (*.json)")
        if target:
            self.export(kind, target)

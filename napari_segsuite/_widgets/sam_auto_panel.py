"""The *Automatic masks* section of the Segment Anything dock.

*Generate* decodes a grid of points on the displayed slice in a worker (napari progress bar,
*Cancel* keeps nothing); every candidate is stored, so moving a threshold only re-selects and
repaints the *SAM auto masks* preview, without the decoder. *Commit all* writes the shown masks into
the target labels layer as new instances (existing labels kept unless *overwrite*; Ctrl+Z undoes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..sam.auto import AutoMasks, grid_size, iter_generate
from ..sam.tiled import tile_windows
from .jobs import Job, start_worker
from .layers import commit_labels, read_slice, update_preview_layer

__all__ = ["AutoMasksPanel"]


class AutoMasksPanel(QWidget):
    """Grid-prompted automatic masks for the dock ``owner`` (a SamWidget)."""

    def __init__(self, owner: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.owner = owner
        self.result: AutoMasks | None = None
        self.source: tuple | None = None  # (image layer, slice index) the result belongs to
        self.preview_layer = None
        self.shown = np.zeros(0, np.int64)
        self.points = widgets.SpinBox(label="grid side", value=16, min=2, max=128,
                                      tooltip="Grid of point prompts (decoder runs = its square); SAM's default is 32")
        self.crop_layers = widgets.SpinBox(label="crop layers", value=0, min=0, max=3,
                                           tooltip="Also prompt zoomed crops (each crop is encoded once)")
        self.iou = widgets.FloatSlider(label="IoU ≥", tooltip="keep masks whose predicted IoU is at least this", value=0.88,
                                       min=0.0, max=1.0, step=0.01)
        self.stability = widgets.FloatSlider(label="stability ≥", value=0.95, min=0.0, max=1.0, step=0.01)
        self.nms = widgets.FloatSlider(label="box NMS IoU", value=0.7, min=0.05, max=1.0, step=0.01)
        self.min_area = widgets.SpinBox(label="min area (px)", value=0, min=0, max=10_000_000)
        self.generate_button = widgets.PushButton(text="Generate")
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.commit_button = widgets.PushButton(text="Commit all", enabled=False)
        self.save_button = widgets.PushButton(text="Save preset…")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widgets.Container(widgets=[self.points, self.crop_layers, self.iou, self.stability, self.nms, self.min_area]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False,
                                           widgets=[self.generate_button, self.cancel_button, self.commit_button]).native)
        layout.addWidget(widgets.Container(labels=False, widgets=[self.save_button]).native)
        layout.addWidget(self.status)
        self.job = Job(self.generate_button, self.cancel_button)
        self.generate_button.changed.connect(lambda *_: self.generate())
        self.commit_button.changed.connect(lambda *_: self.commit())
        self.save_button.changed.connect(lambda *_: self._save_dialog())
        for w in (self.iou, self.stability, self.nms, self.min_area):
            w.changed.connect(lambda *_: self.refilter())

    def generate(self) -> None:
        """Run the grid on the displayed slice in a worker."""
        if self.owner.session.backend != "sam":
            show_info("automatic masks need a SAM model: choose one and press 'Load model'")
            return
        cur = self.owner.displayed()
        if cur is None:
            show_info("choose an image layer first")
            return
        image, index = cur
        options = dict(points_per_side=self.points.value, crop_n_layers=self.crop_layers.value)
        spatial = image.data.shape[-3:-1] if image.rgb else image.data.shape[-2:]
        session = self.owner.session
        if session.tiles(spatial):  # a large image: its tiles at full resolution, besides the whole image
            if options["crop_n_layers"]:
                show_info("a tiled image takes no crop layers (its tiles are the crops): set crop layers to 0")
                return
            options["tiles"] = tile_windows(tuple(spatial), session.tile, session.halo)
        total = grid_size(tuple(spatial), **options)

        def run():  # the slice is read in the worker too
            return (yield from iter_generate(session, read_slice(image, index), **options))

        worker = start_worker(run, what="automatic masks", _progress={"total": total, "desc": "SAM automatic masks"})
        worker.returned.connect(lambda result: self._done(result, (image, index)))
        worker.aborted.connect(lambda: self.status.setText("cancelled: nothing was kept"))
        self.status.setText(f"decoding {total} grid points …")
        self.job.start(worker, cancelled="automatic masks cancelled; nothing was kept")

    @property
    def worker(self) -> Any:
        """The running worker, if any."""
        return self.job.worker

    def cancel(self) -> None:
        self.job.cancel()

    def _done(self, result: AutoMasks, source: tuple) -> None:
        self.result, self.source = result, source
        self.refilter()

    def refilter(self) -> None:
        """Re-select and repaint the preview from the stored candidates (no decoder run)."""
        if self.result is None:
            return
        image, _ = self.source
        if image not in self.owner.viewer.layers:
            return
        self.shown = self.result.select(pred_iou_thresh=self.iou.value, stability_score_thresh=self.stability.value,
                                        box_nms_thresh=self.nms.value, min_area=self.min_area.value)
        labels = self.owner.post_process(self.result.labels(self.shown))
        self.preview_layer = update_preview_layer(self.owner.viewer, self.preview_layer, labels, name="SAM auto masks",
                                                  source=image, output="labels")
        self.commit_button.enabled = len(self.shown) > 0
        self.status.setText(f"{len(self.shown)} of {len(self.result)} candidate masks shown "
                            f"({self.result.nbytes / 1e6:.1f} MB stored); thresholds re-select without the decoder")

    def commit(self) -> None:
        """Write the shown masks into the dock's target labels layer as new instances."""
        if self.result is None or not len(self.shown):
            show_info("nothing to commit: generate masks first")
            return
        image, index = self.source
        labels = self.owner.post_process(self.result.labels(self.shown))
        try:
            layer, notes = commit_labels(self.owner.viewer, self.owner.target.value, labels, source=image, index=index,
                                         kind="instance", overwrite=self.owner.overwrite.value, name="SAM labels")
        except ValueError as e:
            show_error(str(e))
            return
        for note in notes:
            show_info(note)
        if self.owner.target.value is None:
            self.owner._reset_choices()
            self.owner.target.value = layer
        show_info(f"{len(self.shown)} masks written into {layer.name!r}")

    def pipeline(self):
        """These settings and the dock's post-processing steps as a hybrid preset."""
        from ..sam.pipeline import SamPipeline
        from ..sam.registry import REGISTRY
        from ..techniques.chain import Step

        name = getattr(self.owner.session, "model_name", None)
        if self.owner.session.backend != "sam" or name not in REGISTRY:
            raise ValueError("a preset names its model: load one of the registry's SAM models first")
        ckpt = self.owner.checkpoint.value
        options = dict(points_per_side=self.points.value, crop_n_layers=self.crop_layers.value,
                       pred_iou_thresh=self.iou.value, stability_score_thresh=self.stability.value,
                       box_nms_thresh=self.nms.value, min_area=self.min_area.value)
        post = tuple(Step(t, p) for t, p in self.owner.post.steps())
        checkpoint = str(ckpt) if ckpt and str(ckpt) not in ("", ".") and ckpt.is_file() else None
        return SamPipeline(name, "auto", options, (), post, checkpoint)

    def save(self, path: str, *, overwrite: bool = False):
        from ..sam.pipeline import save_pipeline

        return save_pipeline(path, self.pipeline(), overwrite=overwrite)

    def _save_dialog(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, "Save SAM preset", "sam_auto.json", "JSON (*.json)")
        if path:
            try:
                show_info(f"preset written to {self.save(path, overwrite=True)}; run it with "
                          f"napari-segsuite run {path} IMAGES -o OUT")
            except (OSError, ValueError) as e:
                show_error(str(e))

"""The *Train a network* dock: train a U-Net, SegNet or DeepLab on the labels just painted, watch
its loss and validation Dice, save it, and apply it to the current slice, every slice, or a folder.

Training runs in a worker (progress bar, live plot); *Cancel* stops within one batch and keeps the
best epoch so far. A trained or loaded model is also registered as the catalog technique
``learn.<name>``, so presets, tuning and scoring can use it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QLabel, QListWidget, QProgressBar, QWidget
from superqt import QCollapsible

from ..device import available_devices
from .fit import fit_width
from .jobs import describe_error, start_worker
from .layers import (
    layer_choices,
    reset_keeping_value,
    scrolling_content,
    segsuite_metadata,
)
from .learn_model import UsesModel

__all__ = ["LearnWidget", "training_pairs"]


def training_pairs(image: Image, labels: Labels, *, sparse: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, labels) 2D pairs from two layers: the whole image, or each slice of a stack that holds
    annotation (a slice without any non-zero label is left out: it is not annotated yet)."""
    shape = image.data.shape[:-1] if image.rgb else image.data.shape
    if tuple(labels.data.shape) != tuple(shape):
        raise ValueError(f"labels {labels.name!r} have shape {tuple(labels.data.shape)} but image {image.name!r} has "
                         f"{tuple(shape)}: pick the labels painted on this image")
    data, lab = np.asarray(image.data), np.asarray(labels.data)
    if len(shape) == 2:
        return [(data, lab)]
    pairs = []
    for index in np.ndindex(*shape[:-2]):
        if np.any(lab[index]):
            pairs.append((data[index], lab[index]))
    if not pairs:
        raise ValueError(f"no slice of {labels.name!r} holds a label yet: paint some first")
    return pairs


class LearnWidget(UsesModel, QWidget):
    """Train networks on image + labels layers and apply them."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.model = None
        self.worker = None
        self.predict_worker: Any = None
        self.prediction_layer: Labels | None = None
        self.history: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._pairs: list[tuple[Image, Labels]] = []

        # training data
        self.image = widgets.ComboBox(label="image", choices=self._images, nullable=True)
        self.labels = widgets.ComboBox(label="labels", choices=self._labels, nullable=True)
        self.add_button = widgets.PushButton(text="Add pair")
        self.remove_button = widgets.PushButton(text="Remove selected")
        self.pair_list = QListWidget()
        self.pair_list.setMaximumHeight(70)
        self.pair_list.setToolTip("Image + labels pairs to train on; empty = the image and labels chosen above")
        self.folder = widgets.FileEdit(label="or a folder", mode="d", value="",
                                       tooltip="A folder with images/ and labels/ (same file names), e.g. an exported "
                                               "project: its images train the network instead of the layers")
        self.task = widgets.ComboBox(label="output", choices=["semantic", "instance"], value="semantic",
                                     tooltip="semantic: each label value is a class; instance: separate touching objects")
        self.sparse = widgets.CheckBox(value=False, text="scribbles",
                                       tooltip="Paint the background as a class of its own; unpainted pixels are ignored")
        # network
        self.architecture = widgets.ComboBox(label="network", choices=["unet", "segnet", "deeplab"], value="unet")
        self.net_width = widgets.SpinBox(label="width", value=16, min=4, max=128, tooltip="channels of the first level")
        self.depth = widgets.SpinBox(label="depth", value=3, min=1, max=6, tooltip="down-sampling steps (U-Net, SegNet)")
        self.backbone = widgets.ComboBox(label="backbone", choices=["small", "resnet50"], value="small",
                                         tooltip="DeepLab's backbone")
        # training: the one recipe the CLI and benchmarks/learn.py use too (learn.train.TrainConfig)
        from ..learn.train import TrainConfig

        recipe = TrainConfig()
        self.patch = widgets.SpinBox(label="patch size", value=recipe.patch_size, min=32, max=1024, step=16)
        self.batch = widgets.SpinBox(label="batch size", value=recipe.batch_size, min=1, max=256)
        self.epochs = widgets.SpinBox(label="max epochs", value=recipe.max_epochs, min=1, max=10000)
        self.steps = widgets.SpinBox(label="steps/epoch", tooltip="batches per epoch", value=recipe.steps_per_epoch, min=1, max=10000)
        self.patience = widgets.SpinBox(label="patience", tooltip="stop after this many epochs without a better validation score",
                                        value=recipe.patience, min=1, max=1000)
        self.val_fraction = widgets.FloatSpinBox(label="validation", tooltip="fraction of the annotations held out for validation",
                                                 value=recipe.val_fraction, min=0.0, max=0.9, step=0.05)
        self.minutes = widgets.FloatSpinBox(label="minutes", value=0.0, min=0.0, max=10000, step=1,
                                            tooltip="0 = none")
        self.lr = widgets.FloatSpinBox(label="learning rate", value=recipe.learning_rate, min=1e-5, max=0.5, step=0.0005)
        self.device = widgets.ComboBox(label="device", choices=available_devices(), value="auto")
        self.train_button = widgets.PushButton(text="Train")
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.progress = QProgressBar()
        self.status = QLabel("Paint labels on an image, pick both above, then Train.")
        self.status.setWordWrap(True)
        # model
        self.name = widgets.LineEdit(label="model name", value="my_model")
        self.save_button = widgets.PushButton(text="Save model…", enabled=False)
        self.load_button = widgets.PushButton(text="Load model…")
        self.keep = widgets.CheckBox(value=True, text="keep as a technique",
                                    tooltip="Also keep the model in the learned-models folder, as technique learn.NAME")
        self.min_size = widgets.SpinBox(label="min size (px)", tooltip="instance models: remove objects smaller than this",
                                        value=0, min=0, max=100000)
        self.flips = widgets.CheckBox(value=True, text="average mirror images",
                                      tooltip="Also predict the image mirrored three ways and average: steadier outlines, "
                                              "four times the work")
        self.predict_button = widgets.PushButton(text="Predict slice", enabled=False)
        self.predict_all_button = widgets.PushButton(text="Predict all slices", enabled=False)

        layout = scrolling_content(self)
        data_box = widgets.Container(widgets=[self.image, self.labels])
        layout.addWidget(data_box.native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=[self.add_button, self.remove_button]).native)
        layout.addWidget(self.pair_list)
        layout.addWidget(widgets.Container(widgets=[self.folder]).native)
        layout.addWidget(widgets.Container(widgets=[self.task, self.sparse, self.architecture, self.net_width, self.depth]).native)
        more = QCollapsible("Training settings")
        more.addWidget(widgets.Container(widgets=[self.backbone, self.patch, self.batch, self.epochs, self.steps, self.patience,
                                                  self.val_fraction, self.minutes, self.lr, self.device]).native)
        layout.addWidget(more)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=[self.train_button, self.cancel_button]).native)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.figure, self.canvas = _plot_canvas()
        layout.addWidget(self.canvas)
        layout.addWidget(widgets.Container(widgets=[self.name, self.keep]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=[self.save_button, self.load_button]).native)
        layout.addWidget(widgets.Container(widgets=[self.min_size, self.flips]).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False,
                                           widgets=[self.predict_button, self.predict_all_button]).native)
        layout.addStretch(1)

        self.add_button.changed.connect(lambda *_: self.add_pair())
        self.remove_button.changed.connect(lambda *_: self._remove_pair())
        self.train_button.changed.connect(lambda *_: self.start_training())
        self.cancel_button.changed.connect(lambda *_: self.cancel())
        self.save_button.changed.connect(lambda *_: self._save_dialog())
        self.load_button.changed.connect(lambda *_: self._load_dialog())
        self.predict_button.changed.connect(lambda *_: self.predict(all_slices=False))
        self.predict_all_button.changed.connect(lambda *_: self.predict(all_slices=True))
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(lambda *_: self._reset_choices())
        self._reset_choices()
        fit_width(self)

    # -- layers ---------------------------------------------------------------------------------
    def _images(self, *_: Any) -> list[tuple[str, Image]]:
        return layer_choices(self.viewer, Image)

    def _labels(self, *_: Any) -> list[tuple[str, Labels]]:
        return layer_choices(self.viewer, Labels)

    def _reset_choices(self) -> None:
        for combo in (self.image, self.labels):
            reset_keeping_value(combo)
        if self.image.value is None and self.image.choices:
            self.image.value = self.image.choices[-1]
        if self.labels.value is None and self.labels.choices:
            self.labels.value = self.labels.choices[-1]
        self._pairs = [(i, lab) for i, lab in self._pairs if i in self.viewer.layers and lab in self.viewer.layers]
        self._refresh_pair_list()

    def add_pair(self) -> None:
        """Add the chosen image + labels to the training pairs."""
        image, labels = self.image.value, self.labels.value
        if image is None or labels is None:
            show_info("choose an image and its labels first")
            return
        if any(i is image and lab is labels for i, lab in self._pairs):
            return
        self._pairs.append((image, labels))
        self._refresh_pair_list()

    def _remove_pair(self) -> None:
        rows = sorted((i.row() for i in self.pair_list.selectedIndexes()), reverse=True)
        for row in rows:
            del self._pairs[row]
        self._refresh_pair_list()

    def _refresh_pair_list(self) -> None:
        self.pair_list.clear()
        for image, labels in self._pairs:
            self.pair_list.addItem(f"{image.name}  ←  {labels.name}")

    def _folder(self) -> Path | None:
        value = str(self.folder.value or "")
        return Path(value) if value not in ("", ".") else None

    def _folder_pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        from ..io.datasets import iter_instance_dataset

        pairs = [(img[..., :3] if img.ndim == 3 else img, lab) for _, img, lab in iter_instance_dataset(self._folder())]
        if not pairs:
            raise ValueError(f"{self._folder()} holds no image with labels")
        return pairs

    def _chosen_pairs(self) -> list[tuple[Image, Labels]]:
        if self._pairs:
            return list(self._pairs)
        if self.image.value is None or self.labels.value is None:
            raise ValueError("choose an image and the labels painted on it (or add pairs)")
        return [(self.image.value, self.labels.value)]

    # -- training -------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Collect the pairs and the settings and train in a worker."""
        from ..learn.models import NetConfig
        from ..learn.train import TrainConfig, iter_train, prepare_examples

        if self.worker is not None:
            return
        try:
            if self._folder() is not None:
                pairs, names = self._folder_pairs(), {}
                rgb = {p[0].ndim == 3 for p in pairs}
            else:
                layer_pairs = self._chosen_pairs()
                pairs = [p for image, labels in layer_pairs for p in training_pairs(image, labels, sparse=self.sparse.value)]
                rgb = {image.rgb for image, _ in layer_pairs}
                names = _class_names(layer_pairs[0][1])
            if len(rgb) > 1:
                raise ValueError("the training images mix RGB and gray ones: a network takes one kind of input")
            channel_axis = -1 if rgb.pop() else None
            prepared = prepare_examples(pairs, task=self.task.value, sparse=self.sparse.value, channel_axis=channel_axis)
            network = NetConfig(architecture=self.architecture.value, width=self.net_width.value, depth=self.depth.value,
                                backbone=self.backbone.value)
            config = TrainConfig(patch_size=self.patch.value, batch_size=self.batch.value, max_epochs=self.epochs.value,
                                 steps_per_epoch=self.steps.value, learning_rate=self.lr.value,
                                 val_fraction=self.val_fraction.value, patience=self.patience.value,
                                 max_minutes=self.minutes.value or None, device=self.device.value)
        except (ValueError, TypeError) as e:
            show_error(str(e))
            self.status.setText(str(e))
            return
        self._stop.clear()
        self.history = []
        self._draw()
        worker = start_worker(iter_train, pairs, network=network, config=config, task=self.task.value,
                              sparse=self.sparse.value, channel_axis=channel_axis, class_names=names,
                              name=self.name.value or "model", cancel=self._stop.is_set, prepared=prepared,
                              what="training", on_error=self._failed)
        worker.yielded.connect(self._on_event)
        worker.returned.connect(self._trained)
        worker.finished.connect(self._finished)
        self.worker = worker
        self.train_button.enabled, self.cancel_button.enabled = False, True
        self.progress.setRange(0, config.max_epochs * config.steps_per_epoch)
        self.progress.setValue(0)
        self.status.setText(f"training on {len(pairs)} image(s) …")
        worker.start()

    def cancel(self) -> None:
        """Stop training within one batch; the best epoch so far is kept."""
        self._stop.set()

    def _on_event(self, event: dict[str, Any]) -> None:
        if "step" in event:
            self.progress.setValue(event["step"])
        else:
            r = event["epoch"]
            self.history.append(r)
            dice = "" if np.isnan(r["val_dice"]) else f", validation Dice {r['val_dice']:.3f}"
            dice += "" if np.isnan(r.get("val_f1", np.nan)) else f", F1@0.5 {r['val_f1']:.3f}"
            self.status.setText(f"epoch {r['epoch']}: loss {r['loss']:.3f}{dice} ({r['seconds']:.1f} s with validation)")
            self._draw()

    def _trained(self, model: Any) -> None:
        self.use_model(model)
        info = model.info
        dice = "" if info.get("val_dice") is None else f", validation Dice {info['val_dice']:.3f}"
        dice += "" if info.get("val_f1") is None else f", F1@0.5 {info['val_f1']:.3f}"
        reason = {"early_stopping": "no better validation for a while", "time_limit": "time limit",
                  "max_epochs": "last epoch", "cancelled": "cancelled: kept the best epoch so far"}
        self.status.setText(f"trained: best epoch {info['best_epoch']}{dice}; stopped: "
                            f"{reason.get(info['stopped'], info['stopped'])} ({info['seconds']:.0f} s on {info['device']})")
        self.progress.setValue(self.progress.maximum())
        from ..learn.train import convergence_warning

        warning = convergence_warning(info)
        if warning:
            show_warning(warning)
            self.status.setText(f"{self.status.text()}. Warning: {warning}")

    def _failed(self, error: Exception) -> None:
        from ..techniques import Cancelled

        message = str(error) if isinstance(error, (ValueError, TypeError, Cancelled)) else describe_error("training", error)
        self.status.setText(message)
        show_error(message)

    def _finished(self) -> None:
        self.worker = None
        self.train_button.enabled, self.cancel_button.enabled = True, False

    def _draw(self) -> None:
        ax_loss, ax_dice = self.figure.axes
        ax_loss.clear()
        ax_dice.clear()
        epochs = [r["epoch"] for r in self.history]
        ax_loss.plot(epochs, [r["loss"] for r in self.history], color="#ff7f0e", label="loss")
        ax_dice.plot(epochs, [r["val_dice"] for r in self.history], color="#1f77b4", label="validation Dice")
        ax_loss.set_xlabel("epoch", fontsize=7)
        ax_loss.set_ylabel("loss", color="#ff7f0e", fontsize=7)
        ax_dice.set_ylabel("val. Dice", color="#1f77b4", fontsize=7)
        ax_dice.yaxis.set_label_position("right")
        ax_dice.set_ylim(0, 1)
        for ax in (ax_loss, ax_dice):
            ax.tick_params(labelsize=6)
        self.canvas.draw_idle()


def _class_names(labels: Labels) -> dict[str, str]:
    classes = segsuite_metadata(labels).get("classes") or []
    return {str(c["id"]): str(c["name"]) for c in classes if isinstance(c, dict) and "id" in c and "name" in c}


def _plot_canvas() -> tuple[Any, Any]:
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2, 1.6), dpi=100, tight_layout=True)
    ax = figure.add_subplot(111)
    ax.twinx()
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(150)
    return figure, canvas

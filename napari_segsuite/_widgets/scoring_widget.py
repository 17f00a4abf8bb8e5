"""Scoring panel: the current labels layer against a ground-truth layer, live while you paint."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Labels
from napari.utils.colormaps import DirectLabelColormap
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..metrics import Score, score
from ..metrics.errors import FN, FP, error_maps
from ..metrics.score import auto_kind
from . import settings
from .fit import fit_width
from .layers import PREVIEW, layer_choices, reset_keeping_value, segsuite_metadata
from .preview import PreviewRunner

__all__ = ["ScoringWidget"]

ERROR_COLORS = DirectLabelColormap(color_dict={None: (0, 0, 0, 0), 0: (0, 0, 0, 0), FP: (1.0, 0.25, 0.2, 1.0), FN: (0.2, 0.6, 1.0, 1.0)})


class ScoringWidget(QWidget):
    """Choose prediction and ground-truth labels layers; see the scores follow every stroke."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        self.result: Score | None = None
        self.error_layer: Labels | None = None
        self.iou_layer = None
        self._watched: list[Labels] = []
        self.runner = PreviewRunner(delay_ms=15, parent=self)
        self.runner.done.connect(self._on_scored)

        self.pred = widgets.ComboBox(label="prediction", choices=self._labels_choices, nullable=True, tooltip="Labels layer to score")
        self.gt = widgets.ComboBox(label="ground truth", choices=self._labels_choices, tooltip="Reference labels layer")
        self.kind = widgets.ComboBox(label="metrics", choices=["auto", "semantic", "instance", "boundary", "all"], value="auto",
                                     tooltip="auto: instance metrics when the ground truth holds many object ids and no "
                                             "class names, else semantic")
        self.binary = widgets.CheckBox(value=False, text="foreground only", tooltip="Score label > 0 against background only")
        self.ignore = widgets.SpinBox(label="ignore label", value=-1, min=-1, max=65535, tooltip="Ground-truth label left out (VOC: 255); -1 = none")
        self.live = widgets.CheckBox(value=True, text="live scores", tooltip="Re-score after every paint stroke")
        self.overlay = widgets.CheckBox(value=False, text="error overlay",
                                       tooltip="Red: false positive, blue: false negative (instance mode: per object)")
        self.score_button = widgets.PushButton(text="Score now")
        self.export_button = widgets.PushButton(text="Export table…")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.summary_table = QTableWidget(0, 2)
        self.summary_table.setHorizontalHeaderLabels(["metric", "value"])
        self.detail_table = QTableWidget(0, 0)
        for table in (self.summary_table, self.detail_table):
            table.verticalHeader().setVisible(False)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            table.horizontalHeader().setStretchLastSection(True)
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        layout = QVBoxLayout(self)
        layout.addWidget(widgets.Container(widgets=[self.pred, self.gt, self.kind, self.binary, self.ignore]).native)
        layout.addWidget(widgets.Container(widgets=[self.live, self.overlay], labels=False).native)
        layout.addWidget(widgets.Container(layout="horizontal", labels=False, widgets=[self.score_button, self.export_button]).native)
        layout.addWidget(self.status)
        layout.addWidget(self.summary_table, 3)
        layout.addWidget(self.detail_table, 2)

        for name, w in (("kind", self.kind), ("binary", self.binary), ("live", self.live), ("overlay", self.overlay)):
            kept = settings.get(f"scoring.{name}")  # the choices of the last session
            if kept is not None and (not hasattr(w, "choices") or kept in w.choices):
                w.value = kept
            w.changed.connect(lambda value, name=name: settings.remember(f"scoring.{name}", value))
        self._gt_picked = False  # the user chose the ground truth: layers added later do not change it
        self._guessing = False
        self.gt.changed.connect(self._on_gt_picked)
        for w in (self.pred, self.gt):
            w.changed.connect(self._on_layers_changed)
        for w in (self.kind, self.binary, self.ignore, self.overlay):
            w.changed.connect(self.request_score)
        self.live.changed.connect(lambda on: on and self.request_score())
        self.score_button.changed.connect(lambda *_: self.request_score(force=True))
        self.export_button.changed.connect(self._export_dialog)
        napari_viewer.layers.events.inserted.connect(self._reset_choices)
        napari_viewer.layers.events.removed.connect(self._reset_choices)
        self._guess_ground_truth()
        self._on_layers_changed()
        fit_width(self)

    # -- layers ---------------------------------------------------------------------------------
    def _labels_choices(self, _w: Any = None) -> list[tuple[str, Labels]]:
        """Labels layers a person made or opened: the plugin's previews and error maps are left out."""
        return layer_choices(self.viewer, Labels, self.error_layer)

    def _on_gt_picked(self, *_: Any) -> None:
        if not self._guessing:
            self._gt_picked = True

    def _reset_choices(self, *_: Any) -> None:
        self._guessing = True
        try:
            reset_keeping_value(self.pred)
            reset_keeping_value(self.gt)
            if not self._gt_picked:
                self._guess_ground_truth()
        finally:
            self._guessing = False
        self._default_prediction()

    def _default_prediction(self) -> None:
        """Score the newest labels layer that is not the ground truth and has its shape, unless one
        is chosen (a labels layer made for another image is not a prediction of this one)."""
        if self.pred.value is not None and self.pred.value is not self.gt.value:
            return
        gt = self.gt.value
        others = [layer for _, layer in self._labels_choices()
                  if layer is not gt and (gt is None or tuple(layer.data.shape) == tuple(gt.data.shape))]
        self.pred.value = others[-1] if others else None

    def _guess_ground_truth(self) -> None:
        """Pick a layer named like a ground truth, and another one as the prediction."""
        choices = [layer for _, layer in self._labels_choices()]
        gt = next((layer for layer in choices if "truth" in layer.name.lower() or "gt" in layer.name.lower().split()), None)
        if gt is not None and gt is not self.gt.value:
            guessing, self._guessing = self._guessing, True
            try:
                self.gt.value = gt
            finally:
                self._guessing = guessing
        self._default_prediction()

    def _on_layers_changed(self, *_: Any) -> None:
        for layer in self._watched:
            layer.events.paint.disconnect(self._on_edit)
            layer.events.data.disconnect(self._on_edit)
        self._watched = [layer for layer in (self.pred.value, self.gt.value) if layer is not None]
        for layer in self._watched:
            layer.events.paint.connect(self._on_edit)
            layer.events.data.connect(self._on_edit)
        self.request_score()

    def _on_edit(self, *_: Any) -> None:
        if self.live.value:
            self.request_score()

    # -- scoring ----------------------------------------------------------------------------------
    def request_score(self, *_: Any, force: bool = False) -> None:
        """Score off the UI thread (debounced; the newest request wins)."""
        if not (self.live.value or force):
            return
        pred_layer, gt_layer = self.pred.value, self.gt.value
        if pred_layer is None or gt_layer is None:
            self.status.setText("Choose a prediction and a ground-truth labels layer.")
            return
        if pred_layer is gt_layer:
            self.status.setText("The prediction and the ground truth are the same layer: choose two layers.")
            return
        pred, gt = np.asarray(pred_layer.data), np.asarray(gt_layer.data)
        if pred.shape != gt.shape:
            self._error(f"{pred_layer.name!r} has shape {pred.shape} but {gt_layer.name!r} has shape {gt.shape}: they must match")
            return
        pred, gt = pred.copy(), gt.copy()  # a snapshot: painting may go on while we score
        kind, binary = self.kind.value, self.binary.value
        ignore = None if self.ignore.value < 0 else int(self.ignore.value)
        overlay = self.overlay.value
        classes = _class_names(gt_layer)

        def job():
            chosen, why = auto_kind(gt, ignore_index=ignore, binary=binary, class_names=classes) if kind == "auto" else (kind, "")
            result = score(pred, gt, kind=chosen, binary=binary, ignore_index=ignore, class_names=classes)
            if kind == "auto":
                result.notes.insert(0, f"auto: {chosen} metrics ({why})")
            maps = error_maps(pred if not binary else (pred > 0).astype(np.uint8), gt if not binary else (gt > 0).astype(np.uint8),
                              "instance" if chosen == "instance" else "semantic", ignore_index=ignore) if overlay else None
            return result, maps

        self.runner.request(job)

    def _on_scored(self, value: Any, exc: BaseException | None) -> None:
        if self.pred.value is None or self.gt.value is None:
            return  # a layer was removed while its scores were computed
        if exc is not None:
            self._error(str(exc))
            return
        self.result, maps = value
        self._fill_tables(self.result)
        notes = "; ".join(self.result.notes)
        self.status.setStyleSheet("")
        self.status.setText(notes or f"{self.pred.value.name} vs {self.gt.value.name}")
        if maps is not None:
            self._show_overlay(*maps)
        elif self.error_layer is not None and self.error_layer in self.viewer.layers:
            self.error_layer.visible = False

    def _error(self, msg: str) -> None:
        self.status.setStyleSheet("color: #e06c60")
        self.status.setText(msg)
        show_error(f"Scoring: {msg}")

    def _fill_tables(self, result: Score) -> None:
        for table in (self.summary_table, self.detail_table):
            table.setUpdatesEnabled(False)
        try:
            self._fill(result)
        finally:
            for table in (self.summary_table, self.detail_table):
                table.resizeColumnsToContents()
                table.setUpdatesEnabled(True)

    def _fill(self, result: Score) -> None:
        rows = [(k, v) for k, v in result.summary.items()]
        self.summary_table.setRowCount(len(rows))
        for i, (k, v) in enumerate(rows):
            self.summary_table.setItem(i, 0, QTableWidgetItem(k))
            self.summary_table.setItem(i, 1, QTableWidgetItem(_fmt(v)))
        detail = result.per_class if result.kind != "instance" else result.per_threshold
        columns = list(detail[0].keys()) if detail else []
        self.detail_table.setColumnCount(len(columns))
        self.detail_table.setHorizontalHeaderLabels(columns)
        self.detail_table.setRowCount(len(detail))
        for i, row in enumerate(detail):
            for j, c in enumerate(columns):
                self.detail_table.setItem(i, j, QTableWidgetItem(_fmt(row.get(c, ""))))

    def _show_overlay(self, errors: np.ndarray, ious: np.ndarray | None) -> None:
        layer = self.pred.value
        kw = {"scale": layer.scale, "translate": layer.translate}
        active = self.viewer.layers.selection.active
        if ious is not None:  # below the errors, so that flagged objects stay visible
            if self.iou_layer is None or self.iou_layer not in self.viewer.layers:
                self.iou_layer = self.viewer.add_image(ious, name="matched IoU", colormap="magma", contrast_limits=(0, 1), opacity=0.6, **kw)
            else:
                self.iou_layer.data = ious
        if self.error_layer is None or self.error_layer not in self.viewer.layers:
            self.error_layer = self.viewer.add_labels(errors, name="score errors", colormap=ERROR_COLORS, opacity=0.8,
                                                      metadata={PREVIEW: True}, **kw)
        else:
            self.error_layer.data = errors
            self.error_layer.visible = True
        if active is not None:
            self.viewer.layers.selection.active = active  # keep painting where the user was

    # -- export -----------------------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        """Write the last scores as CSV (summary + detail rows) or JSON (everything), by suffix."""
        if self.result is None:
            raise ValueError("nothing scored yet: choose the layers first")
        path = Path(path)
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(self.result.to_dict(), indent=2))
            return path
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["section", "name", "value"])
            for k, v in self.result.summary.items():
                writer.writerow(["summary", k, _fmt(v)])
            detail = self.result.per_class if self.result.kind != "instance" else self.result.per_threshold
            section = "class" if self.result.kind != "instance" else "threshold"
            for row in detail:
                key = row.get("name", row.get("threshold"))
                for k, v in row.items():
                    writer.writerow([f"{section} {key}", k, _fmt(v)])
        return path

    def _export_dialog(self, *_: Any) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export scores", "scores.csv", "CSV (*.csv);;JSON (*.json)")
        if path:
            try:
                show_info(f"scores written to {self.export(path)}")
            except (OSError, ValueError) as e:
                self._error(str(e))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.runner.shutdown()
        self.viewer.layers.events.inserted.disconnect(self._reset_choices)
        self.viewer.layers.events.removed.disconnect(self._reset_choices)
        super().closeEvent(event)


def _class_names(layer: Labels) -> dict[int, str] | None:
    classes = segsuite_metadata(layer).get("classes")
    return {int(c["id"]): str(c["name"]) for c in classes} if classes else None


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "—" if np.isnan(v) else f"{v:.4g}"
    return str(v)


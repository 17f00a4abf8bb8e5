"""The post-processing steps a family widget chains after its technique (one form per step)."""

from __future__ import annotations

from typing import Any

from magicgui import widgets
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from ..techniques import CATALOG, Technique
from .params import ParamsForm

__all__ = ["PostStepsPanel"]


class _StepRow(QFrame):
    def __init__(self, technique: Technique, panel: PostStepsPanel) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.technique = technique
        self.form = ParamsForm(technique)
        self.remove = widgets.PushButton(text="Remove")
        title = QLabel(f"<b>{technique.title}</b>")
        title.setToolTip(technique.summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(title)
        layout.addWidget(self.form.native)
        layout.addWidget(self.remove.native)
        self.form.changed.connect(panel.changed.emit)
        self.remove.changed.connect(lambda *_: panel.remove_step(self))


class PostStepsPanel(QWidget):
    """An ordered list of post-processing steps (post.* techniques with their parameters)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[_StepRow] = []
        post = [(t.title, name) for name, t in CATALOG.items() if t.channels == "labels"]
        self.choice = widgets.ComboBox(label="step", choices=post, tooltip="Post-processing step to append")
        self.add_button = widgets.PushButton(text="Add", tooltip="Append this post-processing step")
        self.add_button.changed.connect(lambda *_: self.add_step(self.choice.value))
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(widgets.Container(widgets=[self.choice, self.add_button], layout="horizontal").native)

    def add_step(self, name: str, params: dict[str, Any] | None = None) -> ParamsForm:
        row = _StepRow(CATALOG[name], self)
        if params:
            row.form.set_values(params)
        self.rows.append(row)
        self._layout.addWidget(row)
        self.changed.emit()
        return row.form

    def remove_step(self, row: _StepRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.changed.emit()

    def clear(self) -> None:
        for row in list(self.rows):
            self.rows.remove(row)
            row.setParent(None)
            row.deleteLater()
        self.changed.emit()

    def steps(self) -> list[tuple[Technique, dict[str, Any]]]:
        """``(technique, validated params)`` of every step, in order."""
        return [(row.technique, row.form.values()) for row in self.rows]

"""Docks that keep a sane width whatever the layer names: the rules every tool applies to itself."""

from __future__ import annotations

from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QTableWidget, QWidget

__all__ = ["LABEL_WIDTH", "fit_width"]

FILE_BUTTONS = ("Choose directory", "Select file", "Select files", "Save file")  # magicgui's FileEdit buttons
LABEL_WIDTH = 96  # px: a form's label column at most; longer names wrap


def fit_width(root: QWidget, chars: int = 6) -> None:
    """Keep ``root`` narrow whatever it shows; call it once its controls are made.

    A combo box is as wide as ``chars`` characters whatever it lists (a 64-character layer name is
    cut, and shown whole in its tooltip); word-wrapped labels and tables give way to the width they
    get; a form's field names wrap beyond :data:`LABEL_WIDTH`; file fields browse with "…"; nested
    forms do not add their margins up.
    """
    for combo in root.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(chars)
        combo.setToolTip(combo.currentText() or combo.toolTip())
        combo.currentTextChanged.connect(combo.setToolTip)
    for label in root.findChildren(QLabel):
        if label.wordWrap():
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        elif _is_field_label(label):  # "merge threshold" wraps onto two lines rather than widen the form
            label.setWordWrap(True)
            label.setMinimumWidth(min(label.minimumWidth(), LABEL_WIDTH))
            label.setMaximumWidth(LABEL_WIDTH)
    for button in root.findChildren(QPushButton):  # a file field's "Choose directory" leaves the path no room
        if button.text() in FILE_BUTTONS:
            button.setToolTip(button.text())
            button.setText("…")
    for table in root.findChildren(QTableWidget):  # a wide table scrolls inside itself, not the dock
        table.setSizePolicy(QSizePolicy.Policy.Ignored, table.sizePolicy().verticalPolicy())
    for child in root.findChildren(QWidget):  # nested forms add their margins up: only the dock keeps one
        layout = child.layout()
        if layout is not None and child.objectName().startswith("magicgui"):
            margins = layout.contentsMargins()
            layout.setContentsMargins(0, margins.top(), 0, margins.bottom())
    from superqt import QCollapsible

    for section in root.findChildren(QCollapsible):  # its content is indented by default: give the width back
        for layout in (section.layout(), *(w.layout() for w in section.findChildren(QWidget) if w.layout() is not None)):
            margins = layout.contentsMargins()
            layout.setContentsMargins(0, margins.top(), 0, margins.bottom())


def _is_field_label(label: QLabel) -> bool:
    """Whether ``label`` names the field beside it in a form row (a magicgui labelled widget)."""
    parent = label.parentWidget()
    row = parent.layout() if parent is not None else None
    return isinstance(row, QHBoxLayout) and row.count() == 2 and row.indexOf(label) == 0

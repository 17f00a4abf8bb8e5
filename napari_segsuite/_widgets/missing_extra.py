"""A dock that stands in for a tool whose optional packages are not installed."""

from __future__ import annotations

from napari.viewer import Viewer
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication, QLabel, QPushButton, QVBoxLayout, QWidget

from ..extras import EXTRAS, install_line, missing

__all__ = ["missing_extra_widget"]


def missing_extra_widget(class_name: str, tool: str, extra: str, modules: tuple[str, ...]) -> type[QWidget]:
    """A widget class, constructible by napari from the viewer, that says ``tool`` needs ``modules``
    of ``extra`` and offers the install line to copy."""

    def __init__(self: QWidget, napari_viewer: Viewer | None = None) -> None:
        QWidget.__init__(self)
        self.setObjectName(class_name)
        line = install_line(extra)
        absent = missing(extra, modules) or list(modules)
        names = " and ".join([", ".join(absent[:-1]), absent[-1]] if len(absent) > 1 else absent)
        text = QLabel(f"<b>{tool}</b> needs {names}, which this install lacks: they come with the optional "
                      f"[{extra}] extra ({EXTRAS[extra][0]}). Add it with:<pre>{line}</pre>then restart napari.")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = QPushButton("Copy the command")
        copy.clicked.connect(lambda: QApplication.clipboard().setText(line))
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(copy)
        layout.addStretch(1)
        self.message = text.text()

    doc = f"Stands in for the {tool} dock while the [{extra}] extra is not installed."
    return type(class_name, (QWidget,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})

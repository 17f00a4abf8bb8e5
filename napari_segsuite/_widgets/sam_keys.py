"""The Segment Anything tool's keys: shown in the dock, rebindable there, remembered between sessions.

The keys act on the 'SAM points' layer only (napari's own keys stay as they are on every other
layer, the 'SAM box' layer included). napari's Preferences → Shortcuts cannot hold them: it binds
a key for every layer of a type (every Points layer, other plugins' too), so they are edited here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import QFormLayout, QKeySequenceEdit, QLabel, QWidget

from . import settings

__all__ = ["ACTIONS", "KeysPanel", "napari_key"]

# action -> (what it does, default key, in napari's spelling)
ACTIONS: dict[str, tuple[str, str]] = {
    "next": ("next candidate mask", "N"),
    "commit": ("commit the mask", "Enter"),
    "clear": ("clear the prompts", "Escape"),
}
# Qt's portable key names that napari (app-model) spells otherwise
_QT_TO_NAPARI = {"Return": "Enter", "Esc": "Escape", "Del": "Delete", "Ins": "Insert", "PgUp": "PageUp", "PgDown": "PageDown"}
RESERVED = {"Tab": "Tab moves the keyboard focus (Qt)", "Backtab": "Shift+Tab moves the keyboard focus (Qt)"}


def napari_key(sequence: QKeySequence) -> str:
    """The first key of a Qt key sequence, spelled as napari's ``bind_key`` reads it ("" if none)."""
    text = sequence.toString(QKeySequence.SequenceFormat.PortableText).split(",")[0].strip()
    if not text:
        return ""
    parts = text.split("+") if text != "+" else ["+"]
    return "+".join(_QT_TO_NAPARI.get(p, p) for p in parts)


class KeysPanel(QWidget):
    """One key field per action; ``changed`` is emitted when a key was changed and accepted."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edits: dict[str, QKeySequenceEdit] = {}
        self.message = QLabel()
        self.message.setWordWrap(True)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for action, (what, _) in ACTIONS.items():
            edit = QKeySequenceEdit(QKeySequence(self.key(action)))
            edit.setToolTip(f"The key that does '{what}' in the 'SAM points' layer; click and press a key")
            edit.editingFinished.connect(lambda action=action: self._edited(action))
            self.edits[action] = edit
            form.addRow(what, edit)
        form.addRow(self.message)

    @staticmethod
    def key(action: str) -> str:
        """The key bound to ``action`` (the remembered one, else the default)."""
        return str(settings.get(f"sam.key.{action}", ACTIONS[action][1]))

    def keys(self) -> dict[str, str]:
        return {action: self.key(action) for action in ACTIONS}

    def describe(self) -> str:
        """The keys in words, for the dock's help line."""
        return " · ".join(f"{self.key(a)} {what}" for a, (what, _) in ACTIONS.items())

    def bind(self, layer: Any, handlers: dict[str, Callable[[], Any]], previous: dict[str, str] | None = None) -> dict[str, str]:
        """Bind each action's key on ``layer``, after unbinding the ``previous`` keys (what an
        earlier call returned); returns the keys bound now."""
        for key in (previous or {}).values():
            layer.bind_key(key, None, overwrite=True)
        for action, handler in handlers.items():
            layer.bind_key(self.key(action), lambda _layer, handler=handler: handler(), overwrite=True)
        return self.keys()

    def _edited(self, action: str) -> None:
        edit = self.edits[action]
        key = napari_key(edit.keySequence())
        problem = self._problem(action, key)
        if problem:
            self.message.setText(problem)
            edit.setKeySequence(QKeySequence(self.key(action)))  # the key in force stays
            return
        self.message.setText("")
        if key != self.key(action):
            settings.remember(f"sam.key.{action}", key)
            self.changed.emit()

    def _problem(self, action: str, key: str) -> str:
        """Why ``key`` cannot do ``action`` ("" when it can)."""
        if not key:
            return f"'{ACTIONS[action][0]}' needs a key; it keeps {self.key(action)}"
        if key in RESERVED:
            return f"{RESERVED[key]}: choose another key"
        try:
            from app_model.types import KeyBinding

            if not str(KeyBinding.from_str(key)).strip("+"):
                raise ValueError(key)
        except Exception:  # noqa: BLE001 - any parse failure means napari cannot bind it
            return f"napari cannot bind {key!r}: choose another key"
        taken = [ACTIONS[a][0] for a, k in self.keys().items() if a != action and k.lower() == key.lower()]
        if taken:
            return f"{key} already does '{taken[0]}'"
        return ""

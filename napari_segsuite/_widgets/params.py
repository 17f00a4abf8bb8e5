"""magicgui form for a technique's parameters, generated from its catalog specs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from magicgui import widgets

from ..techniques import Param, Technique

__all__ = ["ParamsForm"]

BIG = 1e9


def _label(p: Param) -> str:
    return p.name.replace("_", " ")


def make_param_widget(p: Param) -> widgets.ValueWidget:
    """The magicgui widget for one parameter: slider for bounded numbers, combo for choices."""
    common = {"name": p.name, "label": _label(p), "tooltip": p.doc or None}
    if p.choices is not None:
        return widgets.ComboBox(choices=list(p.choices), value=p.default, **common)
    if p.type is bool:
        return widgets.CheckBox(value=p.default, text="", **common)
    r = p.range
    lo = r.min if r is not None and r.min is not None else -BIG
    hi = r.max if r is not None and r.max is not None else BIG
    data_driven = r is not None and r.from_data is not None
    bounded = data_driven or (math.isfinite(lo) and math.isfinite(hi) and abs(lo) < BIG and abs(hi) < BIG)
    if p.type is int:
        step = int(r.step) if r is not None and r.step else 1
        cls = widgets.Slider if bounded else widgets.SpinBox
        return cls(value=p.default, min=int(lo), max=int(hi), step=step, **common)
    step = r.step if r is not None and r.step else None
    if bounded:
        kw = {"step": step} if step else {}
        if data_driven:  # real limits arrive with the image (ParamsForm.set_data_range)
            lo, hi = min(0.0, p.default), max(1.0, p.default)
        return widgets.FloatSlider(value=p.default, min=lo, max=hi, **kw, **common)
    return widgets.FloatSpinBox(value=p.default, min=lo, max=hi, step=step or 0.1, **common)


def _set_limits(w: widgets.ValueWidget, lo: float, hi: float) -> None:
    """Move both limits of a slider without a transient min > max."""
    if lo > w.max:
        w.max, w.min = hi, lo
    else:
        w.min, w.max = lo, hi


class ParamsForm(widgets.Container):
    """The parameters of one technique, with visibility following each spec's ``When``."""

    def __init__(self, technique: Technique) -> None:
        self.technique = technique
        self._specs = {p.name: p for p in technique.params}
        super().__init__(widgets=[make_param_widget(p) for p in technique.params], labels=True)
        self.changed.connect(self._on_change)
        self._update_visibility()

    def values(self) -> dict[str, Any]:
        """Current values, validated by the technique (the rule the CLI and presets follow)."""
        return self.technique.validate_params({w.name: w.value for w in self})

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Set several values at once, emitting a single ``changed``."""
        values = self.technique.validate_params({**self.values(), **values})
        with self.changed.blocked():
            for name, v in values.items():
                w = self[name]
                if isinstance(w, (widgets.FloatSlider, widgets.Slider)) and not w.min <= v <= w.max:
                    _set_limits(w, min(w.min, v), max(w.max, v))
                w.value = v
        self._update_visibility()
        self.changed.emit(self)

    def set_data_range(self, vmin: float, vmax: float) -> None:
        """Adapt the limits of data-driven sliders (manual threshold, offsets) to the image."""
        span = (vmax - vmin) or 1.0
        with self.changed.blocked():
            for w in self:
                r = self._specs[w.name].range
                if r is None or r.from_data is None:
                    continue
                lo, hi = (vmin, vmax) if r.from_data == "values" else (-span, span)
                if hi <= lo:
                    hi = lo + 1.0
                old = w.value
                _set_limits(w, lo, hi)
                w.value = old if lo <= old <= hi else (lo + hi) / 2 if r.from_data == "values" else 0.0

    def _on_change(self, *_: Any) -> None:
        self._snap_odd()
        self._update_visibility()

    def _snap_odd(self) -> None:
        """An even window size typed into an odd-only parameter becomes the next odd one in the
        widget itself, so the value shown is the value used (the engine refuses even sizes)."""
        for w in self:
            r = self._specs[w.name].range
            if r is not None and r.odd and int(w.value) % 2 == 0:
                with self.changed.blocked():
                    w.value = int(w.value) + 1 if int(w.value) + 1 <= w.max else int(w.value) - 1

    def _update_visibility(self) -> None:
        current = {w.name: w.value for w in self}
        for w in self:
            w.visible = self._specs[w.name].applies(current)

"""Tuning panel of a family widget: sweep one or two parameters against a ground-truth layer,
plot score against parameter, and set the best parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets
from napari.layers import Labels
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..techniques.tuning import METRICS, SweepResult, grid_values, iter_sweep, tunable
from .jobs import Job, start_worker
from .layers import displayed_slice, layer_choices, reset_keeping_value, spatial_shape

__all__ = ["TuningPanel"]

NONE = "(none)"


class TuningPanel(QWidget):
    """Grid search over the current technique's parameters, scored on the displayed slice."""

    def __init__(self, family: Any) -> None:
        """``family``: the FamilyWidget that holds this panel (its viewer, technique, forms and
        preview layer are read; it imports this module, not the other way round)."""
        super().__init__()
        self.family = family
        self.result: SweepResult | None = None
        viewer = family.viewer
        self.gt = widgets.ComboBox(label="ground truth", choices=self._gt_choices, tooltip="Labels layer to score against")
        self.metric = widgets.ComboBox(label="metric", choices=list(METRICS), value="foreground IoU")
        self.axes = []
        for i in (1, 2):
            name = widgets.ComboBox(label=f"parameter {i}", choices=self._param_choices(optional=i == 2))
            lo = widgets.FloatSpinBox(label="from", min=-1e9, max=1e9, step=0.1)
            hi = widgets.FloatSpinBox(label="to", min=-1e9, max=1e9, step=0.1)
            steps = widgets.SpinBox(label="steps", value=12 if i == 1 else 6, min=2, max=60)
            name.changed.connect(lambda *_, i=i: self._on_param_changed(i))
            self.axes.append((name, lo, hi, steps))
        self.run_button = widgets.PushButton(text="Run sweep")
        self.cancel_button = widgets.PushButton(text="Cancel")
        self.best_button = widgets.PushButton(text="Use best", enabled=False)
        self.figure: Any = None  # the plot, made by the first sweep (matplotlib loads then, not with the dock)
        self.canvas: Any = None
        self.status = QLabel("Choose a ground-truth layer, a metric and the parameters to sweep.")
        self.status.setWordWrap(True)

        form = [self.gt, self.metric] + [w for axis in self.axes for w in axis]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widgets.Container(widgets=form).native)
        buttons = widgets.Container(layout="horizontal", labels=False, widgets=[self.run_button, self.cancel_button, self.best_button])
        layout.addWidget(buttons.native)
        layout.addWidget(self.status)
        self._layout = layout

        self.run_button.changed.connect(self.run)
        self.job = Job(self.run_button, self.cancel_button)
        self.best_button.changed.connect(self.use_best)
        family.technique.changed.connect(self._on_technique_changed)
        for form in family.forms.values():
            form.changed.connect(self._on_form_changed)
        viewer.layers.events.inserted.connect(self._reset_gt)
        viewer.layers.events.removed.connect(self._reset_gt)
        self._on_technique_changed()

    # -- choices ----------------------------------------------------------------------------------
    def _gt_choices(self, _w: Any = None) -> list[tuple[str, Labels]]:
        return layer_choices(self.family.viewer, Labels, self.family.preview_layer)

    def _reset_gt(self, *_: Any) -> None:
        reset_keeping_value(self.gt)

    def _param_choices(self, optional: bool) -> list[str]:
        names = [p.name for p in tunable(self.family.current, self.family.params())]
        return [NONE, *names] if optional else names

    def _on_form_changed(self, *_: Any) -> None:
        """Offer the parameters that matter for the values now set; keep each choice that still does."""
        for i, (name, *_rest) in enumerate(self.axes, start=1):
            choices = self._param_choices(optional=i == 2)
            if list(name.choices) == choices:
                continue
            keep = name.value if name.value in choices else (choices[0] if i == 1 else NONE)
            with name.changed.blocked():
                name.choices = choices
                name.value = keep
            self._on_param_changed(i)

    def _on_technique_changed(self, *_: Any) -> None:
        for i, (name, *_rest) in enumerate(self.axes, start=1):
            with name.changed.blocked():
                name.choices = self._param_choices(optional=i == 2)
                name.value = name.choices[0] if i == 1 else NONE
            self._on_param_changed(i)

    def _on_param_changed(self, i: int) -> None:
        name, lo, hi, steps = self.axes[i - 1]
        numeric = name.value not in (None, NONE) and self.family.current.param(name.value).choices is None
        for w in (lo, hi, steps):
            w.visible = numeric
        if not numeric:
            return
        p = self.family.current.param(name.value)
        w = self.family.form[p.name]
        low = getattr(w, "min", None) if p.range is None or p.range.min is None or p.range.from_data else p.range.min
        high = getattr(w, "max", None) if p.range is None or p.range.max is None or p.range.from_data else p.range.max
        value = float(w.value)
        low = value / 2 if low is None or abs(low) >= 1e8 else low
        high = max(value * 2, 1.0) if high is None or abs(high) >= 1e8 else high
        lo.value, hi.value = float(low), float(high)
        lo.step = hi.step = max((high - low) / 100, 1e-3)

    # -- running ----------------------------------------------------------------------------------
    def grid(self) -> dict[str, list[Any]]:
        """The values to try, from the panel's fields."""
        grid = {}
        for name, lo, hi, steps in self.axes:
            if name.value in (None, NONE):
                continue
            p = self.family.current.param(name.value)
            grid[p.name] = grid_values(p, lo.value, hi.value, steps.value)
        if len(grid) == 2 and len(set(grid)) < 2:
            raise ValueError("choose two different parameters")
        return grid

    def run(self, *_: Any) -> Any:
        """Start the sweep in a worker with napari progress; returns the worker."""
        fam = self.family
        try:
            layer, gt_layer = fam.input.value, self.gt.value
            if layer is None or gt_layer is None:
                raise ValueError("choose an image (above) and a ground-truth labels layer")
            index, raw = displayed_slice(fam.viewer, layer)
            shape = spatial_shape(layer)
            gt = np.asarray(gt_layer.data)
            if gt.shape == shape:
                gt = gt[index]
            elif gt.shape != shape[-2:]:
                raise ValueError(f"the ground truth {gt_layer.name!r} has shape {gt.shape}; the image has shape {shape}")
            grid = self.grid()
            base = fam.params()
        except (ValueError, TypeError, KeyError) as e:
            self._error(e)
            return None
        n = int(np.prod([len(v) for v in grid.values()]))
        worker = start_worker(
            iter_sweep, fam.current, np.asarray(raw), gt, grid, base_params=base, metric=self.metric.value,
            has_channels=bool(layer.rgb), _progress={"total": n, "desc": f"sweeping {', '.join(grid)} ({n} runs)"},
            what="the tuning sweep", on_error=self._error,
        )
        worker.returned.connect(self._on_done)
        self.status.setText(f"running {n} runs…")
        return self.job.start(worker, cancelled="sweep cancelled")

    def _error(self, exc: BaseException) -> None:
        self.status.setText(str(exc))
        show_error(f"Tuning: {exc}")

    def _on_done(self, result: SweepResult) -> None:
        self.result = result
        self.best_button.enabled = bool(result.best_params)
        best = ", ".join(f"{k} = {_short(v)}" for k, v in result.best_params.items())
        self.status.setText(f"best {result.metric}: {result.best_score:.4f} at {best}" if best else "no finite score")
        self.plot(result)

    def use_best(self, *_: Any) -> None:
        """Set the best parameters in the technique's form (the preview follows)."""
        if self.result is not None and self.result.best_params:
            self.family.form.set_values(self.result.best_params)

    # -- plot -------------------------------------------------------------------------------------
    def _make_plot(self) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.2, 2.4), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(220)
        self._layout.addWidget(self.canvas)

    def plot(self, result: SweepResult) -> None:
        """Draw ``result``: score against one parameter, or a heat map over two."""
        if self.figure is None:
            self._make_plot()
        fig = self.figure
        fig.clear()
        fg = self.palette().color(self.foregroundRole()).name()
        bg = self.palette().color(self.backgroundRole()).name()
        fig.set_facecolor(bg)
        ax = fig.add_subplot(111)
        ax.set_facecolor(bg)
        for spine in ax.spines.values():
            spine.set_color(fg)
        ax.tick_params(colors=fg, labelsize=7)
        if len(result.names) == 1:
            xs = result.axes[0]
            pos = np.arange(len(xs)) if isinstance(xs[0], str) else np.asarray(xs, float)
            ax.plot(pos, result.scores, "o-", color="#ffc800", ms=3)
            if isinstance(xs[0], str):
                ax.set_xticks(pos, xs, rotation=30)
            if result.best_params:
                b = xs.index(result.best_params[result.names[0]])
                ax.plot(pos[b], result.scores[b], "*", color="#ff5050", ms=12)
            ax.set_xlabel(result.names[0], color=fg, fontsize=8)
            ax.set_ylabel(result.metric, color=fg, fontsize=8)
        else:
            im = ax.imshow(result.scores, aspect="auto", origin="lower", cmap="viridis")
            ax.set_yticks(range(len(result.axes[0])), [_short(v) for v in result.axes[0]])
            ax.set_xticks(range(len(result.axes[1])), [_short(v) for v in result.axes[1]], rotation=45)
            ax.set_ylabel(result.names[0], color=fg, fontsize=8)
            ax.set_xlabel(result.names[1], color=fg, fontsize=8)
            if result.best_params:
                i = result.axes[0].index(result.best_params[result.names[0]])
                j = result.axes[1].index(result.best_params[result.names[1]])
                ax.plot(j, i, "*", color="#ff5050", ms=12)
            cb = fig.colorbar(im, ax=ax)
            cb.ax.tick_params(colors=fg, labelsize=7)
            cb.set_label(result.metric, color=fg, fontsize=8)
        self.canvas.draw_idle()


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)

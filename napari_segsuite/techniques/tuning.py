"""Parameter tuning: sweep one or two parameters of a technique and score each result against a
ground truth, so that "the best parameters" is a number, not an impression.

The image is prepared once (gray conversion, statistics) and only the technique re-runs per grid
point, on the same 2D slice the widget previews.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics import score
from . import Cancelled, Param, Technique, prepare_slice

__all__ = ["METRICS", "SweepResult", "grid_values", "iter_sweep", "sweep", "tunable"]

#: label -> (score kind, binary foreground mode, summary key); all are "higher is better"
METRICS: dict[str, tuple[str, bool, str]] = {
    "foreground IoU": ("semantic", True, "foreground_iou"),
    "foreground Dice": ("semantic", True, "foreground_dice"),
    "mean IoU (classes)": ("semantic", False, "mean_iou"),
    "pixel accuracy": ("semantic", False, "pixel_accuracy"),
    "object F1 @ IoU 0.5": ("instance", False, "f1@0.5"),
    "object F1, mean over IoU 0.5:0.95": ("instance", False, "f1_mean"),
    "panoptic quality": ("instance", False, "pq"),
    "boundary F1 (foreground)": ("boundary", True, "bf_mean"),
}


def tunable(technique: Technique, params: Mapping[str, Any] | None = None) -> list[Param]:
    """Parameters that a sweep can vary: numbers and choices; with ``params`` (the current values),
    only those that matter for them (Sauvola ignores ``offset``: a sweep of it would be flat)."""
    return [p for p in technique.params if (p.choices is not None or p.type in (int, float))
            and (params is None or p.applies(params))]


def grid_values(param: Param, lo: float | None = None, hi: float | None = None, steps: int = 10) -> list[Any]:
    """Evenly spaced valid values of ``param`` in [lo, hi] (all choices for a choice parameter).

    Integers are rounded and deduplicated; odd-only parameters get odd values.
    """
    if param.choices is not None:
        return list(param.choices)
    if lo is None or hi is None:
        raise ValueError(f"give a range for {param.name!r}")
    if hi < lo:
        lo, hi = hi, lo
    values: list[Any] = list(np.linspace(lo, hi, max(int(steps), 1)))
    if param.type is int:
        ints = []
        for v in values:
            i = int(round(v))
            if param.range is not None and param.range.odd and i % 2 == 0:
                i += 1 if i < hi else -1
            if i not in ints:
                ints.append(i)
        values = ints
    else:
        values = [float(v) for v in values]
    return [param.validate(v) for v in values]


@dataclass
class SweepResult:
    """Scores over a grid: ``scores[i]`` (1D) or ``scores[i, j]`` (2D) for ``axes`` values."""

    names: list[str]
    axes: list[list[Any]]
    scores: np.ndarray
    metric: str
    best_params: dict[str, Any] = field(default_factory=dict)
    best_score: float = float("nan")


def iter_sweep(
    technique: Technique,
    image: Any,
    gt: np.ndarray,
    grid: Mapping[str, Sequence[Any]],
    *,
    base_params: Mapping[str, Any] | None = None,
    metric: str = "foreground IoU",
    has_channels: bool = False,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[int]:
    """Generator form of :func:`sweep`: yields after each grid point, returns a SweepResult."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
    if not 1 <= len(grid) <= 2:
        raise ValueError("sweep one or two parameters")
    kind, binary, key = METRICS[metric]
    names = list(grid)
    axes = [list(grid[n]) for n in names]
    for n, values in zip(names, axes):
        technique.param(n)  # unknown names raise
        if not values:
            raise ValueError(f"no value to try for {n!r}")
    base = technique.validate_params(dict(base_params or {}))
    data, info = prepare_slice(image, has_channels=has_channels, mode=technique.channels)
    gt = np.asarray(gt)
    if gt.shape != data.shape[:2]:
        raise ValueError(f"the ground truth has shape {gt.shape} but the image slice has shape {data.shape[:2]}")
    scores = np.full([len(a) for a in axes], np.nan)
    done = 0
    for idx in np.ndindex(scores.shape):
        if cancel is not None and cancel():
            raise Cancelled(f"sweep cancelled after {done} of {scores.size} runs")
        params = technique.validate_params({**base, **{n: axes[k][i] for k, (n, i) in enumerate(zip(names, idx))}})
        out = technique.run_prepared(data, info, params).data
        scores[idx] = score(out, gt, kind=kind, binary=binary).summary.get(key, np.nan)
        done += 1
        yield done
    result = SweepResult(names, axes, scores, metric)
    if np.isfinite(scores).any():
        best = np.unravel_index(int(np.nanargmax(scores)), scores.shape)
        result.best_params = {n: axes[k][i] for k, (n, i) in enumerate(zip(names, best))}
        result.best_score = float(scores[best])
    return result


def sweep(*args: Any, **kwargs: Any) -> SweepResult:
    """Score ``technique`` on one 2D ``image`` against ``gt`` for every combination in ``grid``.

    ``grid`` maps one or two parameter names to the values to try (see :func:`grid_values`);
    the other parameters are ``base_params`` (defaults otherwise). ``metric`` is a key of
    :data:`METRICS`. Returns the score grid and the best parameters.
    """
    gen = iter_sweep(*args, **kwargs)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value

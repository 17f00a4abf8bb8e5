"""Simulated users for interactive segmentation, as the literature measures prompting.

For one object (a boolean ground-truth mask) a simulated user clicks where the error is worst:
the first click is the object's interior point farthest from its boundary; each next click goes to
the point farthest from the boundary of the largest error region (missed object pixels give a
positive click, wrongly included pixels a negative one). Every click runs the backend on all
clicks so far (plus, for SAM, the previous low-resolution logits). Reported: mean IoU after k
clicks and NoC@85 / NoC@90, the number of clicks needed to reach 85 / 90 % IoU (capped at
``max_clicks``, which then counts as a failure), following Xu et al. (2016) and the RITM / SAM
evaluations.

Works with any backend that has ``set_image`` and ``predict`` (SamSession, ClassicalSession).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..techniques.post import inner_distance

__all__ = ["ClickReport", "next_click", "simulate_object", "summarize"]


def next_click(gt: np.ndarray, pred: np.ndarray | None) -> tuple[int, int, bool] | None:
    """The next simulated click ``(row, col, positive)``, or ``None`` when the prediction is perfect."""
    gt = np.asarray(gt, bool)
    if pred is None:
        if not gt.any():
            raise ValueError("the ground-truth object is empty; there is nothing to click on")
        d = inner_distance(gt)
        r, c = np.unravel_index(int(np.argmax(d)), d.shape)
        return int(r), int(c), True
    pred = np.asarray(pred, bool)
    fn, fp = gt & ~pred, pred & ~gt
    d_fn = inner_distance(fn) if fn.any() else None
    d_fp = inner_distance(fp) if fp.any() else None
    if d_fn is None and d_fp is None:
        return None
    positive = d_fp is None or (d_fn is not None and d_fn.max() >= d_fp.max())
    d = d_fn if positive else d_fp
    r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(r), int(c), bool(positive)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def simulate_object(session, gt: np.ndarray, *, max_clicks: int = 20, stop_at: float | None = None) -> list[float]:
    """IoU after each of up to ``max_clicks`` simulated clicks on object ``gt``; the backend's
    current image must be the object's image. ``stop_at``: stop once the IoU reaches it (the
    remaining clicks keep that IoU in the list)."""
    gt = np.asarray(gt, bool)
    points: list[tuple[float, float]] = []
    labels: list[int] = []
    logits = None
    pred = None
    ious: list[float] = []
    for k in range(max_clicks):
        click = next_click(gt, pred)
        if click is None:  # perfect: further clicks change nothing
            ious.extend([1.0] * (max_clicks - k))
            break
        r, c, positive = click
        points.append((c, r))  # backends take (x, y)
        labels.append(int(positive))
        out = session.predict(points=np.array(points, float), labels=np.array(labels), mask_input=logits, multimask=k == 0)
        i = out.best
        pred = out.mask(i)
        logits = out.logits[i] if out.logits.size else None
        ious.append(_iou(pred, gt))
        if stop_at is not None and ious[-1] >= stop_at:
            ious.extend([ious[-1]] * (max_clicks - k - 1))
            break
    return ious


@dataclass
class ClickReport:
    """Per-object IoU curves and their summary."""

    curves: list[list[float]] = field(default_factory=list)
    max_clicks: int = 20

    def noc(self, threshold: float) -> float:
        """Mean number of clicks to reach ``threshold`` IoU (``max_clicks`` when never reached)."""
        return float(np.mean([_clicks_to(c, threshold, self.max_clicks) for c in self.curves])) if self.curves else float("nan")

    def failures(self, threshold: float) -> int:
        """Objects that never reach ``threshold`` within ``max_clicks``."""
        return sum(1 for c in self.curves if max(c) < threshold)

    def miou(self, k: int) -> float:
        """Mean IoU after ``k`` clicks."""
        return float(np.mean([c[min(k, len(c)) - 1] for c in self.curves])) if self.curves else float("nan")


def _clicks_to(curve: Sequence[float], threshold: float, cap: int) -> int:
    for k, v in enumerate(curve, 1):
        if v >= threshold:
            return k
    return cap


def summarize(curves: Iterable[list[float]], max_clicks: int = 20) -> ClickReport:
    return ClickReport([list(c) for c in curves], max_clicks)


def pick_objects(labels: np.ndarray, *, min_area: int = 0, max_objects: int | None = None, seed: int = 0) -> list[int]:
    """Instance ids of ``labels`` with at least ``min_area`` pixels; at most ``max_objects`` of
    them, drawn at random with ``seed`` (the same objects on every run)."""
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    ids = ids[counts >= min_area]
    if max_objects is not None and len(ids) > max_objects:
        ids = np.sort(np.random.default_rng(seed).choice(ids, max_objects, replace=False))
    return [int(i) for i in ids]


def run_benchmark(session, samples, *, max_clicks: int = 20, min_area: int = 0, max_objects: int | None = None,
                  seed: int = 0, progress=None) -> tuple[ClickReport, dict]:
    """Simulate clicks on every picked object of every ``(name, image, labels)`` sample.

    Returns the report and counters: images, objects, clicks, seconds (prompting only: the image
    embedding is excluded, it is paid once per image whatever the number of clicks).
    """
    import time

    curves = []
    stats = {"images": 0, "objects": 0, "clicks": 0, "seconds": 0.0}
    for name, image, labels in samples:
        ids = pick_objects(labels, min_area=min_area, max_objects=max_objects, seed=seed)
        if not ids:
            continue
        session.set_image(image)
        stats["images"] += 1
        for obj in ids:
            runs = session.decoder_runs
            t = time.perf_counter()
            curves.append(simulate_object(session, labels == obj, max_clicks=max_clicks))
            stats["seconds"] += time.perf_counter() - t
            stats["clicks"] += session.decoder_runs - runs
            stats["objects"] += 1
        if progress is not None:
            progress(name, stats)
    return summarize(curves, max_clicks), stats

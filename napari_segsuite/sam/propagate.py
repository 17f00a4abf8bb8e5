"""Objects segmented on one slice, carried through a stack (z) or a time-lapse (t).

    result = propagate(session, stack, start=12, labels=labels_of_slice_12)
    result.labels[13]        # the objects on slice 13, with the ids they have on slice 12
    result.stopped[id]       # per direction, why the object ended there

Each next slice is prompted from the previous slice's answer, as micro-sam's
``segment_mask_in_volume`` does: a box around the object (grown a little, so an object that grows
is not cut by it), a positive point at its deepest interior pixel and, with a SAM model, the
previous answer's low-resolution logits. An object stops where it ends: its mask comes back empty,
its predicted IoU (SAM's own quality estimate) is below ``min_score``, or it overlaps its mask on
the previous slice by an IoU below ``min_overlap`` (the prompt then found something else). All the
objects of a slice travel together, slice by slice, so each slice is embedded once however many
objects there are (with every slice precomputed, propagation runs the decoder only), and one object
keeps its id from slice to slice: that is the tracking mode of a time-lapse.

With a SAM 2 model (:class:`.sam2_session.Sam2Session`) SAM 2's video predictor carries the objects
instead, from its memory of the slices it has tracked (:mod:`.sam2_video`); the same stopping rules apply.

Works with any session with :class:`.session.SamSession`'s ``set_image`` / ``predict``. A session
with a ``follow(mask, embedding=...)`` method is given the previous slice's mask itself instead of
prompts: the classical fallback (:meth:`.fallback.ClassicalSession.follow`) learns there what
brightness tells the object from its surroundings, where GrabCut on a small box fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = ["DIRECTIONS", "Propagation", "iter_propagate", "merge_into", "prompts_from_mask", "propagate", "write_plan"]

DIRECTIONS = {"both": (-1, 1), "forward": (1,), "backward": (-1,)}


@dataclass
class Propagation:
    """What :func:`propagate` found: per slice reached, a label image of the objects there."""

    start: int
    labels: dict[int, np.ndarray] = field(default_factory=dict)  # slice -> (H, W) labels, ids as on ``start``
    stopped: dict[int, dict[int, str]] = field(default_factory=dict)  # object id -> {direction: why it ended}
    extent: dict[int, tuple[int, int]] = field(default_factory=dict)  # object id -> (first, last) slice
    decoder_runs: int = 0

    def slices(self) -> list[int]:
        """The slices the objects reached, in order (the start slice included)."""
        return sorted(self.labels)


def prompts_from_mask(mask: np.ndarray, grow: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prompts that ask for ``mask``'s object on a neighbouring slice: one positive point at its
    deepest interior pixel (the maximum of the distance to its edge) and its bounding box grown by
    ``grow`` of its size on each side (at least 2 pixels), clipped to the image. Returns
    (points (1, 2) as (x, y), labels (1,), box (x0, y0, x1, y1))."""
    ys, xs = np.nonzero(mask)
    if not ys.size:
        raise ValueError("the mask is empty: there is no object to propagate")
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    crop = np.pad(mask[y0:y1 + 1, x0:x1 + 1], 1)
    depth = ndi.distance_transform_edt(crop)
    py, px = np.unravel_index(int(np.argmax(depth)), depth.shape)
    h, w = mask.shape
    gy, gx = max(2.0, grow * (y1 - y0 + 1)), max(2.0, grow * (x1 - x0 + 1))
    box = np.array([max(0.0, x0 - gx), max(0.0, y0 - gy), min(w - 1.0, x1 + gx), min(h - 1.0, y1 + gy)])
    return np.array([[x0 + px - 1, y0 + py - 1]], float), np.array([1]), box


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def propagate(
    session: Any,
    stack: Sequence[np.ndarray],
    start: int,
    labels: np.ndarray,
    *,
    direction: str = "both",
    objects: Sequence[int] | None = None,
    channel_axis: int | None = None,
    min_overlap: float = 0.5,
    min_score: float = 0.0,
    regrowth: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Propagation:
    """Carry the objects of ``labels`` (slice ``start`` of ``stack``) to the other slices.

    Parameters
    ----------
    session
        A :class:`.session.SamSession` or :class:`.fallback.ClassicalSession`.
    stack
        The slices: ``len(stack)`` of them, ``stack[i]`` a 2D image (gray, or colour on ``channel_axis``).
        Read one at a time, so a lazy (dask, memory-mapped) stack is never loaded whole.
    start, labels
        The slice the objects are on and their labels there (0: background).
    direction
        ``"both"``, ``"forward"`` (increasing index, e.g. time) or ``"backward"``.
    objects
        The ids to propagate (default: every id in ``labels``).
    min_overlap, min_score
        An object stops at the first slice whose mask overlaps the previous one by an IoU below
        ``min_overlap``, or whose predicted IoU is below ``min_score`` (SAM; the classical backend
        always says 1.0), or that comes back empty; that slice is not kept.
    regrowth
        Also stop an object whose mask, after shrinking to 80 % of its largest area or less, grows
        again by more than 10 % over its smallest: in a z-stack an object is widest in one place
        and narrows away from it, and a mask that widens again has reached the next object above
        or below (nuclei stacked in z overlap enough for the IoU test to pass). Off for a
        time-lapse in which objects may grow.
    progress, cancel
        ``progress(done, total)`` after each slice; ``cancel()`` returning True raises
        :class:`~napari_segsuite.techniques.Cancelled` before the next slice.

    Returns
    -------
    Propagation
        The labels of every slice reached (ids as in ``labels``; a pixel two objects claim goes to
        the one that had it on the previous slice, else to the smaller id), and why each object stopped.
    """
    from ..techniques import Cancelled
    from ..techniques.cancel import run_steps

    steps = iter_propagate(session, stack, start, labels, direction=direction, objects=objects,
                           channel_axis=channel_axis, min_overlap=min_overlap, min_score=min_score, regrowth=regrowth)
    return run_steps(steps, progress, cancel, Cancelled("propagation cancelled"))


def iter_propagate(session: Any, stack: Sequence[np.ndarray], start: int, labels: np.ndarray, *,
                   direction: str = "both", objects: Sequence[int] | None = None, channel_axis: int | None = None,
                   min_overlap: float = 0.5, min_score: float = 0.0,
                   regrowth: bool = True) -> Iterator[tuple[int, int]]:
    """Generator form of :func:`propagate` (for GUI workers): yields (slices done, total) before
    the first slice and after each; returns the :class:`Propagation`. Closing it stops before the
    next slice."""
    n = len(stack)
    if n < 2:
        raise ValueError(f"propagation needs a stack of slices; this one has {n} (a single 2D image)")
    if not 0 <= start < n:
        raise ValueError(f"slice {start} is outside the stack (0 to {n - 1})")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    labels = np.asarray(labels)
    ids = [int(i) for i in (np.unique(labels[labels > 0]) if objects is None else objects)]
    missing = [i for i in ids if not (labels == i).any()]
    if missing:
        raise ValueError(f"object(s) {missing} are not on slice {start}: nothing to propagate from")
    if not ids:
        raise ValueError(f"slice {start} holds no object: segment one there first")
    dtype = np.uint16 if max(ids) < 2**16 else np.int32
    start_labels = np.where(np.isin(labels, ids), labels, 0).astype(dtype)
    result = Propagation(start, {start: start_labels}, {i: {} for i in ids}, {i: (start, start) for i in ids})
    steps = [range(start - 1, -1, -1) if d < 0 else range(start + 1, n) for d in DIRECTIONS[direction]]
    total, done = sum(len(s) for s in steps), 0
    follow = getattr(session, "follow", None)  # a backend that answers from the previous mask itself
    video = getattr(session, "video_tracker", None)  # a backend that tracks with a memory (SAM 2)
    yield done, total
    for d, indices in zip(DIRECTIONS[direction], steps):
        previous = start_labels
        logits: dict[int, np.ndarray | None] = dict.fromkeys(ids)
        areas = {i: [int(np.count_nonzero(start_labels == i))] * 2 for i in ids}  # largest, smallest since
        active = list(ids)
        tracker = video(stack, start, start_labels, ids, d, channel_axis) if video is not None and len(indices) else None
        for position, k in enumerate(indices):
            if tracker is not None:
                tracked = tracker.step(k)
            else:
                embedding = session.set_image(stack[k], k, channel_axis=channel_axis)  # a lazy slice stays lazy
            here = np.zeros_like(previous)
            for i in list(active):
                before = previous == i
                if tracker is not None:
                    found, score = tracked[i], 1.0  # SAM 2's object score empties the mask of a vanished object
                else:
                    if follow is not None:
                        pred = follow(before, embedding=embedding)
                    else:
                        points, point_labels, box = prompts_from_mask(before)
                        pred = session.predict(points=points, labels=point_labels, box=box, mask_input=logits[i],
                                               multimask=False, embedding=embedding)
                    found, score = pred.mask(pred.best), float(pred.scores[pred.best])
                    logits[i] = pred.logits[pred.best] if pred.logits.size else None
                result.decoder_runs += 1
                mask = found & ((here == 0) | before)  # a pixel stays with whoever had it on the previous slice
                why = _why_stop(mask, before, score, min_overlap, min_score)
                area = int(np.count_nonzero(mask))
                if why is None and regrowth:
                    why = _regrown(areas[i], area)
                if why is not None:
                    result.stopped[i][d] = f"{why} on slice {k}"
                    active.remove(i)
                    continue
                here[mask] = i
                first, last = result.extent[i]
                result.extent[i] = (min(first, k), max(last, k))
            done += 1 if active else len(indices) - position  # the slices it will not visit count as done
            yield done, total
            if not active:
                break
            result.labels[k] = here
            previous = here
        if tracker is not None:
            tracker.close()
        for i in active:
            result.stopped[i][d] = "reached the end of the stack"
    return result


def write_plan(current: dict[int, np.ndarray], result: Propagation, directions: Sequence[int], *,
               overwrite: bool, replace: bool = True) -> dict[int, tuple[tuple[np.ndarray, ...], np.ndarray]]:
    """Per slice (start excluded), the pixels to write and their values: each propagated object's
    new pixels where the slice is unlabelled or already this object (anywhere with ``overwrite``)
    and, with ``replace`` (instance labels), its old pixels on the side(s) propagated cleared
    first, so that propagating again after a correction replaces the object. Class ids
    (``replace=False``) are only added to. ``current`` holds the labels layer's slices there."""
    ids = np.array(sorted(result.extent), dtype=np.int64)
    plan = {}
    for k, old in current.items():
        if k == result.start or not any((k - result.start) * d > 0 for d in directions):
            continue
        new = result.labels.get(k)
        out = np.where(np.isin(old, ids), 0, old) if replace else old.copy()
        if new is not None:
            writable = np.ones(old.shape, bool) if overwrite else (out == 0)
            out = np.where((new > 0) & writable, new, out)
        changed = np.nonzero(out != old)
        if changed[0].size:
            plan[k] = (changed, out[changed])
    return plan


def merge_into(stack: np.ndarray, result: Propagation, direction: str = "both", *, overwrite: bool = False,
               replace: bool = True) -> np.ndarray:
    """A copy of the labels ``stack`` (slices along axis 0) with ``result`` written in as
    :func:`write_plan` says (the start slice as it is in ``stack``)."""
    directions = DIRECTIONS[direction]
    out = np.array(stack, copy=True)
    current = {k: out[k] for k in range(len(out)) if any((k - result.start) * d > 0 for d in directions)}
    for k, (pixels, values) in write_plan(current, result, directions, overwrite=overwrite, replace=replace).items():
        out[k][pixels] = values
    return out


def _regrown(seen: list[int], area: int) -> str | None:
    """Update ``seen`` (largest area, smallest since it) with ``area``; a reason to stop when the
    object narrowed and now widens again (see :func:`propagate`'s ``regrowth``)."""
    largest, smallest = seen
    if smallest <= 0.8 * largest and area > 1.1 * smallest:
        return f"the mask widens again ({smallest} -> {area} pixels): another object"
    if area > largest:
        seen[:] = [area, area]
    else:
        seen[1] = min(smallest, area)
    return None


def _why_stop(mask: np.ndarray, before: np.ndarray, score: float, min_overlap: float, min_score: float) -> str | None:
    """Why an object's answer on the next slice ends it (None: it goes on)."""
    if not mask.any():
        return "the mask came back empty"
    if score < min_score:
        return f"predicted IoU {score:.2f} below {min_score:.2f}"
    overlap = _iou(mask, before)
    if overlap < min_overlap:
        return f"IoU {overlap:.2f} with the previous slice below {min_overlap:.2f}"
    return None

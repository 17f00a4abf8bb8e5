"""Classical -> SAM: the objects of any labels layer become prompts, and SAM redraws them.

A threshold, clustering or watershed result finds objects roughly; each object's box and/or its
deepest interior point go to the decoder (on the session's cached embedding), and the answers form
new instance labels. Nothing is lost: an object whose prompt yields an empty mask keeps its
original pixels, and the function says how many did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ..techniques.post import inner_distance

__all__ = ["ObjectPrompt", "prompts_from_labels", "refine_labels"]

MODES = ("box", "point", "box+point")


@dataclass(frozen=True)
class ObjectPrompt:
    """The prompts for one labelled object: its box (x0, y0, x1, y1) and its deepest point (x, y)."""

    label: int
    box: tuple[int, int, int, int]
    point: tuple[float, float]
    area: int


def prompts_from_labels(labels: np.ndarray, *, min_area: int = 0) -> list[ObjectPrompt]:
    """One :class:`ObjectPrompt` per object of ``labels`` (2-D, 0 = background) with at least
    ``min_area`` pixels."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be one 2-D slice; got shape {labels.shape}")
    out = []
    for lab, sl in enumerate(ndi.find_objects(labels.astype(np.int64, copy=False)), 1):
        if sl is None:
            continue
        obj = labels[sl] == lab
        area = int(obj.sum())
        if area < max(min_area, 1):
            continue
        d = inner_distance(obj)
        r, c = np.unravel_index(int(np.argmax(d)), d.shape)
        ys, xs = sl
        out.append(ObjectPrompt(lab, (xs.start, ys.start, xs.stop - 1, ys.stop - 1), (c + xs.start, r + ys.start), area))
    return out


def _widen_thin_boxes(prompts: list[ObjectPrompt], shape: tuple[int, int]) -> tuple[list[ObjectPrompt], int]:
    """Boxes of objects one pixel wide or high grown by a pixel on each side of that axis (within the
    image), since a box with no area is no prompt; how many were grown."""
    h, w = shape
    out, widened = [], 0
    for p in prompts:
        x0, y0, x1, y1 = p.box
        if x1 - x0 < 1 or y1 - y0 < 1:
            if x1 - x0 < 1:
                x0, x1 = max(x0 - 1, 0), min(x1 + 1, w - 1)
            if y1 - y0 < 1:
                y0, y1 = max(y0 - 1, 0), min(y1 + 1, h - 1)
            p = ObjectPrompt(p.label, (x0, y0, x1, y1), p.point, p.area)
            widened += 1
        out.append(p)
    return out, widened


def refine_labels(
    session,
    image: np.ndarray,
    labels: np.ndarray,
    *,
    mode: str = "box",
    min_area: int = 0,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Instance labels redrawn by SAM from the objects of ``labels``, and notes for the user.

    ``mode``: prompt with each object's box, its deepest point, or both. With SAM, ``batch_size``
    objects go through the decoder together. Larger objects are painted first, so a smaller one that
    overlaps stays visible. ``cancel()`` returning true stops
    with ``InterruptedError`` and returns nothing.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    labels = np.asarray(labels)
    if labels.shape != np.asarray(image).shape[:2]:
        raise ValueError(f"the labels have shape {labels.shape} but the image is {np.asarray(image).shape[:2]}: "
                         f"pick the labels layer made from this image")
    prompts = prompts_from_labels(labels, min_area=min_area)
    notes: list[str] = []
    out = np.zeros(labels.shape, np.int32)
    if not prompts:
        notes.append("the labels layer has no object to refine" + (f" of at least {min_area} pixels" if min_area else ""))
        return out, notes
    prompts, widened = _widen_thin_boxes(prompts, labels.shape)
    if widened:
        notes.append(f"{widened} object(s) one pixel wide or high were prompted with a box widened by a pixel")
    emb = session.set_image(image, tiled=False)  # prompts go through the decoder in batches: one embedding
    masks = []
    kept_original = 0
    batched = hasattr(session, "predict_batch")
    for start in range(0, len(prompts), batch_size if batched else 1):
        if cancel is not None and cancel():
            raise InterruptedError("refinement cancelled; nothing was written")
        chunk = prompts[start:start + (batch_size if batched else 1)]
        boxes = np.array([p.box for p in chunk], float) if "box" in mode else None
        points = np.array([[p.point] for p in chunk], float) if "point" in mode else None
        if batched:  # SAM: the whole chunk through the decoder at once
            logits, iou = session.predict_batch(points=points, labels=None if points is None else np.ones((len(chunk), 1), int),
                                                boxes=boxes, multimask=mode == "point")
            from .decoder import upsample_mask  # torch: the [sam] extra

            got = [upsample_mask(lg[int(np.argmax(s))], emb.input_size, emb.original_size) for lg, s in zip(logits, iou)]
        else:
            try:
                got = [session.predict(points=None if points is None else points[0], labels=None if points is None else [1],
                                       box=None if boxes is None else boxes[0], multimask=mode == "point").mask()]
            except ValueError:  # a prompt this backend cannot take (a box with no area): keep the object as it was
                got = [np.zeros(labels.shape, bool)]
        for p, m in zip(chunk, got):
            if not m.any():
                m = labels == p.label
                kept_original += 1
            masks.append(m)
        if progress is not None:
            progress(len(masks), len(prompts))
    for k in sorted(range(len(masks)), key=lambda k: -masks[k].sum()):
        out[masks[k]] = k + 1
    if kept_original:
        notes.append(f"{kept_original} object(s) got an empty mask from {session.describe()} and kept their original pixels")
    return out, notes

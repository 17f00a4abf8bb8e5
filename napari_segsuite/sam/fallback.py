"""Classical prompt backend with SamSession's interface, for when no SAM checkpoint is at hand.

Boxes go to GrabCut (OpenCV; points inside the box become sure object / background pixels; without
OpenCV, to the watershed below with the box's outside as background and its centre as object), and
points alone to a seeded watershed of the colour gradient (scikit-image) in which positive clicks
seed the object and negative clicks plus the border seed the background, found on the whole image
and refined around the object at full resolution. GrabCut works on the region around the box (grown
by its own size, at least ``margin`` of the image). Work images are shrunk to ``work_size`` pixels
at most and masks scaled back. On a large image (longer than ``tile_above`` x ``tile``, as
SamSession tiles) the prompts' surroundings are a tile's worth around them, not a share of the
whole image, so a small object in an 8192² image is worked on at full resolution. The result has one candidate
with score 1.0; ``mask_input`` is accepted and ignored (there are no logits to refine).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from .. import cv_compat
from ..extras import install_line
from .image import to_sam_rgb
from .prompts import Prediction, check_prompts
from .tiled import TILE_ABOVE, is_tiled


@dataclass(frozen=True)
class ClassicalImage:
    """An image prepared for the classical fallback (what its ``set_image`` returns)."""

    rgb: np.ndarray
    key: Hashable = None

__all__ = ["ClassicalSession"]


class ClassicalSession:
    """GrabCut for boxes, seeded watershed for points; same calls as :class:`SamSession`."""

    backend = "classical"
    model_name = "classical"

    def __init__(self, *, work_size: int = 384, margin: float = 0.1, grabcut_iterations: int = 5,
                 tile: int = 1024, tile_above: float | None = TILE_ABOVE) -> None:
        self.work_size = int(work_size)
        self.margin = float(margin)
        self.tile, self.tile_above = int(tile), tile_above
        self.iterations = int(grabcut_iterations)
        self.encoder_runs = 0
        self.decoder_runs = 0
        self.device = "cpu"
        self._rgb: np.ndarray | None = None
        self._lock = threading.RLock()

    def describe(self) -> str:
        if cv_compat.available():
            return "classical fallback (GrabCut for boxes, watershed for points)"
        return ("classical fallback (watershed for boxes and points; GrabCut for boxes needs OpenCV: "
                f"{install_line('opencv')})")

    def set_image(self, image: np.ndarray, key: Hashable = None, *, channel_axis: int | None = None,
                  tiled: bool | None = None) -> ClassicalImage:
        """Make ``image`` the current one; returns it prepared, to pass to :meth:`predict` as the
        ``embedding`` of prompts on it (there is no encoder: nothing is precomputed, and nothing is
        tiled: ``tiled`` is accepted for :class:`.session.SamSession`'s sake and ignored)."""
        rgb = to_sam_rgb(image, channel_axis)
        with self._lock:
            self._rgb = rgb
        return ClassicalImage(rgb, key)

    def has_embedding(self, image: np.ndarray, key: Hashable = None, *, channel_axis: int | None = None) -> bool:
        return True  # nothing to precompute

    def reset_image(self) -> None:
        self._rgb = None

    def _reach(self, h: int, w: int) -> int:
        """The size of the surroundings prompts are seen in: the image's longer side, or a tile's
        on an image SamSession would tile."""
        return self.tile if is_tiled((h, w), self.tile, self.tile_above) else max(h, w)

    def _roi(self, pts, bx, h: int, w: int, grow: float | None = None) -> tuple[slice, slice]:
        """The part of the image the prompts concern: their bounding box grown on every side by
        its own size (at least ``margin`` of :meth:`_reach`, and 24 px), or by ``grow``."""
        xy = np.concatenate([a for a in (pts, None if bx is None else bx.reshape(2, 2)) if a is not None])
        (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
        if grow is None:
            grow = max(24.0, self.margin * self._reach(h, w), x1 - x0, y1 - y0)
        ys = slice(int(max(0, y0 - grow)), int(min(h, y1 + grow + 1)))
        xs = slice(int(max(0, x0 - grow)), int(min(w, x1 + grow + 1)))
        return ys, xs

    def predict(self, points=None, labels=None, box=None, mask_input=None, multimask: bool = True, *,
                embedding: ClassicalImage | None = None) -> Prediction:
        """One mask for the prompts, on ``embedding`` (what ``set_image`` returned) or the image set
        last; its one score is 1.0 by convention (there is no predicted IoU)."""
        with self._lock:
            previous = self._rgb
            if embedding is not None:
                self._rgb = embedding.rgb
            try:
                return self._predict(points, labels, box)
            finally:
                self._rgb = previous

    def follow(self, previous: np.ndarray, *, embedding: ClassicalImage | None = None) -> Prediction:
        """The object that covers ``previous`` (a bool mask on a neighbouring slice) on this image:
        how :func:`.propagate.propagate` carries an object with the classical backend.

        The brightness that tells object from background is learnt here, from the smoothed
        luminance inside ``previous`` against a ring around it: pixels within the ring's outer edge
        on the object's side of the midpoint, in pieces that overlap ``previous``, holes filled.
        Empty when the object has ended (the inside is no longer brighter, or darker, than the ring
        by more than the ring's own spread). The ring is a third of the object's radius wide (at
        least 2 pixels), which bounds how far the border moves per slice.
        """
        with self._lock:
            rgb = embedding.rgb if embedding is not None else self._rgb
            if rgb is None:
                raise RuntimeError("no image is set: call set_image(image) before follow")
            mask = _follow(rgb, np.asarray(previous, bool))
            self.decoder_runs += 1
        h, w = mask.shape
        pred = Prediction(np.array([1.0], np.float32), np.zeros((1, 0, 0), np.float32), (h, w), (h, w), [])
        pred._full[0] = mask
        return pred

    def _predict(self, points, labels, box) -> Prediction:
        if self._rgb is None:
            raise RuntimeError("no image is set: call set_image(image) before predict")
        h, w = self._rgb.shape[:2]
        pts, lbs, bx, notes = check_prompts(points, labels, box, (h, w))
        if bx is None:
            mask = self._points(pts, lbs)
        else:
            def grabcut(crop, to_local):
                sp = None if pts is None else _pixel(to_local(pts), crop.shape)
                return self._grabcut(crop, to_local(bx.reshape(2, 2)).ravel(), sp, lbs)

            roi = self._roi(pts, bx, h, w)
            mask = self._in_roi(roi, grabcut) if cv_compat.available() else self._watershed_in(roi, pts, lbs, bx)
        self.decoder_runs += 1
        pred = Prediction(np.array([1.0], np.float32), np.zeros((1, 0, 0), np.float32), (h, w), (h, w), notes)
        pred._full[0] = mask
        return pred

    def _in_roi(self, roi: tuple[slice, slice], run, dtype=None) -> np.ndarray:
        """Full-size mask of ``run(crop, to_local)`` computed on the image inside ``roi``, shrunk to
        ``work_size`` at most (``to_local`` maps image (x, y) to the crop's) and scaled back."""
        h, w = self._rgb.shape[:2]
        ys, xs = roi
        crop = self._rgb[ys, xs] if dtype is None else self._rgb[ys, xs].astype(dtype)
        s = min(1.0, self.work_size / max(crop.shape[:2]))
        if s < 1.0:
            crop = cv_compat.resize(crop, (max(1, round(crop.shape[0] * s)), max(1, round(crop.shape[1] * s))), "area")
        origin = np.array([xs.start, ys.start], float)
        local = run(crop, lambda xy: (np.asarray(xy, float) - origin) * s)
        if s < 1.0:
            local = cv_compat.resize(local.astype(np.uint8), (ys.stop - ys.start, xs.stop - xs.start), "nearest") > 0
        mask = np.zeros((h, w), bool)
        mask[ys, xs] = local
        return mask

    def _grabcut(self, rgb: np.ndarray, box: np.ndarray, pts, lbs) -> np.ndarray:
        import cv2  # only called when OpenCV is installed

        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        gc = np.full(rgb.shape[:2], cv2.GC_BGD, np.uint8)
        gc[y0:y1 + 1, x0:x1 + 1] = cv2.GC_PR_FGD
        if pts is not None:
            for (x, y), lab in zip(pts, lbs):
                cv2.circle(gc, (int(x), int(y)), 2, cv2.GC_FGD if lab else cv2.GC_BGD, -1)
        if not (gc == cv2.GC_BGD).any():  # the box covers the image: GrabCut needs some background
            gc[[0, -1], :] = cv2.GC_PR_BGD
            gc[:, [0, -1]] = cv2.GC_PR_BGD
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(np.ascontiguousarray(rgb[..., ::-1]), gc, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error:  # a flat image: no colour model to fit; the box itself is the answer
            return gc != cv2.GC_BGD
        return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)

    def _points(self, pts, lbs) -> np.ndarray:
        """Point prompts: a seeded watershed of the colour gradient in which positive clicks seed the
        object and negative clicks plus the border seed the background. First on the whole image
        (shrunk to ``work_size``) to find the object's extent, then again at full resolution (up to
        ``work_size``) around it, so that small objects keep their detail."""
        h, w = self._rgb.shape[:2]
        if not lbs.any():
            return np.zeros((h, w), bool)  # only negative clicks: no object
        large = is_tiled((h, w), self.tile, self.tile_above)  # then a tile's worth around the clicks
        area = self._roi(pts, None, h, w, self.tile / 2) if large else (slice(0, h), slice(0, w))
        coarse = self._watershed_in(area, pts, lbs)
        ys, xs = np.nonzero(coarse)
        ys = np.concatenate([ys, pts[lbs > 0, 1].astype(int)])
        xs = np.concatenate([xs, pts[lbs > 0, 0].astype(int)])
        grow = max(8, int(0.5 * max(ys.max() - ys.min(), xs.max() - xs.min())))
        roi = (slice(max(0, ys.min() - grow), min(h, ys.max() + grow + 1)), slice(max(0, xs.min() - grow), min(w, xs.max() + grow + 1)))
        if roi == (slice(0, h), slice(0, w)):
            return coarse
        return self._watershed_in(roi, pts, lbs)

    def _watershed_in(self, roi: tuple[slice, slice], pts, lbs, box=None) -> np.ndarray:
        """Full-size mask of a seeded watershed computed inside ``roi`` (shrunk to ``work_size``);
        with a ``box``, its outside seeds the background and a disc at its centre the object."""
        from skimage.segmentation import watershed

        def run(crop, to_local):
            smooth = cv_compat.gaussian(crop, 1.0)
            gx, gy = cv_compat.sobel(smooth, 1, 0), cv_compat.sobel(smooth, 0, 1)
            grad = np.sqrt(gx * gx + gy * gy)
            grad = grad.max(axis=-1) if grad.ndim == 3 else grad
            markers = np.zeros(grad.shape, np.int32)
            markers[[0, -1], :] = 2
            markers[:, [0, -1]] = 2
            if box is not None:
                (x0, y0), (x1, y1) = _pixel(to_local(box.reshape(2, 2)), grad.shape)
                outside = np.ones(grad.shape, bool)
                outside[y0:y1 + 1, x0:x1 + 1] = False
                markers[outside] = 2
                radius = max(1, min(x1 - x0, y1 - y0) // 6)
                cv_compat.disk(markers, (x0 + x1) // 2, (y0 + y1) // 2, radius, 1)
            if pts is not None:
                for (x, y), lab in zip(_pixel(to_local(pts), grad.shape), lbs):
                    cv_compat.disk(markers, int(x), int(y), 1, 1 if lab else 2)
            return watershed(grad, markers) == 1

        return self._in_roi(roi, run, dtype=np.float32)


def _follow(rgb: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """See :meth:`ClassicalSession.follow`; works in the box around ``previous`` and its ring."""
    from scipy import ndimage as ndi

    out = np.zeros(previous.shape, bool)
    area = int(previous.sum())
    if not area:
        return out
    width = max(2, int(round(np.sqrt(area / np.pi) / 3)))
    ys, xs = np.nonzero(previous)
    box = (slice(max(0, ys.min() - width - 1), ys.max() + width + 2), slice(max(0, xs.min() - width - 1), xs.max() + width + 2))
    inside = previous[box]
    gray = cv_compat.gaussian(rgb[box].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32), 1.0)
    reach = ndi.binary_dilation(inside, iterations=width)
    ring = reach & ~ndi.binary_dilation(inside)
    if not ring.any():  # the object fills the image: nothing to compare it with
        out[box] = inside
        return out
    m_in, m_out = float(gray[inside].mean()), float(gray[ring].mean())
    if abs(m_in - m_out) <= float(gray[ring].std()):
        return out  # no brighter (or darker) than its surroundings: the object has ended
    side = (gray > (m_in + m_out) / 2) if m_in > m_out else (gray < (m_in + m_out) / 2)
    pieces, _ = ndi.label(side & reach)
    keep = np.unique(pieces[inside & (pieces > 0)])
    out[box] = ndi.binary_fill_holes(np.isin(pieces, keep[keep > 0]))
    return out


def _pixel(xy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(x, y) coordinates rounded to pixels inside an image of ``shape``."""
    return np.clip(np.round(xy).astype(int), 0, [shape[1] - 1, shape[0] - 1])

"""Classical prompt backend with SamSession's interface, for when no SAM checkpoint is at hand.

Boxes go to GrabCut (OpenCV; points inside the box become sure object / background pixels), and
points alone to a seeded random walker (scikit-image) in which positive clicks seed the object and
negative clicks plus the image border seed the background. Large images are segmented on a
shrunk copy (longest side ``work_size``) and the mask is scaled back. The result has one candidate
with score 1.0; ``mask_input`` is accepted and ignored (there are no logits to refine).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Hashable

import cv2
import numpy as np
from scipy import ndimage as ndi

from .image import image_hash, to_sam_rgb
from .session import Prediction, check_prompts

__all__ = ["ClassicalSession"]


class ClassicalSession:
    """GrabCut for boxes, random walker for points; same calls as :class:`SamSession`."""

    backend = "classical"
    model_name = "classical"

    def __init__(self, *, work_size: int = 384, grabcut_iterations: int = 5, beta: float = 90.0) -> None:
        self.work_size = int(work_size)
        self.iterations = int(grabcut_iterations)
        self.beta = float(beta)
        self.encoder_runs = 0
        self.decoder_runs = 0
        self.device = "cpu"
        self._rgb: np.ndarray | None = None
        self._small: np.ndarray | None = None
        self._hash: str | None = None
        self._lock = threading.RLock()

    def describe(self) -> str:
        return "classical fallback (GrabCut for boxes, random walker for points)"

    def set_image(self, image: np.ndarray, key: Hashable = None, *, channel_axis: int | None = None):
        rgb = to_sam_rgb(image, channel_axis)
        with self._lock:
            self._rgb = rgb
            self._hash = image_hash(rgb)
            s = self.work_size / max(rgb.shape[:2])
            self._scale = min(1.0, s)
            if self._scale < 1.0:
                size = (max(1, round(rgb.shape[1] * s)), max(1, round(rgb.shape[0] * s)))
                self._small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            else:
                self._small = rgb
        return self

    def has_embedding(self, image: np.ndarray, key: Hashable = None, *, channel_axis: int | None = None) -> bool:
        return True  # nothing to precompute

    def reset_image(self) -> None:
        self._rgb = self._small = None

    def predict(self, points=None, labels=None, box=None, mask_input=None, multimask: bool = True) -> Prediction:
        with self._lock:
            if self._rgb is None:
                raise RuntimeError("no image is set: call set_image(image) before predict")
            h, w = self._rgb.shape[:2]
            pts, lbs, bx, notes = check_prompts(points, labels, box, (h, w))
            small = self._small
            s = self._scale
            sp = None if pts is None else np.clip(np.round(pts * s).astype(int), 0, [small.shape[1] - 1, small.shape[0] - 1])
            if bx is not None:
                mask = self._grabcut(small, bx * s, sp, lbs)
            else:
                mask = self._walk(small, sp, lbs)
            if s < 1.0:
                mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
            self.decoder_runs += 1
            pred = Prediction(np.array([1.0], np.float32), np.zeros((1, 0, 0), np.float32), (h, w), (h, w), notes)
            pred._full[0] = mask
            return pred

    def _grabcut(self, rgb: np.ndarray, box: np.ndarray, pts, lbs) -> np.ndarray:
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

    def _walk(self, rgb: np.ndarray, pts, lbs) -> np.ndarray:
        from skimage.segmentation import random_walker

        markers = np.zeros(rgb.shape[:2], np.int32)
        markers[[0, -1], :] = 2
        markers[:, [0, -1]] = 2
        for (x, y), lab in zip(pts, lbs):
            markers[y, x] = 1 if lab else 2
        if not (markers == 1).any():
            return np.zeros(rgb.shape[:2], bool)  # only negative clicks: no object
        data = rgb.astype(np.float32) / 255.0
        if np.ptp(data) == 0:
            return np.ones(rgb.shape[:2], bool) if (markers == 2).sum() == 0 else markers == 1
        with warnings.catch_warnings():  # "probability range outside [0, 1]" at tol 1e-3: harmless here
            warnings.simplefilter("ignore", UserWarning)
            labels = random_walker(data, markers, beta=self.beta, mode="cg_j", tol=1e-3, channel_axis=-1)
        mask = labels == 1
        # keep the pieces that hold a positive click
        comp, _ = ndi.label(mask)
        keep = {comp[y, x] for (x, y), lab in zip(pts, lbs) if lab and comp[y, x]}
        return np.isin(comp, list(keep)) if keep else mask

"""What a prompt set gives back (:class:`Prediction`: scores, low-resolution logits, full-size masks
on demand) and the checks every backend applies to prompts (:func:`check_prompts`). Shared by
:class:`.session.SamSession` and the classical fallback; imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["Prediction", "check_prompts", "mask_logits"]


@dataclass
class Prediction:
    """Decoder output for one prompt set. Full-size masks are upsampled on demand."""

    scores: np.ndarray  # (k,) predicted IoU
    logits: np.ndarray  # (k, 256, 256) low-resolution logits (feed back as ``mask_input``)
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    notes: list[str] = field(default_factory=list)
    device_logits: torch.Tensor | None = field(default=None, repr=False)  # kept on a GPU for large images
    img_size: int = 1024  # the logits cover the top-left ``input_size`` of an img_size square (SAM 2: 256, whole)
    _full: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def best(self) -> int:
        return int(np.argmax(self.scores))

    def mask(self, i: int | None = None) -> np.ndarray:
        """Mask ``i`` (default: the highest-scoring) at the image's size, bool."""
        i = self.best if i is None else int(i)
        if i not in self._full:
            from . import decoder as _dec  # torch: only when a mask is asked for

            if self.device_logits is not None:
                self._full[i] = _dec.upsample_mask_on_device(self.device_logits[i], self.input_size, self.original_size,
                                                             self.img_size)
            else:
                self._full[i] = _dec.upsample_mask(self.logits[i], self.input_size, self.original_size, self.img_size)
        return self._full[i]

    @property
    def masks(self) -> np.ndarray:
        """All candidate masks, (k, H, W) bool."""
        return np.stack([self.mask(i) for i in range(len(self.scores))])


def check_prompts(points, labels, box, size: tuple[int, int]):
    """Validate prompts against an image of ``size`` (H, W): points outside are dropped with a note,
    a box is clipped to the image; errors say what to fix."""
    h, w = size
    notes: list[str] = []
    pts = lbs = bx = None
    if points is not None and len(points):
        pts = np.asarray(points, np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"points must be an (N, 2) array of (x, y); got shape {pts.shape}")
        if labels is None:
            lbs = np.ones(len(pts), np.int64)
        else:
            lbs = np.asarray(labels).astype(np.int64).ravel()
            if lbs.shape != (len(pts),):
                raise ValueError(f"labels must hold one value per point ({len(pts)}); got {lbs.size}")
            if not np.isin(lbs, (0, 1)).all():
                raise ValueError("point labels must be 1 (object) or 0 (background)")
        # pixel i spans [i - 0.5, i + 0.5) in napari's data coordinates and [i, i + 1) in SAM's grid
        inside = np.isfinite(pts).all(1) & (pts[:, 0] >= -0.5) & (pts[:, 0] < w) & (pts[:, 1] >= -0.5) & (pts[:, 1] < h)
        if not inside.all():
            notes.append(f"{int((~inside).sum())} point(s) outside the image were ignored")
            pts, lbs = pts[inside], lbs[inside]
            if not len(pts):
                pts = lbs = None
    if box is not None:
        b = np.asarray(box, np.float64).ravel()
        if b.shape != (4,) or not np.isfinite(b).all():
            raise ValueError(f"a box is (x0, y0, x1, y1); got {np.asarray(box).tolist()}")
        x0, x1 = sorted(np.clip(b[[0, 2]], 0, w - 1))
        y0, y1 = sorted(np.clip(b[[1, 3]], 0, h - 1))
        if x1 - x0 < 1 or y1 - y0 < 1:
            raise ValueError("the box has zero area inside the image; drag a box around the object")
        if not np.allclose([x0, y0, x1, y1], [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]):
            notes.append("the box was clipped to the image")
        bx = np.array([x0, y0, x1, y1])
    if pts is None and bx is None:
        if notes:
            raise ValueError("every prompt is outside the image; click inside it")
        raise ValueError("no prompt: give at least one point or a box")
    return pts, lbs, bx, notes


def mask_logits(mask_input: np.ndarray) -> np.ndarray:
    """``mask_input`` as the (256, 256) float32 logits a decoder takes, or a ValueError saying what it is."""
    m = np.asarray(mask_input, np.float32)
    m = m.reshape(m.shape[-2:]) if m.ndim > 2 and np.prod(m.shape[:-2]) == 1 else m
    if m.shape != (256, 256):
        raise ValueError(f"mask_input must be the 256 x 256 low-resolution logits of an earlier prediction; "
                         f"got shape {np.shape(mask_input)}")
    return m

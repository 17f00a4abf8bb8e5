"""Automatic masks: SAM prompted with a grid of points, every candidate kept for instant re-filtering.

``generate(session, image)`` runs the decoder once per grid point on the session's cached embedding
(no second encoder run for the full image; each crop layer's crops get their own) and stores every
candidate mask, compressed as run lengths, with its predicted IoU, stability score, box and area.
``AutoMasks.select(...)`` then applies the thresholds, the minimum area and box non-maximum
suppression in milliseconds, without the decoder, and ``labels(...)`` paints the survivors into an
instance label image (smaller masks on top).

The candidates and the selection follow segment-anything's ``SamAutomaticMaskGenerator`` (same
grid, predicted-IoU filter, stability score at the same offset, boxes, NMS within and across crops,
crops' edge filter), so that with the same parameters the same masks come out. What differs is the
order of work: the fast single-prompt decoder (``decoder.py``) instead of batches that repeat the
image embedding, and each candidate upsampled to full size only inside the box where its logits
exceed the lower stability threshold. ``min_area`` drops masks smaller than it (segment-anything's
``min_mask_region_area`` instead edits masks; not done here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import decoder as _dec

__all__ = ["AutoMasks", "generate", "grid_size", "iter_generate", "point_grid"]


def point_grid(n_per_side: int) -> np.ndarray:
    """``n_per_side**2`` points (x, y) in [0, 1]², cell centres of an even grid (SAM's grid)."""
    offset = 1 / (2 * n_per_side)
    side = np.linspace(offset, 1 - offset, n_per_side)
    xs = np.tile(side[None, :], (n_per_side, 1))
    ys = np.tile(side[:, None], (1, n_per_side))
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


@dataclass
class AutoMasks:
    """Every candidate of an automatic-mask run (see the module docstring)."""

    shape: tuple[int, int]
    iou: np.ndarray  # (M,) predicted IoU
    stability: np.ndarray  # (M,)
    boxes: np.ndarray  # (M, 4) x0, y0, x1, y1 inclusive, image coordinates
    areas: np.ndarray  # (M,)
    points: np.ndarray  # (M, 2) the grid point (x, y) that produced it
    crop_index: np.ndarray  # (M,) crop of each candidate
    crop_boxes: np.ndarray  # (C, 4) x0, y0, x1, y1 (exclusive) of each crop
    store: list[tuple] = field(repr=False)  # per candidate: the smaller of run lengths and packed bits

    def __len__(self) -> int:
        return len(self.iou)

    @property
    def nbytes(self) -> int:
        """Memory held by the compressed masks."""
        return sum(a.nbytes for entry in self.store for a in entry[1:] if isinstance(a, np.ndarray))

    def select(self, *, pred_iou_thresh: float = 0.88, stability_score_thresh: float = 0.95,
               box_nms_thresh: float = 0.7, crop_nms_thresh: float = 0.7, min_area: int = 0) -> np.ndarray:
        """Indices of the kept candidates, in segment-anything's order of output."""
        from torchvision.ops.boxes import batched_nms, box_area

        keep = np.ones(len(self), bool)
        if pred_iou_thresh > 0:
            keep &= self.iou > pred_iou_thresh
        if stability_score_thresh > 0:
            keep &= self.stability >= stability_score_thresh
        keep &= self.areas > 0
        keep &= ~self._near_crop_edge()
        if min_area > 0:
            keep &= self.areas >= min_area
        kept = []
        for c in range(len(self.crop_boxes)):  # duplicates within each crop
            idx = np.flatnonzero(keep & (self.crop_index == c))
            if len(idx):
                boxes = torch.as_tensor(self.boxes[idx], dtype=torch.float)
                nms = batched_nms(boxes, torch.as_tensor(self.iou[idx]), torch.zeros(len(idx)), box_nms_thresh)
                kept.append(idx[nms.numpy()])
        if not kept:
            return np.zeros(0, np.int64)
        idx = np.concatenate(kept)
        if len(self.crop_boxes) > 1:  # across crops, prefer masks from smaller crops
            crop = torch.as_tensor(self.crop_boxes[self.crop_index[idx]], dtype=torch.float)
            scores = 1 / box_area(crop)
            nms = batched_nms(torch.as_tensor(self.boxes[idx], dtype=torch.float), scores, torch.zeros(len(idx)), crop_nms_thresh)
            idx = idx[nms.numpy()]
        return idx

    def _near_crop_edge(self, atol: float = 20.0) -> np.ndarray:
        """Masks touching a crop's edge where that edge is not the image's (segment-anything's filter)."""
        h, w = self.shape
        crop = self.crop_boxes[self.crop_index].astype(float)
        full = np.array([0, 0, w, h], float)
        near_crop = np.isclose(self.boxes, crop, atol=atol, rtol=0)
        near_image = np.isclose(self.boxes, full[None], atol=atol, rtol=0)
        return np.any(near_crop & ~near_image, axis=1)

    def mask(self, i: int) -> np.ndarray:
        """Candidate ``i`` as a boolean image."""
        out = np.zeros(self.shape, bool)
        _paint(out, self.store[i], True)
        return out

    def labels(self, indices: np.ndarray | None = None, **select) -> np.ndarray:
        """Instance labels of the selected masks (``indices``, or ``select(**select)``): larger masks
        first, smaller ones painted over them; ids 1..k in the order of ``indices``."""
        if indices is None:
            indices = self.select(**select)
        out = np.zeros(self.shape, np.int32)
        for k in sorted(range(len(indices)), key=lambda k: -self.areas[indices[k]]):
            _paint(out, self.store[indices[k]], k + 1)
        return out

    def coco_rle(self, i: int) -> dict:
        """Candidate ``i`` as compressed COCO RLE (``{"size": [h, w], "counts": str}``)."""
        from ..io.coco import rle_encode

        return rle_encode(self.mask(i))


def _compress(mask: np.ndarray, y0: int, x0: int, height: int) -> tuple:
    """A box-cropped mask at (y0, x0), as column-major run lengths (int32) or as packed bits of its
    box, whichever is smaller: smooth masks are a few runs per column, noisy ones an eighth of a byte
    per pixel at most."""
    starts, lengths = _runs(mask, y0, x0, height)
    if 8 * len(starts) <= (mask.size + 7) // 8:
        return ("runs", starts.astype(np.int32), lengths.astype(np.int32))
    return ("bits", np.array([y0, x0, *mask.shape], np.int64), np.packbits(mask, axis=None))


def _paint(out: np.ndarray, entry: tuple, value) -> None:
    """Set the pixels of a compressed mask in the 2-D array ``out`` to ``value``."""
    if entry[0] == "empty":
        return
    if entry[0] == "bits":
        (y0, x0, hh, ww), bits = entry[1], entry[2]
        m = np.unpackbits(bits, count=hh * ww).view(bool).reshape(hh, ww)
        out[y0:y0 + hh, x0:x0 + ww][m] = value
        return
    starts, lengths = entry[1].astype(np.int64), entry[2].astype(np.int64)
    total = int(lengths.sum())
    # indices of every pixel of every run: a cumulative sum with jumps at each run start
    steps = np.ones(total, np.int64)
    pos = np.cumsum(lengths)[:-1]
    steps[0] = starts[0]
    steps[pos] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
    flat = np.cumsum(steps)
    h = out.shape[0]
    out[flat % h, flat // h] = value


def _runs(mask: np.ndarray, y0: int, x0: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Column-major runs of ones of a box-cropped mask placed at (y0, x0) in an image ``height`` tall."""
    ys, xs = np.nonzero(mask.T)  # column by column: rows of the transpose are image columns
    idx = (xs + y0) + (ys + x0) * height  # column-major index (x * height + y)
    if not len(idx):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = idx[np.concatenate([[0], breaks])]
    ends = idx[np.concatenate([breaks - 1, [len(idx) - 1]])] + 1
    return starts.astype(np.int64), (ends - starts).astype(np.int64)


def _candidates_of(logits: np.ndarray, input_size, crop_size, offset: float, img_size: int):
    """Stability, box, area and the box-cropped mask of one low-resolution logit map, upsampled as
    segment-anything does, only inside the box where it exceeds ``-offset``."""
    empty = 0.0, np.zeros(4, int), 0, ("empty",)
    region = _dec.upsample_region(logits, input_size, crop_size, level=-offset, img_size=img_size)
    if region is None:
        return empty
    big, y0, x0 = region
    inter = int(np.count_nonzero(big > offset))
    union = int(np.count_nonzero(big > -offset))
    mask = big > 0
    stability = inter / union if union else 0.0
    if not mask.any():
        return (stability, *empty[1:])
    ys, xs = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    box = np.array([xs[0] + x0, ys[0] + y0, xs[-1] + x0, ys[-1] + y0])
    return stability, box, int(mask.sum()), (mask, y0, x0)


def _crop_boxes(shape: tuple[int, int], n_layers: int, overlap_ratio: float):
    from .._no_triton import import_segment_anything

    amg = import_segment_anything().utils.amg
    return amg.generate_crop_boxes(shape, n_layers, overlap_ratio)


def generate(
    session,
    image: np.ndarray,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    **options,
) -> AutoMasks:
    """Decode a grid of point prompts on ``image`` and keep every candidate (see the module docstring).

    ``options`` are those of :func:`iter_generate`. ``progress(done, total)`` is called after each
    batch of points; ``cancel()`` returning true stops the run with ``InterruptedError`` (nothing partial is
    returned). The session's current image is ``image`` afterwards.
    """
    from ..techniques.cancel import run_steps

    return run_steps(iter_generate(session, image, **options), progress, cancel,
                     InterruptedError("automatic masks cancelled; nothing was kept"))


def grid_size(image_shape: tuple[int, int], *, points_per_side: int = 32, crop_n_layers: int = 0,
              crop_overlap_ratio: float = 512 / 1500, crop_n_points_downscale_factor: int = 1,
              tiles: Sequence[Any] | None = None) -> int:
    """How many grid points (decoder runs) :func:`iter_generate` makes for an image of this shape."""
    _, layers = _crops(tuple(image_shape[:2]), crop_n_layers, crop_overlap_ratio, tiles)
    return sum(int(points_per_side / crop_n_points_downscale_factor**layer) ** 2 for layer in layers)


def _crops(shape: tuple[int, int], n_layers: int, overlap_ratio: float, tiles: Sequence[Any] | None):
    """Crop boxes (x0, y0, x1, y1) and their layers: segment-anything's crop layers, or the whole
    image (layer 0) and the ``tiles`` (layer 1, full resolution)."""
    if not tiles:
        return _crop_boxes(shape, n_layers, overlap_ratio)
    if n_layers:
        raise ValueError("a tiled image takes no crop layers: its tiles are the crops (set crop layers to 0)")
    h, w = shape
    boxes = [[0, 0, w, h]] + [[t.x0, t.y0, t.x0 + t.w, t.y0 + t.h] for t in tiles]
    return boxes, [0] + [1] * len(tiles)


def iter_generate(
    session,
    image: np.ndarray,
    *,
    points_per_side: int = 32,
    crop_n_layers: int = 0,
    crop_overlap_ratio: float = 512 / 1500,
    crop_n_points_downscale_factor: int = 1,
    stability_score_offset: float = 1.0,
    points_per_batch: int = 16,
    tiles: Sequence[Any] | None = None,
):
    """Generator form of :func:`generate`: yields ``(done, total)`` after each batch of grid points
    (``points_per_batch`` go through the decoder together) and
    returns the :class:`AutoMasks` (``StopIteration.value``), for workers that report progress and
    stop between points.

    ``tiles`` (the windows of a large image, :func:`.tiled.tile_windows`): each window is a crop at
    full resolution with its own grid, beside the whole image shrunk (crop layer 0), as
    segment-anything's crop layers work: a mask touching a tile's edge inside the image is dropped
    there and kept from the neighbour that holds it whole (tiles overlap by twice the halo), and the
    duplicates across crops go by NMS, the smaller crop's mask preferred; objects larger than the
    overlap come from the whole image."""
    from .image import to_sam_rgb

    rgb = to_sam_rgb(image)
    h, w = rgb.shape[:2]
    crop_boxes, layer_idxs = _crops((h, w), crop_n_layers, crop_overlap_ratio, tiles)
    grids = [point_grid(int(points_per_side / crop_n_points_downscale_factor**i)) for i in range(max(layer_idxs) + 1)]
    total = sum(len(grids[layer]) for layer in layer_idxs)
    done = 0
    cols = {k: [] for k in ("iou", "stability", "boxes", "areas", "points", "crop")}
    store: list = []
    for c, (crop, layer) in enumerate(zip(crop_boxes, layer_idxs)):
        x0, y0, x1, y1 = crop
        emb = session.set_image(rgb[y0:y1, x0:x1], key=("crop", tuple(crop)) if (x1 - x0, y1 - y0) != (w, h) else None,
                                tiled=False)
        crop_size = (y1 - y0, x1 - x0)
        points = grids[layer] * np.array(crop_size)[None, ::-1]
        for start in range(0, len(points), points_per_batch):
            batch = points[start:start + points_per_batch]
            logits, ious = session.predict_points(batch, multimask=True)
            for p, lg, iou in zip(batch, logits, ious):
                for k in range(len(iou)):
                    stab, box, area, mask_info = _candidates_of(lg[k], emb.input_size, crop_size,
                                                                stability_score_offset, session.img_size)
                    cols["iou"].append(iou[k])
                    cols["stability"].append(stab)
                    cols["boxes"].append(box + np.array([x0, y0, x0, y0]) if area else box)
                    cols["areas"].append(area)
                    cols["points"].append(p + [x0, y0])
                    cols["crop"].append(c)
                    if area:
                        mask, my, mx = mask_info
                        store.append(_compress(mask, my + y0, mx + x0, h))
                    else:
                        store.append(mask_info)  # the ("empty",) entry
            done += len(batch)
            yield done, total
    if len(crop_boxes) > 1:  # leave the session on the whole image
        session.set_image(rgb, tiled=False)
    return AutoMasks(
        shape=(h, w), iou=np.asarray(cols["iou"], np.float32), stability=np.asarray(cols["stability"], np.float32),
        boxes=np.asarray(cols["boxes"], np.int64).reshape(-1, 4), areas=np.asarray(cols["areas"], np.int64),
        points=np.asarray(cols["points"], float).reshape(-1, 2), crop_index=np.asarray(cols["crop"], np.int64),
        crop_boxes=np.asarray(crop_boxes, np.int64).reshape(-1, 4), store=store,
    )

"""Clustering of pixel colours (optionally with their position) into classes."""

from __future__ import annotations

from typing import Annotated, Literal

import cv2
import numpy as np

from ._catalog import Range, technique
from ._image import ImageInfo

__all__ = ["kmeans", "lloyd"]

SAMPLE = 20_000  # pixels used to find the centres before the full-image refinement


def _features(image: np.ndarray, info: ImageInfo, color_space: str, spatial_weight: float) -> np.ndarray:
    """(d, N) float32 features, one contiguous plane per feature: colour in the chosen space,
    plus scaled (y, x) if asked. Planes keep the distance products fast."""
    h, w, c = image.shape
    lo, hi = info.dtype_range if info.dtype.kind in "biu" else (info.vmin, info.vmax)
    unit = np.float32(1.0 / ((hi - lo) or 1.0))
    if c == 3 and color_space != "rgb":
        rgb01 = np.clip((image - np.float32(lo)) * unit, 0, 1)
        code = cv2.COLOR_RGB2Lab if color_space == "lab" else cv2.COLOR_RGB2HSV
        feats = cv2.cvtColor(rgb01, code)
        if color_space == "hsv":
            feats = feats * np.array([1 / 360, 1, 1], np.float32)  # hue in turns, like s and v
        else:
            feats = feats / np.float32(100)  # L in 0..1; a, b about -1..1
    else:
        feats = (image - np.float32(lo)) * unit
    planes = [np.ascontiguousarray(feats[..., j], dtype=np.float32).ravel() for j in range(feats.shape[-1])]
    if spatial_weight > 0:
        scale = np.float32(spatial_weight / max(h, w))
        planes.append(np.repeat(np.arange(h, dtype=np.float32) * scale, w))
        planes.append(np.tile(np.arange(w, dtype=np.float32) * scale, h))
    return np.stack(planes)


def _assign(xt: np.ndarray, centres: np.ndarray, x_sq: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Nearest centre of each column of ``xt`` (d, N) via one matrix product (||x||^2 is not
    needed to compare); with ``x_sq`` also the squared distances."""
    scores = centres @ xt  # (k, N)
    scores *= -2
    scores += (centres * centres).sum(1)[:, None]
    # argmin over a short first axis, one row at a time: several times faster than argmin(0)
    best = scores[0].copy()
    labels = np.zeros(xt.shape[1], np.uint8)
    for j in range(1, len(centres)):
        labels[scores[j] < best] = j
        np.minimum(best, scores[j], out=best)
    if x_sq is None:
        return labels, None
    return labels, np.maximum(best + x_sq, 0)


def _plus_plus(xt: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ (as scikit-learn): the best of 2 + log(k) candidates at each step."""
    x = xt.T
    n_trials = 2 + int(np.log(k))
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:
            centres.append(x[rng.integers(len(x))])
            continue
        cand = rng.choice(len(x), n_trials, p=d2 / total)
        cand_d2 = np.minimum(d2[None, :], ((x[None, :, :] - x[cand][:, None, :]) ** 2).sum(2))
        best = int(cand_d2.sum(1).argmin())
        centres.append(x[cand[best]])
        d2 = cand_d2[best]
    return np.array(centres, dtype=np.float32)


def lloyd(xt: np.ndarray, centres: np.ndarray, iterations: int, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd iterations on features ``xt`` (d, N) from ``centres`` (k, d); returns (centres,
    labels, inertia). Empty clusters keep their centre."""
    centres = centres.copy()
    k = len(centres)
    ids = np.arange(k, dtype=np.uint8)[:, None]
    for _ in range(iterations):
        labels, _ = _assign(xt, centres)
        onehot = (labels[None, :] == ids).astype(np.float32)  # (k, N)
        counts = onehot.sum(1, dtype=np.float64)
        sums = (xt @ onehot.T).T  # (k, d)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres).astype(np.float32)
        shift = float(((new - centres) ** 2).sum())
        centres = new
        if shift <= tol:
            break
    labels, d2 = _assign(xt, centres, (xt * xt).sum(0))
    return centres, labels, float(d2.sum(dtype=np.float64))


@technique("cluster.kmeans", family="Clustering", output="labels", label_kind="semantic", channels="color")
def kmeans(
    image: np.ndarray,
    *,
    info: ImageInfo,
    k: Annotated[int, Range(2, 32)] = 4,
    color_space: Literal["lab", "rgb", "hsv"] = "lab",
    spatial_weight: Annotated[float, Range(0.0, 10.0, step=0.1)] = 0.0,
    n_init: Annotated[int, Range(1, 10)] = 3,
    seed: Annotated[int, Range(0, 2**31 - 1)] = 0,
) -> tuple[np.ndarray, dict]:
    """K-means: pixel colours clustered into k classes, numbered 1..k by increasing brightness.

    Centres are found with greedy k-means++ and Lloyd iterations on a random sample of 20 000
    pixels (best of ``n_init`` starts), then refined by one Lloyd iteration on every pixel; the
    inertia (sum of squared distances) is within 1 % of scikit-learn's full-data KMeans (tested).

    Parameters
    ----------
    k : int
        Number of clusters (classes).
    color_space : str
        Features for colour images: CIE Lab (perceptual), RGB, or HSV; gray images use intensity.
    spatial_weight : float
        Adds pixel position to the features: 0 = colour only; larger values make compact regions.
    n_init : int
        Number of k-means++ starts on the sample; the best is refined.
    seed : int
        Random seed for the sample and the starts (results are reproducible).
    """
    h, w, c = image.shape
    xt = _features(image, info, color_space, spatial_weight)
    n = xt.shape[1]
    rng = np.random.default_rng(seed)
    sample = xt if n <= SAMPLE else np.ascontiguousarray(xt[:, rng.choice(n, SAMPLE, replace=False)])
    notes = []
    if len(np.unique(sample[:, : 4 * k * k], axis=1).T) < k:  # cheap screen; then count exactly
        distinct = len(np.unique(xt, axis=1).T)
        if distinct < k:
            notes.append(f"only {distinct} distinct colours: {distinct} clusters instead of {k}")
            k = distinct
    best = None
    for _ in range(n_init):
        centres, _, inertia = lloyd(sample, _plus_plus(sample, k, rng), 100)
        if best is None or inertia < best[1]:
            best = (centres, inertia)
    centres, labels, inertia = lloyd(xt, best[0], 0 if n <= SAMPLE else 1)
    # number the clusters by brightness, so that ids stay put while parameters change
    if c == 3 and color_space == "lab":
        brightness = centres[:, 0]
    elif c == 3 and color_space == "hsv":
        brightness = centres[:, 2]
    else:
        brightness = centres[:, :c].mean(1)
    rank = np.empty(k, np.uint8)
    rank[np.argsort(brightness, kind="stable")] = np.arange(1, k + 1)
    return rank[labels].reshape(h, w), {"inertia": inertia, "notes": notes}

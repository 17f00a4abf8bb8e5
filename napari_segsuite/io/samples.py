"""Sample images with exact ground truth, generated deterministically (nothing to download).

* :func:`cells`: a fluorescence-like image of nuclei (uneven illumination, blur, shot noise,
  touching nuclei) with an instance ground truth.
* :func:`scene`: a colour outdoor-like scene (sky, textured ground, shaded balls, boxes) with a
  panoptic ground truth (object ids + classes).

The ``*_layers`` functions are the npe2 sample-data contributions (napari LayerData tuples).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .labels import ClassInfo, labels_metadata, panoptic_features

__all__ = ["SCENE_CLASSES", "cells", "cells_layers", "scene", "scene_layers"]

SCENE_CLASSES = [
    ClassInfo(1, "sky", (0.53, 0.75, 0.95, 1.0)),
    ClassInfo(2, "ground", (0.35, 0.55, 0.25, 1.0)),
    ClassInfo(3, "ball", (0.90, 0.30, 0.25, 1.0)),
    ClassInfo(4, "box", (0.85, 0.70, 0.30, 1.0)),
]


def _ellipse_mask(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    u, v = (dx * c + dy * s) / rx, (-dx * s + dy * c) / ry
    return u * u + v * v <= 1.0


def cells(shape: tuple[int, int] = (256, 256), *, n: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A uint16 nuclei image and its instance labels (uint16, 0 = background).

    Later nuclei are drawn over earlier ones, so touching and slightly overlapping nuclei have a
    well-defined boundary in the ground truth.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    labels = np.zeros(shape, np.uint16)
    signal = np.zeros(shape, np.float32)
    placed = 0
    for _ in range(n * 20):
        if placed == n:
            break
        ry, rx = rng.uniform(7, 14), rng.uniform(7, 14)
        cy, cx = rng.uniform(ry + 2, h - ry - 2), rng.uniform(rx + 2, w - rx - 2)
        mask = _ellipse_mask(yy, xx, cy, cx, ry, rx, rng.uniform(0, np.pi))
        overlap = np.count_nonzero(mask & (labels > 0)) / np.count_nonzero(mask)
        if overlap > 0.15:
            continue
        placed += 1
        labels[mask] = placed
        brightness = rng.uniform(0.5, 1.0)
        texture = 1.0 + 0.15 * ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 2)
        signal[mask] = brightness * texture[mask]
    illumination = 0.75 + 0.25 * np.exp(-(((yy - h * 0.4) / h) ** 2 + ((xx - w * 0.6) / w) ** 2) * 2)
    image = ndi.gaussian_filter(signal, 1.2) * illumination
    expected = 200 + 1800 * image
    noisy = rng.poisson(expected).astype(np.float32) + rng.normal(0, 15, shape)
    return np.clip(noisy, 0, 65535).astype(np.uint16), labels


def scene(shape: tuple[int, int] = (320, 480), *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """An RGB uint8 scene, its panoptic object ids (uint16) and each object's class id.

    Classes are :data:`SCENE_CLASSES`; sky and ground are one object each, every ball and box is
    its own object.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = (h * 0.45 + 12 * np.sin(xx[0] / w * 2 * np.pi * 1.3 + 0.5)).astype(np.float32)
    ground = yy >= horizon[None, :]
    ids = np.where(ground, 2, 1).astype(np.uint16)
    object_class = {1: 1, 2: 2}
    t = (yy / h)[..., None]
    sky = (1 - t) * np.array([70, 130, 220], np.float32) + t * np.array([190, 215, 240], np.float32)
    grass_noise = ndi.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), 1.5)
    grass = np.array([70, 120, 45], np.float32) * (1.0 + 0.25 * grass_noise[..., None]) * (0.8 + 0.4 * t)
    rgb = np.where(ground[..., None], grass, sky)
    next_id = 3
    for _ in range(3):  # boxes standing on the ground
        bw, bh = rng.uniform(40, 80), rng.uniform(35, 70)
        x0 = rng.uniform(10, w - bw - 10)
        base = float(horizon[int(x0 + bw / 2)]) + rng.uniform(20, h * 0.5 - 10)
        y0 = min(base, h - 5) - bh
        mask = (xx >= x0) & (xx < x0 + bw) & (yy >= y0) & (yy < y0 + bh)
        colour = rng.uniform(120, 230, 3).astype(np.float32)
        shade = 1.0 - 0.35 * (xx - x0) / bw
        rgb[mask] = (colour * shade[..., None])[mask]
        ids[mask] = next_id
        object_class[next_id] = 4
        next_id += 1
    for _ in range(4):  # shaded balls, some in the sky, some on the ground
        r = rng.uniform(14, 30)
        cy, cx = rng.uniform(r + 5, h - r - 5), rng.uniform(r + 5, w - r - 5)
        d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / r**2
        mask = d2 <= 1.0
        light = np.clip(1.0 - 0.6 * (((yy - cy + 0.4 * r) ** 2 + (xx - cx + 0.4 * r) ** 2) / (1.6 * r) ** 2), 0.25, 1)
        colour = rng.uniform(60, 255, 3).astype(np.float32)
        rgb[mask] = (colour * light[..., None])[mask]
        ids[mask] = next_id
        object_class[next_id] = 3
        next_id += 1
    # a thin lens blur and sensor noise make edges and flat areas look photographic
    rgb = ndi.gaussian_filter(rgb, sigma=(0.7, 0.7, 0)) + rng.normal(0, 4, rgb.shape)
    present = set(np.unique(ids).tolist())
    object_class = {k: v for k, v in object_class.items() if k in present}
    return np.clip(rgb, 0, 255).astype(np.uint8), ids, object_class


def cells_layers() -> list[tuple[Any, dict[str, Any], str]]:
    """npe2 sample: the nuclei image and its instance ground truth."""
    image, labels = cells()
    return [
        (image, {"name": "cells"}, "image"),
        (labels, {"name": "cells ground truth", "metadata": labels_metadata("instance"), "opacity": 0.5}, "labels"),
    ]


def scene_layers() -> list[tuple[Any, dict[str, Any], str]]:
    """npe2 sample: the colour scene and its panoptic ground truth."""
    image, ids, object_class = scene()
    return [
        (image, {"name": "scene", "rgb": True}, "image"),
        (
            ids,
            {
                "name": "scene ground truth",
                "features": panoptic_features(object_class, SCENE_CLASSES),
                "metadata": labels_metadata("panoptic", SCENE_CLASSES),
                "opacity": 0.5,
            },
            "labels",
        ),
    ]

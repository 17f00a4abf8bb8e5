"""Shared set-up of the SAM benchmarks: a model with random weights and a deterministic test image."""

from __future__ import annotations

import numpy as np
import torch


def random_model_and_image(model: str, size: int):
    """The registry architecture ``model`` with seeded random weights (eval mode) and a ``size`` x
    ``size`` RGB image of gradients and noise."""
    from napari_segsuite.sam.registry import build_model

    torch.manual_seed(0)
    return build_model(model).eval(), gradient_image(size, size)


def gradient_image(h: int, w: int) -> np.ndarray:
    """An ``h`` x ``w`` RGB uint8 image of gradients and noise (seeded)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:h, :w]
    img = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) % 256)], -1).astype(np.uint8)
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)

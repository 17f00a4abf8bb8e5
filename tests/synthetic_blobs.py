"""Synthetic data for the learning tests: bright discs (some touching) on a noisy background."""

from __future__ import annotations

import numpy as np
from skimage.draw import disk


def make_blobs(seed: int, size: int = 96, n: int = 7, touching: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A float32 image and its instance labels (uint16)."""
    rng = np.random.default_rng(seed)
    img = rng.normal(0.2, 0.05, (size, size)).astype(np.float32)
    lab = np.zeros((size, size), np.uint16)
    for k in range(1, n + 1):
        r = int(rng.integers(6, 10))
        centre = tuple(int(c) for c in rng.integers(r + 2, size - r - 2, 2))
        rr, cc = disk(centre, r, shape=lab.shape)
        lab[rr, cc] = k
        img[rr, cc] += 0.6
    if touching:
        for k, cx in ((n + 1, 40), (n + 2, 56)):  # two discs of radius 8 that touch at x = 48
            rr, cc = disk((size // 2, cx), 8, shape=lab.shape)
            lab[rr, cc] = k
            img[rr, cc] = 0.8
        img[size // 2 - 8:size // 2 + 9, 48] = 0.45  # a faint seam, as between touching nuclei
    return img, lab

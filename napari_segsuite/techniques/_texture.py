"""Oriented histogram gradients: a boundary cue that sees texture as well as colour.

At every pixel, a disc is split in two along a line through its centre; the cue is the
chi-squared distance between the histograms of the two halves, at the orientation where they
differ most (the brightness, colour and texture gradients of Martin, Fowlkes & Malik, PAMI 2004).
Inside a uniform texture both halves hold the same mix of values, however busy the texture is;
across the border between two textures they do not, even when the mean colours agree.
"""

from __future__ import annotations

import numpy as np

from .. import cv_compat
from ._kmeans import assign, lloyd, plus_plus

__all__ = ["histogram_boundaries", "histogram_gradient", "quantise", "textons"]

WORKING_DIAGONAL = 600.0  # larger images are scored at this size (the cue is coarse: radii of 5-10 pixels)


def _half_disc(radius: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """The disc of ``radius`` and its half on one side of the line at angle ``theta``; pixels on
    the line count half to each side, so the two halves have equal weight and add up to the disc."""
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float32)
    disc = (xx**2 + yy**2 <= radius * radius).astype(np.float32)
    side = -np.sin(theta) * xx + np.cos(theta) * yy
    half = disc * np.where(np.abs(side) < 1e-6, 0.5, (side > 0).astype(np.float32))
    return disc, half


def histogram_gradient(bins: np.ndarray, n_bins: int, radius: int, n_orient: int = 8) -> np.ndarray:
    """Largest chi-squared distance, over ``n_orient`` orientations, between the histograms of
    ``bins`` (integers 0..n_bins-1) in the two halves of a disc of ``radius`` pixels around each
    pixel; float32 in [0, 1]."""
    disc, _ = _half_disc(radius, 0.0)
    norm = np.float32(2.0 / disc.sum())  # counts per half -> fractions
    indicators = [(bins == b).astype(np.float32) for b in range(n_bins)]
    full = [cv_compat.correlate(ind, disc, "reflect") for ind in indicators]
    best = np.zeros(bins.shape, np.float32)
    for k in range(n_orient):
        _, half = _half_disc(radius, np.pi * k / n_orient)
        chi = np.zeros(bins.shape, np.float32)
        for ind, total in zip(indicators, full):
            one = cv_compat.correlate(ind, half, "reflect")
            other = total - one
            chi += (one - other) ** 2 / (total + np.float32(1e-6))
        np.maximum(best, chi * (0.5 * norm), out=best)
    return np.clip(best, 0, 1)


def quantise(channel: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index 0..n_bins-1 of each value, the bins holding equal shares of the pixels."""
    edges = np.percentile(channel, np.linspace(0, 100, n_bins + 1)[1:-1])
    return np.digitize(channel, edges).astype(np.int32)


def textons(gray: np.ndarray, k: int = 32, seed: int = 0, sample: int = 20000) -> np.ndarray:
    """Texton index 0..k-1 per pixel: k-means (fitted on ``sample`` random pixels) of a small
    filter bank, oriented second derivatives at 6 angles and a centre-surround difference, at
    scales 1 and 2 pixels, each response scaled to unit variance."""

    responses = []
    for s in (1.0, 2.0):
        g = cv_compat.gaussian(gray, s)
        gxx, gyy, gxy = (cv_compat.sobel(g, dx, dy) for dx, dy in ((2, 0), (0, 2), (1, 1)))
        for th in np.linspace(0, np.pi, 6, endpoint=False):
            c, sn = np.float32(np.cos(th)), np.float32(np.sin(th))
            responses.append(c * c * gxx + 2 * c * sn * gxy + sn * sn * gyy)
        responses.append(g - cv_compat.gaussian(gray, 2 * s))
    x = np.stack([r.ravel() for r in responses]).astype(np.float32)  # (d, N)
    x /= x.std(1, keepdims=True) + np.float32(1e-6)
    rng = np.random.default_rng(seed)
    k = min(k, x.shape[1])
    fit = x[:, rng.choice(x.shape[1], min(sample, x.shape[1]), replace=False)]
    centres, _, _ = lloyd(fit, plus_plus(fit, k, rng), 20)
    labels, _ = assign(x, centres)
    return labels.reshape(gray.shape).astype(np.int32)


def histogram_boundaries(lab: np.ndarray, radius: int = 5, texture_weight: float = 2.0, n_bins: int = 16,
                         n_textons: int = 32) -> np.ndarray:
    """Boundary strength of a (Y, X, C) Lab image: the histogram gradients of each channel
    (``n_bins`` equal-share bins, disc ``radius``) plus ``texture_weight`` times that of the
    textons of L (disc ``2 * radius``). Images whose diagonal exceeds 600 pixels are scored at
    that size and the map is resized back."""
    h, w = lab.shape[:2]
    scale = min(1.0, WORKING_DIAGONAL / float(np.hypot(h, w)))
    work = lab if scale == 1.0 else cv_compat.resize(lab, (max(int(h * scale), 1), max(int(w * scale), 1)), "area")
    work = work.reshape(work.shape[:2] + (-1,))
    out = sum(histogram_gradient(quantise(work[..., c], n_bins), n_bins, radius) for c in range(work.shape[-1]))
    if texture_weight > 0:
        out = out + np.float32(texture_weight) * histogram_gradient(
            textons(np.ascontiguousarray(work[..., 0]), n_textons), n_textons, 2 * radius)
    out = np.asarray(out, np.float32)
    return out if scale == 1.0 else cv_compat.resize(out, (h, w), "linear")

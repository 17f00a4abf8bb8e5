"""Oriented histogram gradients (the texture-aware boundary cue of normalized cuts)."""

from __future__ import annotations

import numpy as np

from napari_segsuite.techniques._image import lab_gradient
from napari_segsuite.techniques._texture import histogram_boundaries, histogram_gradient, quantise, textons


def _stripes_then_flat(size: int = 64) -> np.ndarray:
    """Bins: vertical stripes of 0 and 2 on the left half, 1 on the right half (equal means)."""
    bins = np.where(np.arange(size) % 2 == 0, 0, 2)[None, :].repeat(size, 0)
    bins[:, size // 2:] = 1
    return bins.astype(np.int32)


def test_histogram_gradient_is_high_across_the_border_and_low_inside_a_texture():
    g = histogram_gradient(_stripes_then_flat(), 3, radius=5)
    assert g.dtype == np.float32 and g.min() >= 0 and g.max() <= 1
    # the disc centred on either column next to the border: one half holds only 1, the other
    # mostly 0 and 2 (the centre column counts half to each side)
    assert g[:, 31:33].min() > 0.7
    assert g[8:-8, 8:22].max() < 0.1 and g[8:-8, 40:56].max() < 1e-6


def test_histogram_gradient_sees_borders_at_every_orientation_alike():
    bins = _stripes_then_flat()
    np.testing.assert_allclose(histogram_gradient(bins.T, 3, 5), histogram_gradient(bins, 3, 5).T, atol=1e-5)


def test_quantise_gives_bins_of_equal_shares():
    values = np.random.default_rng(0).normal(size=(80, 100))
    counts = np.bincount(quantise(values, 8).ravel(), minlength=8)
    assert len(counts) == 8 and counts.min() >= 0.95 * values.size / 8


def test_textons_tell_two_textures_apart():
    rng = np.random.default_rng(1)
    gray = np.zeros((64, 64), np.float32)
    gray[:, :32] = 50 + 40 * (np.indices((64, 32))[1] % 4 < 2)  # vertical stripes
    gray[:, 32:] = 50 + 40 * (np.indices((64, 32))[0] % 4 < 2)  # horizontal stripes
    gray += rng.normal(0, 1, gray.shape).astype(np.float32)
    t = textons(gray, k=8)
    left, right = set(np.unique(t[8:-8, 6:26])), set(np.unique(t[8:-8, 38:58]))
    assert not left & right
    np.testing.assert_array_equal(t, textons(gray, k=8))  # seeded: the same textons every run


def test_histogram_boundaries_mark_the_texture_border_where_the_gradient_marks_the_texture():
    size = 96
    rng = np.random.default_rng(2)
    lab = np.full((size, size, 3), 50.0, np.float32)
    lab[:, : size // 2, 0] = np.where(rng.random((size, size // 2)) < 0.5, 30.0, 70.0)  # same mean L on both sides
    h = histogram_boundaries(lab)
    g = lab_gradient(lab, 1.0)
    inside, border = np.s_[10:-10, 10:30], np.s_[10:-10, size // 2 - 1 : size // 2 + 1]
    assert h[border].mean() > 3 * h[inside].mean()
    assert g[border].mean() < g[inside].mean() * 1.5  # the plain gradient cannot tell the border from the texture


def test_histogram_boundaries_of_a_large_image_are_computed_smaller_and_sized_back():
    lab = np.zeros((900, 1200, 3), np.float32)
    lab[:, 600:, 0] = 80.0
    h = histogram_boundaries(lab, texture_weight=0.0)
    assert h.shape == (900, 1200)
    assert h[:, 595:605].max() > 0.5 and h[:, :560].max() < 1e-3  # L alone: at most 1

"""The linear-time watershed (techniques/_flood.py) against scikit-image's heap flood."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.morphology import h_minima as sk_h_minima
from skimage.morphology import local_minima
from skimage.segmentation import watershed as sk_watershed

from napari_segsuite.techniques._flood import dense_ranks, h_minima, watershed


def test_dense_ranks_order_floats_of_either_sign():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(40, 50)).astype(np.float32) * 1e3
    values[0, :5] = 0.0
    values[1, :5] = -0.0  # equal to 0.0
    values[2, :3] = [np.inf, -np.inf, 1e-30]
    ranks, levels = dense_ranks(values)
    order = np.argsort(values.ravel(), kind="stable")
    assert np.all(np.diff(ranks.ravel()[order]) >= 0)
    assert levels == len(np.unique(values)) and ranks.min() == 0 and ranks.max() == levels - 1
    assert ranks[0, 0] == ranks[1, 0]


@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("seed", range(4))
def test_equals_scikit_image_on_a_continuous_surface(seed, connectivity):
    """Distinct values: the same labels pixel for pixel, with and without a mask."""
    rng = np.random.default_rng(seed)
    surface = ndi.gaussian_filter(rng.normal(size=(97, 131)), 3).astype(np.float32)
    markers, _ = ndi.label(local_minima(surface))
    mask = None if seed % 2 else rng.random(surface.shape) > 0.05
    ours = watershed(surface, markers, mask, connectivity)
    np.testing.assert_array_equal(ours, sk_watershed(surface, markers, mask=mask, connectivity=connectivity))


def test_plateaus_differ_only_where_equal_values_meet():
    """On a relief of few levels the flood is scikit-image's up to which of two equally deep
    basins takes a tied pixel; every basin is one piece holding its marker."""
    rng = np.random.default_rng(4)
    for _ in range(4):
        blobs = ndi.gaussian_filter(rng.random((120, 150)), 4) > 0.5
        dist = ndi.distance_transform_edt(blobs).astype(np.float32)
        peaks = (dist == ndi.maximum_filter(dist, 9)) & (dist > 0)
        markers, _ = ndi.label(peaks)
        ours = watershed(-dist, markers, blobs)
        ref = sk_watershed(-dist, markers, mask=blobs)
        assert np.array_equal(ours > 0, blobs) and set(np.unique(ours)) == set(np.unique(ref))
        assert (ours == ref)[blobs].mean() > 0.97
        assert np.array_equal(ours[markers > 0], markers[markers > 0])
        for label in np.unique(ours[ours > 0]):
            assert ndi.label(ours == label)[1] == 1


def test_bad_shapes_and_no_markers():
    with pytest.raises(ValueError, match="2D surface"):
        watershed(np.zeros((4, 4, 2)), np.zeros((4, 4, 2), int))
    with pytest.raises(ValueError, match="connectivity"):
        watershed(np.zeros((4, 4)), np.zeros((4, 4), int), connectivity=3)
    markers = np.zeros((4, 4), int)
    markers[1, 1] = 3
    assert not watershed(np.zeros((4, 4)), markers, np.zeros((4, 4), bool)).any()  # its seed is masked out
    assert (watershed(np.zeros((4, 4)), markers) == 3).all()


@pytest.mark.parametrize("quantised", [False, True])
def test_h_minima_equals_scikit_image(quantised):
    """Vincent's hybrid reconstruction gives scikit-image's h-minima exactly, plateaus included."""
    rng = np.random.default_rng(2)
    for _ in range(4):
        surface = ndi.gaussian_filter(rng.normal(size=(90, 120)), 2).astype(np.float32) * 10
        if quantised:
            surface = np.round(surface)
        for h in (0.5, 2.0, 4.0):
            np.testing.assert_array_equal(h_minima(surface, h), sk_h_minima(surface, h))
    assert not h_minima(surface, 1e6).any()
    with pytest.raises(ValueError, match="positive"):
        h_minima(surface, 0)

"""The linear-time watershed (techniques/_flood.py) against scikit-image's heap flood."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.morphology import h_minima as sk_h_minima
from skimage.morphology import local_minima
from skimage.segmentation import watershed as sk_watershed

from napari_segsuite.techniques._flood import h_minima, sortable_keys, watershed
from napari_segsuite.techniques._radix import sort_uint32


def test_sortable_keys_order_floats_of_either_sign():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(40, 50)).astype(np.float32) * 1e3
    values[0, :5] = 0.0
    values[1, :5] = -0.0  # equal to 0.0
    values[2, :3] = [np.inf, -np.inf, 1e-30]
    keys = sortable_keys(values)
    order = np.argsort(values.ravel(), kind="stable")
    assert np.all(np.diff(keys[order].astype(np.int64)) >= 0)
    assert len(np.unique(keys)) == len(np.unique(values)) and keys[0] == keys[50]


@pytest.mark.parametrize("n", [0, 1, 5000, 300_000])
def test_the_radix_sort_is_numpys_stable_argsort(n):
    rng = np.random.default_rng(n)
    keys = rng.integers(0, 2**32, n, dtype=np.uint32)
    keys[: n // 3] = keys[n // 3: 2 * (n // 3)] & np.uint32(0xFF00FF)  # ties, and digits shared by many
    sorted_keys, order = sort_uint32(keys)
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))
    np.testing.assert_array_equal(sorted_keys, np.sort(keys))
    same_high_digit = np.uint32(7 << 22) | (keys & np.uint32(0x3FFFFF))  # a pass it can skip
    np.testing.assert_array_equal(sort_uint32(same_high_digit)[1], np.argsort(same_high_digit, kind="stable"))


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


@pytest.mark.parametrize("connectivity", [1, 2])
def test_equals_scikit_image_on_plateaus_when_markers_start_on_distinct_values(connectivity):
    """Few levels, so most pixels share their value with many others: they leave each level in
    the order they were reached, as scikit-image's heap orders them by age."""
    rng = np.random.default_rng(7)
    for _ in range(6):
        surface = np.round(ndi.gaussian_filter(rng.normal(size=(80, 110)), 2) * 12).astype(np.float32)
        markers = np.zeros(surface.shape, np.int32)
        ys, xs = rng.integers(0, 80, 40), rng.integers(0, 110, 40)
        for i, (y, x) in enumerate(zip(ys, xs)):
            markers[y, x] = i + 1
            surface[y, x] = -1000.0 - i  # distinct values below the relief
        ours = watershed(surface, markers, connectivity=connectivity)
        np.testing.assert_array_equal(ours, sk_watershed(surface, markers, connectivity=connectivity))


def test_negative_marker_ids_flood_and_the_reserved_one_is_refused():
    surface = ndi.gaussian_filter(np.random.default_rng(3).normal(size=(50, 60)), 3)
    markers = np.zeros(surface.shape, np.int32)
    markers[10, 10], markers[40, 50] = -5, 7
    np.testing.assert_array_equal(watershed(surface, markers), sk_watershed(surface, markers))
    markers[40, 50] = -(2**31)
    with pytest.raises(ValueError, match="reserved"):
        watershed(surface, markers)

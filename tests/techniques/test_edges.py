"""Edge techniques against scikit-image and on shapes with known outlines."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data, feature, filters

from napari_segsuite.metrics import correspond_pixels
from napari_segsuite.techniques import CATALOG

CANNY = CATALOG["edges.canny"]
SOBEL = CATALOG["edges.sobel"]
LOG = CATALOG["edges.log"]


@pytest.fixture(scope="module")
def camera():
    return data.camera()[::2, ::2]


def _f1(a, b, radius_px):
    m1, m2 = correspond_pixels(a, b, max_dist=radius_px / np.hypot(*a.shape))
    p, r = m1.sum() / max(a.sum(), 1), m2.sum() / max(b.sum(), 1)
    return 2 * p * r / (p + r) if p + r else 0.0


def test_canny_agrees_with_scikit_image(camera):
    ours = CANNY(camera, sigma=2.0, low=0.8, high=0.9).astype(bool)
    theirs = feature.canny(camera.astype(float), sigma=2.0, low_threshold=0.8, high_threshold=0.9, use_quantiles=True)
    assert _f1(ours, theirs, 1.5) > 0.9
    assert 0.5 < ours.sum() / theirs.sum() < 2.0


def test_canny_finds_a_square_outline():
    img = np.zeros((60, 60), np.float32)
    img[15:45, 15:45] = 100
    edges = CANNY(img, sigma=1.0, low=0.9, high=0.95).astype(bool)
    outline = np.zeros_like(edges)
    outline[15:45, 15:45] = True
    outline[16:44, 16:44] = False
    assert _f1(edges, outline, 1.5) > 0.9
    regions = CANNY(img, sigma=1.0, low=0.9, high=0.95, output="regions")
    assert regions.max() == 2, "inside and outside of the square"
    assert len(np.unique(regions[20:40, 20:40])) == 1


def test_canny_rejects_inverted_thresholds():
    with pytest.raises(ValueError, match="high"):
        CANNY(np.zeros((5, 5)), low=0.9, high=0.5)


@pytest.mark.parametrize("operator", ["sobel", "prewitt", "scharr"])
def test_gradient_magnitude_equals_scikit_image(camera, operator):
    img = camera.astype(np.float32)
    ours = SOBEL(img, operator=operator)
    theirs = getattr(filters, operator)(img.astype(np.float64)) * np.sqrt(2)  # skimage divides by sqrt(ndim)
    np.testing.assert_allclose(ours[1:-1, 1:-1], theirs[1:-1, 1:-1], rtol=1e-4, atol=1e-3)


def test_log_zero_crossings_outline_a_disk():
    yy, xx = np.mgrid[0:80, 0:80]
    img = ((yy - 40) ** 2 + (xx - 40) ** 2 < 20**2).astype(np.float32) * 50
    edges = LOG(img, sigma=2.0, strength=0.3).astype(bool)
    rr = np.hypot(*np.nonzero(edges) - np.array([[40], [40]]))
    assert edges.sum() > 80 and np.all(np.abs(rr - 20) < 3)  # the circle is 2 pi 20 = 126 px long
    regions = LOG(img, sigma=2.0, strength=0.3, output="regions")
    assert regions[40, 40] != regions[5, 5] and regions.min() >= 1


@pytest.mark.parametrize("strength", [0.0, 0.3, 0.9])
def test_log_edges_equal_the_array_formulation(camera, strength):
    """The one-pass zero-crossing kernel gives what the formulation with whole-image temporaries gave."""
    from napari_segsuite import cv_compat
    from napari_segsuite.techniques.edges import BORDER, _quantile, _smooth

    log = cv_compat.laplacian(_smooth(camera.astype(np.float32), 2.0), BORDER)
    jump = np.zeros(log.shape, np.float32)
    right = np.signbit(log[:, :-1]) != np.signbit(log[:, 1:])
    down = np.signbit(log[:-1, :]) != np.signbit(log[1:, :])
    jump[:, :-1] = np.where(right, np.abs(log[:, :-1] - log[:, 1:]), 0)
    jump[:-1, :] = np.maximum(jump[:-1, :], np.where(down, np.abs(log[:-1, :] - log[1:, :]), 0))
    crossing = jump > 0
    t = _quantile(jump[crossing], strength)
    expected = crossing & (jump >= t)
    edges, info = LOG.func(camera.astype(np.float32), sigma=2.0, strength=strength)
    np.testing.assert_array_equal(edges.astype(bool), expected)
    assert info["thresholds"] == [t]
    assert not LOG(np.full((20, 20), 3.0, np.float32), sigma=1.0).any()  # no crossing: no edge


def test_canny_on_real_nuclei_is_as_good_as_scikit_image(shared_data):
    import imageio.v3 as iio
    from skimage.color import rgb2gray

    from napari_segsuite.metrics.boundary import label_boundaries

    root = shared_data / "dsb2018"
    i = "00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552"
    img = iio.imread(root / "images" / f"{i}.png")[..., :3]
    truth = label_boundaries(iio.imread(root / "labels" / f"{i}.png") > 0)
    ours = CANNY(img, channel_axis=-1, sigma=1.0, low=0.8, high=0.92).astype(bool)
    theirs = feature.canny(rgb2gray(img), sigma=1.0, low_threshold=0.8, high_threshold=0.92, use_quantiles=True)
    f_ours, f_theirs = _f1(ours, truth, 2.0), _f1(theirs, truth, 2.0)
    assert f_ours > 0.5 and f_ours >= f_theirs - 0.02, (f_ours, f_theirs)

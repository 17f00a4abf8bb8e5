"""Thresholding against scikit-image and against the definitions stated in the docstrings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import color, filters

from napari_segsuite.techniques import CATALOG

GLOBAL = CATALOG["threshold.global"]
MULTI = CATALOG["threshold.multiotsu"]
ADAPTIVE = CATALOG["threshold.adaptive"]


@pytest.fixture(scope="module")
def blobs():
    """A smooth gray image with several intensity populations (uint8)."""
    rng = np.random.default_rng(1)
    img = ndi.gaussian_filter(rng.random((120, 160)), 4)
    img = (img - img.min()) / np.ptp(img)
    img = (img * 180 + 30 + rng.normal(0, 6, img.shape)).clip(0, 255)
    return img.astype(np.uint8)


@pytest.mark.parametrize("method", ["otsu", "li", "yen", "triangle", "isodata", "mean", "minimum"])
def test_global_methods_equal_scikit_image_on_integer_images(blobs, method):
    expected = getattr(filters, f"threshold_{method}")(blobs)
    result = GLOBAL.run(blobs, method=method)
    assert result.info["thresholds"][0] == pytest.approx(float(expected))
    np.testing.assert_array_equal(result.data, (blobs > expected).astype(np.uint8))


@pytest.mark.parametrize("method", ["otsu", "yen", "isodata", "li", "mean"])
def test_global_methods_on_rgb_follow_the_documented_gray_conversion(blobs, method):
    rgb = np.stack([blobs, blobs[::-1], 255 - blobs], -1)
    gray = color.rgb2gray(rgb) * 255  # BT.709 luminance in the input's units
    expected = float(getattr(filters, f"threshold_{method}")(gray))
    got = GLOBAL.run(rgb, channel_axis=-1, method=method).info["thresholds"][0]
    bin_width = np.ptp(gray) / 256
    assert abs(got - expected) <= bin_width + 1e-3


def test_manual_threshold_invert_and_components():
    img = np.zeros((20, 30), np.float32)
    img[2:6, 2:6] = 10
    img[10:15, 10:20] = 5
    binary = GLOBAL(img, method="manual", value=4.0)
    assert set(np.unique(binary)) == {0, 1}
    assert binary.sum() == 16 + 50
    inverted = GLOBAL(img, method="manual", value=4.0, invert=True)
    np.testing.assert_array_equal(inverted, 1 - binary)
    comps = GLOBAL(img, method="manual", value=4.0, components=True)
    assert comps.max() == 2 and GLOBAL.kind_for({"components": True}) == "instance"
    assert GLOBAL.kind_for({}) == "semantic"


def test_connectivity_two_joins_diagonal_neighbours():
    img = np.zeros((5, 5), np.uint8)
    img[1, 1] = img[2, 2] = 9
    assert GLOBAL(img, method="manual", value=1, components=True, connectivity=1).max() == 2
    assert GLOBAL(img, method="manual", value=1, components=True, connectivity=2).max() == 1


def test_minimum_without_two_peaks_is_a_clear_error():
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    with pytest.raises(ValueError, match="choose another method"):
        GLOBAL(ramp, method="minimum")


@pytest.mark.parametrize("classes", [2, 3, 4])
def test_multiotsu_equals_scikit_image(blobs, classes):
    thresholds = filters.threshold_multiotsu(blobs, classes=classes)
    result = MULTI.run(blobs, classes=classes)
    np.testing.assert_allclose(result.info["thresholds"], thresholds)
    np.testing.assert_array_equal(result.data, np.digitize(blobs, thresholds))
    inverted = MULTI(blobs, classes=classes, invert=True)
    np.testing.assert_array_equal(inverted, classes - 1 - result.data)


def test_multiotsu_with_too_few_levels_uses_each_level_as_a_class():
    img = np.repeat(np.array([[0, 5]], np.uint8), 4, axis=0)
    result = MULTI.run(img, classes=4)
    np.testing.assert_array_equal(result.data, img > 0)
    assert any("2 intensity levels" in n for n in result.notes)


@pytest.mark.parametrize("block_size", [3, 15, 51])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_adaptive_gaussian_equals_its_definition(blobs, block_size, dtype):
    img = blobs.astype(dtype)
    offset = 3.0
    sigma = (block_size - 1) / 6.0
    T = ndi.gaussian_filter(img.astype(np.float64), sigma, mode="reflect", truncate=4.0) - offset
    out = ADAPTIVE(img, method="gaussian", block_size=block_size, offset=offset).astype(bool)
    expected = img > T
    # float32 filtering may flip pixels lying within 1e-3 of the threshold, and only those
    differ = out != expected
    assert np.all(np.abs(img.astype(np.float64) - T)[differ] < 1e-3)
    assert differ.mean() < 1e-3
    # and the same as scikit-image's threshold_local
    sk = img > filters.threshold_local(img.astype(np.float64), block_size, "gaussian", offset=offset)
    assert (out != sk).mean() < 1e-3


def test_adaptive_median_on_non_8bit_images_is_within_half_a_level(blobs):
    img = blobs.astype(np.float32) * 3.7 + 11.0
    exact = ndi.median_filter(img, size=15, mode="reflect")
    out = ADAPTIVE(img, method="median", block_size=15).astype(bool)
    half_level = np.ptp(img) / 510
    differ = out != (img > exact)
    assert np.all(np.abs(img - exact)[differ] <= half_level + 1e-4)


@pytest.mark.parametrize("method", ["mean", "median"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_adaptive_mean_and_median_equal_threshold_local(blobs, method, dtype):
    img = blobs.astype(dtype)
    expected = img > filters.threshold_local(img.astype(np.float64), 15, method, offset=2)
    out = ADAPTIVE(img, method=method, block_size=15, offset=2).astype(bool)
    assert (out != expected).sum() <= 2  # float32 box sums vs float64


def _window_mean_std(img, w):
    img = img.astype(np.float64)
    m = ndi.uniform_filter(img, w, mode="reflect")
    m2 = ndi.uniform_filter(img * img, w, mode="reflect")
    return m, np.sqrt(np.maximum(m2 - m * m, 0))


def test_sauvola_and_niblack_equal_their_definitions(blobs):
    m, s = _window_mean_std(blobs, 25)
    k = 0.3
    niblack = ADAPTIVE(blobs, method="niblack", block_size=25, k=k).astype(bool)
    assert (niblack != (blobs > m - k * s)).sum() <= 2
    sauvola = ADAPTIVE(blobs, method="sauvola", block_size=25, k=k).astype(bool)
    assert (sauvola != (blobs > m * (1 + k * (s / 127.5 - 1)))).sum() <= 2
    # away from the border (where scikit-image pads differently) it is scikit-image's result
    sk = blobs > filters.threshold_sauvola(blobs, 25, k=k)
    assert (sauvola != sk)[13:-13, 13:-13].sum() <= 2


def test_adaptive_finds_objects_under_uneven_illumination():
    yy, xx = np.mgrid[0:100, 0:200]
    background = xx * 1.0  # strong ramp: no global threshold separates the spots
    spots = np.zeros((100, 200))
    for cx in range(20, 200, 40):
        spots[(yy - 50) ** 2 + (xx - cx) ** 2 < 36] = 30
    img = (background + spots).astype(np.float32)
    labels = ADAPTIVE(img, method="mean", block_size=31, offset=-10, components=True)  # T = mean + 10
    assert labels.max() == 5
    global_labels = GLOBAL(img, components=True)
    assert global_labels.max() != 5


def test_real_nuclei_otsu_scores_well(shared_data):
    """Otsu on DSB2018 fluorescence nuclei: foreground Dice against the ground truth."""
    import csv

    import imageio.v3 as iio

    root = shared_data / "dsb2018"
    rows = list(csv.DictReader(open(root / "index.csv")))
    key = next(k for k in rows[0] if "kind" in k.lower())
    ids = [r[next(iter(r))] for r in rows if "gray" in r[key].lower() or "fluo" in r[key].lower()][:5]
    assert ids, "expected grayscale fluorescence images in dsb2018/index.csv"
    dices = []
    for i in ids:
        img = iio.imread(root / "images" / f"{i}.png")[..., :3]
        gt = iio.imread(root / "labels" / f"{i}.png") > 0
        pred = GLOBAL(img, channel_axis=-1).astype(bool)
        dices.append(2 * (pred & gt).sum() / (pred.sum() + gt.sum()))
    assert np.mean(dices) > 0.75, dices

"""Without OpenCV, every operation of napari_segsuite.cv_compat gives OpenCV's answer (up to float
rounding): each is run both ways on the same input and compared."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite import cv_compat

cv2 = pytest.importorskip("cv2", reason="the comparison needs OpenCV installed (the [opencv] extra)")


def both(monkeypatch, fn, *args, **kwargs):
    """``fn`` run with OpenCV, then with the fallbacks."""
    with_cv = fn(*args, **kwargs)
    monkeypatch.setattr(cv_compat, "cv2", None)
    without = fn(*args, **kwargs)
    monkeypatch.setattr(cv_compat, "cv2", cv2)
    return with_cv, without


@pytest.fixture
def img():
    rng = np.random.default_rng(0)
    from scipy import ndimage as ndi

    return ndi.gaussian_filter(rng.random((61, 47, 3)), (2, 2, 0)).astype(np.float32)


@pytest.mark.parametrize("border", ["reflect", "mirror", "nearest"])
def test_filters_equal_opencv(monkeypatch, img, border):
    gray = np.ascontiguousarray(img[..., 0])
    cases = [
        (cv_compat.gaussian, (img, 1.5), {"border": border}),
        (cv_compat.gaussian, (gray, 0.7), {"radius": 3, "border": border}),
        (cv_compat.sep_filter, (gray, [-1, 0, 1], [3, 10, 3]), {"border": border}),
        (cv_compat.laplacian, (gray,), {"border": border}),
        (cv_compat.box_mean, (gray.astype(np.float64), 7), {"border": border}),
        (cv_compat.correlate, (gray, np.triu(np.ones((5, 5), np.float32))), {"border": border}),
    ] + [(cv_compat.sobel, (gray, dx, dy), {"border": border}) for dx, dy in ((1, 0), (0, 1), (2, 0), (0, 2), (1, 1))]
    for fn, args, kwargs in cases:
        a, b = both(monkeypatch, fn, *args, **kwargs)
        assert a.shape == b.shape and a.dtype == b.dtype, fn.__name__
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=fn.__name__)


def test_morphology_median_distance_and_components_equal_opencv(monkeypatch, img):
    gray = img[..., 1].astype(np.float64)
    fp = (np.add.outer(np.arange(-2, 3) ** 2, np.arange(-2, 3) ** 2) <= 4).astype(np.uint8)
    for fn, kw in ((cv_compat.dilate, {}), (cv_compat.erode, {}), (cv_compat.dilate, {"border": "constant"})):
        a, b = both(monkeypatch, fn, gray, fp, **kw)
        np.testing.assert_array_equal(a, b)
    u8 = np.pad((img[..., 0] * 255).astype(np.uint8), 4, mode="symmetric")
    a, b = both(monkeypatch, cv_compat.median_u8, u8, 9)
    np.testing.assert_array_equal(a[4:-4, 4:-4], b[4:-4, 4:-4])
    mask = img[..., 2] > np.median(img[..., 2])
    a, b = both(monkeypatch, cv_compat.distance_inside, np.pad(mask, 1))
    np.testing.assert_allclose(a, b, atol=1e-5)
    for connectivity in (1, 2):
        (la, na), (lb, nb) = both(monkeypatch, cv_compat.components, mask, connectivity)
        assert na == nb and na > 3
        np.testing.assert_array_equal(la, lb)  # the same numbering: raster order of first pixels


def test_otsu_and_pair_histogram(monkeypatch, img):
    for u8 in ((img[..., 0] * 255).astype(np.uint8), np.full((5, 5), 7, np.uint8), np.array([[0, 255]], np.uint8)):
        a, b = both(monkeypatch, cv_compat.otsu_u8, u8)
        assert a == b, (a, b)
    monkeypatch.setattr(cv_compat, "cv2", None)
    assert cv_compat.pair_histogram(np.zeros(4, np.uint8), np.zeros(4, np.uint8), 2) is None  # callers bincount


def test_histogram_of_floats_floors_them_like_bincount(monkeypatch):
    rng = np.random.default_rng(3)
    values = (rng.random((300, 200)) * 4095).astype(np.float32)
    values[0, :3] = [0.0, 4094.999, 4095.0 - 1e-3]
    a, b = both(monkeypatch, cv_compat.histogram, values, 4096)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.bincount(values.ravel().astype(np.intp), minlength=4096))


def test_pair_histogram_counts_exactly_past_float32s_exact_range():
    """OpenCV's bins are float32 (exact below 2**24): a larger image is counted in chunks, the
    counts exact and the cost without the cliff it had when it fell back to bincount."""
    pytest.importorskip("cv2")
    n = 2**24 + 3
    a = np.zeros(n, np.uint8)
    b = np.zeros(n, np.uint8)
    b[::7] = 1
    hist = cv_compat.pair_histogram(a, b, 2)
    expected = np.bincount(b.astype(np.int64), minlength=2)
    np.testing.assert_array_equal(hist, [expected, [0, 0]])
    assert hist.sum() == n


@pytest.mark.parametrize("how", ["nearest", "linear", "area"])
@pytest.mark.parametrize("shape", [(20, 15), (30, 47), (122, 94), (17, 90)])
def test_resize_equals_opencv(monkeypatch, img, how, shape):
    a, b = both(monkeypatch, cv_compat.resize, img, shape, how)
    assert a.shape == b.shape == shape + (3,)
    np.testing.assert_allclose(a, b, atol=1e-5)
    u8 = (img[..., 0] * 255).astype(np.uint8)
    a, b = both(monkeypatch, cv_compat.resize, u8, shape, how)
    assert a.dtype == b.dtype == np.uint8 and np.abs(a.astype(int) - b).max() <= 1


def test_colour_conversions_match_opencv(monkeypatch, img):
    a, b = both(monkeypatch, cv_compat.rgb_to_lab, img)
    np.testing.assert_allclose(a, b, atol=0.5)  # L in 0..100; OpenCV's gamma is a fitted spline
    a, b = both(monkeypatch, cv_compat.rgb_to_hsv, img)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert 0 <= b[..., 0].min() and b[..., 0].max() < 1


def test_canny_equals_opencv(monkeypatch):
    from skimage import data

    gray = data.camera()[::2, ::2].astype(np.float32)
    dx, dy = cv_compat.sobel(cv_compat.gaussian(gray, 1.5), 1, 0), cv_compat.sobel(cv_compat.gaussian(gray, 1.5), 0, 1)
    scale = 32000.0 / float(max(np.abs(dx).max(), np.abs(dy).max()))
    dx16, dy16 = (dx * scale).astype(np.int16), (dy * scale).astype(np.int16)
    mag = np.hypot(dx16.astype(float), dy16.astype(float))
    low, high = np.quantile(mag, 0.8), np.quantile(mag, 0.92)
    a, b = both(monkeypatch, cv_compat.canny, dx16, dy16, low, high)
    assert a.sum() > 1000
    assert (a != b).sum() < 0.01 * a.sum(), f"{(a != b).sum()} of {a.sum()} edge pixels differ"


def test_outer_contours_enclose_the_objects(monkeypatch):
    from scipy import ndimage as ndi
    from skimage.draw import polygon as fill

    mask = np.zeros((60, 80), bool)
    mask[5:25, 5:30] = True
    mask[10:15, 10:15] = False  # a hole: not a contour of its own
    mask[40:55, 50:75] = True
    mask[30, 40] = True  # one pixel
    a, b = both(monkeypatch, cv_compat.outer_contours, mask)
    assert len(a) == len(b) == 3
    filled = ndi.binary_fill_holes(mask)
    for rings in (a, b):
        drawn = np.zeros_like(mask)
        for ring in rings:
            drawn[fill(ring[:, 1], ring[:, 0], mask.shape)] = True
        # OpenCV's ring runs through the boundary pixels' centres, the fallback's half a pixel outside
        assert (drawn & filled).sum() >= 0.85 * (drawn | filled).sum()


def test_discs_equal_opencv(monkeypatch):
    def drawn(x, y, r):
        target = np.zeros((20, 20), np.uint8)
        cv_compat.disk(target, x, y, r, 3)
        return target

    for r in (1, 2, 3, 7):
        for x, y in ((10, 10), (0, 3), (19, 19)):
            np.testing.assert_array_equal(*both(monkeypatch, drawn, x, y, r))


def _example(tech):
    """A small input each technique accepts: labels for label techniques, a colour image else."""
    from skimage import data
    from skimage.measure import label

    rgb = data.astronaut()[100:228:2, 150:278:2]
    if tech.channels == "labels":
        return label(rgb[..., 0] > 120)
    return rgb


def test_every_technique_runs_without_opencv_and_agrees_with_it(monkeypatch):
    """Each technique on the same image with OpenCV and without: images equal to float rounding,
    labels the same partition of most pixels (the adapted Rand error; Canny's edges differ in a few
    pixels). OpenCV's Lab colours come from an interpolated table, up to 0.5 from the exact formula
    the fallback uses, which is enough to move pixels between colour clusters (k-means: adapted Rand
    error 0.26 on this image), so the Lab conversion is OpenCV's in both runs here and compared on
    its own in test_colour_conversions_match_opencv."""
    from skimage.metrics import adapted_rand_error

    from napari_segsuite.techniques import CATALOG

    monkeypatch.setattr(cv_compat, "rgb_to_lab", lambda unit: cv2.cvtColor(np.ascontiguousarray(unit, np.float32),
                                                                            cv2.COLOR_RGB2Lab))
    low = {}
    for name, tech in CATALOG.items():
        if tech.inputs and any(i.required for i in tech.inputs):
            continue
        img = _example(tech)
        a, b = both(monkeypatch, tech, img, channel_axis=None if img.ndim == 2 else -1)
        assert a.shape == b.shape, name
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * float(np.abs(a).max() or 1), err_msg=name)
            continue
        if np.array_equal(a, b):
            continue
        error = adapted_rand_error(a.astype(np.int64) + 1, b.astype(np.int64) + 1)[0]
        if error > 0.02:
            low[name] = round(float(error), 3)
    assert not low, f"techniques whose labels differ without OpenCV (adapted Rand error): {low}"


def test_sobel_and_magnitude_write_into_out_and_the_lab_gradient_is_unchanged(monkeypatch, img):
    from napari_segsuite.techniques._image import lab_gradient

    def by_channel(lab, sigma):  # the gradient's definition, one fresh array per step
        smooth = cv_compat.gaussian(lab, sigma, border="reflect") if sigma else lab
        return np.max([cv_compat.magnitude(cv_compat.sobel(np.ascontiguousarray(smooth[..., c]), 1, 0),
                                           cv_compat.sobel(np.ascontiguousarray(smooth[..., c]), 0, 1))
                       for c in range(lab.shape[-1])], axis=0)

    gray = np.ascontiguousarray(img[..., 0])
    for _ in range(2):  # with OpenCV, then with the fallbacks
        out = np.full(gray.shape, np.nan, np.float32)
        assert cv_compat.sobel(gray, 1, 0, out=out) is out or cv_compat.cv2 is not None
        np.testing.assert_array_equal(out, cv_compat.sobel(gray, 1, 0))
        mag = np.empty_like(out)
        cv_compat.magnitude(out, out, out=mag)
        np.testing.assert_allclose(mag, cv_compat.magnitude(out, out), rtol=1e-6)
        # (OpenCV's vector and scalar paths may round the last bit differently; values agree)
        np.testing.assert_allclose(lab_gradient(img * 100, 1.0), by_channel(img * 100, 1.0), rtol=1e-6)
        np.testing.assert_allclose(lab_gradient(gray * 100, 0.0), by_channel(gray[..., None] * 100, 0.0), rtol=1e-6)
        monkeypatch.setattr(cv_compat, "cv2", None)

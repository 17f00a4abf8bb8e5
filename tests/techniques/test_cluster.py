"""K-means clustering against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from napari_segsuite.techniques import CATALOG, SegsuiteWarning, prepare_slice
from napari_segsuite.techniques.cluster import _features

KMEANS = CATALOG["cluster.kmeans"]


@pytest.mark.parametrize("color_space", ["rgb", "lab", "hsv"])
@pytest.mark.parametrize("k", [3, 6])
def test_inertia_within_one_percent_of_scikit_learn(color_space, k):
    from sklearn.cluster import KMeans

    img = data.astronaut()
    result = KMEANS.run(img, channel_axis=-1, k=k, color_space=color_space)
    prepared, info = prepare_slice(img, has_channels=True, mode="color")
    x = _features(prepared, info, color_space, 0.0).T
    ref = KMeans(k, n_init=3, random_state=0).fit(x)
    assert result.info["inertia"] <= ref.inertia_ * 1.01
    # and the reported inertia is that of the returned labels
    labels = result.data.ravel() - 1
    centres = np.array([x[labels == j].mean(0) for j in range(k)])
    assert result.info["inertia"] == pytest.approx(((x - centres[labels]) ** 2).sum(), rel=1e-3)


def test_clusters_are_numbered_by_brightness_and_reproducible():
    img = np.zeros((40, 60), np.uint8)
    img[:, 20:40] = 120
    img[:, 40:] = 250
    labels = KMEANS(img, k=3)
    assert list(labels[0, [0, 30, 50]]) == [1, 2, 3]
    rgb = data.coffee()[::4, ::4]
    np.testing.assert_array_equal(KMEANS(rgb, channel_axis=-1, seed=5), KMEANS(rgb, channel_axis=-1, seed=5))


def test_spatial_weight_makes_compact_regions():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (64, 64)).astype(np.uint8)
    plain = KMEANS(noise, k=4)
    spatial = KMEANS(noise, k=4, spatial_weight=10.0)

    def boundary_len(lab):
        return (lab[:, 1:] != lab[:, :-1]).sum() + (lab[1:] != lab[:-1]).sum()

    assert boundary_len(spatial) < boundary_len(plain) / 4


def test_more_clusters_than_colours_is_reported():
    img = np.zeros((10, 10, 3), np.uint8)
    img[:5] = 200
    with pytest.warns(SegsuiteWarning, match="2 distinct colours"):
        labels = KMEANS(img, channel_axis=-1, k=5)
    assert set(np.unique(labels)) == {1, 2}


# -- mean shift, hierarchical, fuzzy c-means -----------------------------------------------------

from sklearn.metrics import adjusted_rand_score  # noqa: E402

from napari_segsuite.techniques import get  # noqa: E402
from napari_segsuite.techniques.cluster import fuzzy_cmeans_fit  # noqa: E402


def _blocks(noise=3.0, seed=0):
    y, x = np.mgrid[:96, :128]
    truth = 1 + (x > 50) + 2 * (y > 60)
    colours = np.array([[0, 0, 0], [220, 40, 40], [40, 200, 40], [40, 40, 220], [230, 230, 60]], float)
    img = colours[truth] + np.random.default_rng(seed).normal(0, noise, truth.shape + (3,))
    return np.clip(img, 0, 255).astype(np.uint8), truth


def test_meanshift_finds_the_constant_regions_under_noise():
    img, truth = _blocks(noise=6)
    out = get("cluster.meanshift")(img, channel_axis=-1)
    assert adjusted_rand_score(truth.ravel(), out.ravel()) > 0.98


def test_meanshift_boundary_merge_leaves_no_small_region_and_finds_the_blocks():
    img, truth = _blocks(noise=6)
    out = get("cluster.meanshift")(img, channel_axis=-1, range_bandwidth=4.0, min_size=200, merge="boundary")
    assert np.bincount(out.ravel())[1:].min() >= 200
    assert adjusted_rand_score(truth.ravel(), out.ravel()) > 0.95


def test_meanshift_range_bandwidth_controls_how_much_merges():
    img, _ = _blocks(noise=6)
    fine = get("cluster.meanshift")(img, channel_axis=-1, range_bandwidth=2.0, min_size=1)
    coarse = get("cluster.meanshift")(img, channel_axis=-1, range_bandwidth=100.0, min_size=1)
    assert len(np.unique(coarse)) < 4 < len(np.unique(fine))


def _faint_blocks(step: float, noise: float = 0.8, seed: int = 0):
    """Four gray blocks whose levels differ by ``step`` gray values each: a faint image."""
    y, x = np.mgrid[:96, :128]
    truth = 1 + (x > 50) + 2 * (y > 60)
    img = (100 + step * truth)[..., None] + np.random.default_rng(seed).normal(0, noise, truth.shape + (3,))
    return np.clip(img, 0, 255).astype(np.uint8), truth


def test_contrast_scale_narrows_the_bandwidth_on_faint_images_and_widens_it_on_busy_ones():
    from napari_segsuite.techniques._image import to_lab
    from napari_segsuite.techniques.cluster import contrast_scale

    def scale(img):
        return contrast_scale(to_lab(*prepare_slice(img, has_channels=True, mode="color")))

    faint, busy = scale(_faint_blocks(4)[0]), scale(data.astronaut()[::2, ::2])
    assert faint < 0.5 < 1.0 < busy
    assert scale(np.full((30, 30, 3), 90, np.uint8)) == 0.25  # no gradient at all: the narrowest
    assert scale(np.zeros((1, 9, 3), np.uint8)) == 1.0  # one row: no gradient to measure


def test_meanshift_contrast_scale_separates_faint_blocks_that_a_fixed_bandwidth_fuses():
    img, truth = _faint_blocks(8)  # about 3 L units between neighbouring blocks
    fixed = get("cluster.meanshift")(img, channel_axis=-1, range_bandwidth=8.0, min_size=50)
    scaled = get("cluster.meanshift")(img, channel_axis=-1, range_bandwidth=8.0, min_size=50, range_scale="contrast")
    assert len(np.unique(fixed)) <= 2
    assert adjusted_rand_score(truth.ravel(), scaled.ravel()) > 0.95


@pytest.mark.parametrize("merge", ["colour", "boundary"])
@pytest.mark.parametrize("range_scale", ["fixed", "contrast"])
def test_meanshift_sweep_equals_the_technique_at_each_bandwidth(merge, range_scale):
    from napari_segsuite.techniques.cluster import meanshift_sweep

    img, _ = _blocks(noise=12)
    params = {**get("cluster.meanshift").defaults(), "merge": merge, "range_scale": range_scale, "min_size": 80}
    del params["range_bandwidth"]
    sweep = meanshift_sweep(*prepare_slice(img, has_channels=True, mode="color"), [3.0, 12.0], **params)
    for bandwidth, labels in zip([3.0, 12.0], sweep):
        one = get("cluster.meanshift")(img, channel_axis=-1, range_bandwidth=bandwidth, merge=merge,
                                       range_scale=range_scale, min_size=80)
        np.testing.assert_array_equal(one, labels)
    assert len(np.unique(sweep[0])) >= len(np.unique(sweep[1]))


def test_hierarchical_stops_at_n_clusters_with_connected_regions():
    img, truth = _blocks()
    out = get("cluster.hierarchical")(img, channel_axis=-1, n_clusters=4, n_segments=200)
    assert len(np.unique(out)) == 4
    assert adjusted_rand_score(truth.ravel(), out.ravel()) > 0.98


def test_fuzzy_cmeans_memberships_equal_scikit_fuzzy():
    skfuzzy = pytest.importorskip("skfuzzy", reason="scikit-fuzzy is the reference implementation (test extra)")
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(c, 0.08, (300, 3)) for c in (0.1, 0.5, 0.9)])
    u0 = rng.random((3, len(x)))
    u0 /= u0.sum(0)
    # both start from the same partition: the centres it implies
    centres0 = (u0**2 @ x) / (u0**2).sum(1)[:, None]
    cntr, u_ref, *_ = skfuzzy.cluster.cmeans(x.T, 3, 2.0, error=1e-9, maxiter=1000, init=u0)
    centres, u, _ = fuzzy_cmeans_fit(x, np.ones(len(x)), centres0, 2.0, 1000, 1e-9)
    order = [int(np.argmin(((cntr - c) ** 2).sum(1))) for c in centres]
    np.testing.assert_allclose(u, u_ref[order].T, atol=1e-3)


def test_fuzzy_cmeans_counting_equal_colours_once_changes_nothing():
    rng = np.random.default_rng(4)
    uniq = rng.random((50, 3))
    counts = rng.integers(1, 5, 50)
    start = uniq[:4].copy()
    c1, u1, _ = fuzzy_cmeans_fit(uniq, counts, start, 2.0, 500, 1e-10)
    c2, u2, _ = fuzzy_cmeans_fit(np.repeat(uniq, counts, 0), np.ones(counts.sum()), start, 2.0, 500, 1e-10)
    np.testing.assert_allclose(c1, c2, atol=1e-8)
    np.testing.assert_allclose(np.repeat(u1, counts, 0), u2, atol=1e-8)


def test_fuzzy_cmeans_outputs_labels_memberships_and_certainty():
    img, truth = _blocks()
    tech = get("cluster.fuzzy_cmeans")
    labels = tech(img, channel_axis=-1, k=4)
    assert adjusted_rand_score(truth.ravel(), labels.ravel()) > 0.99
    maps = np.stack([tech(img, channel_axis=-1, k=4, output="membership", cluster=j) for j in range(1, 5)])
    np.testing.assert_allclose(maps.sum(0), 1, atol=1e-5)
    np.testing.assert_array_equal(maps.argmax(0) + 1, labels)
    certainty = tech(img, channel_axis=-1, k=4, output="certainty")
    np.testing.assert_allclose(certainty, maps.max(0), atol=1e-6)
    assert tech.output_for({"output": "membership"}) == "image"

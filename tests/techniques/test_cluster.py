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

"""Felzenszwalb-Huttenlocher against scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data, metrics, segmentation

from napari_segsuite.techniques import CATALOG

FH = CATALOG["graph.felzenszwalb"]


@pytest.mark.parametrize(("name", "params"), [("coffee", {}), ("astronaut", {"scale": 300.0, "sigma": 1.2, "min_size": 50})])
def test_same_segments_as_scikit_image(name, params):
    img = getattr(data, name)()[::2, ::2]
    p = FH.validate_params(params)
    ours = FH(img, channel_axis=-1, **p)
    theirs = segmentation.felzenszwalb(img, channel_axis=-1, **p)
    assert ours.min() == 1 and ours.max() == len(np.unique(ours))
    assert ours.max() == theirs.max() + 1
    # the same partition (labels may be numbered differently)
    assert metrics.adapted_rand_error(theirs + 1, ours)[0] == pytest.approx(0.0, abs=1e-12)


def test_gray_images_and_scale_controls_segment_size():
    img = data.camera()[::4, ::4]
    small = FH(img, scale=50.0).max()
    large = FH(img, scale=1000.0).max()
    assert small > 2 * large >= 2
    ref = segmentation.felzenszwalb(img, scale=50.0, sigma=0.8, min_size=20)
    assert small == ref.max() + 1

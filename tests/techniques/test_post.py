"""Post-processing against scikit-image/scipy on single masks, and label-by-label on many."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import measure
from skimage import morphology as skm
from sklearn.metrics import adjusted_rand_score

from napari_segsuite.techniques import get
from napari_segsuite.techniques.post import footprint


def _mask(seed=0):
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.random((70, 90)), 3) > 0.5


@pytest.mark.parametrize("operation", ["open", "close", "erode", "dilate"])
@pytest.mark.parametrize("shape", ["disk", "square", "diamond"])
def test_morphology_on_a_mask_equals_scikit_image(operation, shape):
    mask = _mask()
    fp = footprint(shape, 2).astype(bool)
    ref = {"open": skm.binary_opening, "close": skm.binary_closing, "erode": skm.binary_erosion, "dilate": skm.binary_dilation}[operation](mask, fp)
    out = get("post.morphology")(mask.astype(np.uint8), operation=operation, shape=shape, radius=2)
    inner = (slice(4, -4), slice(4, -4))  # borders: we replicate edges, scikit-image pads differently
    np.testing.assert_array_equal(out[inner] > 0, ref[inner])


def test_footprints_match_scikit_image():
    np.testing.assert_array_equal(footprint("disk", 3), skm.disk(3))
    np.testing.assert_array_equal(footprint("diamond", 3), skm.diamond(3))


def test_morphology_never_merges_or_swaps_touching_objects():
    labels = np.zeros((40, 60), np.int32)
    labels[5:35, 5:30] = 1
    labels[5:35, 30:55] = 2
    for op in ("open", "close", "dilate", "erode"):
        out = get("post.morphology")(labels, operation=op, radius=3)
        assert set(np.unique(out)) <= {0, 1, 2}
        assert np.all((out == 1) <= (labels == 1) | (labels == 0)) and np.all((out == 2) <= (labels == 2) | (labels == 0))


def test_fill_holes_equals_scipy_on_a_mask_and_respects_max_size():
    mask = _mask(1)
    out = get("post.fill_holes")(mask.astype(np.uint8))
    np.testing.assert_array_equal(out > 0, ndi.binary_fill_holes(mask))
    labels = np.zeros((30, 30), np.int32)
    labels[2:12, 2:12] = 1
    labels[5, 5] = 0  # small hole
    labels[15:29, 15:29] = 2
    labels[18:26, 18:26] = 0  # 64-pixel hole
    out = get("post.fill_holes")(labels, max_size=10)
    assert out[5, 5] == 1 and out[20, 20] == 0


def test_a_gap_between_two_objects_is_not_a_hole():
    labels = np.zeros((20, 20), np.int32)
    labels[2:18, 2:10], labels[2:18, 11:18] = 1, 2
    labels[2, 10] = 1
    labels[17, 10] = 2  # the slit between the objects is enclosed, but by two labels
    assert not get("post.fill_holes")(labels)[5:15, 10].any()


def test_remove_small_equals_scikit_image():
    mask = _mask(2)
    instances = measure.label(mask)
    out = get("post.remove_small")(instances, min_size=80)
    new_api = "max_size" in skm.remove_small_objects.__doc__
    ref = skm.remove_small_objects(instances, max_size=79) if new_api else skm.remove_small_objects(instances, 80)
    np.testing.assert_array_equal(out, ref)
    semantic = get("post.remove_small")(mask.astype(np.uint8), min_size=80, kind="semantic")
    np.testing.assert_array_equal(semantic > 0, ref > 0)


def test_connected_components_equal_scikit_image_and_keep_classes_apart():
    mask = _mask(3)
    out = get("post.connected_components")(mask.astype(np.uint8))
    assert adjusted_rand_score(measure.label(mask, connectivity=2).ravel(), out.ravel()) == 1.0
    two = np.zeros((10, 10), np.uint8)
    two[:, :5], two[:, 5:] = 1, 2  # touching classes stay two objects
    assert len(np.unique(get("post.connected_components")(two))) == 2


def test_split_touching_cuts_two_overlapping_disks():
    y, x = np.mgrid[:80, :120]
    disks = ((x - 40) ** 2 + (y - 40) ** 2 < 22**2) | ((x - 78) ** 2 + (y - 40) ** 2 < 22**2)
    out = get("post.split_touching")(disks.astype(np.uint8), min_distance=10)
    assert len(np.unique(out[disks])) == 2 and not out[~disks].any()
    assert np.all(out[disks] > 0)
    # a tiny object keeps one id instead of vanishing
    speck = np.zeros((20, 20), np.uint8)
    speck[3, 3] = 1
    assert get("post.split_touching")(speck)[3, 3] > 0


def _majority_reference(labels, fp):
    """Plain-Python statement of the rule: the most common label under the footprint (cut at the
    edge); a tie keeps the pixel's own label if it is among the most common, else the smallest."""
    r = fp.shape[0] // 2
    out = labels.copy()
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            votes = [labels[y + dy, x + dx] for dy in range(-r, r + 1) for dx in range(-r, r + 1)
                     if fp[dy + r, dx + r] and 0 <= y + dy < h and 0 <= x + dx < w]
            values, counts = np.unique(votes, return_counts=True)
            top = values[counts == counts.max()]
            out[y, x] = labels[y, x] if labels[y, x] in top else top.min()
    return out


@pytest.mark.parametrize("shape,radius", [("disk", 1), ("disk", 2), ("square", 1), ("diamond", 3)])
def test_majority_follows_its_rule_on_many_labels(shape, radius):
    rng = np.random.default_rng(radius)
    labels = ndi.zoom(rng.integers(0, 6, (8, 10)), 4, order=0)[:29, :37].astype(np.int32)
    labels[rng.random(labels.shape) < 0.1] = 7  # specks
    out = get("post.majority")(labels, shape=shape, radius=radius)
    np.testing.assert_array_equal(out, _majority_reference(labels, footprint(shape, radius).astype(bool)))
    assert out.dtype == labels.dtype and set(np.unique(out)) <= set(np.unique(labels))


def test_majority_on_a_mask_equals_scikit_image_inside():
    from skimage.filters.rank import majority as sk_majority

    mask = _mask(3).astype(np.uint8)
    mask[np.random.default_rng(1).random(mask.shape) < 0.05] ^= 1
    out = get("post.majority")(mask, radius=1)
    ref = sk_majority(mask, skm.disk(1))  # an odd number of votes inside: no ties
    np.testing.assert_array_equal(out[1:-1, 1:-1], ref[1:-1, 1:-1])


def test_majority_straightens_a_jagged_border_and_keeps_a_straight_one():
    straight = np.ones((40, 40), np.int32)
    straight[:, 20:] = 2
    assert np.array_equal(get("post.majority")(straight, radius=2), straight)
    jagged = straight.copy()
    jagged[3:-3:3, 20] = 1  # one-pixel teeth of label 1 into label 2 (off the image's edge rows,
    jagged[1:-3:4, 19] = 2  # where the cut footprint makes a tie, which keeps the tooth)
    np.testing.assert_array_equal(get("post.majority")(jagged, radius=1), straight)

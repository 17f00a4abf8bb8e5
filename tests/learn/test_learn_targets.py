"""Labels -> targets and probabilities -> labels."""

from __future__ import annotations

import numpy as np

from napari_segsuite.learn.targets import (
    IGNORE,
    border_threshold,
    class_ids_of,
    has_holes,
    instance_target,
    instances_from_probabilities,
    min_object_size,
    semantic_target,
    to_labels,
)


def test_semantic_targets_map_label_values_to_class_indices():
    lab = np.array([[0, 2, 2], [7, 0, 9]])
    assert class_ids_of([lab], sparse=False) == (0, 2, 7, 9)
    dense = semantic_target(lab, (0, 2, 7), sparse=False)
    np.testing.assert_array_equal(dense, [[0, 1, 1], [2, 0, IGNORE]])  # 9 is not a class: ignored
    sparse = semantic_target(lab, (2, 7), sparse=True)
    np.testing.assert_array_equal(sparse, [[IGNORE, 0, 0], [1, IGNORE, IGNORE]])


def test_instance_targets_mark_the_rim_between_touching_objects():
    lab = np.zeros((9, 14), int)
    lab[1:8, 1:7] = 1
    lab[1:8, 7:13] = 2  # touches object 1
    t = instance_target(lab)
    assert t[4, 3] == 1 and t[4, 10] == 1  # interiors
    assert (t[4, 5:9] == 2).all(), "two pixels on each side of the contact are boundary"
    assert t[4, 4] == 1 and t[4, 9] == 1
    assert t[0, 0] == 0


def test_small_objects_keep_an_interior_and_any_ids_work():
    lab = np.zeros((7, 12), np.int64)
    lab[1:4, 1:4] = 2**40  # 3x3: a two-pixel rim would leave no interior, so it gets a one-pixel rim
    lab[1:6, 5:10] = 7
    lab[0, 11] = 3  # a single pixel is all rim
    t = instance_target(lab)
    assert t[2, 2] == 1 and (t[1, 1:4] == 2).all()
    assert t[3, 7] == 1 and t[2, 7] == 2 and t[0, 11] == 2


def test_min_object_size_is_the_first_percentile_of_annotated_areas():
    a = np.zeros((50, 50), int)
    a[:10, :10] = 1
    assert min_object_size([a]) == 100
    assert min_object_size([np.zeros((5, 5), int)]) == 0
    sizes = np.arange(1, 201)
    labs = [np.repeat(np.arange(1, 201), sizes).reshape(1, -1)]  # objects of 1..200 pixels
    assert min_object_size(labs) == int(np.percentile(sizes, 1)) == 2


def test_watershed_separates_touching_objects_seeded_by_interiors():
    prob = np.zeros((3, 20, 30), np.float32)
    prob[0] = 1.0
    prob[:, 5:15, 5:25] = 0.0
    prob[1, 5:15, 5:25] = 1.0  # one foreground region ...
    prob[1, 5:15, 14:16] = 0.0
    prob[2, 5:15, 14:16] = 1.0  # ... split by a predicted boundary
    out = instances_from_probabilities(prob)
    assert len(np.unique(out)) == 3
    assert out[10, 8] != out[10, 22] and out[10, 8] > 0 and out[10, 22] > 0
    assert (out[5:15, 5:25] > 0).all(), "the boundary pixels are given to an object, not left as background"
    assert instances_from_probabilities(prob, min_size=10_000).max() == 0


def test_holes_are_a_rule_of_the_annotations_only_from_one_object_in_a_hundred():
    ring = np.zeros((7, 7), np.int64)
    ring[1:6, 1:6] = 2**40
    ring[3, 3] = 0
    assert has_holes([ring])
    solid = np.zeros((10, 100), np.int64)
    for i in range(100):  # 100 solid objects side by side, some touching: no hole in any
        solid[2:8, i] = i + 1
    assert not has_holes([solid])
    assert not has_holes([solid, ring]), "one object in 101 with a hole is an accident, not a rule"
    assert has_holes([solid[:, :50], ring])
    gap = np.zeros((9, 9), np.int64)  # background enclosed by two touching objects: not a hole of either
    gap[1:8, 1:5], gap[1:8, 5:8] = 1, 2
    gap[4, 4] = 0
    assert not has_holes([gap])
    assert not has_holes([np.zeros((4, 4), int)])


def test_foreground_is_where_background_is_less_likely_than_not_and_holes_can_be_filled():
    prob = np.zeros((3, 12, 12), np.float32)
    prob[0] = 1.0
    prob[:, 2:10, 2:10] = np.array([0.0, 0.9, 0.1])[:, None, None]
    prob[:, 2:10, 2] = np.array([0.4, 0.35, 0.25])[:, None]  # background the likeliest class, yet not likely
    prob[:, 5:7, 5:7] = np.array([1.0, 0.0, 0.0])[:, None, None]  # a hole
    out = instances_from_probabilities(prob)
    assert (out[2:10, 2] == 1).all(), "interior and boundary together outweigh the background"
    assert (out[5:7, 5:7] == 0).all()
    filled = instances_from_probabilities(prob, fill_holes=True)
    assert (filled[5:7, 5:7] == 1).all() and filled.max() == 1 and (filled[0] == 0).all()


def test_a_lower_foreground_threshold_draws_smaller_objects():
    prob = np.zeros((3, 12, 12), np.float32)
    prob[0] = 1.0
    prob[:, 2:10, 2:10] = np.array([0.3, 0.2, 0.5])[:, None, None]  # the object's rim: boundary, background 0.3
    prob[:, 4:8, 4:8] = np.array([0.0, 1.0, 0.0])[:, None, None]  # its middle: certain
    assert (instances_from_probabilities(prob) > 0).sum() == 64
    assert (instances_from_probabilities(prob, foreground=0.25) > 0).sum() == 16
    assert (to_labels(prob, "instance", (), foreground=0.25) > 0).sum() == 16


def test_a_scribble_model_border_goes_where_the_image_changes():
    """Probabilities that put the border 4 pixels inside a bright disc (as strokes through its
    middle and a ring outside it teach): the image moves the border out to the disc's edge."""
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 32, xx - 32)
    disc = r <= 16
    rng = np.random.default_rng(0)
    image = (0.2 + 0.6 * disc + rng.normal(0, 0.03, disc.shape))[None].astype(np.float32)
    p = np.clip((18 - r) / 8, 0, 1)  # 0.5 at radius 14, 0.25 at 16: the network's guess, too small
    prob = np.stack([1 - p, p]).astype(np.float32)
    assert border_threshold(prob, image) in (0.2, 0.3)
    drawn = to_labels(prob, "semantic", (1, 2), border_image=image) == 2
    assert abs(int(drawn.sum()) - int(disc.sum())) < 0.08 * disc.sum()
    assert (to_labels(prob, "semantic", (1, 2)) == 2).sum() < 0.8 * disc.sum(), "at 0.5: too small"
    assert border_threshold(np.stack([np.ones((8, 8)), np.zeros((8, 8))]), image[:, :8, :8]) == 0.5, "nothing drawn"


def test_semantic_labels_take_the_class_ids_back():
    prob = np.zeros((3, 2, 2), np.float32)
    prob[2, 0, 0] = prob[1, 1, 1] = 1
    prob[0, 0, 1] = prob[0, 1, 0] = 1
    np.testing.assert_array_equal(to_labels(prob, "semantic", (0, 4, 300)), [[300, 0], [0, 4]])


def test_touching_objects_whose_interiors_touch_are_split_at_their_distance_peaks():
    """Two discs overlapping through a neck: one interior region, two distance peaks."""
    from napari_segsuite.learn.targets import split_seeds

    yy, xx = np.mgrid[:48, :80]
    left, right = (yy - 24) ** 2 + (xx - 24) ** 2 < 15 ** 2, (yy - 24) ** 2 + (xx - 52) ** 2 < 15 ** 2
    interior = left | right
    prob = np.zeros((3, 48, 80), np.float32)
    prob[0] = ~interior
    prob[1] = interior
    assert split_seeds(interior, None)[1] == 1
    seeds, n, _ = split_seeds(interior, 1.5)
    assert n == 2 and len(np.unique(seeds[left & ~right])) == 2 and len(np.unique(seeds[right & ~left])) == 2
    merged, split = instances_from_probabilities(prob), instances_from_probabilities(prob, split_h=1.5)
    assert merged.max() == 1 and split.max() == 2
    assert (split[left & ~right] == split[24, 20]).all() and (split[right & ~left] == split[24, 56]).all()
    lone = np.zeros((20, 20), bool)
    lone[5:15, 5:15] = True  # one object, one peak: never split however shallow the split
    assert split_seeds(lone, 1.0)[1] == 1

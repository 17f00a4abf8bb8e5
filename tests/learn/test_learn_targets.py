"""Labels -> targets and probabilities -> labels."""

from __future__ import annotations

import numpy as np

from napari_segsuite.learn.targets import (
    IGNORE, class_ids_of, instance_target, instances_from_probabilities, min_object_size, semantic_target, to_labels,
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


def test_semantic_labels_take_the_class_ids_back():
    prob = np.zeros((3, 2, 2), np.float32)
    prob[2, 0, 0] = prob[1, 1, 1] = 1
    prob[0, 0, 1] = prob[0, 1, 0] = 1
    np.testing.assert_array_equal(to_labels(prob, "semantic", (0, 4, 300)), [[300, 0], [0, 4]])

"""Labels -> targets and probabilities -> labels."""

from __future__ import annotations

import numpy as np

from napari_segsuite.learn.targets import IGNORE, class_ids_of, instance_target, instances_from_probabilities, semantic_target, to_labels


def test_semantic_targets_map_label_values_to_class_indices():
    lab = np.array([[0, 2, 2], [7, 0, 9]])
    assert class_ids_of([lab], sparse=False) == (0, 2, 7, 9)
    dense = semantic_target(lab, (0, 2, 7), sparse=False)
    np.testing.assert_array_equal(dense, [[0, 1, 1], [2, 0, IGNORE]])  # 9 is not a class: ignored
    sparse = semantic_target(lab, (2, 7), sparse=True)
    np.testing.assert_array_equal(sparse, [[IGNORE, 0, 0], [1, IGNORE, IGNORE]])


def test_instance_targets_mark_the_rim_between_touching_objects():
    lab = np.zeros((5, 8), int)
    lab[1:4, 1:4] = 1
    lab[1:4, 4:7] = 2  # touches object 1
    t = instance_target(lab)
    assert t[2, 2] == 1  # interior
    assert t[2, 3] == 2 and t[2, 4] == 2  # both sides of the contact are boundary
    assert t[0, 0] == 0


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

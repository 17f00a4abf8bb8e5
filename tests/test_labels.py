"""Label conventions: commits never overwrite or merge by accident."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.io.labels import ClassInfo, commit_plan, labels_metadata, panoptic_features, smallest_label_dtype


def _apply(target, plan):
    out = target.copy()
    out[plan.indices] = plan.values
    return out


def test_keep_mode_only_fills_unlabelled_pixels():
    target = np.zeros((4, 4), np.uint8)
    target[0, :] = 7
    new = np.ones((4, 4), np.uint8) * 2
    new[3, 3] = 0
    plan = commit_plan(target, new, kind="semantic")
    out = _apply(target, plan)
    assert np.all(out[0] == 7), "existing labels are kept"
    assert out[3, 3] == 0, "background in the result never erases"
    assert np.all(out[1:3] == 2)
    assert plan.skipped == 4 and "overwrite" in plan.notes[0]


def test_overwrite_mode_replaces_labelled_pixels_but_not_with_background():
    target = np.full((3, 3), 5, np.uint8)
    new = np.zeros((3, 3), np.uint8)
    new[1, 1] = 2
    out = _apply(target, commit_plan(target, new, kind="semantic", overwrite=True))
    assert out[1, 1] == 2 and (out == 5).sum() == 8


def test_instance_ids_are_shifted_past_existing_objects():
    target = np.zeros((4, 4), np.int32)
    target[0, 0] = 3
    new = np.zeros((4, 4), np.int32)
    new[2, 2], new[3, 3] = 1, 2
    out = _apply(target, commit_plan(target, new, kind="instance"))
    assert sorted(np.unique(out)) == [0, 3, 4, 5]


def test_dtype_overflow_and_shape_mismatch_are_refused():
    target = np.zeros((2, 2), np.uint8)
    target[0, 0] = 255
    new = np.ones((2, 2), np.int32)
    with pytest.raises(ValueError, match="cannot hold label 256"):
        commit_plan(target, new, kind="instance")
    with pytest.raises(ValueError, match="shape"):
        commit_plan(target, np.ones((3, 2), np.uint8), kind="semantic")


def test_metadata_and_panoptic_features():
    classes = [ClassInfo(1, "sky"), ClassInfo(2, "ball")]
    meta = labels_metadata("panoptic", classes)
    assert meta["segsuite"]["kind"] == "panoptic" and meta["segsuite"]["classes"][1]["name"] == "ball"
    feats = panoptic_features({5: 2, 1: 1}, classes)
    assert feats == {"index": [1, 5], "class_id": [1, 2], "class_name": ["sky", "ball"]}
    with pytest.raises(ValueError, match="class ids"):
        panoptic_features({1: 9}, classes)
    with pytest.raises(ValueError, match="label kind"):
        labels_metadata("blobs")


@pytest.mark.parametrize(("top", "dtype"), [(0, np.uint8), (255, np.uint8), (256, np.uint16), (70000, np.uint32)])
def test_smallest_label_dtype(top, dtype):
    assert smallest_label_dtype(top) == dtype

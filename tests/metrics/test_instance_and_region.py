"""Instance and region metrics against skimage.metrics, pycocotools and hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import data, filters, measure, metrics

from napari_segsuite.metrics import adapted_rand, instance_metrics, iou_matrix, panoptic_quality, score, split_voi
from napari_segsuite.metrics.region import contingency, rand_index, variation_of_information


@pytest.fixture(scope="module")
def coins_pair():
    img = data.coins()
    t = filters.threshold_otsu(img)
    return measure.label(img > t + 12), measure.label(img > t)


def test_one_contingency_table_for_every_region_score_and_no_allocation_by_label_value():
    """skimage.metrics sizes its table by the largest label (16 GiB for one pixel labelled 2**31 - 1);
    ours renumbers sparse labels first and gives skimage's numbers on the same data."""
    gt = np.zeros((64, 64), np.int64)
    gt[:32], gt[32:, :20] = 1, 2
    pred = gt.copy()
    pred[0, :3] = 7
    huge = np.where(pred == 7, 2**31 - 1, pred)
    n = contingency(huge, gt)
    assert n.shape == (4, 3) and n.sum() == gt.size
    np.testing.assert_allclose(adapted_rand(huge, gt), metrics.adapted_rand_error(gt, pred), rtol=1e-12)
    np.testing.assert_allclose(split_voi(huge, gt), metrics.variation_of_information(gt, pred), rtol=1e-10, atol=1e-12)
    assert variation_of_information(n) == pytest.approx(sum(metrics.variation_of_information(gt, pred)))


def test_adapted_rand_and_voi_equal_skimage(coins_pair):
    pred, gt = coins_pair
    np.testing.assert_allclose(adapted_rand(pred, gt), metrics.adapted_rand_error(gt, pred), rtol=1e-12)
    np.testing.assert_allclose(split_voi(pred, gt), metrics.variation_of_information(gt, pred), rtol=1e-10)


def test_iou_matrix_equals_pycocotools_mask_iou(coins_pair):
    from pycocotools import mask as mask_utils

    pred, gt = coins_pair
    ov = iou_matrix(pred, gt)
    enc = lambda lab, ids: [mask_utils.encode(np.asfortranarray((lab == i).astype(np.uint8))) for i in ids]  # noqa: E731
    coco = mask_utils.iou(enc(gt, ov.true_ids), enc(pred, ov.pred_ids), [0] * len(ov.pred_ids))
    np.testing.assert_allclose(ov.iou, coco, atol=1e-12)


def test_matching_by_hand():
    gt = np.zeros((10, 20), int)
    gt[0:4, 0:4] = 1  # matched perfectly
    gt[5:9, 5:9] = 2  # matched at IoU 0.6
    gt[0:3, 15:18] = 3  # missed
    pred = np.zeros_like(gt)
    pred[0:4, 0:4] = 7
    pred[5:9, 5:9] = 8
    pred[5:9, 9:11] = 8  # 16 / 24 pixels overlap -> IoU 2/3
    pred[8:10, 15:17] = 9  # false positive
    res = instance_metrics(pred, gt)
    at = {r["threshold"]: r for r in res["per_threshold"]}
    assert (at[0.5]["tp"], at[0.5]["fp"], at[0.5]["fn"]) == (2, 1, 1)
    assert (at[0.7]["tp"], at[0.7]["fp"], at[0.7]["fn"]) == (1, 2, 2)
    assert at[0.5]["accuracy"] == pytest.approx(2 / 4)
    assert res["summary"]["f1@0.5"] == pytest.approx(2 / 3)


def test_panoptic_quality_by_hand():
    gt = np.zeros((10, 10), int)
    gt[0:5, 0:5] = 1
    gt[5:10, 5:10] = 2
    pred = gt.copy()
    pred[0:5, 0:4] = 5  # IoU 0.8 with object 1
    pred[0:5, 4] = 0
    res = panoptic_quality(pred, gt, gt_classes={1: 1, 2: 2}, pred_classes={5: 1, 2: 1})
    assert res["per_class"][1]["tp"] == 1 and res["per_class"][1]["fp"] == 1
    assert res["per_class"][2]["fn"] == 1  # right object, wrong class
    assert res["per_class"][1]["pq"] == pytest.approx(0.8 / 1.5)


def _relabel(lab, seed):
    ids = np.unique(lab)[1:]
    perm = np.random.default_rng(seed).permutation(len(ids)) + 100
    lut = np.zeros(lab.max() + 1, int)
    lut[ids] = perm
    return lut[lab]


def test_relabelling_instances_changes_nothing(coins_pair):
    pred, gt = coins_pair
    a = score(pred, gt, kind="instance").summary
    b = score(_relabel(pred, 1), _relabel(gt, 2), kind="instance").summary
    assert a == pytest.approx(b, nan_ok=True)


def test_perfect_prediction_scores_one(coins_pair):
    _, gt = coins_pair
    s = score(gt, gt, kind="all").summary
    for key in ("mean_iou", "f1_mean", "accuracy_mean", "pq", "bf_mean"):
        assert s[key] == pytest.approx(1.0), key
    assert s["adapted_rand_error"] == pytest.approx(0.0, abs=1e-12) and s["voi"] == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_instance_scores_are_in_range_and_symmetric_where_they_should_be(seed):
    rng = np.random.default_rng(seed)
    a = measure.label(rng.random((20, 20)) > 0.6)
    b = measure.label(rng.random((20, 20)) > 0.6)
    s = score(a, b, kind="instance").summary
    for k in ("precision_mean", "recall_mean", "f1_mean", "accuracy_mean", "pq", "sq", "rq"):
        assert np.isnan(s[k]) or 0 <= s[k] <= 1
    swapped = score(b, a, kind="instance").summary
    assert s["f1_mean"] == pytest.approx(swapped["f1_mean"], nan_ok=True)
    assert s["precision_mean"] == pytest.approx(swapped["recall_mean"], nan_ok=True)
    n_ab, n_ba = contingency(a, b), contingency(b, a)
    assert rand_index(n_ab) == pytest.approx(rand_index(n_ba))
    assert variation_of_information(n_ab) == pytest.approx(variation_of_information(n_ba))


def test_bad_pairs_are_refused_with_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 4\).*\(5, 4\)"):
        score(np.zeros((4, 4), int), np.zeros((5, 4), int))
    with pytest.raises(TypeError, match="non-integer"):
        score(np.full((4, 4), 0.5), np.zeros((4, 4), int))
    with pytest.raises(ValueError, match="negative"):
        score(np.full((4, 4), -1), np.zeros((4, 4), int))
    with pytest.raises(ValueError, match="kind"):
        score(np.zeros((4, 4), int), np.zeros((4, 4), int), kind="fancy")


def test_empty_and_ignore_only_inputs_are_explained():
    empty = np.zeros((6, 6), int)
    s = score(empty, empty, kind="all")
    assert "both label maps are empty" in s.notes and np.isnan(s.summary["f1_mean"])
    s = score(empty, np.full((6, 6), 255), ignore_index=255)
    assert any("ignore label" in n for n in s.notes) and np.isnan(s.summary["mean_iou"])


def test_stacks_are_scored_per_slice_and_overall(coins_pair):
    pred, gt = coins_pair
    stack_p = np.stack([pred, gt])
    stack_g = np.stack([gt, gt])
    s = score(stack_p, stack_g, kind="all")
    assert len(s.per_slice) == 2 and s.per_slice[1]["f1_mean"] == pytest.approx(1.0)
    single = score(pred, gt, kind="instance")
    tp = single.per_threshold[0]["tp"] + len(np.unique(gt)) - 1
    assert s.per_threshold[0]["tp"] == tp
    assert s.summary["mean_iou"] == pytest.approx(score(stack_p, stack_g).summary["mean_iou"])


def _assert_equal_to_stardist(pred, gt):
    from stardist.matching import matching

    res = instance_metrics(pred, gt)
    for row in res["per_threshold"]:
        ref = matching(gt, pred, thresh=row["threshold"])
        assert (row["tp"], row["fp"], row["fn"]) == (ref.tp, ref.fp, ref.fn)
        assert row["f1"] == pytest.approx(ref.f1) and row["accuracy"] == pytest.approx(ref.accuracy)
        assert row["precision"] == pytest.approx(ref.precision) and row["recall"] == pytest.approx(ref.recall)
        if row["tp"]:
            assert row["mean_matched_iou"] == pytest.approx(ref.mean_matched_score, abs=1e-6)


def test_matching_equals_stardist(coins_pair):
    _assert_equal_to_stardist(*coins_pair)


def test_matching_equals_stardist_on_real_nuclei(shared_data):
    import tifffile

    from napari_segsuite.techniques import CATALOG

    img = tifffile.imread(shared_data / "stardist" / "img2d.tif")
    gt = tifffile.imread(shared_data / "stardist" / "mask2d.tif")
    pred = CATALOG["threshold.global"](img, components=True)
    _assert_equal_to_stardist(pred, gt)

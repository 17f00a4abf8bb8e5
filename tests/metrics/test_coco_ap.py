"""COCO mask AP against pycocotools' COCOeval on the COCO sample with perturbed predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.metrics.coco import CocoImage, coco_ap


def test_equal_to_pycocotools_on_perturbed_coco_sample(shared_data, tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ann_file = shared_data / "coco_mini" / "annotations" / "instances_val2017_subset.json"
    coco = COCO(str(ann_file))
    rng = np.random.default_rng(7)
    gts, dts, results = [], [], []
    for img_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(img_id)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        shape = (info["height"], info["width"])
        masks = np.array([coco.annToMask(a).astype(bool) for a in anns]).reshape(-1, *shape)
        gts.append(CocoImage(masks, [a["category_id"] for a in anns], [bool(a["iscrowd"]) for a in anns]))
        d_masks, d_cats, d_scores = [], [], []
        for a, m in zip(anns, masks):
            if a["iscrowd"] or rng.random() < 0.2:
                continue  # some objects are missed
            op = rng.integers(0, 3)
            m = ndi.binary_dilation(m, iterations=int(rng.integers(1, 4))) if op == 0 else (
                ndi.binary_erosion(m, iterations=int(rng.integers(1, 3))) if op == 1 else np.roll(m, int(rng.integers(-6, 7)), axis=1))
            d_masks.append(m)
            d_cats.append(a["category_id"] if rng.random() > 0.1 else 1)  # some get the wrong category
            d_scores.append(float(rng.random()))
        for _ in range(2):  # false positives
            m = np.zeros(shape, bool)
            y, x = rng.integers(0, shape[0] - 40), rng.integers(0, shape[1] - 40)
            m[y:y + 30, x:x + 30] = True
            d_masks.append(m)
            d_cats.append(int(rng.choice([a["category_id"] for a in anns])))
            d_scores.append(float(rng.random()))
        dts.append(CocoImage(np.array(d_masks).reshape(-1, *shape), d_cats, scores=d_scores))
        for m, c, s in zip(d_masks, d_cats, d_scores):
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            rle["counts"] = rle["counts"].decode()
            results.append({"image_id": img_id, "category_id": c, "segmentation": rle, "score": s})
    res_file = tmp_path / "res.json"
    res_file.write_text(json.dumps(results))
    ev = COCOeval(coco, coco.loadRes(str(res_file)), "segm")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    ours = coco_ap(gts, dts)
    assert ours["ap"] == pytest.approx(ev.stats[0], abs=1e-6)
    assert ours["ap50"] == pytest.approx(ev.stats[1], abs=1e-6)
    assert ours["ap75"] == pytest.approx(ev.stats[2], abs=1e-6)
    assert 0.2 < ours["ap"] < 0.95, "the perturbations make a non-trivial test"


def test_perfect_and_empty_predictions():
    m = np.zeros((2, 10, 10), bool)
    m[0, :4, :4] = True
    m[1, 5:, 5:] = True
    gt = [CocoImage(m, [1, 2], [False, False])]
    assert coco_ap(gt, [CocoImage(m, [1, 2], scores=[0.9, 0.8])])["ap"] == pytest.approx(1.0)
    assert coco_ap(gt, [CocoImage(np.zeros((0, 10, 10), bool), [])])["ap"] == 0.0
    with pytest.raises(ValueError, match="images"):
        coco_ap(gt, [])

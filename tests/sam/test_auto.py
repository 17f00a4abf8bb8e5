"""Automatic masks: the same masks as segment-anything's generator, instant re-selection, limits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_segsuite.sam import SamSession
from napari_segsuite.sam.auto import _compress, _paint, generate, point_grid


def _image(h=300, w=400):
    rng = np.random.default_rng(0)
    img = np.zeros((h, w, 3), np.uint8) + 40
    img[60:200, 80:260] = (200, 60, 50)
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("params", [
    dict(pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0),
    dict(pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=0.3),
    dict(pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0, crop_n_layers=1, crop_nms_thresh=1.0),
])
def test_same_masks_as_segment_anything(tiny_sam, params):
    from segment_anything import SamAutomaticMaskGenerator

    img = _image()
    side = 3 if params.get("crop_n_layers") else 5
    gen = SamAutomaticMaskGenerator(tiny_sam, points_per_side=side, **params)
    with torch.inference_mode():
        ref = [r for r in gen.generate(img) if r["area"] > 0]
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    s.set_image(img)
    runs = s.encoder_runs
    auto = generate(s, img, points_per_side=side, crop_n_layers=params.get("crop_n_layers", 0))
    if not params.get("crop_n_layers"):
        assert s.encoder_runs == runs  # the cached embedding was used
    idx = auto.select(**{k: v for k, v in params.items() if k != "crop_n_layers"})
    assert len(idx) == len(ref) > 0
    for r, i in zip(ref, idx):
        m = auto.mask(i)
        assert (m & r["segmentation"]).sum() / (m | r["segmentation"]).sum() >= 0.999
        assert auto.iou[i] == pytest.approx(r["predicted_iou"], abs=1e-4)
        assert auto.stability[i] == pytest.approx(r["stability_score"], abs=1e-3)
        x, y, w, h = r["bbox"]  # XYWH, inclusive ends
        assert np.abs(auto.boxes[i] - [x, y, x + w, y + h]).max() <= 1  # a pixel may flip exactly at 0
        assert abs(int(auto.areas[i]) - r["area"]) <= 2 + r["area"] // 1000


def test_reselection_needs_no_decoder(tiny_sam):
    img = _image()
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    s.set_image(img)
    auto = generate(s, img, points_per_side=4)
    runs = s.decoder_runs
    assert len(auto) == 16 * 3 and runs == 16
    everything = auto.select(pred_iou_thresh=0, stability_score_thresh=0, box_nms_thresh=1.0)
    cut = float(np.median(auto.iou))
    fewer = auto.select(pred_iou_thresh=cut, stability_score_thresh=0, box_nms_thresh=1.0)
    assert set(fewer) < set(everything) and set(fewer) == {i for i in everything if auto.iou[i] > cut}
    big = auto.select(pred_iou_thresh=0, stability_score_thresh=0, box_nms_thresh=1.0, min_area=int(np.median(auto.areas)))
    assert all(auto.areas[i] >= np.median(auto.areas) for i in big)
    labels = auto.labels(everything)
    assert labels.shape == (300, 400) and labels.max() <= len(everything)
    assert s.decoder_runs == runs


def test_compression_round_trips_and_stays_small():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:120, :90]
    smooth = (yy - 60) ** 2 + (xx - 40) ** 2 < 30**2
    noisy = rng.random((120, 90)) > 0.5
    for mask, kind in [(smooth, "runs"), (noisy, "bits")]:
        entry = _compress(mask, 10, 20, 200)
        assert entry[0] == kind
        out = np.zeros((200, 150), bool)
        _paint(out, entry, True)
        assert np.array_equal(out[10:130, 20:110], mask) and out.sum() == mask.sum()
        assert sum(a.nbytes for a in entry[1:]) <= mask.size // 8 + 64  # never more than a bit per pixel


def test_cancel_and_edge_cases(tiny_sam):
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    img = _image(40, 50)
    s.set_image(img)
    calls = []
    with pytest.raises(InterruptedError):
        generate(s, img, points_per_side=8, cancel=lambda: len(calls) > 3, progress=lambda d, t: calls.append(d))
    # a grid denser than the image has pixels still works (points are fractional positions)
    tiny = _image(8, 9)
    auto = generate(s, tiny, points_per_side=10)
    assert len(auto) == 10 * 10 * 3 and auto.labels(pred_iou_thresh=0, stability_score_thresh=0).shape == (8, 9)
    # nothing survives impossible thresholds: an empty label image, not an error
    assert not auto.labels(pred_iou_thresh=2.0).any()
    np.testing.assert_allclose(point_grid(2), [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])


def test_coco_rle_of_a_candidate(tiny_sam):
    pycocotools = pytest.importorskip("pycocotools.mask", reason="pycocotools (a test dependency) decodes COCO RLE")
    img = _image()
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    s.set_image(img)
    auto = generate(s, img, points_per_side=2)
    rle = auto.coco_rle(0)
    coded = {"size": rle["size"], "counts": rle["counts"].encode()}
    assert np.array_equal(pycocotools.decode(coded).astype(bool), auto.mask(0))

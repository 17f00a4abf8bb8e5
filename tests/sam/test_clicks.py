"""Simulated clicks: where the user clicks, the curves and the NoC summary, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from imageio.v3 import imwrite

from napari_segsuite.cli import main
from napari_segsuite.io.datasets import iter_instance_dataset
from napari_segsuite.sam import ClassicalSession
from napari_segsuite.sam.clicks import ClickReport, next_click, pick_objects, run_benchmark, simulate_object
from napari_segsuite.sam.prompts import Prediction


def test_first_click_is_the_deepest_interior_point():
    gt = np.zeros((50, 80), bool)
    gt[10:31, 20:71] = True  # 21 x 51: the centre is (20, 45)
    r, c, positive = next_click(gt, None)
    assert positive and r == 20 and 30 <= c <= 60  # along the long axis these pixels tie (11 px deep)
    with pytest.raises(ValueError, match="empty"):
        next_click(np.zeros((5, 5), bool), None)


def test_next_click_goes_to_the_largest_error():
    gt = np.zeros((60, 60), bool)
    gt[10:50, 10:50] = True
    missed = gt.copy()
    missed[10:50, 30:50] = False  # the right half is missed: a positive click there
    r, c, positive = next_click(gt, missed)
    assert positive and 30 <= c < 50 and 10 <= r < 50
    spill = gt.copy()
    spill[0:60, 52:60] = True  # a wide false-positive strip, deeper than a 1-pixel miss
    spill[10, 10] = False
    r, c, positive = next_click(gt, spill)
    assert not positive and c >= 52
    assert next_click(gt, gt) is None


class _GrowingDisk:
    """A fake backend: a disk around the first click, of radius 4 k + 1 after k clicks."""

    decoder_runs = 0

    def set_image(self, image):
        self.shape = image.shape[:2]

    def predict(self, points, labels, box=None, mask_input=None, multimask=True):
        self.decoder_runs += 1
        (x, y) = points[0]
        yy, xx = np.mgrid[: self.shape[0], : self.shape[1]]
        m = (yy - y) ** 2 + (xx - x) ** 2 < (4 * len(points) + 1) ** 2
        p = Prediction(np.array([1.0]), np.zeros((1, 0, 0)), self.shape, self.shape)
        p._full[0] = m
        return p


def test_simulate_object_curve_and_summary():
    yy, xx = np.mgrid[:100, :100]
    gt = (yy - 50) ** 2 + (xx - 50) ** 2 < 20**2
    backend = _GrowingDisk()
    backend.set_image(np.zeros((100, 100)))
    curve = simulate_object(backend, gt, max_clicks=8)
    assert len(curve) == 8 and backend.decoder_runs == 8
    # IoU (r/20)^2 while the disk of radius r = 4k + 1 is inside the object, then (20/r)^2
    expected = [min(4 * k + 1, 20) ** 2 / max(4 * k + 1, 20) ** 2 for k in range(1, 9)]
    np.testing.assert_allclose(curve, expected, atol=0.03)
    report = ClickReport([curve, [0.2] * 8], max_clicks=8)
    assert report.noc(0.85) == pytest.approx((5 + 8) / 2)  # the second object never gets there
    assert report.failures(0.85) == 1
    assert report.miou(1) == pytest.approx((curve[0] + 0.2) / 2)


def test_perfect_backend_needs_one_click():
    class Oracle(_GrowingDisk):
        def predict(self, points, labels, box=None, mask_input=None, multimask=True):
            p = super().predict(points, labels)
            p._full[0] = self.gt
            return p

    gt = np.zeros((40, 40), bool)
    gt[5:20, 5:30] = True
    o = Oracle()
    o.gt = gt
    o.set_image(np.zeros((40, 40)))
    curve = simulate_object(o, gt, max_clicks=20)
    assert curve == [1.0] * 20 and o.decoder_runs == 1
    assert ClickReport([curve]).noc(0.9) == 1


def test_pick_objects_is_reproducible():
    labels = np.zeros((50, 50), np.int32)
    for i in range(10):
        labels[i * 5 : i * 5 + 4, : 5 + i] = i + 1
    assert pick_objects(labels, min_area=30) == [4, 5, 6, 7, 8, 9, 10]  # areas 4 (5 + i)
    a = pick_objects(labels, max_objects=3, seed=1)
    assert len(a) == 3 and a == pick_objects(labels, max_objects=3, seed=1)


def _toy_dataset(root):
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for n in range(2):
        img = np.full((120, 160), 30, np.uint8)
        labels = np.zeros((120, 160), np.uint16)
        yy, xx = np.mgrid[:120, :160]
        for k, (cy, cx, r) in enumerate([(40, 40, 15), (80, 110, 20)], 1):
            disk = (yy - cy - 5 * n) ** 2 + (xx - cx) ** 2 < r**2
            img[disk] = 180
            labels[disk] = k
        img = np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
        imwrite(root / "images" / f"img{n}.png", img)
        imwrite(root / "labels" / f"img{n}.png", labels)
    return root


def test_classical_backend_on_a_toy_dataset(tmp_path):
    report, stats = run_benchmark(ClassicalSession(), iter_instance_dataset(_toy_dataset(tmp_path / "toy")), max_clicks=5)
    assert stats["images"] == 2 and stats["objects"] == 4 and stats["clicks"] >= 4
    assert report.miou(1) > 0.8 and report.noc(0.85) <= 2


def test_cli_benchmark_clicks(tmp_path, capsys):
    root = _toy_dataset(tmp_path / "toy")
    assert main(["benchmark-clicks", str(root), "--max-clicks", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objects"] == 4 and out["images"] == 2 and 1 <= out["noc85"] <= 5
    assert set(out["miou"]) == {"1", "2", "3", "5"} and "watershed" in out["backend"]
    assert main(["benchmark-clicks", str(tmp_path)]) == 2  # not a data set
    assert "not a known data set layout" in capsys.readouterr().err


def test_dataset_layouts(tmp_path, shared_data):
    horses = list(iter_instance_dataset(shared_data / "weizmann_horse", limit=2))
    assert len(horses) == 2 and horses[0][1].shape[:2] == horses[0][2].shape and set(np.unique(horses[0][2])) == {0, 1}
    name, image, labels = next(iter_instance_dataset(shared_data / "dsb2018", limit=1))
    assert image.shape[:2] == labels.shape and image.shape[-1] == 3 and labels.max() > 1
    pytest.importorskip("pycocotools", reason="COCO layout needs pycocotools (a test dependency)")
    coco = list(iter_instance_dataset(shared_data / "coco_mini", limit=3))
    assert len(coco) == 3 and all(lab.max() >= 1 and lab.shape == img.shape[:2] for _, img, lab in coco)


@pytest.mark.data
def test_classical_backend_on_dsb2018(shared_data):
    """The fallback's quality on real nuclei: a few clicks get most of each object."""
    report, stats = run_benchmark(ClassicalSession(), iter_instance_dataset(shared_data / "dsb2018", limit=3),
                                  max_clicks=5, max_objects=4, min_area=30)
    assert stats["objects"] >= 8
    assert report.miou(5) > 0.6 and report.miou(5) >= report.miou(1)

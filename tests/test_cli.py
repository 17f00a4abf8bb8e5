"""The napari-segsuite command (engine parts; the gui command is tested in tests/_widgets)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.io import read_image, write_labels
from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.presets import save_preset


def test_techniques_json_lists_the_whole_catalog(capsys):
    assert main(["techniques", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == list(CATALOG)
    adaptive = next(t for t in listed if t["name"] == "threshold.adaptive")
    block = next(p for p in adaptive["params"] if p["name"] == "block_size")
    assert block == {**block, "type": "int", "default": 51, "range": {"min": 3, "max": 1001, "step": 2, "odd": True}}
    method = next(p for p in adaptive["params"] if p["name"] == "method")
    assert method["choices"] == ["gaussian", "mean", "median", "sauvola", "niblack"]


def test_techniques_table(capsys):
    assert main(["techniques", "--family", "Thresholding"]) == 0
    out = capsys.readouterr().out
    assert "threshold.multiotsu" in out and "classes: int = 3" in out
    assert main(["techniques", "--family", "Nope"]) == 2


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(folder / f"img{i}.npy", rng.integers(0, 255, (30, 40)).astype(np.uint8))
    import imageio.v3 as iio

    iio.imwrite(folder / "rgb.png", rng.integers(0, 255, (30, 40, 3)).astype(np.uint8))
    (folder / "broken.png").write_bytes(b"garbage")
    return folder


def test_run_technique_on_a_folder(tmp_path, images, capsys):
    out = tmp_path / "out"
    code = main(["run", "threshold.adaptive", str(images), "-o", str(out), "--param", "block_size=11", "--param", "method=mean"])
    assert code == 1, "a broken file makes the exit code non-zero"
    text = capsys.readouterr()
    assert "broken.png: FAILED" in text.err and "4 written, 0 skipped, 1 failed" in text.out
    img = np.load(images / "img1.npy")
    np.testing.assert_array_equal(read_image(out / "img1.png"), CATALOG["threshold.adaptive"](img, block_size=11, method="mean"))
    assert read_image(out / "rgb.png").shape == (30, 40), "RGB is converted to gray"
    # resumable: existing outputs are skipped
    main(["run", "threshold.adaptive", str(images), "-o", str(out)])
    assert "0 written, 4 skipped, 1 failed" in capsys.readouterr().out


def test_run_preset_with_override(tmp_path, images):
    preset = save_preset(tmp_path / "p.json", "threshold.global", {"method": "manual", "value": 100.0})
    out = tmp_path / "out"
    assert main(["run", str(preset), str(images / "img0.npy"), "-o", str(out), "--format", "tif", "--param", "invert=true"]) == 0
    img = np.load(images / "img0.npy")
    np.testing.assert_array_equal(read_image(out / "img0.tif"), img <= 100)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "threshold.nope", "x.png", "-o", "o"], "unknown technique"),
        (["run", "threshold.global", "x.png", "-o", "o", "--param", "nbins"], "NAME=VALUE"),
        (["run", "threshold.global", "x.png", "-o", "o", "--param", "nbins=many"], "must be an integer"),
        (["run", "threshold.global", "x.png", "-o", "o", "--param", "nbins=1"], "out of range"),
        (["run", "threshold.global", "x.png", "-o", "o", "--param", "colour=red"], "no parameter"),
        (["gui", "/nonexistent.png"], "no such file"),
    ],
)
def test_cli_errors_name_the_problem(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_existing_output_is_not_overwritten_without_flag(tmp_path, images):
    out = tmp_path / "out"
    write_labels(out / "img0.png", np.full((30, 40), 9, np.uint8))
    main(["run", "threshold.global", str(images / "img0.npy"), "-o", str(out)])
    assert read_image(out / "img0.png").max() == 9
    main(["run", "threshold.global", str(images / "img0.npy"), "-o", str(out), "--overwrite"])
    assert read_image(out / "img0.png").max() == 1


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "napari_segsuite.cli", "techniques"], capture_output=True, text=True)
    assert out.returncode == 0 and "threshold.global" in out.stdout


def test_evaluate_folders_paired_by_stem(tmp_path, capsys):
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    gt = np.zeros((20, 20), np.uint8)
    gt[2:8, 2:8] = 1
    gt[10:18, 10:18] = 2
    write_labels(gt_dir / "a.png", gt)
    write_labels(gt_dir / "b.png", gt)
    write_labels(pred_dir / "a.png", gt)  # perfect
    shifted = np.roll(gt, 2, axis=1)
    write_labels(pred_dir / "b.tif", shifted)
    write_labels(pred_dir / "unpaired.png", gt)
    assert main(["evaluate", str(pred_dir), str(gt_dir), "--kind", "all", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by = {r["image"]: r for r in out["images"]}
    assert set(by) == {"a", "b"}
    assert by["a"]["mean_iou"] == 1.0 and by["b"]["mean_iou"] < 1.0
    from napari_segsuite.metrics import score

    assert by["b"]["f1_mean"] == pytest.approx(score(shifted, gt, kind="all").summary["f1_mean"])
    assert out["aggregate"]["mean_iou"] == pytest.approx((1.0 + by["b"]["mean_iou"]) / 2)
    assert main(["evaluate", str(pred_dir / "a.png"), str(gt_dir / "a.png")]) == 0
    table = capsys.readouterr().out
    assert "pixel_accuracy" in table and "mean" in table


def test_evaluate_against_all_bsds_annotators(shared_data, tmp_path, capsys):
    from napari_segsuite.io.bsds import read_bsds_groundtruth

    mat = shared_data / "bsds500" / "bench" / "data" / "groundTruth" / "2018.mat"
    gts = read_bsds_groundtruth(mat).segmentations
    np.save(tmp_path / "2018.npy", gts[0])
    assert main(["evaluate", str(tmp_path / "2018.npy"), str(mat), "--kind", "instance", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["images"][0]
    assert row["annotators"] == len(gts) >= 5
    assert 0 < row["f1_mean"] < 1, "the mean over annotators: perfect on one, not on the others"


def test_evaluate_reports_shape_mismatch(tmp_path, capsys):
    write_labels(tmp_path / "p.png", np.zeros((5, 5), np.uint8))
    write_labels(tmp_path / "g.png", np.zeros((6, 5), np.uint8))
    assert main(["evaluate", str(tmp_path / "p.png"), str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "(5, 5)" in err and "(6, 5)" in err


def test_evaluate_reads_coco_and_voc_ground_truth(shared_data, tmp_path, capsys):
    from napari_segsuite.io.coco import read_coco
    from napari_segsuite.io.voc import read_voc_mask

    coco = shared_data / "coco_mini" / "annotations" / "instances_val2017_subset.json"
    first = json.loads(coco.read_text())["images"][0]["file_name"]
    labels, _ = read_coco(coco, first)
    write_labels(tmp_path / "pred" / f"{Path(first).stem}.png", labels)
    assert main(["evaluate", str(tmp_path / "pred"), str(coco), "--kind", "instance", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["aggregate"]["f1@0.5"] == 1.0
    voc = shared_data / "voc_sample" / "SegmentationClass" / "2007_000063.png"
    truth = read_voc_mask(voc)
    write_labels(tmp_path / "vocpred" / "2007_000063.png", np.where(truth == 255, 0, truth).astype(np.uint8))
    assert main(["evaluate", str(tmp_path / "vocpred" / "2007_000063.png"), str(voc), "--ignore-index", "255", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["aggregate"]["pixel_accuracy"] == 1.0


def _nuclei(seed: int = 0, n: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lab = np.zeros((96, 96), np.uint16)
    for k in range(n):
        y, x = rng.integers(3, 90, 2)
        lab[y:y + 4, x:x + 4] = k + 1
    return lab


def test_evaluate_picks_instance_metrics_for_object_ids_and_says_why(tmp_path, capsys):
    gt = _nuclei()
    write_labels(tmp_path / "gt" / "a.png", gt)
    write_labels(tmp_path / "pred" / "a.png", gt)
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt")]) == 0
    out, err = capsys.readouterr()
    assert "f1@0.5" in out and "mean_iou" not in out
    assert "--kind auto: the ground truth holds" in err and "instance metrics" in err
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--kind", "semantic"]) == 0
    assert "look like object ids" in capsys.readouterr().err


def test_evaluate_fits_the_terminal_and_prints_everything_as_csv(tmp_path, capsys, monkeypatch):
    gt = _nuclei()
    write_labels(tmp_path / "gt" / ("x" * 64 + ".png"), gt)
    write_labels(tmp_path / "pred" / ("x" * 64 + ".png"), np.roll(gt, 1, axis=0))
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--kind", "all"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100 and "more metrics: --csv or --json" in out
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--kind", "all", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][0] == "image" and "voi" in rows[0] and "mean_iou" in rows[0] and rows[2][0] == "mean"


def test_evaluate_runs_the_bsds_benchmark_on_bsds_ground_truth(tmp_path, capsys):
    import scipy.io as sio

    seg = np.zeros((40, 60), np.uint16)
    seg[:, 30:] = 1
    seg += 1
    other = seg.copy()
    other[:20] += 2
    cells = np.empty((1, 2), dtype=object)
    from napari_segsuite.metrics.boundary import label_boundaries

    for i, s in enumerate((seg, other)):
        cells[0, i] = {"Segmentation": s, "Boundaries": label_boundaries(s).astype(np.uint8)}
    (tmp_path / "gt").mkdir()
    sio.savemat(tmp_path / "gt" / "im.mat", {"groundTruth": cells})
    write_labels(tmp_path / "pred" / "im.png", seg)
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "bsds" and out["bsds"]["images"] == 1
    assert out["bsds"]["ods"]["precision"] == pytest.approx(1.0) and 0.5 < out["bsds"]["ods"]["recall"] < 1.0
    assert out["bsds"]["covering_ods"] > 0.7
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt")]) == 0
    text = capsys.readouterr().out
    assert "BSDS500 benchmark" in text and "ODS F" in text and "Covering ODS" in text and "PRI" in text

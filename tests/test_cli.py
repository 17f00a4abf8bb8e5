"""The napari-segsuite command (engine parts; the gui command is tested in tests/_widgets)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.io import read_image, write_labels
from napari_segsuite.presets import save_preset
from napari_segsuite.techniques import CATALOG


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

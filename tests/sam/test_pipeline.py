"""Hybrid presets (classical -> SAM -> post-processing) as JSON, run from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from imageio.v3 import imread, imwrite

from napari_segsuite.cli import main
from napari_segsuite.sam import registry
from napari_segsuite.sam.pipeline import load_pipeline, parse_pipeline, save_pipeline

REFINE = {
    "sam": {"model": "classical", "mode": "refine", "options": {"mode": "point", "min_area": 20}},
    "before": [{"technique": "threshold.global", "params": {"method": "otsu"}},
               {"technique": "post.connected_components", "params": {}}],
    "post": [{"technique": "post.fill_holes", "params": {}}, {"technique": "post.remove_small", "params": {"min_size": 30}}],
}


def _cells(path):
    img = np.full((120, 160), 25, np.uint8)
    yy, xx = np.mgrid[:120, :160]
    for cy, cx, r in [(40, 40, 14), (80, 110, 18)]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = 200
    img[40, 40] = 25  # a hole the post-processing fills
    imwrite(path, img)
    return img


def test_refine_pipeline_runs_from_the_cli(tmp_path, capsys):
    preset = tmp_path / "hybrid.json"
    preset.write_text(json.dumps(REFINE))
    (tmp_path / "in").mkdir()
    _cells(tmp_path / "in" / "a.png")
    assert main(["run", str(preset), str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 0
    labels = imread(tmp_path / "out" / "a.png")
    assert labels.max() == 2 and labels[40, 40] > 0  # two objects, the hole filled by the post step
    assert "classical" in capsys.readouterr().out


def test_round_trip_and_validation(tmp_path):
    p = parse_pipeline(REFINE)
    path = save_pipeline(tmp_path / "p.json", p)
    again = load_pipeline(path)
    assert again.to_dict() == p.to_dict() and [s.technique.name for s in again.post] == ["post.fill_holes", "post.remove_small"]
    with pytest.raises(FileExistsError):
        save_pipeline(path, p)
    bad = [
        ({**REFINE, "sam": {"model": "vit_z", "mode": "auto"}}, "unknown model"),
        ({**REFINE, "sam": {"model": "classical", "mode": "auto"}}, "need a SAM model"),
        ({**REFINE, "sam": {"model": "vit_b", "mode": "paint"}}, "mode must be"),
        ({**REFINE, "sam": {"model": "vit_b", "mode": "auto", "options": {"exec": "rm -rf /"}}}, "unknown SAM option"),
        ({**REFINE, "sam": {"model": "vit_b", "mode": "auto", "options": {"points_per_side": [1]}}}, "number"),
        ({"sam": {"model": "classical", "mode": "refine"}}, "needs 'before' steps"),
        ({**REFINE, "post": [{"technique": "threshold.global", "params": {}}]}, "only post"),
        ({**REFINE, "post": [{"technique": "post.fill_holes", "params": {"nope": 1}}]}, "nope"),
    ]
    for data, message in bad:
        with pytest.raises(ValueError, match=message):
            parse_pipeline(data)


def test_auto_pipeline_with_a_sam_checkpoint(tiny_sam, tmp_path, monkeypatch):
    """Automatic masks + post-processing from a preset, with a (tiny) SAM loaded from its checkpoint."""
    import hashlib

    import torch
    from conftest import build_tiny_sam

    ckpt = tmp_path / "tiny.pth"
    torch.save(tiny_sam.state_dict(), ckpt)
    data = ckpt.read_bytes()
    spec = registry.ModelSpec("tiny", "http://127.0.0.1/tiny.pth", hashlib.sha256(data).hexdigest(), len(data), build_tiny_sam)
    monkeypatch.setitem(registry.REGISTRY, "tiny", spec)
    preset = {"sam": {"model": "tiny", "checkpoint": str(ckpt), "mode": "auto",
                      "options": {"points_per_side": 3, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}},
              "post": [{"technique": "post.remove_small", "params": {"min_size": 5}}]}
    pipeline = parse_pipeline(preset)
    session = pipeline.session(device="cpu")
    img = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
    labels, _ = pipeline.run(img, session)
    assert labels.shape == (60, 80) and labels.max() >= 1 and session.encoder_runs == 1

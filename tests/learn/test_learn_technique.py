"""Trained models as catalog techniques, presets naming them, and the train / predict commands."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_blobs import make_blobs

from napari_segsuite.cli import main
from napari_segsuite.io import read_image, write_labels
from napari_segsuite.learn.store import save_model
from napari_segsuite.learn.technique import learned_models_dir, register_model, technique_name
from napari_segsuite.techniques import CATALOG, get
from napari_segsuite.techniques.chain import Chain
from napari_segsuite.techniques.presets import load_preset, save_preset


def test_a_registered_model_runs_per_slice_like_any_technique(trained_semantic, blobs):
    tech = register_model(trained_semantic, name="My Blobs!")
    assert tech.name == "learn.my_blobs" and CATALOG["learn.my_blobs"] is tech
    stack = np.stack([blobs[0][0], blobs[1][0]])
    result = tech.run(stack)
    assert result.data.shape == stack.shape and result.kind == "semantic"
    np.testing.assert_array_equal(result.data[1], trained_semantic.predict(blobs[1][0]))
    with pytest.raises(ValueError, match="letters or digits"):
        technique_name("!!")


def test_a_saved_model_is_found_by_name_in_a_later_session_and_in_presets(trained_semantic, blobs, tmp_path):
    save_model(trained_semantic, learned_models_dir() / "kept")
    assert "learn.kept" not in CATALOG  # a fresh session: nothing registered yet
    tech = get("learn.kept")
    assert tech.name == "learn.kept"
    preset = save_preset(tmp_path / "p.json", "learn.kept", {}, post=[("post.remove_small", {"min_size": 20})])
    del CATALOG["learn.kept"]
    loaded = load_preset(preset)
    out = Chain([(loaded.technique, loaded.params), *loaded.post]).run(blobs[0][0])
    assert out.data.shape == blobs[0][0].shape and out.data.max() == 1
    with pytest.raises(KeyError, match="unknown technique 'learn.absent'"):
        get("learn.absent")


def test_train_and_predict_commands_end_to_end(tmp_path, capsys):
    data = tmp_path / "data"
    for i in range(3):
        img, lab = make_blobs(100 + i, touching=True)
        write_labels(data / "images" / f"im{i}.png", (img * 200).clip(0, 255).astype(np.uint8))
        write_labels(data / "labels" / f"im{i}.png", lab)
    model = tmp_path / "nuclei.json"
    argv = ["train", str(data), "-o", str(model), "--task", "instance", "--width", "8", "--depth", "2",
            "--patch-size", "64", "--batch-size", "4", "--epochs", "8", "--steps-per-epoch", "10", "--register"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "epoch   1" in out and "saved" in out and "registered as technique learn.nuclei" in out
    assert main(argv) == 2 and "already exists" in capsys.readouterr().err
    assert main(["predict", str(model), str(data / "images"), "-o", str(tmp_path / "masks")]) == 0
    masks = sorted((tmp_path / "masks").glob("*.png"))
    assert len(masks) == 3
    pred, gt = read_image(masks[0]), read_image(data / "labels" / "im0.png")
    assert pred.shape == gt.shape and pred.max() >= 5
    assert main(["run", "learn.nuclei", str(data / "images"), "-o", str(tmp_path / "run")]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "run" / "im0.png") > 0, pred > 0)  # one learnt min size
    huge = ["predict", str(model), str(data / "images"), "-o", str(tmp_path / "none"), "--min-size", str(gt.size)]
    assert main(huge) == 0 and not read_image(tmp_path / "none" / "im0.png").any()
    # --no-flips: the image alone, as the engine's flips=False gives (the default averages mirror images)
    assert main(["predict", str(model), str(data / "images"), "-o", str(tmp_path / "plain"), "--no-flips"]) == 0
    from napari_segsuite.learn.store import load_model

    loaded, image = load_model(model), read_image(data / "images" / "im0.png")
    np.testing.assert_array_equal(read_image(tmp_path / "plain" / "im0.png") > 0, loaded.predict(image, flips=False) > 0)
    np.testing.assert_array_equal(pred > 0, loaded.predict(image) > 0)


def test_predict_reports_a_damaged_model_without_a_traceback(trained_semantic, tmp_path, capsys):
    save_model(trained_semantic, tmp_path / "m")
    (tmp_path / "m.pt").write_bytes(b"garbage")
    assert main(["predict", str(tmp_path / "m.json"), str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "SHA-256" in capsys.readouterr().err


def test_tuning_sweeps_a_learned_technique(trained_semantic, blobs):
    from napari_segsuite.techniques.tuning import sweep

    tech = register_model(trained_semantic)
    img, lab = blobs[2]
    result = sweep(tech, img, (lab > 0).astype(np.uint8), {"tile": [64, 1024]}, metric="foreground IoU")
    assert np.isfinite(result.scores).all() and result.best_score > 0.8
    assert result.best_params["tile"] in (64, 1024)


def test_a_kept_model_is_found_by_its_slug_even_when_its_name_is_not_one(trained_semantic, blobs):
    from napari_segsuite.learn.technique import keep_model

    trained_semantic.name = "My Blobs"
    try:
        path, tname = keep_model(trained_semantic)
    finally:
        trained_semantic.name = "blobs"
    assert tname == "learn.my_blobs" and path.name == "my_blobs.json"
    np.testing.assert_array_equal(get(tname)(blobs[0][0]), trained_semantic.predict(blobs[0][0]))

"""Training from annotations: it learns, sparse scribbles work, bad input is refused clearly, and
cancelling keeps the last good model."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_blobs import make_blobs

from napari_segsuite.learn import models, train
from napari_segsuite.learn.train import MIN_LABELLED, TrainConfig
from napari_segsuite.techniques import Cancelled

FAST = dict(patch_size=64, batch_size=4, max_epochs=6, steps_per_epoch=10)


def _dice(a, b):
    return 2 * (a & b).sum() / max(a.sum() + b.sum(), 1)


def test_a_tiny_unet_learns_the_blobs(trained_semantic):
    img, lab = make_blobs(42)  # unseen image
    pred = trained_semantic.predict(img)
    assert pred.shape == img.shape and set(np.unique(pred)) <= {0, 1}
    assert _dice(pred == 1, lab > 0) > 0.9
    assert trained_semantic.info["val_dice"] > 0.8
    best = trained_semantic.info["best_epoch"]
    assert trained_semantic.info["val_dice"] == max(r["val_dice"] for r in trained_semantic.history)
    assert trained_semantic.history[best - 1]["val_dice"] == trained_semantic.info["val_dice"]


def test_sparse_scribbles_train_a_model_with_the_painted_class_ids():
    img, lab = make_blobs(5, size=128)
    scribbles = np.zeros_like(lab)
    scribbles[::6, :] = np.where(lab[::6, :] > 0, 2, 1)  # every 6th row painted: 1 = background, 2 = object
    model = train.train([(img, scribbles)], network=models.NetConfig(width=8, depth=2), sparse=True,
                        config=TrainConfig(**FAST))
    assert model.config.class_ids == (1, 2)
    pred = model.predict(img)
    assert set(np.unique(pred)) <= {1, 2}
    assert _dice(pred == 2, lab > 0) > 0.85


def test_instance_model_separates_objects():
    pairs = [make_blobs(s, touching=True) for s in range(3)]
    model = train.train(pairs, network=models.NetConfig(width=16, depth=2), task="instance",
                        config=TrainConfig(**{**FAST, "max_epochs": 15}))
    img, lab = make_blobs(11, touching=True)
    pred = model.predict(img)
    from napari_segsuite.learn.targets import min_object_size
    from napari_segsuite.metrics import score

    assert score(pred, lab, kind="instance").summary["f1@0.5"] > 0.8
    # specks below the smallest training objects are dropped by default, and a call can keep them
    assert model.min_object_size == min_object_size([lab for _, lab in pairs]) > 0
    sizes = np.bincount(pred.ravel())[1:]
    assert sizes[sizes > 0].min() >= model.min_object_size
    everything = model.predict(img, min_size=0)
    assert everything.max() >= pred.max()
    assert model.fills_holes, "the training blobs have no holes, so predicted objects keep none"
    from napari_segsuite.learn.targets import FOREGROUND_CANDIDATES, SPLIT_CANDIDATES

    assert model.split_h in SPLIT_CANDIDATES, "chosen on the held-out images (or the default without them)"
    assert model.foreground_threshold in FOREGROUND_CANDIDATES
    if model.info["validation_images"]:
        assert set(model.info["split_f1"]) == {str(h) for h in SPLIT_CANDIDATES}
        assert set(model.info["foreground_dice"]) == {str(t) for t in FOREGROUND_CANDIDATES}
        assert model.info["foreground_dice"][str(model.foreground_threshold)] == max(model.info["foreground_dice"].values())


def test_the_foreground_threshold_is_the_one_that_fits_the_held_out_objects(monkeypatch):
    """Probabilities that make every object one ring too large at 0.5: the choice draws them at their size."""
    import torch

    from napari_segsuite.learn import validation
    from napari_segsuite.learn.data import Example

    objects = np.zeros((40, 40), np.int32)
    objects[5:15, 5:15], objects[22:34, 20:32] = 1, 2
    grown = np.zeros_like(objects, bool)
    grown[4:16, 4:16] = grown[21:35, 19:33] = True
    prob = np.zeros((3, 40, 40), np.float32)
    prob[0] = np.where(objects > 0, 0.0, np.where(grown, 0.42, 1.0))  # the ring: background 0.42
    prob[1] = np.where(objects > 0, 1.0, 0.0)
    prob[2] = 1.0 - prob[0] - prob[1]
    monkeypatch.setattr(validation, "_probabilities", lambda *a, **k: prob)
    example = Example(image=np.zeros((40, 40, 1), np.float32), target=np.zeros((40, 40), np.int64), objects=objects)
    threshold, split_h, scores = validation.choose_postprocessing(torch.nn.Identity(), [example], None, None)
    assert threshold <= 0.4 and scores["foreground_dice"][str(threshold)] == 1.0
    assert scores["foreground_dice"]["0.5"] < 1.0
    assert split_h is None, "nothing to split: the tie keeps no split"


def test_too_few_labelled_pixels_says_how_many_are_needed(blobs):
    img, _ = blobs[0]
    few = np.zeros(img.shape, np.uint8)
    few[:5, :5], few[50:55, 50:55] = 1, 2
    with pytest.raises(ValueError, match=f"only 50 pixels are labelled; training needs at least {MIN_LABELLED}"):
        train.train([(img, few)], sparse=True, config=TrainConfig(**FAST))


def test_one_class_only_is_refused_with_advice(blobs):
    img, lab = blobs[0]
    with pytest.raises(ValueError, match="only one class is annotated.*background as a class"):
        train.train([(img, (lab > 0).astype(np.uint8))], sparse=True, config=TrainConfig(**FAST))
    with pytest.raises(ValueError, match="only one class is annotated"):
        train.train([(img, np.zeros(img.shape, np.uint8))], config=TrainConfig(**FAST))


def test_mixed_channel_counts_and_mismatched_shapes_are_refused(blobs):
    (img, lab), _ = blobs[0], None
    rgb = np.stack([img] * 3, -1)
    with pytest.raises(ValueError, match="different channel counts"):
        train.prepare_examples([(rgb, lab), (rgb[..., :2], lab)], channel_axis=-1)
    with pytest.raises(ValueError, match="do not match"):
        train.prepare_examples([(img, lab[:-1])])
    with pytest.raises(TypeError, match="labels must be integers"):
        train.prepare_examples([(img, lab.astype(float))])


def test_nan_pixels_are_ignored_not_fatal(blobs):
    img, lab = blobs[1]
    img = img.copy()
    img[:20, :20] = np.nan
    examples, channels, _ = train.prepare_examples([(img, (lab > 0).astype(np.uint8))])
    assert channels == 1 and (examples[0].target[:20, :20] == -1).all()
    assert np.isfinite(examples[0].image).all()


def test_cancel_mid_epoch_keeps_the_last_good_epoch(blobs):
    pairs = [(img, (lab > 0).astype(np.uint8)) for img, lab in blobs]
    seen = []

    def cancel():  # stop half-way through the third epoch
        return len(seen) >= 2 * FAST["steps_per_epoch"] + FAST["steps_per_epoch"] // 2

    model = train.train(pairs, network=models.NetConfig(width=8, depth=2), config=TrainConfig(**FAST), cancel=cancel,
                        on_step=lambda step, total: seen.append(step))
    assert model.info["stopped"] == "cancelled"
    assert len(model.history) == 2 and model.info["best_epoch"] in (1, 2)
    with pytest.raises(Cancelled, match="before its first epoch"):
        train.train(pairs, config=TrainConfig(**FAST), cancel=lambda: True)


def test_early_stopping_after_patience_epochs_without_improvement(blobs, monkeypatch):
    monkeypatch.setattr(train, "_validate", lambda *a, **k: {"dice": 0.5, "f1": float("nan"), "score": 0.5})  # never improves
    pairs = [(img, (lab > 0).astype(np.uint8)) for img, lab in blobs]
    model = train.train(pairs, network=models.NetConfig(width=8, depth=1),
                        config=TrainConfig(**{**FAST, "max_epochs": 20, "steps_per_epoch": 2, "patience": 3}))
    # not before the second half of the schedule (epoch 10 of 20), where the learning rate is lower
    assert model.info["stopped"] == "early_stopping" and len(model.history) == 10 and model.info["best_epoch"] == 1


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="patch_size"):
        TrainConfig(patch_size=4)
    with pytest.raises(ValueError, match="val_fraction"):
        TrainConfig(val_fraction=1.0)


def test_a_model_far_from_converged_is_flagged_with_what_to_do():
    from napari_segsuite.learn.train import convergence_warning

    assert convergence_warning({"val_dice": 0.32, "stopped": "early_stopping", "best_epoch": 2, "epochs_run": 10}) \
        .startswith("this model is far from converged: its validation Dice is 0.32")
    still = convergence_warning({"val_dice": 0.9, "stopped": "max_epochs", "best_epoch": 40, "epochs_run": 40})
    assert "still improving" in still and "train longer" in still
    assert convergence_warning({"val_dice": 0.9, "stopped": "early_stopping", "best_epoch": 12, "epochs_run": 20}) is None


def test_cli_training_selects_by_what_users_score_and_validation_follows_training(tmp_path, capsys):
    """Issue 23: a tiny instance U-Net trained through `napari-segsuite train` on synthetic nuclei.
    Validation (held-out images, per-image foreground Dice and instance F1) moves in the same
    direction as the training loss, and the epoch kept is the one with the best instance F1."""
    import json

    from synthetic_blobs import make_blobs

    from napari_segsuite.cli import main
    from napari_segsuite.io import write_labels

    for seed in range(10):
        img, lab = make_blobs(seed, size=96, n=6, touching=seed % 2 == 0)
        write_labels(tmp_path / "data" / "images" / f"im{seed}.png", (img.clip(0, 1) * 255).astype(np.uint8))
        write_labels(tmp_path / "data" / "labels" / f"im{seed}.png", lab)
    out = tmp_path / "nuclei.json"
    code = main(["train", str(tmp_path / "data"), "-o", str(out), "--task", "instance", "--width", "8", "--depth", "2",
                 "--epochs", "8", "--steps-per-epoch", "8", "--patch-size", "64", "--patience", "8"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "F1@0.5" in printed and "with validation" in printed and "by instance F1@0.5" in printed
    meta = json.loads(out.read_text())
    history = meta["history"]
    first, best = history[0], max(history, key=lambda r: r["val_f1"])
    assert history[-1]["loss"] < first["loss"], "training improved"
    assert best["val_f1"] > first["val_f1"] and best["val_dice"] >= first["val_dice"], "validation followed it"
    assert meta["info"]["best_epoch"] == best["epoch"] and meta["info"]["val_f1"] == best["val_f1"]


def test_the_dock_and_the_cli_train_with_one_recipe(tmp_path, monkeypatch, make_napari_viewer):
    """No option given, `napari-segsuite train` and the Train dock use TrainConfig's defaults, the
    same object benchmarks/learn.py builds (issue 23: the README's figure came from another recipe)."""
    from synthetic_blobs import make_blobs

    from napari_segsuite._widgets import LearnWidget
    from napari_segsuite.cli import main
    from napari_segsuite.io import write_labels

    for seed in range(2):
        img, lab = make_blobs(seed)
        write_labels(tmp_path / "d" / "images" / f"{seed}.png", (img.clip(0, 1) * 255).astype(np.uint8))
        write_labels(tmp_path / "d" / "labels" / f"{seed}.png", lab)
    seen = {}

    def capture(pairs, *, config, **kwargs):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(train, "train", capture)
    with pytest.raises(SystemExit):
        main(["train", str(tmp_path / "d"), "-o", str(tmp_path / "m.json"), "--task", "instance"])
    assert seen["config"] == TrainConfig()
    dock = LearnWidget(make_napari_viewer())
    recipe = TrainConfig()
    assert (dock.patch.value, dock.batch.value, dock.epochs.value, dock.steps.value, dock.patience.value) == \
        (recipe.patch_size, recipe.batch_size, recipe.max_epochs, recipe.steps_per_epoch, recipe.patience)
    assert (dock.val_fraction.value, dock.lr.value) == pytest.approx((recipe.val_fraction, recipe.learning_rate))

"""Saving and loading models: round trip, hash check, weights_only, and clear errors."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest

from napari_segsuite.learn.store import ModelFileError, load_model, save_model


def test_round_trip_gives_the_same_predictions(trained_semantic, blobs, tmp_path):
    path = save_model(trained_semantic, tmp_path / "blobs")
    assert path.name == "blobs.json" and (tmp_path / "blobs.pt").is_file()
    meta = json.loads(path.read_text())
    assert meta["sha256"] == hashlib.sha256((tmp_path / "blobs.pt").read_bytes()).hexdigest()
    loaded = load_model(tmp_path / "blobs.pt")  # the .pt, the .json or the stem all work
    assert loaded.config == trained_semantic.config and loaded.history == trained_semantic.history
    img = blobs[0][0]
    np.testing.assert_allclose(loaded.probabilities(img), trained_semantic.probabilities(img), atol=1e-6)
    with pytest.raises(FileExistsError, match="already exists"):
        save_model(trained_semantic, tmp_path / "blobs.json")


def test_altered_or_missing_weights_are_refused(trained_semantic, tmp_path):
    path = save_model(trained_semantic, tmp_path / "m")
    weights = tmp_path / "m.pt"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match the SHA-256"):
        load_model(path)
    weights.unlink()
    with pytest.raises(ModelFileError, match="weights file .* is missing"):
        load_model(path)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nothing.json")


class _Payload:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_a_pickle_with_code_is_never_run_even_with_a_matching_hash(trained_semantic, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = save_model(trained_semantic, tmp_path / "evil")
    blob = pickle.dumps({"x": _Payload()})
    (tmp_path / "evil.pt").write_bytes(blob)
    meta = json.loads(path.read_text())
    meta["sha256"] = hashlib.sha256(blob).hexdigest()
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="cannot be read as plain tensors"):
        load_model(path)
    assert not (tmp_path / "PWNED").exists()


def test_weights_for_another_network_and_broken_json_are_explained(trained_semantic, tmp_path):
    path = save_model(trained_semantic, tmp_path / "m")
    meta = json.loads(path.read_text())
    meta["network"]["width"] = 12
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="does not fit a unet network"):
        load_model(path)
    path.write_text("{not json")
    with pytest.raises(ModelFileError, match="not a readable model description"):
        load_model(path)
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFileError, match="not a napari-segsuite model"):
        load_model(path)


def test_a_model_for_other_channels_says_so(trained_semantic, blobs):
    rgb = np.stack([blobs[0][0]] * 3, -1)
    with pytest.raises(ValueError, match=r"trained on gray \(1 channel\) images, but this image is RGB"):
        trained_semantic.predict(rgb, -1)

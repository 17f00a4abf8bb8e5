"""Model registry: downloads through pooch from a local HTTP server, hashes, safe loading, errors."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading

import pytest
import torch

from napari_segsuite.sam import registry
from napari_segsuite.sam.registry import CheckpointError, ModelSpec


@pytest.fixture()
def tiny_entry(tiny_sam, tmp_path, monkeypatch):
    """A registry entry "tiny" whose checkpoint is served by an HTTP server on 127.0.0.1."""
    from conftest import build_tiny_sam

    served = tmp_path / "served"
    served.mkdir()
    ckpt = served / "sam_tiny_0001.pth"
    torch.save(tiny_sam.state_dict(), ckpt)
    data = ckpt.read_bytes()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{ckpt.name}"
    spec = ModelSpec("tiny", url, hashlib.sha256(data).hexdigest(), len(data), build_tiny_sam, "test model")
    monkeypatch.setitem(registry.REGISTRY, "tiny", spec)
    registry.set_models_dir(tmp_path / "models")
    yield spec, served
    registry.set_models_dir(None)
    server.shutdown()


def test_official_entries():
    for name in ("vit_b", "vit_l", "vit_h"):
        s = registry.REGISTRY[name]
        assert s.url.startswith("https://dl.fbaipublicfiles.com/segment_anything/sam_" + name)
        assert len(s.sha256) == 64 and s.size > 300_000_000
        assert set(s.sha256) <= set("0123456789abcdef")
    assert len({registry.REGISTRY[n].sha256 for n in ("vit_b", "vit_l", "vit_h")}) == 3


def test_download_verify_and_load(tiny_entry, tiny_sam):
    spec, _ = tiny_entry
    path = registry.download("tiny")
    assert path == registry.checkpoint_path("tiny") and path.stat().st_size == spec.size
    model = registry.load_model("tiny")
    for (k, a), b in zip(model.state_dict().items(), tiny_sam.state_dict().values()):
        assert torch.equal(a, b), k
    assert registry.download("tiny") == path  # already there: not fetched again


def test_corrupt_and_truncated_checkpoints(tiny_entry):
    spec, _ = tiny_entry
    path = registry.download("tiny")
    path.write_bytes(path.read_bytes()[: spec.size // 2])
    with pytest.raises(CheckpointError, match="cut short"):
        registry.load_model("tiny")
    with pytest.raises(CheckpointError, match="expected"):
        registry.verify(path, "0" * 64)


def test_download_with_a_wrong_hash_is_refused(tiny_entry, monkeypatch):
    spec, _ = tiny_entry
    monkeypatch.setitem(registry.REGISTRY, "tiny", dataclasses.replace(spec, sha256="f" * 64))
    with pytest.raises(CheckpointError, match="corrupt"):
        registry.download("tiny")
    assert not registry.checkpoint_path("tiny").exists()


def test_offline_download_error(tiny_entry):
    with pytest.raises(CheckpointError, match="could not download"):
        registry.download("tiny", url="http://127.0.0.1:9/nothing.pth")


def test_missing_checkpoint_says_how_to_get_it(tmp_path):
    registry.set_models_dir(tmp_path)
    try:
        with pytest.raises(CheckpointError, match="models download vit_b"):
            registry.load_model("vit_b")
    finally:
        registry.set_models_dir(None)


def test_wrong_architecture_and_garbage(tiny_sam, tmp_path, monkeypatch):
    spec = ModelSpec("other", "http://127.0.0.1/x.pth", "0" * 64, 1, lambda: torch.nn.Linear(2, 2))
    monkeypatch.setitem(registry.REGISTRY, "other", spec)
    ckpt = tmp_path / "mine.pth"
    torch.save(tiny_sam.state_dict(), ckpt)
    with pytest.raises(CheckpointError, match="does not fit model other"):
        registry.load_model("other", ckpt)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="could not read"):
        registry.load_model("other", junk)
    with pytest.raises(CheckpointError, match="SHA-256"):
        registry.load_model("other", ckpt, sha256="a" * 64)


def test_pickled_code_is_never_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path(%r).write_text('pwned')" % str(tmp_path / "pwned"),))

    bad = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, bad)
    with pytest.raises(CheckpointError):
        registry.load_model("vit_b", bad)
    assert not (tmp_path / "pwned").exists()


def test_hash_is_cached(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    assert registry.file_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    assert not (tmp_path / "f.bin.sha256.json").exists()  # nothing written beside the user's file
    assert len(list(registry.verified_dir().glob("*.json"))) >= 1
    f.write_bytes(b"abcd")  # size changed: hashed again
    assert registry.file_sha256(f) == hashlib.sha256(b"abcd").hexdigest()


def test_models_dir_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(registry.ENV_DIR, str(tmp_path))
    assert registry.models_dir() == tmp_path
    assert registry.checkpoint_path("vit_b") == tmp_path / "sam_vit_b_01ec64.pth"
    with pytest.raises(KeyError, match="known models"):
        registry.checkpoint_path("vit_z")


def test_session_from_registry_name(tiny_entry, tmp_path):
    from napari_segsuite.sam import SamSession

    spec, _ = tiny_entry
    registry.download("tiny")
    s = SamSession("tiny", device="cpu", cache_dir=tmp_path / "emb")
    assert s.model_hash == spec.sha256
    s.set_image(torch.zeros(64, 64).numpy())
    assert s.predict(points=[[3, 3]]).mask().shape == (64, 64)


def test_cli_models(tiny_entry, capsys):
    from napari_segsuite.cli import main

    spec, _ = tiny_entry
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "vit_b" in out and "vit_h" in out and "tiny" in out and "not downloaded" in out
    assert main(["models", "download", "tiny"]) == 0
    assert registry.checkpoint_path("tiny").is_file()
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("tiny"))
    assert "downloaded" in line and "not downloaded" not in line
    assert main(["models", "path", "tiny"]) == 0
    assert capsys.readouterr().out.strip() == str(registry.checkpoint_path("tiny"))
    assert main(["models", "download", "vit_q"]) == 2
    assert "unknown SAM model" in capsys.readouterr().err

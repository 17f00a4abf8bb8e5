"""Damaged or forged caches, checkpoints and names are never trusted (issue 22, items 7, 8, 11,
16, 17, 21, 25)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from napari_segsuite.sam import ClassicalSession, SamSession, registry
from napari_segsuite.sam.embed import embed_files
from napari_segsuite.sam.hybrid import refine_labels
from napari_segsuite.sam.pipeline import parse_pipeline


def _image() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)


def _entry(session: SamSession, image: np.ndarray):
    emb = session.set_image(image)
    path = session.disk.path(emb.image_hash)
    return path, path.with_suffix(".json")


DAMAGE = {
    "zero-byte npy": lambda npy, side: npy.write_bytes(b""),
    "wrong shape": lambda npy, side: (np.save(npy, np.zeros((1, 256, 8, 8), np.float32)),
                                      side.write_text(json.dumps({**json.loads(side.read_text()), "shape": [1, 256, 8, 8]}))),
    "float64": lambda npy, side: np.save(npy, np.load(npy).astype(np.float64)),
    "int64": lambda npy, side: np.save(npy, np.load(npy).astype(np.int64)),
    "all NaN": lambda npy, side: np.save(npy, np.full_like(np.load(npy), np.nan)),
    "list JSON": lambda npy, side: side.write_text("[1, 2, 3]"),
    "forged original_size": lambda npy, side: side.write_text(
        json.dumps({**json.loads(side.read_text()), "original_size": [60000, 60000]})),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cache_entry_is_recomputed_never_trusted(tiny_sam, tmp_path, damage):
    image = _image()
    npy, side = _entry(SamSession(tiny_sam, device="cpu", cache_dir=tmp_path), image)
    DAMAGE[damage](npy, side)
    session = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    emb = session.set_image(image)
    assert emb.source == "encoder" and session.encoder_runs == 1
    prediction = session.predict(points=[[20, 20]], labels=[1])
    assert prediction.mask().shape == image.shape[:2] and np.isfinite(prediction.scores).all()
    assert SamSession(tiny_sam, device="cpu", cache_dir=tmp_path).set_image(image).source == "disk"  # overwritten


def test_embed_goes_on_past_a_damaged_cache_entry(tiny_sam, tmp_path):
    image = _image()
    np.save(tmp_path / "a.npy", image)
    npy, _ = _entry(SamSession(tiny_sam, device="cpu", cache_dir=tmp_path / "c"), image)
    npy.write_bytes(b"")
    for _ in range(2):  # and the second run finds a good entry
        out = embed_files([tmp_path / "a.npy"], model=tiny_sam, device="cpu", cache_dir=tmp_path / "c")
        assert out[0].status == "written", out[0].message


def test_embed_into_an_unwritable_cache_fails(tiny_sam, tmp_path):
    np.save(tmp_path / "a.npy", _image())
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")  # root can write anywhere; this cannot be
    out = embed_files([tmp_path / "a.npy"], model=tiny_sam, device="cpu", cache_dir=blocked)
    assert out[0].status == "failed" and "could not write the embedding cache" in out[0].message


def test_a_forged_hash_record_beside_a_checkpoint_proves_nothing(tmp_path, monkeypatch):
    spec = registry.spec("vit_b")
    monkeypatch.setattr(registry, "_models_dir_override", tmp_path)
    fake = tmp_path / spec.filename
    fake.write_bytes(os.urandom(4096))
    st = fake.stat()
    sidecar = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
    (tmp_path / (spec.filename + ".sha256.json")).write_text(json.dumps(sidecar))  # the old trusted sidecar
    with pytest.raises(registry.CheckpointError, match="SHA-256"):
        registry.load_model("vit_b")


def test_a_rewritten_file_is_hashed_again_even_with_its_mtime_forged_back(tmp_path):
    import hashlib

    f = tmp_path / "ckpt.pth"
    f.write_bytes(b"a" * 100)
    registry.file_sha256(f)
    st = f.stat()
    f.write_bytes(b"b" * 100)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only ctime tells
    assert registry.file_sha256(f) == hashlib.sha256(b"b" * 100).hexdigest()


@pytest.mark.parametrize("name", ["learn.../x/evil", "learn./abs/path", "learn.Caps", "learn.a b"])
def test_learned_names_are_names_not_paths(tmp_path, name):
    from napari_segsuite.techniques import get
    from napari_segsuite.techniques.presets import parse_preset

    with pytest.raises(KeyError, match="not a learned model's name"):
        get(name)
    with pytest.raises(ValueError, match="not a learned model's name"):
        parse_preset({"technique": name})


def test_refine_goes_on_past_a_one_pixel_wide_object():
    rng = np.random.default_rng(0)
    image = (rng.random((64, 64, 3)) * 50).astype(np.uint8)
    image[10:30, 10:30] = 200
    image[40:60, 45] = 220
    labels = np.zeros((64, 64), np.int32)
    labels[10:30, 10:30] = 1
    labels[40:60, 45] = 2  # one pixel wide: its box has no area
    out, notes = refine_labels(ClassicalSession(), image, labels)
    assert len(np.unique(out)) == 3 and any("widened by a pixel" in n for n in notes)


@pytest.mark.parametrize("options, message", [
    ({"min_area": "big"}, "min_area must be a whole number"),
    ({"mode": "explode"}, "mode must be one of"),
    ({"batch_size": -1}, "batch_size must be between 1 and"),
    ({"batch_size": 2.5}, "batch_size must be a whole number"),
])
def test_hybrid_options_are_validated_when_the_preset_is_read(options, message):
    data = {"sam": {"model": "classical", "mode": "refine", "options": options},
            "before": [{"technique": "threshold.global"}]}
    with pytest.raises(ValueError, match=rf"h\.json: SAM option {message}"):
        parse_pipeline(data, source="h.json")


def test_auto_options_are_validated_too():
    data = {"sam": {"model": "vit_b", "mode": "auto", "options": {"pred_iou_thresh": float("nan")}}}
    with pytest.raises(ValueError, match="pred_iou_thresh must be a number"):
        parse_pipeline(data, source="h.json")

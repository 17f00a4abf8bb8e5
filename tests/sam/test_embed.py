"""Precomputing SAM embeddings for a data set: the dock and sessions then skip the encoder."""

from __future__ import annotations

import numpy as np

from napari_segsuite.cli import main
from napari_segsuite.io import write_labels
from napari_segsuite.sam import SamSession
from napari_segsuite.sam.embed import embed_files


def test_embeddings_of_every_image_and_slice_land_in_the_cache(tiny_sam, tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    stack = rng.integers(0, 255, (3, 32, 32), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "in" / "rgb.png", rgb)
    np.save(tmp_path / "in" / "stack.npy", stack)
    (tmp_path / "in" / "broken.png").write_bytes(b"nope")
    cache = tmp_path / "cache"
    seen = []
    files = sorted((tmp_path / "in").iterdir())
    out = embed_files(files, model=tiny_sam, device="cpu", cache_dir=cache, progress=lambda o, d, t: seen.append(d))
    assert [o.status for o in out] == ["failed", "written", "written"] and seen == [1, 2, 3]
    assert "damaged" in out[0].message
    assert "3 slices, 3 encoded" in out[2].message
    again = embed_files(files[1:], model=tiny_sam, device="cpu", cache_dir=cache)
    assert "0 encoded, 1 already cached" in again[0].message
    fresh = SamSession(tiny_sam, device="cpu", cache_dir=cache)
    assert fresh.set_image(rgb).source == "disk" and fresh.set_image(stack[2]).source == "disk"
    assert fresh.encoder_runs == 0


def test_embed_command_explains_a_missing_checkpoint(tmp_path, capsys):
    write_labels(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    assert main(["embed", str(tmp_path / "a.png"), "--model", "vit_b", "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "vit_b" in err and "download" in err.lower()

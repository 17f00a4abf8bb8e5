"""Precomputing SAM embeddings for a data set: the dock and sessions then skip the encoder."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.filterwarnings("ignore:Sending large graph")  # the test passes the model itself, not its name
def test_a_cluster_embeds_the_tiles_of_one_large_image_in_parallel(tiny_sam, tmp_path):
    """On a dask cluster the work is spread by tile: a large image's tiles go to different workers,
    and the dock then finds every tile in the cache (no encoder run)."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is a test dependency")
    from napari_segsuite.sam.tiled import embed_tiles, tile_windows

    rng = np.random.default_rng(1)
    big = rng.integers(0, 255, (2600, 2400, 3), dtype=np.uint8)  # above 1.5 x 1024: 4 x 3 tiles
    np.save(tmp_path / "big.npy", big)
    np.save(tmp_path / "small.npy", big[:300, :400])
    (tmp_path / "broken.npy").write_bytes(b"nope")
    files = [tmp_path / "big.npy", tmp_path / "broken.npy", tmp_path / "small.npy"]
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, processes=False) as cluster,
          distributed.Client(cluster) as client, distributed.get_task_stream(client) as stream):
        out = embed_files(files, model=tiny_sam, device="cpu", cache_dir=tmp_path / "cache",
                          scheduler=cluster.scheduler_address)
    where = [t["worker"] for t in stream.data if "embed_piece" in t["key"] or "segsuite" in t["key"]]
    assert [o.status for o in out] == ["written", "failed", "written"]
    n = len(tile_windows(big.shape[:2], 1024, 128))
    assert n == 12 and out[0].message == f"1 slice in {n} tiles, {n} encoded, 0 already cached", out[0].message
    assert "broken.npy" in out[1].message or "damaged" in out[1].message, out[1].message
    assert len(where) == n + 1 and len(set(where)) == 2  # the tiles and one small image, over both workers
    dock = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path / "cache")
    assert embed_tiles(dock, dock.set_image(big)) == 0 and dock.set_image(big[:300, :400]).source == "disk"

"""Tiled runs of local chains equal untiled ones exactly; non-local steps are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.io import read_image, write_labels
from napari_segsuite.techniques.chain import Chain
from napari_segsuite.techniques.tiles import run_tiled


def _image(h=300, w=470, seed=0, rgb=False):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    img = 100 + 60 * np.sin(xx / 23.0) * np.cos(yy / 17.0) + rng.normal(0, 20, (h, w))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return np.stack([img, 255 - img, img // 2], -1) if rgb else img


@pytest.mark.parametrize("steps", [
    [("threshold.adaptive", {"method": "gaussian", "block_size": 31})],
    [("threshold.adaptive", {"method": "mean", "block_size": 25, "offset": -3.0}), ("post.morphology", {"radius": 2})],
    [("threshold.adaptive", {"method": "sauvola", "block_size": 41}), ("post.morphology", {"operation": "close", "radius": 3})],
    [("threshold.global", {"method": "manual", "value": 120.0}), ("post.morphology", {"operation": "dilate", "radius": 1})],
])
@pytest.mark.parametrize("rgb", [False, True])
def test_tiled_equals_untiled_exactly(steps, rgb):
    chain = Chain(steps)
    img = _image(rgb=rgb)
    axis = -1 if rgb else None
    whole = chain.run(img, channel_axis=axis).data
    tiled = run_tiled(chain, img, channel_axis=axis, tile=64)
    assert tiled.dtype == whole.dtype
    np.testing.assert_array_equal(tiled, whole)


def test_overlap_is_declared_per_technique_and_summed_over_a_chain():
    chain = Chain([("threshold.adaptive", {"block_size": 31}), ("post.morphology", {"radius": 2})])
    assert chain.overlap == 31 + 5
    for steps, name in [([("threshold.global", {})], "threshold.global"),
                        ([("threshold.adaptive", {}), ("post.fill_holes", {})], "post.fill_holes"),
                        ([("threshold.adaptive", {"components": True})], "threshold.adaptive")]:
        chain = Chain(steps)
        assert chain.overlap is None
        with pytest.raises(ValueError, match=f"{name} is not local"):
            run_tiled(chain, _image(), tile=64)


def test_nan_images_and_tiny_tiles_are_refused():
    chain = Chain([("threshold.adaptive", {})])
    img = _image().astype(np.float32)
    img[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run_tiled(chain, img)
    with pytest.raises(ValueError, match="at least 16"):
        run_tiled(chain, _image(), tile=8)


def test_run_command_with_tiles(tmp_path, capsys):
    write_labels(tmp_path / "in" / "big.png", _image(400, 500))
    args = ["run", "threshold.adaptive", str(tmp_path / "in"), "--param", "block_size=31"]
    assert main([*args, "-o", str(tmp_path / "whole")]) == 0
    assert main([*args, "-o", str(tmp_path / "tiled"), "--tile", "128"]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "tiled" / "big.png"), read_image(tmp_path / "whole" / "big.png"))
    assert main(["run", "threshold.global", str(tmp_path / "in"), "-o", str(tmp_path / "x"), "--tile", "128"]) == 2
    assert "threshold.global is not local" in capsys.readouterr().err


def test_a_memory_mapped_input_is_read_tile_by_tile(tmp_path):
    from napari_segsuite.io import open_image_lazy

    img = _image(600, 700)
    np.save(tmp_path / "big.npy", img)
    import tifffile

    tifffile.imwrite(tmp_path / "big.tif", img)
    chain = Chain([("threshold.adaptive", {"block_size": 21}), ("post.morphology", {"radius": 1})])
    whole = chain.run(img).data
    for name in ("big.npy", "big.tif"):
        lazy = open_image_lazy(tmp_path / name)
        assert isinstance(lazy, np.memmap), name
        np.testing.assert_array_equal(run_tiled(chain, lazy, tile=128), whole)

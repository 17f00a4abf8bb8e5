"""Chains of a technique and post-processing steps, and chain presets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segsuite.techniques import get
from napari_segsuite.techniques.chain import Chain
from napari_segsuite.techniques.presets import load_preset, parse_preset, save_preset


def _cells():
    y, x = np.mgrid[:80, :120]
    disks = ((x - 40) ** 2 + (y - 40) ** 2 < 22**2) | ((x - 78) ** 2 + (y - 40) ** 2 < 22**2)
    img = disks * 150.0 + 40
    img[40, 40] = 40  # a one-pixel hole
    img[5, 110] = 200  # a speck
    return img.astype(np.uint8), disks


def test_chain_equals_the_steps_run_by_hand():
    img, disks = _cells()
    chain = Chain([("threshold.global", {"method": "otsu"}), ("post.fill_holes", {}), ("post.remove_small", {"min_size": 5}),
                   ("post.split_touching", {"min_distance": 10})])
    out = chain.run(img).data
    by_hand = get("post.split_touching")(
        get("post.remove_small")(
            get("post.fill_holes")(get("threshold.global")(img, method="otsu"), kind="semantic"), min_size=5, kind="semantic"
        ),
        min_distance=10,
    )
    np.testing.assert_array_equal(out, by_hand)
    assert len(np.unique(out[disks])) == 2 and not out[~disks].any()


def test_chain_preview_path_equals_the_full_run_and_passes_the_kind_on():
    from napari_segsuite.techniques import prepare_slice

    img, _ = _cells()
    chain = Chain([("threshold.multiotsu", {"classes": 3}), ("post.remove_small", {"min_size": 50})])
    data, info = prepare_slice(img, has_channels=False, mode="gray")
    preview = chain.run_prepared(data, info)
    np.testing.assert_array_equal(preview.data, chain.run(img).data)
    assert preview.kind == "semantic"  # the semantic kind reached remove_small, whose default is instance


def test_chains_run_per_slice_on_stacks():
    img, _ = _cells()
    chain = Chain([("threshold.global", {}), ("post.connected_components", {})])
    stack = chain.run(np.stack([img, img[:, ::-1]])).data
    assert stack.shape == (2,) + img.shape
    np.testing.assert_array_equal(stack[0] > 0, chain.run(img).data > 0)


def test_bad_chains_are_refused():
    with pytest.raises(ValueError, match="only the first step"):
        Chain([("threshold.global", {}), ("threshold.global", {})])
    with pytest.raises(ValueError, match="outputs an image"):
        Chain([("edges.canny", {}), ("post.fill_holes", {})])
    with pytest.raises(ValueError, match="at least one step"):
        Chain([])


def test_chain_presets_round_trip_and_run(tmp_path):
    img, disks = _cells()
    path = save_preset(tmp_path / "p.json", "threshold.global", {"method": "otsu"},
                       post=[("post.fill_holes", {}), ("post.split_touching", {"min_distance": 10})])
    data = json.loads(path.read_text())
    assert [s["technique"] for s in data["steps"]] == ["threshold.global", "post.fill_holes", "post.split_touching"]
    preset = load_preset(path)
    assert [s.technique.name for s in preset.post] == ["post.fill_holes", "post.split_touching"]
    assert len(np.unique(preset(img)[disks])) == 2
    with pytest.raises(ValueError, match="step 2.*no parameter"):
        parse_preset({"steps": [{"technique": "threshold.global"}, {"technique": "post.fill_holes", "params": {"nope": 1}}]})


def test_cli_runs_a_chain_preset(tmp_path):
    from napari_segsuite.cli import main
    img, disks = _cells()
    np.save(tmp_path / "cells.npy", img)
    preset = save_preset(tmp_path / "p.json", "threshold.global", {}, post=[("post.fill_holes", {}), ("post.split_touching", {"min_distance": 10})])
    assert main(["run", str(preset), str(tmp_path / "cells.npy"), "-o", str(tmp_path / "out"), "--format", "npy"]) == 0
    out = np.load(tmp_path / "out" / "cells.npy")
    assert len(np.unique(out[disks])) == 2

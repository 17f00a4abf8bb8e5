"""Sample data and the npe2 manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from npe2 import PluginManifest

import napari_segsuite
from napari_segsuite.io import samples
from napari_segsuite.techniques import CATALOG, families

MANIFEST = Path(napari_segsuite.__file__).parent / "napari.yaml"


def test_manifest_is_valid_and_lists_one_widget_per_family():
    manifest = PluginManifest.from_file(MANIFEST)  # validates the schema
    widget_names = {w.display_name for w in manifest.contributions.widgets}
    assert set(families()) <= widget_names, "every technique family needs a dock widget in napari.yaml"
    from napari_segsuite._widgets.suite import TOOLS

    assert set(families()) <= set(TOOLS), "every technique family needs a tool in the SegSuite picker"
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    for cmd in commands.values():
        module, _, attr = cmd.partition(":")
        assert hasattr(__import__(module, fromlist=[attr]), attr), cmd
    assert {s.key for s in manifest.contributions.sample_data} == {"cells", "scene"}


def test_cells_sample_has_matching_instance_ground_truth():
    (image, _, ikind), (gt, meta, lkind) = samples.cells_layers()
    assert (ikind, lkind) == ("image", "labels")
    assert image.shape == gt.shape and image.dtype == np.uint16
    assert meta["metadata"]["segsuite"]["kind"] == "instance"
    n = gt.max()
    assert n >= 20 and len(np.unique(gt)) == n + 1, "ids are consecutive"
    # nuclei are brighter than background, so the ground truth is really that of this image
    assert image[gt > 0].mean() > 2 * image[gt == 0].mean()
    np.testing.assert_array_equal(samples.cells()[0], image), "deterministic"


def test_scene_sample_has_panoptic_ground_truth():
    (image, imeta, _), (ids, meta, _) = samples.scene_layers()
    assert image.shape == ids.shape + (3,) and imeta["rgb"]
    feats = meta["features"]
    assert sorted(feats["index"]) == sorted(np.unique(ids).tolist())
    assert set(feats["class_name"]) == {"sky", "ground", "ball", "box"}
    sky = ids == 1
    assert image[sky][:, 2].mean() > image[sky][:, 1].mean(), "the sky is blue"


def test_otsu_on_the_cells_sample_matches_its_ground_truth():
    image, gt = samples.cells()
    pred = CATALOG["threshold.global"](image).astype(bool)
    dice = 2 * (pred & (gt > 0)).sum() / (pred.sum() + (gt > 0).sum())
    assert dice > 0.85

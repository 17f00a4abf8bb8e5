"""JSON presets: saved, loaded, validated, never executed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.presets import load_preset, parse_preset, save_preset


def test_round_trip_and_apply(tmp_path):
    path = save_preset(tmp_path / "p.json", "threshold.adaptive", {"method": "sauvola", "block_size": 31})
    data = json.loads(path.read_text())
    assert data["technique"] == "threshold.adaptive" and data["params"]["block_size"] == 31
    assert data["params"]["k"] == 0.2, "defaults are written too, so a preset is complete"
    preset = load_preset(path)
    img = np.random.default_rng(0).integers(0, 255, (40, 40)).astype(np.uint8)
    expected = CATALOG["threshold.adaptive"](img, method="sauvola", block_size=31)
    np.testing.assert_array_equal(preset(img), expected)


def test_refuses_to_overwrite_unless_asked(tmp_path):
    path = save_preset(tmp_path / "p.json", "threshold.global", {})
    with pytest.raises(FileExistsError, match="overwrite"):
        save_preset(path, "threshold.global", {"invert": True})
    assert load_preset(path).params["invert"] is False
    save_preset(path, "threshold.global", {"invert": True}, overwrite=True)
    assert load_preset(path).params["invert"] is True


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"params": {}}', "names no 'technique'"),
        ('{"technique": "threshold.nope"}', "unknown technique"),
        ('{"technique": "threshold.global", "params": {"method": "magic"}}', "is not one of"),
        ('{"technique": "threshold.adaptive", "params": {"block_size": 4}}', "must be odd"),
        ('{"technique": "threshold.global", "params": {"evil": "__import__(\'os\')"}}', "no parameter"),
        ('{"format": "something-else", "technique": "threshold.global"}', "not a napari-segsuite preset"),
        ('{"technique": "threshold.global", "version": 99}', "newer"),
    ],
)
def test_bad_preset_files_are_refused_with_the_reason(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_preset(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no such preset"):
        load_preset("/nonexistent/preset.json")


def test_parse_preset_fills_defaults():
    preset = parse_preset({"technique": "threshold.multiotsu"})
    assert preset.params == CATALOG["threshold.multiotsu"].defaults()

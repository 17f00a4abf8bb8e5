"""Settings kept between sessions: one JSON file, plain values, a damaged file never stops anything."""

from __future__ import annotations

import json
import os
import stat

import pytest

from napari_segsuite import settings


def test_values_survive_a_new_session(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_CONFIG, str(tmp_path))
    settings.remember("sam.device", "cpu")
    settings.remember("scoring.binary", True)
    monkeypatch.setattr(settings, "_cache", None)  # a new session reads the file
    assert settings.get("sam.device") == "cpu" and settings.get("scoring.binary") is True
    assert json.loads((tmp_path / "settings.json").read_text())["sam.device"] == "cpu"
    old = os.umask(0o022)
    try:
        settings.remember("sam.device", "cuda")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "settings.json").stat().st_mode) == 0o644


def test_a_damaged_file_is_set_aside(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_CONFIG, str(tmp_path))
    (tmp_path / "settings.json").write_text("{not json")
    with pytest.warns(UserWarning, match="set aside"):
        assert settings.get("sam.device", "auto") == "auto"
    assert (tmp_path / "settings.json.damaged").is_file()


def test_the_docks_remember_their_choices(make_napari_viewer, qtbot):
    from napari_segsuite._widgets import SamWidget, ScoringWidget

    viewer = make_napari_viewer()
    sam, scoring = SamWidget(viewer), ScoringWidget(viewer)
    sam.backend.value, sam.device.value = "vit_b", "cpu"
    scoring.kind.value, scoring.binary.value = "instance", True
    again_sam, again_scoring = SamWidget(viewer), ScoringWidget(viewer)  # as in the next session
    assert again_sam.backend.value == "vit_b" and again_sam.device.value == "cpu"
    assert again_sam.session.backend == "classical", "a remembered model is preselected, not loaded"
    assert again_scoring.kind.value == "instance" and again_scoring.binary.value is True

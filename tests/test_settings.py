"""Settings kept between sessions: one JSON file, plain values, a damaged file never stops anything."""

from __future__ import annotations

import json
import os
import stat

import pytest

from napari_segsuite._widgets import settings


def test_values_survive_a_new_session(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_CONFIG, str(tmp_path))
    settings.remember("sam.device", "cpu")
    settings.remember("scoring.binary", True)
    settings.flush()
    monkeypatch.setattr(settings, "_cache", None)  # a new session reads the file
    assert settings.get("sam.device") == "cpu" and settings.get("scoring.binary") is True
    assert json.loads((tmp_path / "settings.json").read_text())["sam.device"] == "cpu"
    old = os.umask(0o022)
    try:
        settings.remember("sam.device", "cuda")
        settings.flush()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "settings.json").stat().st_mode) == 0o644


def test_remember_returns_at_once_and_a_burst_is_one_write(tmp_path, monkeypatch):
    """The UI thread never waits for the disk: a slow write happens in the background, and the
    changes made meanwhile go to disk together in the next one."""
    import time

    from napari_segsuite.io import atomic

    monkeypatch.setenv(settings.ENV_CONFIG, str(tmp_path))
    monkeypatch.setattr(settings, "_cache", None)
    writes = []
    slow_write = atomic.atomic_write

    def slow(path, write, **kw):
        time.sleep(0.2)
        writes.append(path)
        return slow_write(path, write, **kw)

    monkeypatch.setattr(atomic, "atomic_write", slow)
    t0 = time.perf_counter()
    for i in range(20):
        settings.remember("scoring.kind", f"v{i}")
    assert time.perf_counter() - t0 < 0.1
    settings.flush()
    assert len(writes) <= 2
    assert json.loads((tmp_path / "settings.json").read_text())["scoring.kind"] == "v19"


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

"""Shared fixtures: real data location, and a guard that GUI tests have a display."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real data sets with ground truth); skips with a reason when absent."""
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA}: these tests need the project's shared data folder")
    return DATA


def pytest_collection_modifyitems(config, items):
    """GUI tests need a display (pytest-xvfb starts Xvfb when it is installed)."""
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if has_display:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("CI has no display: install Xvfb (see .ci/run) so that the GUI tests run")
    skip = pytest.mark.skip(reason="no display: install Xvfb (apt-get install xvfb) to run the napari GUI tests")
    for item in items:
        if "make_napari_viewer" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)

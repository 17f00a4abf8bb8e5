"""The package's metadata: what a wheel says about its licence and the Pythons it supports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_the_licence_text_ships_with_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-3-Clause"  # an SPDX expression (PEP 639)
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Neither the name of the copyright holder" in text


def test_the_classifiers_name_the_pythons_it_runs_on():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lowest = project["requires-python"].removeprefix(">=")
    versions = {c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if c.startswith("Programming Language :: Python :: 3.")}
    assert lowest in versions and f"{sys.version_info.major}.{sys.version_info.minor}" in versions
    assert not any(c.startswith("License ::") for c in project["classifiers"]), "PEP 639: the expression says it"


def test_ruff_finds_nothing():
    """The lint rules of pyproject.toml ([tool.ruff]) hold for the package, tests, benchmarks and docs."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (the test extra installs it)")
    out = subprocess.run([ruff, "check", "--no-cache", "napari_segsuite", "tests", "benchmarks", "docs"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]

"""The README's promises: two set-up commands, a current technique table, CI runs the test command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from napari_segsuite.cli import markdown_table
from napari_segsuite.techniques import CATALOG

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block(marker: str) -> str:
    m = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", README, flags=re.S)
    assert m, f"README lost its {marker} markers"
    return m.group(1).strip()


def test_readme_opens_with_the_two_commands():
    first_blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[:2]
    assert "napari-segsuite" in first_blocks[0] and "pip install" in first_blocks[0]
    assert "pytest" in first_blocks[1]
    assert first_blocks[1].strip() in _block("test-command")


def test_technique_table_is_current():
    assert _block("techniques-table") == markdown_table(list(CATALOG.values()))


def test_ci_extracts_and_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    extract = re.search(r"test_command=\$\((.*)\)\n", script).group(1)
    out = subprocess.run(["bash", "-c", extract], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    expected = re.search(r"```bash\n(.*?)```", _block("test-command"), flags=re.S).group(1).strip()
    assert out == expected


def test_reliability_table_lists_the_hostile_suite():
    """The README's table names every probe kind with its current count (the full run, which also
    checks the outcomes, is ``python benchmarks/reliability.py``)."""
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reliability.py"), "--collect"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert _block("reliability-table") == out.stdout.strip()

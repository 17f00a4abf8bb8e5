"""The benchmark scripts the docs cite run and print what the docs say they print (tiny sizes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=600)


def test_peak_memory_prints_seconds_bytes_per_pixel_and_labels_for_each_tree():
    out = _run("peak_memory.py", "--sizes", "128", "--only", "region.watershed", "post.split_touching",
               "--tree", str(ROOT), str(ROOT))
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert [r[0] for r in rows] == ["region.watershed"] * 2 + ["post.split_touching"] * 2
    for row in rows:
        seconds, per_pixel, largest = float(row[-3]), float(row[-2]), int(row[-1])
        assert 0 < seconds < 60 and per_pixel >= 0 and largest > 0
    assert rows[0][-1] == rows[1][-1]  # the same tree twice: the same labels


def test_scaling_runs_an_extra_row_by_name_and_refuses_an_unknown_one():
    out = _run("scaling.py", "--sizes", "64", "128", "--only", "watershed, seeds on image")
    assert out.returncode == 0, out.stderr
    assert "watershed, seeds on image" in out.stdout and "growth per pixel" in out.stdout
    bad = _run("scaling.py", "--sizes", "64", "--only", "region.watershd")
    assert bad.returncode == 2 and "unknown names ['region.watershd']" in bad.stderr

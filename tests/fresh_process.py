"""Running test code in a fresh Python process, where nothing was imported before it."""

from __future__ import annotations

import subprocess
import sys

__all__ = ["run_python"]


def run_python(code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` (``python -c``) with ``args`` as ``sys.argv[1:]``; the test fails with the end of
    its stderr unless it exits 0."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out

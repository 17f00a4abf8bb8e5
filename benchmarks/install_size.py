"""Install size: what each way of installing the package puts on disk, before and after the extras.

    python benchmarks/install_size.py [--before c0157f4] [--qt pyqt5]

Reads the requirements from ``pyproject.toml`` (this checkout's, and the one of git revision
``--before``), follows them through the metadata of the packages installed in this environment
(markers evaluated here: Linux, this Python) and adds up the files each distribution installed.
Run it in an environment where ``.[all,pyqt5,test]`` is installed, so that every package of every
option is there to be measured; a requirement that is not installed is listed as missing. The Qt
binding (``--qt``) is counted in every row, as a user must install one.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import subprocess
from pathlib import Path

from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    raise SystemExit("benchmarks/install_size.py needs Python 3.11 or later (tomllib)") from None

ROOT = Path(__file__).resolve().parents[1]


def _name(text: str) -> str:
    return text.lower().replace("_", "-").replace(".", "-")


def _dist_size(dist: md.Distribution) -> int:
    total = 0
    for f in dist.files or ():
        try:
            total += Path(dist.locate_file(f)).stat().st_size
        except OSError:
            pass
    return total


def closure(requirements: list[str], extras_of_self: dict[str, list[str]]) -> tuple[dict[str, int], set[str]]:
    """Installed distributions (name -> bytes) that ``requirements`` pull in, and the missing names.
    A requirement on the package itself with extras (``napari-segsuite[sam]``) expands through
    ``extras_of_self``."""
    seen: dict[str, int] = {}
    missing: set[str] = set()
    todo = [(Requirement(r), ()) for r in requirements]
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extras[0] if extras else ""}):
            continue
        name = _name(req.name)
        if name == "napari-segsuite":
            todo += [(Requirement(r), ()) for extra in req.extras for r in extras_of_self.get(extra, [])]
            continue
        if name in seen:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            missing.add(name)
            continue
        seen[name] = _dist_size(dist)
        for extra in req.extras or ("",):
            for sub in dist.requires or ():
                r = Requirement(sub)
                if r.marker is None or r.marker.evaluate({"extra": extra}):
                    todo.append((r, (extra,) if extra else ()))
    return seen, missing


def pyproject(revision: str | None) -> dict:
    text = (ROOT / "pyproject.toml").read_text() if revision is None else subprocess.run(
        ["git", "show", f"{revision}:pyproject.toml"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return tomllib.loads(text)["project"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="c0157f4", help="git revision whose dependencies were all mandatory")
    ap.add_argument("--qt", default="pyqt5", help="the Qt extra counted in every row")
    args = ap.parse_args()
    now, before = pyproject(None), pyproject(args.before)
    extras = now.get("optional-dependencies", {})
    rows = [(f"before ({args.before}): the install", before["dependencies"])]
    rows += [("now: base install", now["dependencies"])]
    rows += [(f"now: [{e}]", now["dependencies"] + extras[e]) for e in ("sam", "learn", "opencv", "distributed", "all")]
    qt = extras.get(args.qt, [])
    print(f"{'install (with ' + args.qt + ')':40s} {'size':>9s} {'packages':>9s}  largest")
    for label, reqs in rows:
        sizes, missing = closure(reqs + qt, extras)
        top = ", ".join(f"{n} {s / 1e9:.2f} GB" for n, s in sorted(sizes.items(), key=lambda kv: -kv[1])[:3])
        note = f"  (not installed here, not counted: {', '.join(sorted(missing))})" if missing else ""
        print(f"{label:40s} {sum(sizes.values()) / 1e9:7.2f} GB {len(sizes):9d}  {top}{note}")


if __name__ == "__main__":
    main()

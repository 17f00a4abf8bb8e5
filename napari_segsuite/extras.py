"""Optional parts of the package and the ``pip install`` line that adds each.

The base install holds the classical engine, the metrics, file formats and the widgets. Segment
Anything and network training need torch (extras ``[sam]`` and ``[learn]``), a dask cluster needs
``distributed`` (``[distributed]``); OpenCV (``[opencv]``, or the ``cv2`` another package
installed) makes filters faster (:mod:`napari_segsuite.cv_compat`); ``[all]`` adds everything.
Nothing here imports those packages: :func:`missing` asks the import system whether they could be
found.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "explain", "install_line", "missing", "require"]

# extra -> (what it adds, the importable modules it needs)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sam": ("Segment Anything", ("torch", "torchvision", "segment_anything")),
    "sam2": ("Segment Anything 2", ("torch", "torchvision", "sam2")),
    "learn": ("training networks", ("torch", "torchvision")),
    "distributed": ("running on a dask cluster", ("distributed",)),
    # either opencv-python or opencv-python-headless provides cv2; the extra installs the headless one
    "opencv": ("OpenCV's faster filters and GrabCut for box prompts", ("cv2",)),
}


class MissingExtra(RuntimeError):
    """A feature needs packages of an extra that is not installed; the message says how to add it."""


def install_line(extra: str) -> str:
    """The command that adds ``extra``: ``pip install "napari-segsuite[extra]"``."""
    return f'pip install "napari-segsuite[{extra}]"'


def missing(extra: str, modules: tuple[str, ...] | None = None) -> list[str]:
    """The modules of ``extra`` (or just ``modules`` of it) that cannot be imported here; empty when
    all can."""
    return [m for m in (modules or EXTRAS[extra][1]) if importlib.util.find_spec(m) is None]


def require(extra: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`MissingExtra` naming the install line unless ``extra`` (or just its
    ``modules``) can be imported."""
    absent = missing(extra, modules)
    if absent:
        raise MissingExtra(f"{EXTRAS[extra][0]} needs {', '.join(absent)}, which the [{extra}] extra installs: "
                           f"{install_line(extra)}")


def explain(module: str, extra: str | None = None) -> str | None:
    """What to install when importing ``module`` failed (``extra`` when it provides the module,
    else every extra that does), or None when no extra provides it."""
    top = module.split(".")[0]
    extras = [e for e, (_, modules) in EXTRAS.items() if top in modules]
    if not extras:
        return None
    if extra in extras:
        extras = [extra]
    uses = " or ".join(f"{install_line(e)} ({EXTRAS[e][0]})" for e in extras)
    return f"{top} is not installed; it comes with {uses}"

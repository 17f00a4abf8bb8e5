"""Classical techniques and the catalog that describes them.

``CATALOG`` maps a stable name (``"threshold.global"``) to a :class:`Technique`; widgets, the CLI,
presets, tests and benchmarks are all generated from it. Import a family module to register it.
"""

from __future__ import annotations

from . import cluster, contour, edges, graph, post, region, threshold  # noqa: F401  (register the families)
from ._catalog import CATALOG, Cancelled, MissingInput, Param, Range, Result, SegsuiteWarning, Technique, When, technique
from ._image import ImageInfo, check_image, guess_channel_axis, intensity_histogram, prepare_slice, to_gray

__all__ = [
    "CATALOG",
    "Cancelled",
    "MissingInput",
    "ImageInfo",
    "Param",
    "Range",
    "Result",
    "SegsuiteWarning",
    "Technique",
    "When",
    "check_image",
    "families",
    "get",
    "guess_channel_axis",
    "intensity_histogram",
    "prepare_slice",
    "technique",
    "to_gray",
]


def get(name: str) -> Technique:
    """The technique called ``name``, or a ``KeyError`` that lists the known names.

    ``learn.<name>`` techniques are trained models: one saved in the learned-models folder is
    loaded on first use (see :mod:`napari_segsuite.learn.technique`).
    """
    if not isinstance(name, str):
        raise KeyError(f"a technique is named by text, got {name!r}")
    try:
        return CATALOG[name]
    except KeyError:
        if name.startswith("learn."):
            from ..learn.technique import load_registered

            found = load_registered(name)
            if found is not None:
                return found
        raise KeyError(f"unknown technique {name!r}; known techniques: {', '.join(sorted(CATALOG))}") from None


def families() -> dict[str, list[Technique]]:
    """Techniques grouped by family, in registration order."""
    out: dict[str, list[Technique]] = {}
    for t in CATALOG.values():
        out.setdefault(t.family, []).append(t)
    return out

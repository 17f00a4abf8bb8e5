"""Classical techniques and the catalog that describes them.

``CATALOG`` maps a stable name (``"threshold.global"``) to a :class:`Technique`; widgets, the CLI,
presets, tests and benchmarks are all generated from it. Import a family module to register it.

Each technique is also a plain function here, with its real signature and documentation
(:mod:`._functions`): ``from napari_segsuite.techniques import felzenszwalb``.
"""

from __future__ import annotations

from . import cluster, contour, edges, graph, post, region, threshold  # noqa: F401  (register the families)
from ._catalog import (
    CATALOG,
    Cancelled,
    MissingInput,
    Param,
    Range,
    Result,
    SegsuiteWarning,
    Technique,
    When,
    technique,
)
from ._functions import FUNCTIONS
from ._image import (
    ImageInfo,
    check_image,
    check_input,
    guess_channel_axis,
    intensity_histogram,
    iter_slices,
    prepare_slice,
    slice_input,
    to_gray,
)

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
    "check_input",
    "families",
    "get",
    "guess_channel_axis",
    "intensity_histogram",
    "iter_slices",
    "prepare_slice",
    "slice_input",
    "technique",
    "to_gray",
    *FUNCTIONS,
]
globals().update(FUNCTIONS)  # global_threshold, multiotsu, ..., felzenszwalb, ...: one per technique

LOADERS = "napari_segsuite.technique_loaders"  # entry-point group: name "learn" finds "learn.<name>"


def get(name: str) -> Technique:
    """The technique called ``name``, or a ``KeyError`` that lists the known names.

    A name outside the catalog whose prefix names a loader in the ``napari_segsuite.technique_loaders``
    entry-point group is loaded on first use: ``learn.<name>``, a model saved in the learned-models
    folder, is found this way. The engine imports no layer above it; the loader registers itself.
    """
    if not isinstance(name, str):
        raise KeyError(f"a technique is named by text, got {name!r}")
    try:
        return CATALOG[name]
    except KeyError:
        from importlib.metadata import entry_points

        for entry in entry_points(group=LOADERS, name=name.split(".", 1)[0]):
            found = entry.load()(name)
            if found is not None:
                return found
        raise KeyError(f"unknown technique {name!r}; known techniques: {', '.join(sorted(CATALOG))}") from None


def families() -> dict[str, list[Technique]]:
    """Techniques grouped by family, in registration order."""
    out: dict[str, list[Technique]] = {}
    for t in CATALOG.values():
        out.setdefault(t.family, []).append(t)
    return out

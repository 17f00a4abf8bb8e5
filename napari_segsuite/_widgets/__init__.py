"""napari dock widgets (the only package that imports napari and Qt).

One widget class per technique family (``families``), listed in ``napari.yaml`` and in the SegSuite
dock's picker (``suite.TOOLS``); a test checks that every family of the catalog has one.

Names are imported on first use (PEP 562): opening the Thresholding dock must not import torch,
which only the SAM and learning docks need. Without their extra, those two names give a dock that
says how to install it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..extras import missing

_FAMILIES = ("ClusteringWidget", "ContourWidget", "EdgesWidget", "GraphWidget", "PostProcessingWidget",
             "RegionWidget", "ThresholdingWidget", "family_widget_class")
_MODULE_OF = {name: "families" for name in _FAMILIES} | {
    "FamilyWidget": "family_widget", "LearnWidget": "learn_widget", "ProjectWidget": "project_widget",
    "SamWidget": "sam_widget", "ScoringWidget": "scoring_widget", "SegSuiteWidget": "suite",
}
# docks that need an optional extra: without it, a dock saying how to add it stands in
_NEEDS = {"SamWidget": ("Segment Anything", "sam", ("torch", "torchvision")),
          "LearnWidget": ("Train a network", "learn", ("torch", "torchvision"))}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name in _NEEDS and missing(*_NEEDS[name][1:]):
        from .missing_extra import missing_extra_widget

        return missing_extra_widget(name, *_NEEDS[name])
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

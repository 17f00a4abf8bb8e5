"""napari dock widgets (the only package that imports napari and Qt).

One widget class per technique family (``families``), listed in ``napari.yaml`` and in the SegSuite
dock's picker (``suite.TOOLS``); a test checks that every family of the catalog has one.

Names are imported on first use (PEP 562): opening the Thresholding dock must not import torch,
which only the SAM and learning docks need. Without their extra, those two names give a dock that
says how to install it.
"""

from __future__ import annotations

from typing import Any

from .._lazy import lazy_exports
from ..extras import missing

_FAMILIES = ("ClusteringWidget", "ContourWidget", "EdgesWidget", "GraphWidget", "PostProcessingWidget",
             "RegionWidget", "ThresholdingWidget", "family_widget_class")
_import, __dir__, __all__ = lazy_exports(__name__, {name: ".families" for name in _FAMILIES} | {
    "FamilyWidget": ".family_widget", "LearnWidget": ".learn_widget", "ProjectWidget": ".project_widget",
    "SamWidget": ".sam_widget", "ScoringWidget": ".scoring_widget", "SegSuiteWidget": ".suite",
})
# docks that need an optional extra: without it, a dock saying how to add it stands in
_NEEDS = {"SamWidget": ("Segment Anything", "sam", ("torch", "torchvision")),
          "LearnWidget": ("Train a network", "learn", ("torch", "torchvision"))}


def __getattr__(name: str) -> Any:
    if name in _NEEDS and missing(*_NEEDS[name][1:]):
        from .missing_extra import missing_extra_widget

        return missing_extra_widget(name, *_NEEDS[name])
    return _import(name)

"""Label conventions, decided once and used by every technique, widget, format and metric.

A label map is an integer array with **0 = background** (unlabelled), in one of three kinds:

``semantic``
    Values are class ids (1 = first class). Two separate regions of one class share an id.
``instance``
    Values are object ids, one per object, with no class information.
``panoptic``
    Values are object ids; each object's class is in the layer's features table (columns
    ``index``, ``class_id``, ``class_name``) and the classes' names and colours are in
    ``layer.metadata["segsuite"]["classes"]``.

The kind travels in ``layer.metadata["segsuite"]["kind"]``. Committing new labels into an existing
map never overwrites labelled pixels unless asked (``overwrite=True``), and new instance ids are
shifted past the existing ones so objects never merge by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["LABEL_KINDS", "LabelKind", "ClassInfo", "commit_plan", "feature_classes", "labels_metadata", "object_classes",
           "panoptic_features", "smallest_label_dtype"]

LabelKind = Literal["semantic", "instance", "panoptic"]
LABEL_KINDS: tuple[str, ...] = ("semantic", "instance", "panoptic")


@dataclass(frozen=True)
class ClassInfo:
    """One class of a semantic or panoptic label map."""

    id: int
    name: str
    color: tuple[float, float, float, float] | None = None


def labels_metadata(kind: LabelKind, classes: list[ClassInfo] | None = None, **extra: Any) -> dict[str, Any]:
    """The ``layer.metadata`` entry that records a label map's kind and classes."""
    if kind not in LABEL_KINDS:
        raise ValueError(f"label kind must be one of {LABEL_KINDS}, got {kind!r}")
    entry: dict[str, Any] = {"kind": kind, **extra}
    if classes:
        entry["classes"] = [{"id": c.id, "name": c.name, "color": c.color} for c in classes]
    return {"segsuite": entry}


def panoptic_features(object_classes: dict[int, int], classes: list[ClassInfo]) -> dict[str, list]:
    """Features table (napari ``features=``) mapping each object id to its class id and name."""
    names = {c.id: c.name for c in classes}
    ids = sorted(object_classes)
    missing = sorted({object_classes[i] for i in ids} - set(names))
    if missing:
        raise ValueError(f"objects refer to class ids {missing} that are not among the classes {sorted(names)}")
    return {
        "index": ids,
        "class_id": [object_classes[i] for i in ids],
        "class_name": [names[object_classes[i]] for i in ids],
    }


def _columns(features: Any, *names: str) -> str | None:
    if features is None or not len(features) or "index" not in features:
        return None
    return next((c for c in names if c in features), None)


def object_classes(features: Any) -> dict[int, int]:
    """Object id -> class id from a labels layer's features table (``index`` + ``class_id``, or
    ``category_id`` as COCO layers name it); empty when the table has no such columns."""
    col = _columns(features, "class_id", "category_id")
    return {} if col is None else {int(i): int(c) for i, c in zip(features["index"], features[col])}


def feature_classes(features: Any) -> dict[int, str]:
    """Class id -> class name from a features table (``class_name`` or ``category``; the id itself
    when there is no name column)."""
    col = _columns(features, "class_id", "category_id")
    if col is None:
        return {}
    name_col = _columns(features, "class_name", "category") or col
    return {int(c): str(n) for c, n in zip(features[col], features[name_col])}


def smallest_label_dtype(max_label: int) -> np.dtype:
    """The smallest unsigned dtype that holds ``max_label`` (uint8, uint16, uint32 or uint64)."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if max_label <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"label {max_label} does not fit in 64 bits")


@dataclass
class CommitPlan:
    """Which pixels of a target label map to change, and to what."""

    indices: tuple[np.ndarray, ...]
    values: np.ndarray
    skipped: int = 0  # labelled target pixels kept because overwrite was off
    notes: list[str] = field(default_factory=list)


def commit_plan(target: np.ndarray, new: np.ndarray, *, kind: LabelKind | None, overwrite: bool = False) -> CommitPlan:
    """Plan writing label map ``new`` into ``target`` (same shape) under the conventions above.

    Background (0) in ``new`` never erases. Without ``overwrite`` only unlabelled target pixels
    change. Instance/panoptic ids in ``new`` are shifted past ``target.max()``. Raises
    ``ValueError`` when shapes differ or the target's dtype cannot hold the new ids.
    """
    target = np.asarray(target)
    new = np.asarray(new)
    if target.shape != new.shape:
        raise ValueError(
            f"the target labels have shape {target.shape} but the result has shape {new.shape}: "
            "choose a labels layer of the image's shape, or write into a new layer"
        )
    write = new != 0
    n_new = int(np.count_nonzero(write))
    skipped = 0
    if not overwrite:
        occupied = write & (target != 0)
        skipped = int(np.count_nonzero(occupied))
        write &= ~occupied
    values = new[write].astype(np.int64)
    if kind in ("instance", "panoptic") and values.size:
        values += int(target.max())
    notes = []
    if skipped:
        notes.append(
            f"{skipped} of {n_new} result pixels were already labelled and were kept; "
            "tick 'overwrite' to replace them"
        )
    if values.size:
        top = int(values.max())
        info = np.iinfo(target.dtype) if target.dtype.kind in "iu" else None
        if info is None or top > info.max:
            raise ValueError(
                f"the target layer's dtype {target.dtype} cannot hold label {top}: "
                "write into a new layer instead"
            )
    return CommitPlan(np.nonzero(write), values.astype(target.dtype), skipped, notes)

"""Hybrid presets: a classical chain and/or SAM, then post-processing, saved as one JSON file.

    {"format": "napari-segsuite-preset", "version": 1,
     "sam": {"model": "vit_b", "mode": "auto", "options": {"points_per_side": 16, "pred_iou_thresh": 0.88}},
     "before": [{"technique": "threshold.global", "params": {...}}, ...],   # "refine" mode: the objects to redraw
     "post": [{"technique": "post.fill_holes", "params": {}}, ...]}

``mode`` is ``"auto"`` (automatic masks from a point grid) or ``"refine"`` (the objects found by the
``before`` chain become box / point prompts). ``model`` is a registry name or ``"classical"`` (the
fallback; refine mode only). The ``post`` steps (post.* techniques) run on SAM's labels. The
command line runs such a file like any preset: ``napari-segsuite run hybrid.json images/ -o out/``.
Presets are JSON and are validated field by field; nothing in them is executed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..techniques.chain import Chain, Step
from ..techniques.presets import FORMAT, VERSION, parse_step, read_preset_json
from .hybrid import MODES as REFINE_MODES

__all__ = ["SamPipeline", "is_pipeline", "load_pipeline", "parse_pipeline", "save_pipeline"]

MODES = ("auto", "refine")
_AUTO_BUILD = ("points_per_side", "crop_n_layers", "crop_overlap_ratio", "crop_n_points_downscale_factor",
               "stability_score_offset", "points_per_batch")
_AUTO_SELECT = ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "crop_nms_thresh", "min_area")
_REFINE = ("mode", "min_area", "batch_size")


@dataclass
class SamPipeline:
    """A validated hybrid preset (see the module docstring)."""

    model: str
    mode: str
    options: dict[str, Any] = field(default_factory=dict)
    before: tuple[Step, ...] = ()
    post: tuple[Step, ...] = ()
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        sam = {"model": self.model, "mode": self.mode, "options": dict(self.options)}
        if self.checkpoint:
            sam["checkpoint"] = self.checkpoint
        return {"format": FORMAT, "version": VERSION, "sam": sam,
                "before": [s.to_dict() for s in self.before], "post": [s.to_dict() for s in self.post]}

    def session(self, device: str = "auto"):
        """The backend this pipeline names (loads the SAM checkpoint once)."""
        from . import ClassicalSession, open_session

        if self.model == "classical":
            return ClassicalSession()
        return open_session(self.model, self.checkpoint, device=device)

    def run(self, image: np.ndarray, session, *, channel_axis: int | None = None) -> tuple[np.ndarray, list[str]]:
        """Instance labels of one 2-D image, and notes."""
        from .image import to_sam_rgb

        rgb = to_sam_rgb(image, channel_axis)
        notes: list[str] = []
        if self.mode == "auto":
            from .auto import generate

            build = {k: v for k, v in self.options.items() if k in _AUTO_BUILD}
            select = {k: v for k, v in self.options.items() if k in _AUTO_SELECT}
            labels = generate(session, rgb, **build).labels(**select)
        else:
            from .hybrid import refine_labels

            found = Chain(self.before).run(image, channel_axis=channel_axis)
            notes.extend(found.notes)
            labels, more = refine_labels(session, rgb, np.asarray(found.data), **self.options)
            notes.extend(more)
        if self.post:
            result = Chain(self.post).run(labels)
            labels = np.asarray(result.data)
            notes.extend(result.notes)
        return labels, notes


def is_pipeline(data: Any) -> bool:
    return isinstance(data, dict) and "sam" in data


def parse_pipeline(data: Any, *, source: str = "preset") -> SamPipeline:
    """Validate a decoded hybrid preset."""
    from .registry import REGISTRY

    if not is_pipeline(data):
        raise ValueError(f"{source}: a SAM preset has a 'sam' object")
    if data.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{source}: not a napari-segsuite preset (format {data.get('format')!r})")
    sam = data["sam"]
    if not isinstance(sam, dict):
        raise ValueError(f"{source}: 'sam' must be a JSON object")
    model, mode = sam.get("model"), sam.get("mode", "auto")
    if model != "classical" and model not in REGISTRY:
        raise ValueError(f"{source}: unknown model {model!r}; use 'classical' or one of {', '.join(REGISTRY)}")
    if mode not in MODES:
        raise ValueError(f"{source}: mode must be 'auto' or 'refine', got {mode!r}")
    if mode == "auto" and model == "classical":
        raise ValueError(f"{source}: automatic masks need a SAM model, not the classical fallback")
    options = sam.get("options", {})
    allowed = _AUTO_BUILD + _AUTO_SELECT if mode == "auto" else _REFINE
    if not isinstance(options, dict) or set(options) - set(allowed):
        raise ValueError(f"{source}: unknown SAM option(s) {sorted(set(options) - set(allowed)) if isinstance(options, dict) else options}; "
                         f"{mode} mode takes {', '.join(allowed)}")
    for k, v in options.items():
        _check_option(source, k, v)
    before = tuple(Step(*parse_step(s, f"{source}: before step {i + 1}")) for i, s in enumerate(data.get("before", [])))
    post = tuple(Step(*parse_step(s, f"{source}: post step {i + 1}")) for i, s in enumerate(data.get("post", [])))
    if mode == "refine" and not before:
        raise ValueError(f"{source}: refine mode needs 'before' steps that find the objects (e.g. a threshold)")
    for s in post:
        if s.technique.channels != "labels":
            raise ValueError(f"{source}: post step {s.technique.name} takes an image; only post.* steps follow SAM")
    try:
        if before:
            Chain(before)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    ckpt = sam.get("checkpoint")
    if ckpt is not None and not isinstance(ckpt, str):
        raise ValueError(f"{source}: 'checkpoint' must be a file path")
    return SamPipeline(model, mode, dict(options), before, post, ckpt)


# option -> (type, smallest, largest or None, choices or None): checked when the preset is read, so a bad
# value fails once with the file's name instead of once per image
_OPTION_RULES: dict[str, tuple[type, float | None, float | None, tuple | None]] = {
    "points_per_side": (int, 1, 256, None), "crop_n_layers": (int, 0, 4, None),
    "crop_overlap_ratio": (float, 0.0, 0.99, None), "crop_n_points_downscale_factor": (int, 1, 16, None),
    "stability_score_offset": (float, 0.0, None, None), "points_per_batch": (int, 1, 4096, None),
    "pred_iou_thresh": (float, 0.0, 1.0, None), "stability_score_thresh": (float, 0.0, 1.0, None),
    "box_nms_thresh": (float, 0.0, 1.0, None), "crop_nms_thresh": (float, 0.0, 1.0, None),
    "min_area": (int, 0, None, None), "batch_size": (int, 1, 4096, None), "mode": (str, None, None, REFINE_MODES),
}


def _check_option(source: str, name: str, value: Any) -> None:
    kind, lo, hi, choices = _OPTION_RULES[name]
    if choices is not None:
        if value not in choices:
            raise ValueError(f"{source}: SAM option {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or (kind is int and value != int(value)) or value != value:
        raise ValueError(f"{source}: SAM option {name} must be {'a whole number' if kind is int else 'a number'}, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise ValueError(f"{source}: SAM option {name} must be {bounds}, got {value!r}")


def load_pipeline(path: str | os.PathLike) -> SamPipeline:
    """Read and validate a hybrid preset file."""
    return parse_pipeline(read_preset_json(path), source=str(path))


def save_pipeline(path: str | os.PathLike, pipeline: SamPipeline, *, overwrite: bool = False) -> Path:
    """Validate (by reading back) and write atomically."""
    from ..io.atomic import atomic_write

    data = pipeline.to_dict()
    parse_pipeline(json.loads(json.dumps(data)), source=str(path))
    return atomic_write(path, lambda f: f.write(json.dumps(data, indent=1).encode()), overwrite=overwrite)


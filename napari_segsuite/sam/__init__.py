"""Segment Anything: model registry and checkpoints, the SamSession (embedding cache, prompts ->
masks) and the classical fallback backend with the same interface.

Names are imported on first use (PEP 562), so that ``sam.pipeline`` and ``sam.hybrid``'s modes
load without torch (the ``[sam]`` extra) for classical presets.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {
    "available_devices": "..device", "resolve_device": "..device", "ClassicalSession": ".fallback",
    "image_hash": ".image", "to_sam_rgb": ".image", "Embedding": ".session", "Prediction": ".session",
    "SamSession": ".session",
} | {name: ".registry" for name in ("REGISTRY", "CheckpointError", "ModelSpec", "checkpoint_path", "download",
                                    "load_model", "models_dir")}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Segment Anything: model registry and checkpoints, the SamSession (embedding cache, prompts ->
masks) and the classical fallback backend with the same interface.

Names are imported on first use (PEP 562), so that ``sam.pipeline`` and ``sam.hybrid``'s modes
load without torch (the ``[sam]`` extra) for classical presets.
"""

from __future__ import annotations

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "available_devices": "..device", "resolve_device": "..device", "ClassicalSession": ".fallback",
    "image_hash": ".image", "to_sam_rgb": ".image", "Embedding": ".session", "Prediction": ".session",
    "SamSession": ".session", "Sam2Session": ".sam2_session", "open_session": ".sessions",
} | {name: ".registry" for name in ("REGISTRY", "CheckpointError", "ModelSpec", "checkpoint_path", "download",
                                    "load_model", "models_dir")})

"""Segment Anything: model registry and checkpoints, the SamSession (embedding cache, prompts ->
masks) and the classical fallback backend with the same interface."""

from .device import available_devices, resolve_device
from .fallback import ClassicalSession
from .image import image_hash, to_sam_rgb
from .registry import REGISTRY, CheckpointError, ModelSpec, checkpoint_path, download, load_model, models_dir
from .session import Embedding, Prediction, SamSession

__all__ = [
    "REGISTRY", "CheckpointError", "ClassicalSession", "Embedding", "ModelSpec", "Prediction", "SamSession",
    "available_devices", "checkpoint_path", "download", "image_hash", "load_model", "models_dir",
    "resolve_device", "to_sam_rgb",
]

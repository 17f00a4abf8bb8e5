"""Torch device choice for SAM and for training: "auto" is CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

__all__ = ["available_devices", "resolve_device"]


def available_devices() -> list[str]:
    """The device names this machine can run: "auto" first."""
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out.insert(1, "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.insert(1, "mps")
    return out


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """A ``torch.device`` for ``device``; a clear error when the requested one is absent."""
    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("CUDA was requested but this machine has no usable NVIDIA GPU (or torch was built "
                           "without CUDA); choose device 'cpu' or 'auto'")
    if name.startswith("cuda:"):
        index = name[5:]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise RuntimeError(f"there is no GPU {device!r} on this machine (it has {torch.cuda.device_count()}: "
                               f"cuda:0 to cuda:{torch.cuda.device_count() - 1}); choose one of those, or 'auto'")
    if name == "mps" and not available_devices().count("mps"):
        raise RuntimeError("MPS was requested but is not available on this machine; choose 'cpu' or 'auto'")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise RuntimeError(f"unknown device {device!r}; choose one of {', '.join(available_devices())}") from e

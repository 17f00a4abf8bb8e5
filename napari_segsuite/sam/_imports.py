"""Import segment-anything without loading Triton into a process that already has an OpenGL context.

segment-anything imports torchvision, which imports ``torch._dynamo``, which imports Triton when it
is installed (CUDA builds of torch ship it). Triton's bundled LLVM clashes with the LLVM that Mesa
loads for napari's OpenGL canvas: importing Triton after a viewer exists kills the process with a
segmentation fault. Neither SAM nor this plugin uses Triton (it serves ``torch.compile``), so the
import below hides it while segment-anything loads; torch then records that Triton is absent.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["import_segment_anything"]


def import_segment_anything() -> ModuleType:
    """``import segment_anything``, with Triton kept out of the process (see the module docstring)."""
    if "segment_anything" in sys.modules:
        return sys.modules["segment_anything"]
    hide = "triton" not in sys.modules
    if hide:
        sys.modules["triton"] = None  # type: ignore[assignment]  # makes `import triton` raise ImportError
    try:
        return importlib.import_module("segment_anything")
    finally:
        if hide and sys.modules.get("triton", 0) is None:
            del sys.modules["triton"]

"""Import the parts of torch that pull in Triton without loading Triton into a process that may
already have an OpenGL context.

segment-anything imports torchvision, which imports ``torch._dynamo``; torch's optimisers import it
too. ``torch._dynamo`` imports Triton when it is installed (CUDA builds of torch ship it). Triton's
bundled LLVM clashes with the LLVM that Mesa loads for napari's OpenGL canvas: importing Triton
after a viewer exists kills the process with a segmentation fault. Neither SAM nor training here
uses Triton (it serves ``torch.compile``), so the imports below hide it, only while they run.
torch remembers what it found (``torch.utils._triton``'s cached ``has_triton*`` answers); those
answers are forgotten on the way out, so another plugin in the same napari session that imports
Triton, or asks torch whether it can, gets the true answer.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

__all__ = ["import_segment_anything", "import_torch_dynamo", "triton_hidden"]


@contextmanager
def triton_hidden() -> Iterator[None]:
    """While inside, ``import triton`` raises ImportError (unless Triton is loaded already)."""
    hide = "triton" not in sys.modules
    if hide:
        sys.modules["triton"] = None  # type: ignore[assignment]  # makes `import triton` raise ImportError
    try:
        yield
    finally:
        if hide and sys.modules.get("triton", 0) is None:
            del sys.modules["triton"]
            _forget_torchs_triton_answers()


def _forget_torchs_triton_answers() -> None:
    """Clear the cached "is Triton there?" answers torch computed while it was hidden."""
    found = sys.modules.get("torch.utils._triton")
    for value in vars(found).values() if found is not None else ():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def import_segment_anything() -> ModuleType:
    """``import segment_anything``, with Triton kept out of the process (see the module docstring)."""
    if sys.modules.get("segment_anything") is not None:
        return sys.modules["segment_anything"]
    from .extras import require

    require("sam", ("segment_anything",))
    with triton_hidden():
        return importlib.import_module("segment_anything")


def import_torch_dynamo() -> ModuleType:
    """``import torch._dynamo`` (what optimisers and torchvision load), with Triton kept out."""
    if "torch._dynamo" in sys.modules:
        return sys.modules["torch._dynamo"]
    with triton_hidden():
        return importlib.import_module("torch._dynamo")

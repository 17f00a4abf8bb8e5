"""Open the session that runs a model: :class:`.session.SamSession` for SAM 1 (segment-anything),
:class:`.sam2_session.Sam2Session` for SAM 2 (the ``sam2`` package)."""

from __future__ import annotations

from typing import Any

from .registry import spec

__all__ = ["open_session"]


def open_session(model: Any = "vit_b", checkpoint: Any = None, device: str = "auto", **kwargs: Any) -> Any:
    """A session for ``model``: a registry name (``vit_b``, ``sam2.1_t``, ...) or a built model
    (segment-anything's ``Sam`` or SAM 2's ``SAM2Base``). Takes :class:`.session.SamSession`'s
    arguments."""
    if isinstance(model, str):
        sam2 = spec(model).family == "sam2"
    else:
        sam2 = hasattr(model, "sam_mask_decoder")  # SAM2Base; segment-anything's Sam has mask_decoder
    if sam2:
        from ..extras import require

        require("sam2")  # before a checkpoint is read: the install line, not an import error
        from .sam2_session import Sam2Session

        return Sam2Session(model, checkpoint, device, **kwargs)
    from .session import SamSession

    return SamSession(model, checkpoint, device, **kwargs)

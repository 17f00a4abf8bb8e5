"""SAM 2's video predictor (memory attention) as the engine of propagation through z or time.

:func:`.propagate.iter_propagate` asks a :class:`.sam2_session.Sam2Session` for a
:class:`VideoTracker` per direction. The tracker gives SAM 2 the objects' masks on the start
slice as conditioning frames, then asks it for each next slice in turn: SAM 2 answers from its
memory of the slices it has seen (the start slice and the six most recent), where SAM 1 is
prompted afresh from the previous mask alone.

The slices' image features come from the session (:meth:`.session.SamSession.embedding_of`: its
memory, its disk cache, or the encoder), so "Precompute all slices" serves propagation as it
serves clicks and each slice is encoded at most once; SAM 2 is handed them through its inference
state's feature cache instead of encoding frames itself. The inference state is built here as
``SAM2VideoPredictor.init_state`` builds it (checked with sam2 1.1.0), from slices in memory rather
than a folder of JPEG files; ``tests/sam/test_sam2.py`` compares the masks with the stock predictor's.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from .image import image_hash, to_sam_rgb

__all__ = ["VideoTracker", "is_video_model"]


def is_video_model(model: Any) -> bool:
    """Whether ``model`` is SAM 2's video predictor (it tracks with memory)."""
    try:
        from sam2.sam2_video_predictor import SAM2VideoPredictor
    except ImportError:
        return False
    return isinstance(model, SAM2VideoPredictor)


@contextmanager
def _quiet() -> Iterator[None]:
    """SAM 2 fills small holes with a CUDA extension and warns at every slice where it has none
    (the masks are the same without it): that warning is not the user's business."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(post-processing|_C).*")
        yield


@contextmanager
def _no_progress_bar() -> Iterator[None]:
    """``propagate_in_video`` draws a tqdm bar on the terminal; the dock and the CLI show their
    own progress, so while it starts, its module's ``tqdm`` passes the slices through unchanged."""
    from sam2 import sam2_video_predictor as module

    original = module.tqdm
    module.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        yield
    finally:
        module.tqdm = original


class _Frames:
    """The slices as SAM 2's transformed input, read one at a time (only if its feature cache
    misses, which the tracker prevents)."""

    def __init__(self, session: Any, stack: Sequence[np.ndarray], channel_axis: int | None) -> None:
        self.session, self.stack, self.channel_axis = session, stack, channel_axis

    def __len__(self) -> int:
        return len(self.stack)

    def __getitem__(self, k: int) -> torch.Tensor:
        return self.session.transforms(to_sam_rgb(self.stack[k], self.channel_axis))


class VideoTracker:
    """The objects of ``labels`` (on slice ``start`` of ``stack``) tracked one way (``direction``
    +1 or -1) by SAM 2's video predictor; :meth:`step` gives each next slice's masks."""

    def __init__(self, session: Any, stack: Sequence[np.ndarray], start: int, labels: np.ndarray,
                 ids: Sequence[int], direction: int, channel_axis: int | None = None) -> None:
        self.session, self.stack, self.channel_axis = session, stack, channel_axis
        self.model = session.model
        self.ids = [int(i) for i in ids]
        h, w = np.shape(labels)[:2]
        self.state = self._state(h, w)
        with _quiet():
            self._feed(start)
            for i in self.ids:
                self.model.add_new_mask(self.state, start, i, torch.as_tensor(np.asarray(labels) == i))
        # the start slice's features stay in the cache: SAM 2 replaces it only where it misses
        self.runs = self.model.propagate_in_video(self.state, start_frame_idx=start, reverse=direction < 0)
        with _quiet(), _no_progress_bar():  # the bar is made on the generator's first step
            first, _, _ = next(self.runs)  # the start slice itself (its masks are the labels given)
        if first != start:
            raise RuntimeError(f"SAM 2 began at slice {first}, not at the start slice {start}")

    def _state(self, h: int, w: int) -> dict:
        """A fresh inference state over the stack, as ``SAM2VideoPredictor.init_state`` makes one."""
        device = self.session.device
        return {
            "images": _Frames(self.session, self.stack, self.channel_axis), "num_frames": len(self.stack),
            "offload_video_to_cpu": False, "offload_state_to_cpu": False,
            "video_height": h, "video_width": w, "device": device, "storage_device": device,
            "point_inputs_per_obj": {}, "mask_inputs_per_obj": {}, "cached_features": {}, "constants": {},
            "obj_id_to_idx": OrderedDict(), "obj_idx_to_id": OrderedDict(), "obj_ids": [],
            "output_dict_per_obj": {}, "temp_output_dict_per_obj": {}, "frames_tracked_per_obj": {},
        }

    def _feed(self, k: int) -> None:
        """Put slice ``k``'s backbone output where SAM 2 looks first (its one-frame feature cache)."""
        rgb = to_sam_rgb(self.stack[k], self.channel_axis)
        emb = self.session.embedding_of(rgb, image_hash(rgb), k)
        fpn = self.session.unpack(emb.features)
        position = self.model.image_encoder.neck.position_encoding
        backbone = {"backbone_fpn": fpn, "vision_pos_enc": [position(t).to(t.dtype) for t in fpn]}
        size = self.session.img_size
        self.state["cached_features"] = {k: (torch.zeros(1, 3, size, size, device=emb.features.device), backbone)}

    def step(self, k: int) -> dict[int, np.ndarray]:
        """The objects' masks on slice ``k`` (the next one in this direction): id -> bool (H, W)."""
        self._feed(k)
        with _quiet():
            frame, obj_ids, logits = next(self.runs)
        if frame != k:
            raise RuntimeError(f"SAM 2 answered slice {frame} where slice {k} was asked for")
        masks = (logits[:, 0] > 0.0).cpu().numpy()
        return {int(i): masks[j] for j, i in enumerate(obj_ids)}

    def close(self) -> None:
        """Stop tracking (frees the generator and its state)."""
        self.runs.close()
        self.state = {}

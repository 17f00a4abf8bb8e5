"""Sam2Session: SAM 2 / 2.1 (Hiera) behind :class:`.session.SamSession`'s interface.

    session = open_session("sam2.1_t")            # napari_segsuite.sam.open_session picks this class
    session.set_image(rgb)                        # Hiera encoder once per image; cached in memory and on disk
    session.predict(points=[[x, y]], labels=[1])  # prompt encoder + mask decoder only

Everything around the model is SamSession's: the memory LRU and disk cache of embeddings, tiles
for large images, prompt checks, automatic masks, the lock, the counters. What differs is the
model's arithmetic, done here as ``sam2.sam2_image_predictor.SAM2ImagePredictor`` does it (checked
with sam2 1.1.0; ``tests/sam/test_sam2.py`` compares masks, scores and logits with it):

- the image is squashed to the encoder's square input (not resized by its long side), so prompts
  are scaled by width and height separately and a mask's logits cover the whole image;
- a box is two corner points (labels 2 and 3) ahead of the clicks;
- the decoder also reads two high-resolution feature maps, which the embedding carries.

An embedding is kept as the encoder's three feature levels packed in one array (16 MiB for a
1024² input, 4x SAM 1's), *before* SAM 2 adds its "no memory" embedding to the coarsest level:
clicks add it, and the video tracker (:mod:`.sam2_video`) rebuilds the backbone output from the
same array, so precomputed slices serve both without an encoder run.
"""

from __future__ import annotations

import numpy as np
import torch

from .._no_triton import triton_hidden
from .prompts import Prediction
from .session import Embedding, SamSession, mask_logits

__all__ = ["Sam2Session"]

CHECKED_WITH = "1.1.0"  # the sam2 release whose SAM2ImagePredictor this follows


class Sam2Session(SamSession):
    """See the module docstring. Takes :class:`.session.SamSession`'s arguments; ``fast`` runs
    the encoder under bf16 autocast on CUDA (no CUDA graph, no attention folding: SAM 2's Hiera
    already uses fused attention)."""

    family = "sam2"

    def __init__(self, model="sam2.1_t", checkpoint=None, device="auto", **kwargs) -> None:
        kwargs["cuda_graph"] = False
        kwargs["sdpa"] = False
        super().__init__(model, checkpoint, device, **kwargs)
        self.fast_decoder = False  # SamSession's reordered decoder is SAM 1's
        self._decoder_checked = True

    def _bind_model(self) -> None:
        with triton_hidden():
            from sam2.utils.transforms import SAM2Transforms

        self.img_size = int(self.model.image_size)
        # thresholds 0 and no hole filling: SAM2ImagePredictor's defaults
        self.transforms = SAM2Transforms(resolution=self.img_size, mask_threshold=0.0, max_hole_area=0.0,
                                         max_sprinkle_area=0.0)
        s = self.img_size
        decoder = self.model.sam_mask_decoder
        self._levels = ((int(decoder.conv_s0.out_channels), s // 4), (int(decoder.conv_s1.out_channels), s // 8),
                        (int(self.model.hidden_dim), s // 16))
        self.transform = None  # SAM 1's ResizeLongestSide: not this model's geometry

    def describe(self) -> str:
        return f"SAM 2 {self.model_name} on {self.device.type}"

    # -- embeddings -------------------------------------------------------------------------------

    def _model_input(self, rgb: np.ndarray) -> np.ndarray:
        return rgb  # squashed to the square by SAM2Transforms in _run_encoder

    def _input_size(self, original_size: tuple[int, int]) -> tuple[int, int]:
        return (self.img_size, self.img_size)  # the whole square: the image is squashed, not padded

    @property
    def _feature_shape(self) -> tuple[int, ...]:
        return (1, sum(c * n * n for c, n in self._levels))

    @torch.inference_mode()
    def _run_encoder(self, rgb: np.ndarray) -> torch.Tensor:
        x = self.transforms(rgb)[None].to(self.device)
        if self.device.type == "cuda" and self.fast:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                levels = self.backbone_levels(x)
            levels = [t.float() for t in levels]
        else:
            levels = self.backbone_levels(x)
        return torch.cat([t.reshape(1, -1) for t in levels], 1)

    def backbone_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The encoder's feature maps of a transformed image batch ``x`` (1, 3, S, S), finest first,
        as SAM 2's mask decoder reads them (the two finest through its ``conv_s0`` / ``conv_s1``)."""
        out = self.model.forward_image(x)
        return list(out["backbone_fpn"][-self.model.num_feature_levels:])

    def unpack(self, features: torch.Tensor) -> list[torch.Tensor]:
        """The feature levels packed in an embedding's ``features`` (finest first, each (1, C, n, n))."""
        out, at = [], 0
        for c, n in self._levels:
            out.append(features[:, at:at + c * n * n].reshape(1, c, n, n))
            at += c * n * n
        return out

    def _embedding(self, digest, key, features, input_size, original_size, source) -> Embedding:
        emb = Embedding(digest, key, features, input_size, original_size, source)
        *high_res, coarse = self.unpack(features)
        if self.model.directly_add_no_mem_embed:  # an image alone: no memory of other frames
            coarse = coarse + self.model.no_mem_embed.reshape(1, -1, 1, 1)
        emb.state = {"image_embed": coarse, "high_res_feats": high_res}
        return emb

    # -- prompts ----------------------------------------------------------------------------------

    def _scaled(self, xy: np.ndarray, original_size: tuple[int, int]) -> torch.Tensor:
        """(..., 2) pixel coordinates (x, y) on the image -> on the encoder's square input."""
        h, w = original_size
        xy = torch.as_tensor(np.asarray(xy, np.float32), dtype=torch.float, device=self.device).clone()
        xy[..., 0] = xy[..., 0] / w
        xy[..., 1] = xy[..., 1] / h
        return xy * self.img_size

    def _point_prompts(self, emb: Embedding, points, labels, boxes):
        """SAM 2's point-form prompts of B prompt sets: box corners (labels 2, 3) ahead of the clicks."""
        coords, codes = [], []
        if boxes is not None:
            bx = np.asarray(boxes, np.float64).reshape(-1, 2, 2)
            coords.append(self._scaled(bx, emb.original_size))
            codes.append(torch.tensor([[2, 3]], dtype=torch.int, device=self.device).repeat(len(bx), 1))
        if points is not None:
            pts = np.asarray(points, np.float64)
            coords.append(self._scaled(pts, emb.original_size))
            codes.append(torch.as_tensor(np.asarray(labels), dtype=torch.int, device=self.device).reshape(pts.shape[:2]))
        return torch.cat(coords, 1), torch.cat(codes, 1)

    @torch.inference_mode()
    def _encode_prompts(self, emb: Embedding, pts, lbs, bx, mask_input):
        mask_arg = None
        if mask_input is not None:  # SAM2ImagePredictor hands back logits clamped to +-32: feed them so
            mask_arg = torch.as_tensor(np.clip(mask_logits(mask_input), -32.0, 32.0), device=self.device)[None, None]
        point_arg = self._point_prompts(emb, None if pts is None else pts[None], None if lbs is None else lbs[None],
                                        None if bx is None else bx[None])
        return self.model.sam_prompt_encoder(points=point_arg, boxes=None, masks=mask_arg)

    @torch.inference_mode()
    def _batch_prompts(self, emb: Embedding, points, labels, boxes) -> torch.Tensor:
        return self.model.sam_prompt_encoder(points=self._point_prompts(emb, points, labels, boxes),
                                             boxes=None, masks=None)[0]

    @torch.inference_mode()
    def _decode(self, emb: Embedding, sparse: torch.Tensor, dense: torch.Tensor | None, multimask: bool):
        if dense is None:
            n = self.img_size // 16
            dense = self.model.sam_prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                sparse.shape[0], -1, n, n)
        logits, iou, _, _ = self.model.sam_mask_decoder(
            image_embeddings=emb.state["image_embed"], image_pe=self.model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
            repeat_image=sparse.shape[0] > 1, high_res_features=emb.state["high_res_feats"])
        return logits, iou

    def _prediction(self, emb: Embedding, logits: torch.Tensor, iou: torch.Tensor, notes: list[str]) -> Prediction:
        # the logits cover the whole (squashed) image: upsampled straight to its size, as SAM 2 does
        grid = int(logits.shape[-1])
        return Prediction(iou.float().cpu().numpy(), logits.float().cpu().numpy(), (grid, grid), emb.original_size,
                          notes, img_size=grid)

    def video_tracker(self, stack, start: int, labels: np.ndarray, ids, direction: int, channel_axis=None):
        """A :class:`.sam2_video.VideoTracker` of ``ids`` from slice ``start`` one way through
        ``stack`` when this model is SAM 2's video predictor (else None: prompts carry the objects)."""
        from .sam2_video import VideoTracker, is_video_model

        if not is_video_model(self.model):
            return None
        return VideoTracker(self, stack, start, labels, ids, direction, channel_axis)

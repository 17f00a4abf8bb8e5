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
from . import decoder as _dec
from .prompts import Prediction, mask_logits
from .session import Embedding, SamSession

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
        self.fast_decoder = self.fast  # the reordered decoder (sam/decoder.py), checked on the first embedding
        self._decoder_checked = not self.fast

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
        self._check_decoder()
        emb.state = self._state(features, self.fast_decoder)
        return emb

    def _state(self, features: torch.Tensor, fast: bool) -> dict:
        """What clicks on an embedding reuse: its levels as SAM 2's decoder reads them and, for the
        reordered decoder, its prompt-independent tensors (:func:`.decoder.prepare_parts`)."""
        *high_res, coarse = self.unpack(features)
        if self.model.directly_add_no_mem_embed:  # an image alone: no memory of other frames
            coarse = coarse + self.model.no_mem_embed.reshape(1, -1, 1, 1)
        state = {"image_embed": coarse, "high_res_feats": high_res}
        if fast:
            state["fast"] = _dec.prepare_parts(self.model.sam_prompt_encoder, self.model.sam_mask_decoder, coarse)
            state["rows"] = _dec.high_res_rows(high_res[1], high_res[0])  # added after each transposed convolution
        return state

    def _check_decoder(self) -> None:
        """Once, on the first embedding: whether the reordered decoder gives SAM 2's own decoder's
        logits and scores on this model (a random embedding, a click with and without a mask
        prompt, one and three masks); if not, clicks use SAM 2's decoder, said once."""
        if self._decoder_checked:
            return
        self._decoder_checked = True
        why = None
        try:
            generator = torch.Generator(device="cpu").manual_seed(0)
            features = torch.randn(1, self._feature_shape[1], generator=generator).to(self.device)
            state = self._state(features, True)
            probe = Embedding("check", None, features, (self.img_size,) * 2, (self.img_size,) * 2, "check", state)
            points, labels = np.array([[self.img_size / 2, self.img_size / 3]]), np.array([1])
            for mask in (None, np.random.default_rng(0).normal(0, 4, (256, 256))):
                sparse, dense = self._encode_prompts(probe, points, labels, None, mask)
                for multimask in (True, False):
                    fast = self._fast_decode(state, sparse, dense if mask is not None else None, multimask)
                    stock = self._stock_decode(state, sparse, dense, multimask)
                    scale = float(stock[0].abs().max()) or 1.0
                    gap = max(float((fast[0] - stock[0]).abs().max()) / scale, float((fast[1] - stock[1]).abs().max()))
                    if gap > 1e-3:
                        why = f"its masks differ from SAM 2's decoder's by {gap:.2g} of their range"
        except Exception as exc:  # noqa: BLE001 - any failure means the internals are not the ones this follows
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else 'no message'}"
        self.fast_decoder = why is None
        if why is not None:
            self.notify(f"the fast SAM 2 decoder does not fit this model ({why}; checked with sam2 {CHECKED_WITH}): "
                        "clicks use SAM 2's own decoder (same masks, slower)")

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

    def _decode(self, emb: Embedding, sparse: torch.Tensor, dense: torch.Tensor | None, multimask: bool):
        if "fast" in emb.state:
            return self._fast_decode(emb.state, sparse, dense, multimask)
        return self._stock_decode(emb.state, sparse, dense, multimask)

    @torch.inference_mode()
    def _stock_decode(self, state: dict, sparse: torch.Tensor, dense: torch.Tensor | None, multimask: bool):
        """SAM 2's mask decoder as SAM2ImagePredictor calls it."""
        if dense is None:
            n = self.img_size // 16
            dense = self.model.sam_prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                sparse.shape[0], -1, n, n)
        logits, iou, _, _ = self.model.sam_mask_decoder(
            image_embeddings=state["image_embed"], image_pe=self.model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
            repeat_image=sparse.shape[0] > 1, high_res_features=state["high_res_feats"])
        return logits, iou

    @torch.inference_mode()
    def _fast_decode(self, state: dict, sparse: torch.Tensor, dense: torch.Tensor | None, multimask: bool):
        """The same logits and scores through SAM 1's reordered decoder (:mod:`.decoder`): SAM 2's
        decoder is SAM's two-way transformer with an object-score token first and its high-resolution
        maps added in the upscaling."""
        md, fast = self.model.sam_mask_decoder, state["fast"]
        b = sparse.shape[0]
        heads = [md.obj_score_token.weight] if md.pred_obj_scores else []
        out_tokens = torch.cat([*heads, md.iou_token.weight, md.mask_tokens.weight], 0)
        tokens = torch.cat([out_tokens.expand(b, -1, -1), sparse], 1)
        src = fast.src
        if dense is not None:
            src = fast.src - self.model.sam_prompt_encoder.no_mask_embed.weight + dense.flatten(2).transpose(1, 2)
        hs, keys = _dec.two_way_transformer(md.transformer, fast, src, tokens)
        s = len(heads)
        hyper = torch.stack([md.output_hypernetworks_mlps[i](hs[:, s + 1 + i]) for i in range(md.num_mask_tokens)], 1)
        side = self.img_size // 16
        logits = _dec.upscale_logits(md, keys, hyper, side, state["rows"])
        iou = md.iou_prediction_head(hs[:, s])
        if multimask:
            return logits[:, 1:], iou[:, 1:]
        if md.dynamic_multimask_via_stability and not md.training:  # as SAM 2's decoder chooses one mask
            return md._dynamic_multimask_via_stability(logits, iou)  # sam2's own rule (checked in _check_decoder)
        return logits[:, :1], iou[:, :1]

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

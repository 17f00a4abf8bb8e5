"""A faster per-click path through SAM's prompt encoder and mask decoder, with the same weights.

The stock ``SamPredictor.predict`` spends nearly all of a click in the mask decoder's two-way
transformer (linear projections of all 64 x 64 image tokens), its output upscaling (two transposed
convolutions) and the upsampling of every candidate mask to full size. The same arithmetic is done
here in a cheaper order; only floating-point rounding differs:

* per image, the first block's projections of the image tokens (keys, values and image-side
  queries) are computed once, since without a mask prompt they do not depend on the click;
* with few prompt tokens, attention is reassociated so that the prompt side is projected into the
  256-wide embedding instead of projecting 4096 image tokens (``q W_k`` times the keys rather than
  ``q`` times ``keys W_k``);
* the 2 x 2, stride-2 transposed convolutions do not overlap, so they are two matrix products on
  the (pixels x channels) layout the transformer already has, with layer norm on the last axis;
* only the mask that is shown is upsampled to full size, and only inside the box of its positive
  low-resolution logits (bilinear interpolation is positive nowhere else).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DecoderState", "decode", "upsample_mask"]

# above this many prompt tokens the stock projection order is cheaper than the reassociated one
_REASSOCIATE_MAX_TOKENS = 14


@dataclass
class DecoderState:
    """Per-image tensors of the first transformer block that do not depend on the prompts."""

    src: torch.Tensor  # (N, C) image tokens + no-mask embedding
    pe: torch.Tensor  # (N, C) positional encoding
    k0: torch.Tensor  # (H, N, d) first block, token->image keys
    v0: torch.Tensor  # (H, N, d) first block, token->image values
    q0: torch.Tensor  # (H, d, N) first block, image->token queries (transposed)


def _heads(x: torch.Tensor, h: int) -> torch.Tensor:
    n, c = x.shape
    return x.reshape(n, h, c // h).transpose(0, 1)


@torch.inference_mode()
def prepare(model, features: torch.Tensor) -> DecoderState:
    """The prompt-independent tensors of one image embedding (``features``: 1 x C x h x w)."""
    pe_mod, md = model.prompt_encoder, model.mask_decoder
    pe = pe_mod.get_dense_pe()[0].flatten(1).T.contiguous()
    src = (features[0] + pe_mod.no_mask_embed.weight.reshape(-1, 1, 1)).flatten(1).T.contiguous()
    block = md.transformer.layers[0]
    t2i, i2t = block.cross_attn_token_to_image, block.cross_attn_image_to_token
    h = t2i.num_heads
    return DecoderState(
        src=src, pe=pe,
        k0=_heads(t2i.k_proj(src + pe), h), v0=_heads(t2i.v_proj(src), h),
        q0=_heads(i2t.q_proj(src + pe), i2t.num_heads).transpose(1, 2).contiguous(),
    )


def _attend_tokens_to_image(att, q_in, k_in, v_in, kv=None):
    """``att(q=q_in, k=k_in, v=v_in)`` with few queries (prompt tokens) and many keys (pixels)."""
    h = att.num_heads
    n = q_in.shape[0]
    q = _heads(att.q_proj(q_in), h)  # (H, n, d)
    d = q.shape[-1]
    if kv is not None:  # keys and values already projected
        k, v = kv
        p = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1)
        out = (p @ v).transpose(0, 1).reshape(n, h * d)
        return att.out_proj(out)
    wk = att.k_proj.weight.reshape(h, d, -1)
    bk = att.k_proj.bias.reshape(h, d)
    qk = q @ wk  # (H, n, C)
    scores = (qk.reshape(h * n, -1) @ k_in.T).reshape(h, n, -1) + (q * bk[:, None]).sum(-1, keepdim=True)
    p = torch.softmax(scores / math.sqrt(d), dim=-1)
    pv = (p.reshape(h * n, -1) @ v_in).reshape(h, n, -1)  # (H, n, C)
    wv = att.v_proj.weight.reshape(h, d, -1)
    out = pv @ wv.transpose(1, 2) + att.v_proj.bias.reshape(h, 1, d)  # rows of p sum to 1
    return att.out_proj(out.transpose(0, 1).reshape(n, h * d))


def _attend_image_to_tokens(att, q_in, k_in, v_in, q=None):
    """``att(q=q_in, k=k_in, v=v_in)`` with many queries (pixels) and few keys (prompt tokens)."""
    h = att.num_heads
    n = k_in.shape[0]
    k = _heads(att.k_proj(k_in), h)  # (H, n, d)
    v = _heads(att.v_proj(v_in), h)
    d = k.shape[-1]
    if q is None:  # scores laid out (H n, N): softmax over a short middle axis is fast, a short last one is not
        wq = att.q_proj.weight.reshape(h, d, -1)
        a = (k @ wq).reshape(h * n, -1)  # (H n, C)
        bias = (k * att.q_proj.bias.reshape(h, 1, d)).sum(-1).reshape(h * n, 1)
        scores = torch.addmm(bias, a, q_in.T)  # (H n, N)
    else:
        scores = k @ q  # (H, n, N)
    p = torch.softmax(scores.reshape(h, n, -1) / math.sqrt(d), dim=1).reshape(h * n, -1)
    wo = att.out_proj.weight.reshape(-1, h, d).permute(1, 2, 0)  # (H, d, C)
    vw = (v @ wo).reshape(h * n, -1)  # (H n, C)
    return torch.addmm(att.out_proj.bias, p.T, vw)


def _stock(att, q_in, k_in, v_in):
    return att(q_in[None], k_in[None], v_in[None])[0]


def _transformer(tr, state: DecoderState, src: torch.Tensor, tokens: torch.Tensor):
    """TwoWayTransformer.forward for one prompt set: (queries, keys), both 2-D."""
    few = tokens.shape[0] <= _REASSOCIATE_MAX_TOKENS
    cached = src is state.src
    pe = state.pe
    queries, keys = tokens, src
    for i, block in enumerate(tr.layers):
        if block.skip_first_layer_pe:
            queries = _stock(block.self_attn, queries, queries, queries)
        else:
            q = queries + tokens
            queries = queries + _stock(block.self_attn, q, q, queries)
        queries = block.norm1(queries)
        q = queries + tokens
        first = i == 0 and cached
        kpe = None if first else keys + pe
        if first:
            out = _attend_tokens_to_image(block.cross_attn_token_to_image, q, None, None, kv=(state.k0, state.v0))
        elif few:
            out = _attend_tokens_to_image(block.cross_attn_token_to_image, q, kpe, keys)
        else:
            out = _stock(block.cross_attn_token_to_image, q, kpe, keys)
        queries = block.norm2(queries + out)
        queries = block.norm3(queries + block.mlp(queries))
        q = queries + tokens
        if few or first:
            out = _attend_image_to_tokens(block.cross_attn_image_to_token, kpe, q, queries, q=state.q0 if first else None)
        else:
            out = _stock(block.cross_attn_image_to_token, kpe, q, queries)
        keys = block.norm4(keys + out)
    q = queries + tokens
    kpe = keys + pe
    if few:
        out = _attend_tokens_to_image(tr.final_attn_token_to_image, q, kpe, keys)
    else:
        out = _stock(tr.final_attn_token_to_image, q, kpe, keys)
    return tr.norm_final_attn(queries + out), keys


def _upscale_logits(md, keys: torch.Tensor, hyper: torch.Tensor, side: int) -> torch.Tensor:
    """``hyper @ output_upscaling(keys)`` as two matrix products: (masks, 4 side, 4 side)."""
    up1, ln, act1, up2, act2 = md.output_upscaling
    c1, c2 = up1.out_channels, up2.out_channels
    w1 = up1.weight.permute(0, 2, 3, 1).reshape(up1.in_channels, 4 * c1)  # (C, (a b o))
    x = torch.addmm(up1.bias.repeat(4), keys, w1).reshape(-1, c1)  # (N 4, c1)
    x = act1(F.layer_norm(x, (c1,), ln.weight, ln.bias, ln.eps))
    w2 = up2.weight.permute(0, 2, 3, 1).reshape(c1, 4 * c2)
    x = act2(torch.addmm(up2.bias.repeat(4), x, w2).reshape(-1, c2))  # (N 16, c2)
    m = (x @ hyper.T).reshape(side, side, 2, 2, 2, 2, -1)  # i j a b c e k
    return m.permute(6, 0, 2, 4, 1, 3, 5).reshape(-1, 4 * side, 4 * side)


@torch.inference_mode()
def decode(model, state: DecoderState, sparse: torch.Tensor, dense: torch.Tensor | None, multimask: bool):
    """Low-resolution mask logits (k, 256, 256) and predicted IoUs (k,) for one prompt set.

    ``sparse`` is the prompt encoder's (1, n, C) output; ``dense`` its mask embedding, or ``None``
    when no mask prompt is given (then the cached first block is used).
    """
    md = model.mask_decoder
    tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight, sparse[0]], 0)
    src = state.src if dense is None else (state.src - model.prompt_encoder.no_mask_embed.weight
                                           + dense[0].flatten(1).T)
    hs, keys = _transformer(md.transformer, state, src, tokens)
    n_masks = md.num_mask_tokens
    sl = slice(1, None) if multimask else slice(0, 1)
    idx = range(n_masks)[sl]
    hyper = torch.stack([md.output_hypernetworks_mlps[i](hs[1 + i]) for i in idx], 0)
    side = int(round(math.sqrt(keys.shape[0])))
    logits = _upscale_logits(md, keys, hyper, side)
    iou = md.iou_prediction_head(hs[0])[sl]
    return logits, iou


def upsample_mask(logits: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int],
                  img_size: int = 1024) -> np.ndarray:
    """``Sam.postprocess_masks(...) > 0`` for one (256, 256) logit map, computed only inside the box
    of its positive logits (bilinear interpolation of non-positive values is non-positive)."""
    h, w = original_size
    out = np.zeros((h, w), bool)
    low = logits.shape[0]
    pos = logits > 0
    if not pos.any():
        return out
    rows, cols = np.flatnonzero(pos.any(1)), np.flatnonzero(pos.any(0))
    r0, r1, c0, c1 = max(rows[0] - 1, 0), min(rows[-1] + 2, low), max(cols[0] - 1, 0), min(cols[-1] + 2, low)
    # bilinear (half-pixel centres) low -> img_size; the box in img_size coordinates
    s1 = img_size / low
    y0, y1 = int(r0 * s1), min(int(math.ceil(r1 * s1)), input_size[0])
    x0, x1 = int(c0 * s1), min(int(math.ceil(c1 * s1)), input_size[1])
    if y1 <= y0 or x1 <= x0:
        return out
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    if (y1 - y0) * (x1 - x0) > 0.2 * input_size[0] * input_size[1]:  # large: OpenCV's SIMD resize wins
        big = cv2.resize(logits, (img_size, img_size), interpolation=cv2.INTER_LINEAR)[: input_size[0], : input_size[1]]
        if (h, w) != tuple(input_size):
            big = cv2.resize(big, (w, h), interpolation=cv2.INTER_LINEAR)
        return big > 0
    big = _resize_region(logits, (img_size, img_size), (y0, y1, x0, x1))
    if (h, w) == tuple(input_size):
        out[y0:y1, x0:x1] = big > 0
        return out
    # second bilinear step: input_size -> original_size, again only where it can be positive
    s2y, s2x = h / input_size[0], w / input_size[1]
    oy0, oy1 = max(int((y0 - 1) * s2y), 0), min(int(math.ceil((y1 + 1) * s2y)), h)
    ox0, ox1 = max(int((x0 - 1) * s2x), 0), min(int(math.ceil((x1 + 1) * s2x)), w)
    full = np.full(tuple(input_size), -1.0, np.float32)
    full[y0:y1, x0:x1] = big
    out[oy0:oy1, ox0:ox1] = _resize_region(full, (h, w), (oy0, oy1, ox0, ox1)) > 0
    return out


def _axis(n_src: int, n_dst: int, lo: int, hi: int):
    """Source indices and weights of destination samples lo:hi (half-pixel centres, clamped)."""
    c = np.clip((np.arange(lo, hi) + 0.5) * (n_src / n_dst) - 0.5, 0, n_src - 1)
    i0 = np.floor(c).astype(np.intp)
    return i0, np.minimum(i0 + 1, n_src - 1), (c - i0).astype(np.float32)


def _resize_region(src: np.ndarray, size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Rows y0:y1, columns x0:x1 of a bilinear resize of ``src`` to ``size`` (half-pixel centres, as
    ``F.interpolate(..., mode="bilinear", align_corners=False)``), without the rest of the image."""
    y0, y1, x0, x1 = box
    a0, a1, wy = _axis(src.shape[0], size[0], y0, y1)
    b0, b1, wx = _axis(src.shape[1], size[1], x0, x1)
    rows = src[a0] * (1 - wy)[:, None] + src[a1] * wy[:, None]
    return rows[:, b0] * (1 - wx) + rows[:, b1] * wx

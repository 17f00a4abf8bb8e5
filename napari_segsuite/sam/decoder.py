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

It reads segment-anything's module internals (attribute names, head counts, layer order), checked
against segment-anything ``CHECKED_WITH``. :func:`fits` runs one click through both paths; a
session whose model does not fit (another version, a fine-tuned variant with other layers) uses the
stock decoder and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import cv_compat

__all__ = ["CHECKED_WITH", "DecoderState", "decode", "fits", "prepare", "prepare_parts", "two_way_transformer",
           "high_res_rows", "upscale_logits", "upsample_mask", "upsample_mask_on_device", "upsample_region"]

CHECKED_WITH = "1.0"  # the segment-anything release whose internals this module was written against

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


@torch.inference_mode()
def prepare(model, features: torch.Tensor) -> DecoderState:
    """The prompt-independent tensors of one image embedding (``features``: 1 x C x h x w)."""
    return prepare_parts(model.prompt_encoder, model.mask_decoder, features)


@torch.inference_mode()
def prepare_parts(pe_mod, md, features: torch.Tensor) -> DecoderState:
    """:func:`prepare` for a prompt encoder and a mask decoder given apart (SAM 2 names them
    ``sam_prompt_encoder`` and ``sam_mask_decoder``; their transformer is SAM's)."""
    pe = pe_mod.get_dense_pe()[0].flatten(1).T.contiguous()
    src = (features[0] + pe_mod.no_mask_embed.weight.reshape(-1, 1, 1)).flatten(1).T.contiguous()
    block = md.transformer.layers[0]
    t2i, i2t = block.cross_attn_token_to_image, block.cross_attn_image_to_token
    h = t2i.num_heads
    return DecoderState(
        src=src, pe=pe,
        k0=_bheads(t2i.k_proj(src + pe)[None], h)[0], v0=_bheads(t2i.v_proj(src)[None], h)[0],
        q0=_bheads(i2t.q_proj(src + pe)[None], i2t.num_heads)[0].transpose(1, 2).contiguous(),
    )


@torch.inference_mode()
def fits(model) -> str | None:
    """None when the fast path gives the stock mask decoder's logits and IoUs on ``model`` (one
    positive point on a random embedding, to 1e-3 of the logits' range); otherwise why not."""
    try:
        pe = model.prompt_encoder
        device = pe.no_mask_embed.weight.device
        side = tuple(pe.image_embedding_size)
        generator = torch.Generator(device="cpu").manual_seed(0)
        features = torch.randn(1, pe.embed_dim, *side, generator=generator).to(device)
        point = torch.tensor([[[side[1] * 8.0, side[0] * 8.0]]], device=device), torch.ones(1, 1, dtype=torch.int, device=device)
        sparse, dense = pe(points=point, boxes=None, masks=None)
        fast, fast_iou = decode(model, prepare(model, features), sparse, None, True)
        stock, stock_iou = model.mask_decoder(features, pe.get_dense_pe(), sparse, dense, True)
        scale = float(stock.abs().max()) or 1.0
        gap = max(float((fast - stock).abs().max()) / scale, float((fast_iou - stock_iou).abs().max()))
    except Exception as exc:  # noqa: BLE001 - any failure means the internals are not the ones this module knows
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else 'no message'}"
    return None if gap <= 1e-3 else f"its masks differ from the stock decoder's by {gap:.2g} of their range"


def _bheads(x: torch.Tensor, h: int) -> torch.Tensor:
    """(B, n, c) -> (B, H, n, c / H)."""
    b, n, c = x.shape
    return x.reshape(b, n, h, c // h).transpose(1, 2)


def _attend_tokens_to_image(att, q_in, k_in, v_in, kv=None):
    """``att(q=q_in, k=k_in, v=v_in)`` for a batch of prompt sets (B, n, C) with few queries
    (prompt tokens) and many keys (pixels, (B, N, C)); ``kv``: keys and values already projected
    and shared by the batch, (H, N, d) each."""
    h = att.num_heads
    b, n, _ = q_in.shape
    q = _bheads(att.q_proj(q_in), h)  # (B, H, n, d)
    d = q.shape[-1]
    if kv is not None:
        k, v = kv
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)  # (B, H, n, N)
        return att.out_proj((p @ v).transpose(1, 2).reshape(b, n, h * d))
    wk = att.k_proj.weight.reshape(h, d, -1)
    qk = (q @ wk).reshape(b, h * n, -1)  # (B, H n, C): q W_k instead of W_k on every pixel
    bias = (q * att.k_proj.bias.reshape(h, 1, d)).sum(-1).reshape(b, h * n, 1)
    scores = torch.baddbmm(bias, qk, k_in.transpose(1, 2))  # (B, H n, N)
    p = torch.softmax(scores / math.sqrt(d), dim=-1)
    pv = (p @ v_in).reshape(b, h, n, -1)  # (B, H, n, C)
    wv = att.v_proj.weight.reshape(h, d, -1)
    out = pv @ wv.transpose(1, 2) + att.v_proj.bias.reshape(h, 1, d)  # rows of p sum to 1
    return att.out_proj(out.transpose(1, 2).reshape(b, n, h * d))


def _attend_image_to_tokens(att, q_in, k_in, v_in, q=None):
    """``att(q=q_in, k=k_in, v=v_in)`` with many queries (pixels, (B, N, C)) and few keys (prompt
    tokens, (B, n, C)); ``q``: the queries already projected and shared by the batch, (H, d, N)."""
    h = att.num_heads
    b, n, _ = k_in.shape
    k = _bheads(att.k_proj(k_in), h)  # (B, H, n, d)
    v = _bheads(att.v_proj(v_in), h)
    d = k.shape[-1]
    if q is None:  # scores laid out (H n, N): softmax over a short middle axis is fast, a short last one is not
        wq = att.q_proj.weight.reshape(h, d, -1)
        a = (k @ wq).reshape(b, h * n, -1)  # (B, H n, C)
        bias = (k * att.q_proj.bias.reshape(h, 1, d)).sum(-1).reshape(b, h * n, 1)
        scores = torch.baddbmm(bias, a, q_in.transpose(1, 2))  # (B, H n, N)
    else:
        scores = k @ q  # (B, H, n, N)
    p = torch.softmax(scores.reshape(b, h, n, -1) / math.sqrt(d), dim=2).reshape(b, h * n, -1)
    wo = att.out_proj.weight.reshape(-1, h, d).permute(1, 2, 0)  # (H, d, C)
    vw = (v @ wo).reshape(b, h * n, -1)  # (B, H n, C)
    return torch.baddbmm(att.out_proj.bias.expand(b, 1, -1), p.transpose(1, 2), vw)


def two_way_transformer(tr, state: DecoderState, src: torch.Tensor, tokens: torch.Tensor):
    """TwoWayTransformer.forward for a batch of prompt sets: tokens (B, n, C), ``src`` the shared
    image tokens (N, C) (then the first block's projections come from ``state``) or per-prompt ones
    (B, N, C). Returns (queries, keys)."""
    b = tokens.shape[0]
    few = tokens.shape[1] <= _REASSOCIATE_MAX_TOKENS
    cached = src is state.src
    pe = state.pe
    queries = tokens
    keys = src if src.dim() == 3 else src.expand(b, -1, -1)
    for i, block in enumerate(tr.layers):
        if block.skip_first_layer_pe:
            queries = block.self_attn(q=queries, k=queries, v=queries)
        else:
            q = queries + tokens
            queries = queries + block.self_attn(q=q, k=q, v=queries)
        queries = block.norm1(queries)
        q = queries + tokens
        first = i == 0 and cached
        kpe = None if first else keys + pe
        if first:
            out = _attend_tokens_to_image(block.cross_attn_token_to_image, q, None, None, kv=(state.k0, state.v0))
        elif few:
            out = _attend_tokens_to_image(block.cross_attn_token_to_image, q, kpe, keys)
        else:
            out = block.cross_attn_token_to_image(q=q, k=kpe, v=keys)
        queries = block.norm2(queries + out)
        queries = block.norm3(queries + block.mlp(queries))
        q = queries + tokens
        if few or first:
            out = _attend_image_to_tokens(block.cross_attn_image_to_token, kpe, q, queries, q=state.q0 if first else None)
        else:
            out = block.cross_attn_image_to_token(q=kpe, k=q, v=queries)
        keys = block.norm4(keys + out)
    q = queries + tokens
    kpe = keys + pe
    if few:
        out = _attend_tokens_to_image(tr.final_attn_token_to_image, q, kpe, keys)
    else:
        out = tr.final_attn_token_to_image(q=q, k=kpe, v=keys)
    return tr.norm_final_attn(queries + out), keys


def upscale_logits(md, keys: torch.Tensor, hyper: torch.Tensor, side: int,
                   high_res: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """``hyper @ output_upscaling(keys)`` as two matrix products: keys (B, N, C), hyper (B, k, c2)
    -> (B, k, 4 side, 4 side). ``high_res``: SAM 2's feature maps added after each transposed
    convolution, laid out as their rows (:func:`high_res_rows`)."""
    up1, ln, act1, up2, act2 = md.output_upscaling
    c1, c2 = up1.out_channels, up2.out_channels
    b = keys.shape[0]
    w1 = up1.weight.permute(0, 2, 3, 1).reshape(up1.in_channels, 4 * c1)  # (C, (a b o))
    x = torch.addmm(up1.bias.repeat(4), keys.reshape(-1, keys.shape[-1]), w1).reshape(b, -1, c1)  # (B, N 4, c1)
    if high_res is not None:
        x = x + high_res[0]
    x = act1(F.layer_norm(x.reshape(-1, c1), (c1,), ln.weight, ln.bias, ln.eps))
    w2 = up2.weight.permute(0, 2, 3, 1).reshape(c1, 4 * c2)
    x = torch.addmm(up2.bias.repeat(4), x, w2).reshape(b, -1, c2)  # (B, N 16, c2)
    x = act2(x + high_res[1] if high_res is not None else x)
    m = (x @ hyper.transpose(1, 2)).reshape(b, side, side, 2, 2, 2, 2, -1)  # B i j a b c e k
    return m.permute(0, 7, 1, 3, 5, 2, 4, 6).reshape(b, -1, 4 * side, 4 * side)


@torch.inference_mode()
def decode(model, state: DecoderState, sparse: torch.Tensor, dense: torch.Tensor | None, multimask: bool):
    """Low-resolution mask logits (B, k, 256, 256) and predicted IoUs (B, k) for a batch of prompt
    sets of equal length.

    ``sparse`` is the prompt encoder's (B, n, C) output; ``dense`` its (B, C, h, w) mask
    embedding, or ``None`` when no mask prompt is given (then the cached first block is used).
    """
    md = model.mask_decoder
    b = sparse.shape[0]
    out_tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], 0)
    tokens = torch.cat([out_tokens.expand(b, -1, -1), sparse], 1)
    if dense is None:
        src = state.src
    else:
        src = state.src - model.prompt_encoder.no_mask_embed.weight + dense.flatten(2).transpose(1, 2)
    hs, keys = two_way_transformer(md.transformer, state, src, tokens)
    n_masks = md.num_mask_tokens
    sl = slice(1, None) if multimask else slice(0, 1)
    idx = range(n_masks)[sl]
    hyper = torch.stack([md.output_hypernetworks_mlps[i](hs[:, 1 + i]) for i in idx], 1)  # (B, k, c2)
    side = int(round(math.sqrt(keys.shape[1])))
    logits = upscale_logits(md, keys, hyper, side)
    iou = md.iou_prediction_head(hs[:, 0])[:, sl]
    return logits, iou


def high_res_rows(feat_s1: torch.Tensor, feat_s0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM 2's high-resolution maps ((1, c1, 2h, 2w) and (1, c2, 4h, 4w)) as the rows
    :func:`upscale_logits` produces after each transposed convolution: pixel (2i+a, 2j+b) at row
    (i, j, a, b), and (4i+2a+c, 4j+2b+e) at row (i, j, a, b, c, e)."""
    c1, h2, w2 = feat_s1.shape[1:]
    h, w = h2 // 2, w2 // 2
    s1 = feat_s1[0].reshape(c1, h, 2, w, 2).permute(1, 3, 2, 4, 0).reshape(1, -1, c1)
    c2 = feat_s0.shape[1]
    s0 = feat_s0[0].reshape(c2, h, 2, 2, w, 2, 2).permute(1, 4, 2, 5, 3, 6, 0).reshape(1, -1, c2)
    return s1.contiguous(), s0.contiguous()


def _box_above(logits: np.ndarray, level: float, input_size: tuple[int, int], img_size: int):
    """(y0, y1, x0, x1) in ``img_size`` coordinates (cropped to ``input_size``) outside which the
    bilinear upsampling of ``logits`` stays at or below ``level``; ``None`` when nothing exceeds it."""
    low = logits.shape[0]
    above = logits > level
    if not above.any():
        return None
    rows, cols = np.flatnonzero(above.any(1)), np.flatnonzero(above.any(0))
    r0, r1, c0, c1 = max(rows[0] - 1, 0), min(rows[-1] + 2, low), max(cols[0] - 1, 0), min(cols[-1] + 2, low)
    s1 = img_size / low  # bilinear, half-pixel centres: one low-resolution pixel of margin suffices
    y0, y1 = int(r0 * s1), min(int(math.ceil(r1 * s1)), input_size[0])
    x0, x1 = int(c0 * s1), min(int(math.ceil(c1 * s1)), input_size[1])
    if y1 <= y0 or x1 <= x0:
        return None
    return y0, y1, x0, x1


def _upsample_box(logits, box, input_size, original_size, level: float, img_size: int):
    """The full-size logits (``Sam.postprocess_masks``) inside ``box`` and its corner (y0, x0) in
    ``original_size`` coordinates; everything outside is at or below ``level``."""
    y0, y1, x0, x1 = box
    big = _resize_region(logits, (img_size, img_size), box)
    h, w = original_size
    if (h, w) == tuple(input_size):
        return big, y0, x0
    # second bilinear step: input_size -> original_size, again only where it can exceed ``level``
    s2y, s2x = h / input_size[0], w / input_size[1]
    oy0, oy1 = max(int((y0 - 1) * s2y), 0), min(int(math.ceil((y1 + 1) * s2y)), h)
    ox0, ox1 = max(int((x0 - 1) * s2x), 0), min(int(math.ceil((x1 + 1) * s2x)), w)
    # the input-size logits, only over the rows and columns the second step reads
    (r0, *_), (*_, r1), _ = _axis(input_size[0], h, oy0, oy1)
    (c0, *_), (*_, c1), _ = _axis(input_size[1], w, ox0, ox1)
    r0, r1, c0, c1 = int(r0), int(r1) + 1, int(c0), int(c1) + 1
    part = np.full((r1 - r0, c1 - c0), level - 1.0, np.float32)
    py0, py1, px0, px1 = max(y0, r0), min(y1, r1), max(x0, c0), min(x1, c1)
    part[py0 - r0:py1 - r0, px0 - c0:px1 - c0] = big[py0 - y0:py1 - y0, px0 - x0:px1 - x0]
    return _resize_region(part, (h, w), (oy0, oy1, ox0, ox1), tuple(input_size), (r0, c0)), oy0, ox0


def upsample_region(logits: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int],
                    level: float = 0.0, img_size: int = 1024):
    """``Sam.postprocess_masks`` of one (256, 256) logit map, computed only inside the box where it
    can exceed ``level`` (bilinear interpolation of values at or below it stays at or below it):
    ``(values, y0, x0)`` with the box's corner in ``original_size`` coordinates, or ``None``."""
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    box = _box_above(logits, level, input_size, img_size)
    return None if box is None else _upsample_box(logits, box, input_size, original_size, level, img_size)


def upsample_mask(logits: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int],
                  img_size: int = 1024) -> np.ndarray:
    """``Sam.postprocess_masks(...) > 0`` for one (256, 256) logit map, computed only inside the box
    of its positive logits."""
    h, w = original_size
    out = np.zeros((h, w), bool)
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    box = _box_above(logits, 0.0, input_size, img_size)
    if box is None:
        return out
    y0, y1, x0, x1 = box
    if (y1 - y0) * (x1 - x0) > 0.05 * input_size[0] * input_size[1]:  # larger: OpenCV's SIMD resize of it all wins
        big = cv_compat.resize(logits, (img_size, img_size), "linear")[: input_size[0], : input_size[1]]
        if (h, w) != tuple(input_size):
            big = cv_compat.resize(big, (h, w), "linear")
        return big > 0
    values, oy, ox = _upsample_box(logits, box, input_size, original_size, 0.0, img_size)
    out[oy:oy + values.shape[0], ox:ox + values.shape[1]] = values > 0
    return out


@torch.inference_mode()
def upsample_mask_on_device(logits: torch.Tensor, input_size: tuple[int, int], original_size: tuple[int, int],
                            img_size: int = 1024) -> np.ndarray:
    """``Sam.postprocess_masks(...) > 0`` for one (256, 256) logit tensor, computed where it is (on
    a GPU: two interpolations there, and only the bool mask copied back). For large images on a
    GPU, where the CPU's upsampling of a large mask costs more than the whole decoder."""
    x = F.interpolate(logits[None, None].float(), (img_size, img_size), mode="bilinear", align_corners=False)
    x = F.interpolate(x[..., : input_size[0], : input_size[1]], tuple(original_size), mode="bilinear", align_corners=False)
    return (x[0, 0] > 0).cpu().numpy()


def _axis(n_src: int, n_dst: int, lo: int, hi: int):
    """Source indices and weights of destination samples lo:hi (half-pixel centres, clamped)."""
    c = np.clip((np.arange(lo, hi) + 0.5) * (n_src / n_dst) - 0.5, 0, n_src - 1)
    i0 = np.floor(c).astype(np.intp)
    return i0, np.minimum(i0 + 1, n_src - 1), (c - i0).astype(np.float32)


def _resize_region(src: np.ndarray, size: tuple[int, int], box: tuple[int, int, int, int],
                   src_shape: tuple[int, int] | None = None, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Rows y0:y1, columns x0:x1 of a bilinear resize to ``size`` of an image of ``src_shape``
    (half-pixel centres, as ``F.interpolate(..., mode="bilinear", align_corners=False)``), without
    the rest of the image. ``src`` may be only the part of that image that the box reads, placed
    at ``origin`` in it (default: all of it)."""
    y0, y1, x0, x1 = box
    src_shape = src.shape if src_shape is None else src_shape
    a0, a1, wy = _axis(src_shape[0], size[0], y0, y1)
    b0, b1, wx = _axis(src_shape[1], size[1], x0, x1)
    a0, a1, b0, b1 = a0 - origin[0], a1 - origin[0], b0 - origin[1], b1 - origin[1]
    lo, hi = int(b0[0]), int(b1[-1]) + 1  # only the columns the box reads: rows cost the box, not the width
    cols = src[:, lo:hi]
    rows = cols[a0] * (1 - wy)[:, None] + cols[a1] * wy[:, None]
    return rows.take(b0 - lo, axis=1) * (1 - wx) + rows.take(b1 - lo, axis=1) * wx  # take: 3x faster than [:, idx]

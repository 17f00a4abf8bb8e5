"""Fast paths for SAM's image encoder: fused scaled-dot-product attention (SDPA).

``use_sdpa(encoder)`` swaps each attention block's forward for one that calls
``F.scaled_dot_product_attention``: the same function, computed by the fused kernels the hardware
offers. SAM adds a decomposed relative-position bias to the attention logits, which the fused
kernels cannot take as a dense mask without losing their speed. Two ways to pass it:

- ``relpos="folded"`` (default): the bias is folded into the dot product. For a query at (i, j)
  and a key at (m, n) the bias is ``rel_h[i, j, m] + rel_w[i, j, n]``; appending ``rel_h[i, j, :]``
  and ``rel_w[i, j, :]`` to the query and the one-hot codes of m and n to the key gives
  ``q'.k' = scale * q.k + rel_h + rel_w`` exactly, so SDPA runs with no mask (the flash or cuDNN
  kernel on CUDA). The value is zero-padded to the same width, which the flash kernel needs.
- ``relpos="mask"``: the bias as a dense additive mask (a little slower on CUDA; kept to compare).

``with sdpa_attention(encoder):`` does so only while inside: on leaving, every block is as it was.
``SamSession`` uses it around each of its encoder runs, so a model a caller passes in is never
left changed. ``SamSession(fast=True)`` uses the folded form on every device (benchmarks/sam_encoder.py measures
both on CUDA: on an H100 the folded form with bf16 autocast is 3.2x faster than stock fp32 for
vit_b, 5.4x for vit_h). On CUDA the session also replays the encoder as a CUDA graph
(:class:`GraphedEncoder`): 5.2x and 5.8x.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
import torch.nn.functional as F

__all__ = ["GraphedEncoder", "sdpa_attention", "use_sdpa", "use_stock_attention"]


def _rel_pos_table(rel_pos: torch.Tensor, size: int) -> torch.Tensor:
    """``get_rel_pos(size, size, rel_pos)``: the table's row for every (query, key) offset, indexed
    on the table's own device (the stock code indexes with a CPU tensor, a blocking copy per block
    that also rules out CUDA graphs); tables of another length go to the stock code."""
    if rel_pos.shape[0] != 2 * size - 1:
        from .._no_triton import import_segment_anything

        return import_segment_anything().modeling.image_encoder.get_rel_pos(size, size, rel_pos)
    idx = torch.arange(size, device=rel_pos.device)
    return rel_pos[idx[:, None] - idx[None, :] + (size - 1)]


def _rel_pos_terms(attn, q: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM's decomposed relative-position terms for queries ``q`` (B, h*w, C): rel_h (B, h, w, h)
    and rel_w (B, h, w, w), as ``add_decomposed_rel_pos`` computes them (from the unscaled q)."""
    rh = _rel_pos_table(attn.rel_pos_h, h).to(q.dtype)
    rw = _rel_pos_table(attn.rel_pos_w, w).to(q.dtype)
    r_q = q.reshape(q.shape[0], h, w, -1)
    return torch.einsum("bhwc,hkc->bhwk", r_q, rh), torch.einsum("bhwc,wkc->bhwk", r_q, rw)


def _folded_qkv(attn, q, k, v, h: int, w: int):
    """Queries, keys and values whose plain dot product carries the scale and the rel-pos bias."""
    rel_h, rel_w = _rel_pos_terms(attn, q, h, w)
    n, tokens, dim = q.shape
    width = dim + h + w
    width += -width % 8  # the fused kernels want the head width a multiple of 8
    qf = q.new_zeros(n, tokens, width)
    qf[..., :dim] = q * attn.scale
    qf[..., dim:dim + h] = rel_h.reshape(n, tokens, h)
    qf[..., dim + h:dim + h + w] = rel_w.reshape(n, tokens, w)
    kf = k.new_zeros(n, tokens, width)
    kf[..., :dim] = k
    rows = torch.arange(tokens, device=k.device)[:, None]
    codes = torch.arange(max(h, w), device=k.device)
    # one-hot codes of the key's row m and column n, built on the device (no host-side scalars)
    kf[..., dim:dim + h] = (rows // w == codes[:h]).to(k.dtype)
    kf[..., dim + h:dim + h + w] = (rows % w == codes[:w]).to(k.dtype)
    vf = F.pad(v, (0, width - dim))
    return qf, kf, vf


def _sdpa_forward(self, x: torch.Tensor) -> torch.Tensor:
    b, h, w, _ = x.shape
    qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, b * self.num_heads, h * w, -1).unbind(0)
    dim = q.shape[-1]
    # the fused kernels take 4D (batch, heads, tokens, width) only: a leading axis of 1 is added
    if not self.use_rel_pos:
        out = F.scaled_dot_product_attention(q[None], k[None], v[None], scale=self.scale)[0]
    elif self._relpos == "folded":
        qf, kf, vf = _folded_qkv(self, q, k, v, h, w)
        out = F.scaled_dot_product_attention(qf[None], kf[None], vf[None], scale=1.0)[0, ..., :dim]
    else:
        rel_h, rel_w = _rel_pos_terms(self, q, h, w)
        bias = (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(1, q.shape[0], h * w, h * w)
        out = F.scaled_dot_product_attention(q[None], k[None], v[None], attn_mask=bias, scale=self.scale)[0]
    out = out.reshape(b, self.num_heads, h, w, dim).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
    return self.proj(out)


def _attention_blocks(encoder: torch.nn.Module) -> list[torch.nn.Module]:
    return [b.attn for b in getattr(encoder, "blocks", []) if hasattr(getattr(b, "attn", None), "qkv")]


def use_sdpa(encoder: torch.nn.Module, relpos: Literal["folded", "mask"] = "folded") -> int:
    """Route every attention block of a SAM image encoder through SDPA; returns how many."""
    if relpos not in ("folded", "mask"):
        raise ValueError(f"relpos must be 'folded' or 'mask', not {relpos!r}")
    blocks = _attention_blocks(encoder)
    for attn in blocks:
        attn._relpos = relpos
        attn.forward = types.MethodType(_sdpa_forward, attn)
    return len(blocks)


def use_stock_attention(encoder: torch.nn.Module) -> int:
    """Undo :func:`use_sdpa`: every attention block runs segment-anything's own forward again."""
    blocks = _attention_blocks(encoder)
    for attn in blocks:
        vars(attn).pop("forward", None)
        vars(attn).pop("_relpos", None)
    return len(blocks)


@contextmanager
def sdpa_attention(encoder: torch.nn.Module, relpos: Literal["folded", "mask"] | None = "folded") -> Iterator[int]:
    """While inside, every attention block of ``encoder`` runs through SDPA (``relpos`` as in
    :func:`use_sdpa`; None: segment-anything's own forward); on leaving, each block's forward is
    what it was before. Yields the number of blocks."""
    blocks = _attention_blocks(encoder)
    before = [{k: vars(attn)[k] for k in ("forward", "_relpos") if k in vars(attn)} for attn in blocks]
    try:
        yield use_sdpa(encoder, relpos) if relpos else use_stock_attention(encoder)
    finally:
        for attn, saved in zip(blocks, before):
            for key in ("forward", "_relpos"):
                vars(attn).pop(key, None)
            vars(attn).update(saved)


class GraphedEncoder:
    """A SAM image encoder on CUDA captured once as a CUDA graph, under bf16 autocast, and replayed.

    The encoder always sees one padded ``1 x 3 x S x S`` image, so its kernels never change: the
    capture records them once and each call replays them from one launch, with no per-kernel
    launch cost (on an H100, vit_b 7.6 ms against 12.3 ms launched one by one;
    benchmarks/sam_encoder.py). The graph reads the encoder's weights where they are, so weights
    changed in place are seen; a model moved to another device or switched to other attention
    needs a new capture. Calls return a copy of the output (the graph's own buffer is reused).
    """

    def __init__(self, encoder: torch.nn.Module, size: int, device: torch.device) -> None:
        self.encoder = encoder
        self.input = torch.zeros(1, 3, size, size, device=device)
        with torch.inference_mode():
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):  # warm-up outside the capture: kernel choice, workspaces
                for _ in range(3):
                    self._forward()
            torch.cuda.current_stream(device).wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.output = self._forward()

    def _forward(self) -> torch.Tensor:
        # no autocast weight cache: the casts are recorded in the graph and re-read the weights
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            return self.encoder(self.input).float()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape) != tuple(self.input.shape):
            raise ValueError(f"the captured encoder takes {tuple(self.input.shape)}, not {tuple(x.shape)}")
        with torch.inference_mode():
            self.input.copy_(x)
            self.graph.replay()
            return self.output.clone()

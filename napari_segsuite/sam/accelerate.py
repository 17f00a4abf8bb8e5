"""Fast paths for SAM's image encoder: fused scaled-dot-product attention (SDPA).

``use_sdpa(encoder)`` swaps each attention block's forward for one that calls
``F.scaled_dot_product_attention`` with the decomposed relative-position bias as an additive mask:
the same function, computed by the fused kernels the hardware offers. ``SamSession(sdpa=True)``
applies it on CUDA. It is opt-in: on an H200 with torch 2.11 the dense bias mask makes it slower
than the stock attention under bf16 autocast (benchmarks/sam_encoder.py).
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F

__all__ = ["use_sdpa"]


def _sdpa_forward(self, x: torch.Tensor) -> torch.Tensor:
    from .._no_triton import import_segment_anything

    add_decomposed_rel_pos = import_segment_anything().modeling.image_encoder.add_decomposed_rel_pos

    b, h, w, _ = x.shape
    qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, b * self.num_heads, h * w, -1).unbind(0)
    bias = None
    if self.use_rel_pos:
        zeros = torch.zeros(q.shape[0], h * w, h * w, dtype=q.dtype, device=q.device)
        bias = add_decomposed_rel_pos(zeros, q, self.rel_pos_h, self.rel_pos_w, (h, w), (h, w))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
    out = out.view(b, self.num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
    return self.proj(out)


def use_sdpa(encoder: torch.nn.Module) -> int:
    """Route every attention block of a SAM image encoder through SDPA; returns how many."""
    n = 0
    for block in getattr(encoder, "blocks", []):
        attn = getattr(block, "attn", None)
        if attn is not None and hasattr(attn, "qkv"):
            attn.forward = types.MethodType(_sdpa_forward, attn)
            n += 1
    return n

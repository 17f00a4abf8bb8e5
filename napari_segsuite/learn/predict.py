"""Inference: a trained network over whole images of any size, in overlapping tiles.

Tiles are ``tile`` pixels wide and overlap by ``overlap``; each tile's softmax probabilities are
weighted by a window that falls linearly to a small value at the tile's inner edges, so seams get
the average of both tiles, weighted towards the one that saw more context. Images no larger than a
tile run in one pass. Inference folds batch norm into the convolutions and uses channels-last
memory (about 1.8x faster on CPUs).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["inference_network", "predict_probabilities"]


def inference_network(net: nn.Module, device: torch.device) -> nn.Module:
    """An eval-mode copy of ``net`` on ``device`` with batch norm folded into the convolutions."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    net = copy.deepcopy(net).eval()
    for module in net.modules():
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
            for (name_a, a), (name_b, b) in zip(children, children[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    setattr(module, name_a, fuse_conv_bn_eval(a, b))
                    setattr(module, name_b, nn.Identity())
    net = net.to(device)
    return net.to(memory_format=torch.channels_last) if device.type == "cpu" else net


def _window(size: int, overlap: int) -> np.ndarray:
    ramp = np.ones(size, np.float32)
    if overlap > 0:
        r = np.linspace(1.0 / (overlap + 1), 1.0, overlap, dtype=np.float32)
        ramp[:overlap] = r
        ramp[-overlap:] = r[::-1]
    return ramp


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def predict_probabilities(
    net: nn.Module,
    image: np.ndarray,
    n_outputs: int,
    multiple: int,
    *,
    device: torch.device,
    tile: int = 1024,
    overlap: int = 64,
    batch_size: int = 2,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    flips: bool = False,
) -> np.ndarray:
    """Softmax probabilities ``(n_outputs, H, W)`` of ``net`` (from :func:`inference_network`) on a
    normalised ``(C, H, W)`` image. ``progress(done, total)`` is called per batch of tiles. With
    ``flips``, each tile is also predicted mirrored left-right, top-bottom and both, and the four
    answers (mirrored back) are averaged: four times the work, steadier borders."""
    from ..techniques import Cancelled

    c, h, w = image.shape
    tile = max(multiple, int(math.ceil(tile / multiple)) * multiple)
    overlap = min(overlap, tile // 4)
    # pad to a multiple of the network's down-sampling (and to one tile when smaller)
    ph = max(tile, h) if h > tile else int(math.ceil(h / multiple)) * multiple
    pw = max(tile, w) if w > tile else int(math.ceil(w / multiple)) * multiple
    th, tw = min(tile, ph), min(tile, pw)
    mode = "reflect" if min(h, w) > 1 and ph - h < h and pw - w < w else "edge"
    padded = np.pad(image, ((0, 0), (0, ph - h), (0, pw - w)), mode=mode)
    ys, xs = _starts(ph, th, th - overlap), _starts(pw, tw, tw - overlap)
    wy = _window(th, overlap if len(ys) > 1 else 0)
    wx = _window(tw, overlap if len(xs) > 1 else 0)
    weight = np.outer(wy, wx)
    acc = np.zeros((n_outputs, ph, pw), np.float32)
    norm = np.zeros((ph, pw), np.float32)
    corners = [(y, x) for y in ys for x in xs]
    total = math.ceil(len(corners) / batch_size)
    memory = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    with torch.inference_mode():
        for k in range(total):
            if cancel is not None and cancel():
                raise Cancelled(f"prediction cancelled after {k} of {total} tile batches")
            part = corners[k * batch_size:(k + 1) * batch_size]
            x = torch.from_numpy(np.stack([padded[:, y:y + th, x0:x0 + tw] for y, x0 in part]))
            x = x.to(device).contiguous(memory_format=memory)
            prob = _mean_over_flips(net, x) if flips else torch.softmax(net(x).float(), dim=1)
            prob = prob.cpu().numpy()
            for (y, x0), p in zip(part, prob):
                acc[:, y:y + th, x0:x0 + tw] += p * weight
                norm[y:y + th, x0:x0 + tw] += weight
            if progress is not None:
                progress(k + 1, total)
    return (acc / norm)[:, :h, :w]


def _mean_over_flips(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax of ``net`` on a batch and its three mirror images, mirrored back and averaged."""
    dims = [(), (3,), (2,), (2, 3)]
    flipped = torch.cat([x.flip(d) if d else x for d in dims])
    prob = torch.softmax(net(flipped).float(), dim=1).split(x.shape[0])
    return sum(p.flip(d) if d else p for p, d in zip(prob, dims)) / len(dims)

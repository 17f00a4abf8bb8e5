"""Model selection on held-out images, scored the way users score a result.

Three causes made the validation score of an instance U-Net on DSB2018 swing between 0.33 and 0.75
from one epoch to the next and pick the epoch-2 weights (issue 23):

* the score was the Dice of background, interior and a one-pixel boundary class, averaged over the
  classes: the boundary class stayed near 0 and made the average noise;
* images were weighted by their pixels, so two 1024² images outweighed fifteen 256² ones, while a
  user scores every image alike (per-image means of foreground Dice and instance F1);
* batch norm evaluated with running statistics of the last few batches of random patches: after a
  run of patches of one kind (stained tissue, bright fluorescence) they misfit the others.

Now each epoch recomputes the batch-norm statistics over fresh patches of every kind
(:func:`refresh_batch_norm`), and :func:`score_images` gives per-image means of foreground Dice
(mean class Dice for semantic models) and, for instance models, instance F1 at IoU 0.5, which
selects the epoch kept. With the kept weights, :func:`choose_postprocessing` then picks, on the same
held-out images, the background probability below which a pixel belongs to an object and how deep
a distance peak must be to split touching objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .data import Example, PatchSampler
from .models import NetConfig, size_multiple
from .predict import predict_probabilities
from .targets import DEFAULT_SPLIT, FOREGROUND_CANDIDATES, IGNORE, SPLIT_CANDIDATES, instances_from_probabilities

__all__ = ["choose_postprocessing", "class_dice", "refresh_batch_norm", "score_images"]


def class_dice(prob: np.ndarray, target: np.ndarray, *, foreground: bool = False) -> float:
    """Mean Dice over the classes present in the prediction or the target, labelled pixels only;
    ``foreground=True`` scores class > 0 against class 0 instead (an instance model's objects:
    where class 0 is less likely than not, as prediction draws them)."""
    valid = target != IGNORE
    t = target[valid]
    if foreground:
        return _dice(prob[0][valid] < 0.5, t > 0)
    pred = np.argmax(prob, axis=0)[valid]
    scores = []
    for k in range(prob.shape[0]):
        p, g = pred == k, t == k
        denom = p.sum() + g.sum()
        if denom:
            scores.append(2 * (p & g).sum() / denom)
    return float(np.mean(scores)) if scores else 1.0


@torch.no_grad()
def refresh_batch_norm(net: torch.nn.Module, sampler: PatchSampler, batch_size: int, device: torch.device,
                       batches: int = 16) -> None:
    """Recompute every batch-norm layer's running mean and variance as the plain average over
    ``batches`` fresh batches of training patches (images drawn alike), the weights unchanged."""
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    net.train()
    for _ in range(batches):
        x, _ = sampler.batch(batch_size)
        net(torch.from_numpy(x).to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    net.eval()


def score_images(net: torch.nn.Module, examples: Sequence[Example], config: NetConfig, device: torch.device, *,
                 min_size: int = 0, fill_holes: bool = False, split_h: float | None = None) -> dict[str, float]:
    """Per-image means over ``examples``: ``dice`` (foreground Dice for instance models, mean class
    Dice for semantic ones) and, for instance models whose examples keep their object labels,
    ``f1`` (instance F1 at IoU 0.5 after the same watershed as prediction, dropping objects below
``min_size`` pixels, filling holes when ``fill_holes`` and splitting at ``split_h``); ``score`` is the one
    that selects epochs (``f1`` when there is one, else ``dice``)."""
    net.eval()
    dice, f1 = [], []
    instance = config.task == "instance"
    for e in examples:
        prob = _probabilities(net, e, config, device)
        dice.append(class_dice(prob, e.target, foreground=instance))
        if instance and e.objects is not None:
            f1.append(_instance_f1(prob, e.objects, min_size=min_size, fill_holes=fill_holes, split_h=split_h))
    out = {"dice": float(np.mean(dice)) if dice else float("nan"), "f1": float(np.mean(f1)) if f1 else float("nan")}
    out["score"] = out["f1"] if f1 else out["dice"]
    return out


def choose_postprocessing(net: torch.nn.Module, examples: Sequence[Example], config: NetConfig,
                          device: torch.device, *, min_size: int = 0, fill_holes: bool = False,
                          flips: bool = True) -> tuple[float, float | None, dict[str, dict[str, float]]]:
    """How an instance model's probabilities become objects, chosen on ``examples`` (held-out
    images with their objects), predicted as :meth:`.LearnedModel.predict` does (``flips``):

    1. the foreground threshold of :data:`.targets.FOREGROUND_CANDIDATES` with the best mean
       foreground Dice of the objects drawn (the pixel F1 users score), with the default split;
    2. at that threshold, the ``split_h`` of :data:`.targets.SPLIT_CANDIDATES` with the best mean
       instance F1@0.5.

    Ties keep the candidate nearest 0.5, and the earlier split (None, no split, first). Returns
    (threshold, split_h, {"foreground_dice": per threshold, "split_f1": per split}, keyed by text).
    """
    net.eval()
    probs = [(_probabilities(net, e, config, device, flips=flips), e.objects) for e in examples
             if e.objects is not None]
    post = {"min_size": min_size, "fill_holes": fill_holes}

    def dice(t: float) -> float:
        return float(np.mean([_dice(instances_from_probabilities(p, foreground=t, split_h=DEFAULT_SPLIT, **post) > 0,
                                    objects > 0) for p, objects in probs]))

    def f1(h: float | None) -> float:
        return float(np.mean([_instance_f1(p, objects, foreground=threshold, split_h=h, **post)
                              for p, objects in probs]))

    dices = {str(t): dice(t) for t in FOREGROUND_CANDIDATES}
    threshold = max(FOREGROUND_CANDIDATES, key=lambda t: (dices[str(t)], -abs(t - 0.5)))
    f1s = {str(h): f1(h) for h in SPLIT_CANDIDATES}
    split_h = max(SPLIT_CANDIDATES, key=lambda h: (f1s[str(h)], -SPLIT_CANDIDATES.index(h)))
    return threshold, split_h, {"foreground_dice": dices, "split_f1": f1s}


def _dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks (1.0 when both are empty)."""
    denom = pred.sum() + truth.sum()
    return float(2 * (pred & truth).sum() / denom) if denom else 1.0


def _probabilities(net: torch.nn.Module, e: Example, config: NetConfig, device: torch.device, *,
                   flips: bool = False) -> np.ndarray:
    return predict_probabilities(net, e.image, config.n_outputs, size_multiple(config), device=device, tile=512,
                                 flips=flips)


def _instance_f1(prob: np.ndarray, objects: np.ndarray, **post: Any) -> float:
    """Instance F1 at IoU 0.5 of the objects prediction draws from ``prob`` (``post``: its options)."""
    from ..metrics import score

    return score(instances_from_probabilities(prob, **post), objects, kind="instance").summary.get("f1@0.5", 0.0)

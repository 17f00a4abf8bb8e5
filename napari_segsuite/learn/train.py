"""Training a network on the user's annotations.

``train(pairs, network=NetConfig(...), config=TrainConfig(...))`` takes (image, labels) pairs (full
masks, or sparse scribbles with ``sparse=True``), holds out a validation part, and trains on random
augmented patches with Dice + cross-entropy. It keeps an exponential moving average of
the weights (what is validated and saved: it swings less from batch to batch than the weights
being trained). After every epoch it refreshes the average's batch-norm
statistics and scores the held-out images as a user would (per-image means of foreground Dice and,
for instance models, instance F1 at IoU 0.5: see :mod:`.validation`), and keeps the best weights; it
stops early when that score has not improved for ``patience`` epochs in the second half of the
learning-rate schedule (in the first half the rate is high and the held-out score swings from one
epoch to the next), at ``max_minutes``, or when
``cancel()`` says so (then the best weights so far are the model, never a half-updated one).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..device import resolve_device
from .data import Example, PatchSampler, image_channels, normalize, split_validation, with_contrast
from .learned import LearnedModel
from .models import NetConfig, build_network, size_multiple
from .targets import DEFAULT_SPLIT, IGNORE, class_ids_of, has_holes, instance_target, min_object_size, semantic_target
from .validation import choose_postprocessing, refresh_batch_norm, score_images

__all__ = ["MIN_LABELLED", "TrainConfig", "iter_train", "prepare_examples", "train"]

MIN_LABELLED = 200  # pixels, over all images
EMA_DECAY = 0.98  # per step: the averaged weights follow about the last 50 batches (two epochs)
Pair = tuple[np.ndarray, np.ndarray]


@dataclass
class TrainConfig:
    """How to train (saved with the model). Epochs are ``steps_per_epoch`` batches of random patches.

    ``colour_augment`` shuffles or greys the channels of RGB patches (objects known by their shape
    in any stain; off by default, as classes may differ by colour alone).
    """

    patch_size: int = 128
    batch_size: int = 8
    max_epochs: int = 40
    steps_per_epoch: int = 25
    learning_rate: float = 2e-3
    val_fraction: float = 0.2
    patience: int = 8
    max_minutes: float | None = None
    augment: bool = True
    colour_augment: bool = False
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        checks = [
            (self.patch_size >= 16, f"patch_size must be at least 16 pixels, got {self.patch_size}"),
            (self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}"),
            (self.max_epochs >= 1, f"max_epochs must be at least 1, got {self.max_epochs}"),
            (self.steps_per_epoch >= 1, f"steps_per_epoch must be at least 1, got {self.steps_per_epoch}"),
            (0 < self.learning_rate < 1, f"learning_rate must be in (0, 1), got {self.learning_rate}"),
            (0 <= self.val_fraction < 1, f"val_fraction must be in [0, 1), got {self.val_fraction}"),
            (self.patience >= 1, f"patience must be at least 1 epoch, got {self.patience}"),
            (self.max_minutes is None or self.max_minutes > 0, f"max_minutes must be positive, got {self.max_minutes}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def prepare_examples(
    pairs: Sequence[Pair],
    *,
    task: str = "semantic",
    sparse: bool = False,
    channel_axis: int | None = None,
    class_ids: Sequence[int] | None = None,
) -> tuple[list[Example], int, tuple[int, ...]]:
    """Normalised examples, their channel count and the class ids, with the checks a user needs.

    Raises ``ValueError`` for mismatched shapes, different channel counts, too few labelled pixels
    (fewer than :data:`MIN_LABELLED`) or a single class.
    """
    if not pairs:
        raise ValueError("no training images: give at least one image with its labels")
    channels = {image_channels(np.asarray(img), channel_axis) for img, _ in pairs}
    if len(channels) > 1:
        raise ValueError(f"the training images have different channel counts {sorted(channels)}: a network takes one "
                         f"kind of input; convert them all to gray or all to RGB")
    labels = []
    for i, (img, lab) in enumerate(pairs):
        lab = np.asarray(lab)
        spatial = np.shape(img) if channel_axis is None else tuple(np.delete(np.shape(img), channel_axis))
        if lab.shape != tuple(spatial):
            raise ValueError(f"image {i}: labels of shape {lab.shape} do not match the image's {tuple(spatial)}")
        if not np.issubdtype(lab.dtype, np.integer) and lab.dtype != bool:
            raise TypeError(f"image {i}: labels must be integers, got {lab.dtype}")
        labels.append(lab.astype(np.int64))
    if task == "instance":
        ids: tuple[int, ...] = (0, 1, 2)
    else:
        ids = tuple(int(c) for c in class_ids) if class_ids is not None else class_ids_of(labels, sparse=sparse)
    examples = []
    for (img, _), lab in zip(pairs, labels):
        x = normalize(np.asarray(img), channel_axis)
        y = instance_target(lab) if task == "instance" else semantic_target(lab, ids, sparse=sparse)
        raw = np.asarray(img)
        if np.issubdtype(raw.dtype, np.floating):  # no loss where the image has no value
            finite = np.isfinite(raw)
            y[~(finite if channel_axis is None else finite.all(axis=channel_axis))] = IGNORE
        examples.append(Example(x, y, lab if task == "instance" else None))
    n = sum(e.labelled for e in examples)
    if n < MIN_LABELLED:
        raise ValueError(f"only {n} pixels are labelled; training needs at least {MIN_LABELLED}: paint more "
                         f"(objects and background) before training")
    present = np.unique(np.concatenate([e.target[e.target != IGNORE] for e in examples]))
    names = ("background", "object interior", "object boundary") if task == "instance" else None
    if len(present) < 2:
        what = names[int(present[0])] if names else f"label {ids[int(present[0])]}"
        hint = ("the labels need objects and background around them" if task == "instance" else
                "paint the background as a class of its own (e.g. label 1) and the objects as another"
                if sparse else "label at least two classes (e.g. 0 = background, 1 = object)")
        raise ValueError(f"only one class is annotated ({what}): {hint}")
    return examples, channels.pop(), ids


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + (1 - soft Dice averaged over classes), both over labelled pixels only."""
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    valid = (target != IGNORE).unsqueeze(1)
    prob = torch.softmax(logits, dim=1) * valid
    onehot = F.one_hot(target.clamp(min=0), logits.shape[1]).permute(0, 3, 1, 2).to(prob.dtype) * valid
    dims = (0, 2, 3)
    dice = (2 * (prob * onehot).sum(dims) + 1.0) / (prob.sum(dims) + onehot.sum(dims) + 1.0)
    return ce + (1.0 - dice.mean())


def train(
    pairs: Sequence[Pair],
    *,
    on_step: Callable[[int, int], None] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    **kwargs: Any,
) -> LearnedModel:
    """Train a network on ``pairs`` of (image, labels) and return the best :class:`LearnedModel`.

    Takes the keywords of :func:`iter_train`; ``on_step(step, total)`` follows progress and
    ``on_epoch(record)`` receives ``{"epoch", "loss", "val_dice", "seconds"}`` after each epoch, and
    ``"val_f1"`` (instance F1 at IoU 0.5) for instance models; ``seconds`` includes the validation.
    """
    gen = iter_train(pairs, **kwargs)
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if "epoch" in event and on_epoch is not None:
            on_epoch(event["epoch"])
        elif "step" in event and on_step is not None:
            on_step(event["step"], event["total"])


def iter_train(
    pairs: Sequence[Pair],
    *,
    network: NetConfig | None = None,
    config: TrainConfig | None = None,
    task: str | None = None,
    sparse: bool = False,
    channel_axis: int | None = None,
    class_names: dict[str, str] | None = None,
    name: str = "model",
    cancel: Callable[[], bool] | None = None,
    prepared: tuple[list[Example], int, tuple[int, ...]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Generator form of :func:`train` (for GUI workers): yields ``{"step", "total"}`` after each
    batch and ``{"epoch": record}`` after each epoch; returns the :class:`LearnedModel`.

    ``network`` gives the architecture and size (its ``in_channels`` and ``class_ids`` are taken from
    the data); ``task`` overrides ``network.task``; ``sparse`` makes label 0 "not annotated".
    ``cancel()`` returning True stops within one batch and keeps the best epoch so far.
    ``prepared`` is what :func:`prepare_examples` returned for these pairs (a GUI checks the data
    before it starts a worker, and need not prepare it twice).
    """
    from ..techniques import Cancelled

    config = config or TrainConfig()
    network = network or NetConfig()
    task = task or network.task
    examples, channels, ids = prepared or prepare_examples(pairs, task=task, sparse=sparse, channel_axis=channel_axis)
    net_config = replace(network, task=task, in_channels=channels, class_ids=ids if task == "semantic" else (0, 1),
                         class_names=dict(class_names or network.class_names))
    if net_config.contrast:
        examples = [replace(e, image=with_contrast(e.image)) for e in examples]
    multiple = size_multiple(net_config)
    patch = max(multiple, config.patch_size // multiple * multiple)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    train_set, val_set = split_validation(examples, config.val_fraction, rng)
    objects = [e.objects for e in examples if e.objects is not None]
    min_size = min_object_size(objects) if task == "instance" else 0
    fill_holes = task == "instance" and not has_holes(objects)
    sampler = PatchSampler(train_set, patch, rng, augment=config.augment, colour=config.colour_augment and channels == 3)
    device = resolve_device(config.device)
    net = build_network(net_config).to(device)
    averaged = copy.deepcopy(net).requires_grad_(False)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.max_epochs * config.steps_per_epoch)
    autocast = device.type == "cuda"
    history: list[dict[str, float]] = []
    best_score, best_state, best_epoch, stop = -np.inf, None, 0, "max_epochs"
    best_record: dict[str, float] = {}
    total = config.max_epochs * config.steps_per_epoch
    t_start = time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        net.train()
        t_epoch, losses = time.perf_counter(), []
        for step in range(config.steps_per_epoch):
            if cancel is not None and cancel():
                stop = "cancelled"
                break
            x, y = sampler.batch(config.batch_size)
            x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                logits = net(x)
            loss = _loss(logits.float(), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            _follow(averaged, net, (epoch - 1) * config.steps_per_epoch + step)
            losses.append(float(loss.detach()))
            yield {"step": (epoch - 1) * config.steps_per_epoch + step + 1, "total": total}
        if stop == "cancelled":
            break
        scores = (_validate(averaged, val_set, net_config, device, sampler, config.batch_size, min_size, fill_holes)
                  if val_set else {})
        score = scores.get("score", -float(np.mean(losses)))
        record = {"epoch": epoch, "loss": float(np.mean(losses)), "val_dice": scores.get("dice", float("nan")),
                  **({"val_f1": scores.get("f1", float("nan"))} if task == "instance" else {}),
                  "seconds": time.perf_counter() - t_epoch}
        history.append(record)
        yield {"epoch": record}
        if not np.isfinite(record["loss"]):
            stop = "the loss became NaN (try a lower learning rate)"
            break
        if score > best_score:
            best_score, best_epoch, best_record = score, epoch, record
            if not val_set:  # no validation refreshed the average's batch-norm statistics
                refresh_batch_norm(averaged, sampler, config.batch_size, device)
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in averaged.state_dict().items()})
        elif epoch - best_epoch >= config.patience and epoch >= config.max_epochs // 2:
            stop = "early_stopping"  # not in the first half: the learning rate is still high there
            break
        if config.max_minutes is not None and time.perf_counter() - t_start > config.max_minutes * 60:
            stop = "time_limit"
            break
    if best_state is None:
        raise Cancelled("training was cancelled before its first epoch ended: no model was kept")
    final = build_network(net_config)
    final.load_state_dict(best_state)
    f1 = best_record.get("val_f1", np.nan)  # NaN: a semantic model, or no held-out objects
    post = {}
    if task == "instance":  # how probabilities become objects: chosen on the held-out images
        post = {"foreground_threshold": 0.5, "split_h": DEFAULT_SPLIT}
        if np.isfinite(f1):
            threshold, split_h, scores = choose_postprocessing(final.to(device), val_set, net_config, device,
                                                               min_size=min_size, fill_holes=fill_holes)
            final.cpu()
            post = {"foreground_threshold": threshold, "split_h": split_h, **scores}
    info = {
        "stopped": stop,
        "best_epoch": best_epoch,
        "val_dice": best_record.get("val_dice") if val_set else None,
        "val_f1": f1 if np.isfinite(f1) else None,
        "selected_by": ("instance F1@0.5" if np.isfinite(f1) else "validation Dice") if val_set else "training loss",
        "labelled_pixels": sum(e.labelled for e in examples),
        **({"min_object_size": min_size, "fill_holes": fill_holes} if task == "instance" else {}),
        **post,
        "images": len(examples),
        "validation_images": len(val_set),
        "sparse": sparse,
        "seconds": time.perf_counter() - t_start,
        "device": str(device),
        "train_config": asdict(config),
        "epochs_run": len(history),
    }
    return LearnedModel(net_config, final.eval(), history, info, name=name)


LOW_DICE = 0.6  # below this validation Dice a model's predictions are mostly wrong (streaks, blobs)


def convergence_warning(info: dict) -> str | None:
    """A warning when a trained model is far from converged, with what to do; None when it looks
    fine. Far from converged: the best validation Dice is low, or it was still improving at the last
    epoch when training stopped on its epoch or time limit."""
    dice = info.get("val_dice")
    advice = []
    if dice is not None and dice < LOW_DICE:
        advice.append(f"its validation Dice is {dice:.2f}: predictions will be poor")
    epochs = info.get("epochs_run")
    if info.get("stopped") in ("max_epochs", "time_limit") and epochs and info.get("best_epoch") == epochs:
        advice.append("it was still improving when training stopped")
    if not advice:
        return None
    return ("this model is far from converged: " + " and ".join(advice)
            + "; train longer (more epochs or minutes) or annotate more images")


@torch.no_grad()
def _follow(averaged: torch.nn.Module, net: torch.nn.Module, step: int) -> None:
    """Move the averaged weights towards ``net``'s (batch-norm statistics are refreshed later);
    the decay ramps up over the first steps so the average does not keep the random start."""
    decay = min(EMA_DECAY, (1 + step) / (10 + step))
    for a, p in zip(averaged.parameters(), net.parameters()):
        a.lerp_(p, 1.0 - decay)


def _validate(net: torch.nn.Module, val_set: list[Example], config: NetConfig, device: torch.device,
              sampler: PatchSampler, batch_size: int, min_size: int, fill_holes: bool) -> dict[str, float]:
    refresh_batch_norm(net, sampler, batch_size, device)
    return score_images(net, val_set, config, device, min_size=min_size, fill_holes=fill_holes, split_h=DEFAULT_SPLIT)

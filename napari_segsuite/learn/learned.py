"""A trained network with what it needs to be applied: :class:`LearnedModel`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..device import resolve_device
from .data import image_channels, normalize, with_contrast
from .models import NetConfig, size_multiple
from .predict import inference_network, predict_probabilities
from .targets import to_labels

__all__ = ["LearnedModel"]


@dataclass
class LearnedModel:
    """A network, its :class:`NetConfig` and its training record.

    ``history`` holds one dict per epoch (``loss``, ``val_dice``, ``seconds``); ``info`` what the
    training reported (best epoch, labelled pixels, validation Dice, stop reason...). ``device`` is
    where predictions run unless a call says otherwise.
    """

    config: NetConfig
    network: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    name: str = "model"
    device: str = "auto"
    _inference: dict[str, nn.Module] = field(default_factory=dict, repr=False, compare=False)

    def check_channels(self, image: np.ndarray, channel_axis: int | None) -> None:
        """``ValueError`` when the image's channel count differs from what the network was trained on."""
        got = image_channels(image, channel_axis)
        want = self.config.in_channels
        if got != want:
            kind = {1: "gray (1 channel)", 3: "RGB (3 channels)"}
            raise ValueError(
                f"model {self.name!r} was trained on {kind.get(want, f'{want}-channel')} images, but this image is "
                f"{kind.get(got, f'{got}-channel')}: convert the image (or pick its channel axis), or train a model on "
                f"images like this one")

    def probabilities(
        self,
        image: np.ndarray,
        channel_axis: int | None = None,
        *,
        device: str | torch.device | None = None,
        tile: int = 1024,
        overlap: int = 64,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        flips: bool = False,
    ) -> np.ndarray:
        """Per-class probabilities ``(n_outputs, H, W)`` of one 2D image (gray or with a channel axis);
        ``flips``: averaged with those of its mirror images (four times the work)."""
        self.check_channels(image, channel_axis)
        x = normalize(image, channel_axis)
        x = with_contrast(x) if self.config.contrast else x
        dev = resolve_device(self.device if device is None else device)
        net = self._inference.get(str(dev))
        if net is None:
            self._inference.clear()
            net = self._inference[str(dev)] = inference_network(self.network, dev)
        return predict_probabilities(net, x, self.config.n_outputs, size_multiple(self.config), device=dev,
                                     tile=tile, overlap=overlap, progress=progress, cancel=cancel, flips=flips)

    @property
    def min_object_size(self) -> int:
        """Instance models: predicted objects below this many pixels are dropped unless a call says
        otherwise (the 1st percentile of the training objects' areas; 0 for older models)."""
        return int(self.info.get("min_object_size") or 0)

    @property
    def fills_holes(self) -> bool:
        """Instance models: holes in predicted objects are filled, because the training objects had
        none as a rule (:func:`.targets.has_holes`; False for older models)."""
        return bool(self.info.get("fill_holes", False))

    @property
    def split_h(self) -> float | None:
        """Instance models: touching objects are split at distance peaks this deep (chosen on the
        held-out images, :func:`.validation.choose_postprocessing`); None (older models): not split."""
        value = self.info.get("split_h")
        return None if value is None else float(value)

    @property
    def foreground_threshold(self) -> float:
        """Instance models: pixels whose background probability is below this belong to objects
        (chosen on the held-out images, :func:`.validation.choose_postprocessing`; 0.5 for older models)."""
        return float(self.info.get("foreground_threshold") or 0.5)

    def predict(self, image: np.ndarray, channel_axis: int | None = None, *, min_size: int | None = None,
                flips: bool = True, **kwargs: Any) -> np.ndarray:
        """Label image of one 2D image: class ids (semantic) or instance ids (instance); instance
        objects below ``min_size`` pixels (default :attr:`min_object_size`) are dropped, their
        holes filled when :attr:`fills_holes`, objects drawn where the background's probability is
        below :attr:`foreground_threshold` and touching ones split at :attr:`split_h`. A two-class
        model trained from scribbles places its border where the image's values split best
        (:func:`.targets.border_threshold`). ``flips``
        averages the probabilities with those of the image's three mirror images (four times the
        network's work; on the five DSB2018 folds of benchmarks/learn_cv.py pixel F1 0.844 -> 0.849,
        higher in every fold, and instance F1 0.771 -> 0.778, higher in three)."""
        prob = self.probabilities(image, channel_axis, flips=flips, **kwargs)
        size = self.min_object_size if min_size is None else min_size
        border = normalize(image, channel_axis) if self.info.get("sparse") and len(self.config.class_ids) == 2 else None
        return to_labels(prob, self.config.task, self.config.class_ids, min_size=size, fill_holes=self.fills_holes,
                         split_h=self.split_h, foreground=self.foreground_threshold, border_image=border)

    def forget_inference(self) -> None:
        """Drop the cached inference copy (after the weights change)."""
        self._inference.clear()

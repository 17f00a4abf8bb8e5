"""Encoder-decoder networks: U-Net, SegNet and DeepLabv3, sized by one :class:`NetConfig`.

* U-Net (Ronneberger et al. 2015): conv blocks, max-pool down, transposed-conv up, and skip
  connections by concatenation.
* SegNet (Badrinarayanan et al. 2017): the decoder upsamples with the max-pool *indices* the encoder
  recorded (``MaxUnpool2d``), with no skip features.
* DeepLabv3 (Chen et al. 2017): atrous (dilated) convolutions keep an output stride of 8, then
  torchvision's ASPP head. ``backbone="small"`` is a few dilated conv blocks that train on a CPU in
  minutes; ``"resnet50"`` is torchvision's dilated ResNet-50, with its ImageNet weights when they are
  already in the user's torch cache (never downloaded, never required).

Every network maps ``(N, input_planes, H, W)`` float images to ``(N, n_outputs, H, W)`` logits for
any ``H, W`` that are multiples of :func:`size_multiple`: the image's channels and, with
``contrast=True``, each channel's distance from the image's median (see
:func:`napari_segsuite.learn.data.with_contrast`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ARCHITECTURES", "NetConfig", "build_network", "size_multiple"]

ARCHITECTURES = ("unet", "segnet", "deeplab")
BACKBONES = ("small", "resnet50")


@dataclass
class NetConfig:
    """What a network is: architecture, size, inputs and outputs (saved as JSON beside the weights).

    ``task="semantic"``: one output per entry of ``class_ids`` (the label value each class is written
    as). ``task="instance"``: three outputs (background, object interior, object boundary) that
    :func:`napari_segsuite.learn.targets.instances_from_probabilities` turns into instances.
    """

    architecture: Literal["unet", "segnet", "deeplab"] = "unet"
    in_channels: int = 1
    task: Literal["semantic", "instance"] = "semantic"
    class_ids: tuple[int, ...] = (0, 1)
    width: int = 16
    depth: int = 3
    backbone: Literal["small", "resnet50"] = "small"
    class_names: dict[str, str] = field(default_factory=dict)
    contrast: bool = True  # models saved before this setting existed load with False

    def __post_init__(self) -> None:
        self.class_ids = tuple(int(c) for c in self.class_ids)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.task not in ("semantic", "instance"):
            raise ValueError(f"task must be 'semantic' or 'instance', got {self.task!r}")
        if not 1 <= int(self.in_channels) <= 16:
            raise ValueError(f"in_channels must be 1..16, got {self.in_channels}")
        if not 4 <= int(self.width) <= 256:
            raise ValueError(f"width must be 4..256 (channels of the first level), got {self.width}")
        if not 1 <= int(self.depth) <= 6:
            raise ValueError(f"depth must be 1..6 (number of down-sampling steps), got {self.depth}")
        if self.task == "semantic" and (len(self.class_ids) < 2 or len(set(self.class_ids)) != len(self.class_ids)):
            raise ValueError(f"a semantic network needs at least two distinct class ids, got {list(self.class_ids)}")

    @property
    def input_planes(self) -> int:
        """Planes the first layer takes: the image's channels, twice with ``contrast``."""
        return self.in_channels * (2 if self.contrast else 1)

    @property
    def n_outputs(self) -> int:
        return 3 if self.task == "instance" else len(self.class_ids)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["class_ids"] = list(self.class_ids)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown network settings {unknown}; known: {sorted(known)}")
        return cls(**{"contrast": False, **data})  # saved before contrast planes existed


def size_multiple(config: NetConfig) -> int:
    """Input height and width must be multiples of this (the total down-sampling)."""
    if config.architecture == "deeplab":
        return 8  # output stride 8 for both backbones
    return 2 ** config.depth


def build_network(config: NetConfig) -> nn.Module:
    """A freshly initialised network for ``config`` (pretrained DeepLab backbones when cached)."""
    if config.architecture == "unet":
        return UNet(config)
    if config.architecture == "segnet":
        return SegNet(config)
    return DeepLab(config)


def _block(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    """Two 3x3 conv + batch norm + ReLU layers."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _widths(config: NetConfig) -> list[int]:
    return [config.width * 2**i for i in range(config.depth + 1)]


class UNet(nn.Module):
    """U-Net: skip connections by concatenation."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        w = _widths(config)
        self.down = nn.ModuleList([_block(config.input_planes, w[0])] + [_block(w[i], w[i + 1]) for i in range(config.depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in reversed(range(config.depth))])
        self.merge = nn.ModuleList([_block(2 * w[i], w[i]) for i in reversed(range(config.depth))])
        self.head = nn.Conv2d(w[0], config.n_outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


class SegNet(nn.Module):
    """SegNet: the decoder upsamples with the encoder's max-pool indices."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        w = _widths(config)[: config.depth + 1]
        self.enc = nn.ModuleList([_block(config.input_planes if i == 0 else w[i - 1], w[i]) for i in range(config.depth)])
        self.bottom = _block(w[config.depth - 1], w[config.depth - 1])
        self.dec = nn.ModuleList([_block(w[i], w[i - 1] if i else w[0]) for i in reversed(range(config.depth))])
        self.head = nn.Conv2d(w[0], config.n_outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        indices, sizes = [], []
        for block in self.enc:
            x = block(x)
            sizes.append(x.shape[-2:])
            x, idx = F.max_pool2d(x, 2, return_indices=True)
            indices.append(idx)
        x = self.bottom(x)
        for block in self.dec:
            x = F.max_unpool2d(x, indices.pop(), 2, output_size=sizes.pop())
            x = block(x)
        return self.head(x)


class DeepLab(nn.Module):
    """DeepLabv3: a dilated backbone at output stride 8 (small) or a ResNet, then ASPP."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        from torchvision.models.segmentation.deeplabv3 import ASPP

        if config.backbone == "small":
            w = _widths(NetConfig(width=config.width, depth=3))
            self.backbone = nn.Sequential(
                _block(config.input_planes, w[0]), nn.MaxPool2d(2),
                _block(w[0], w[1]), nn.MaxPool2d(2),
                _block(w[1], w[2]), nn.MaxPool2d(2),
                _block(w[2], w[3], dilation=2),
                _block(w[3], w[3], dilation=4),
            )
            features, rates, out = w[3], (2, 4, 6), w[3]
        else:
            self.backbone, features = _resnet_backbone(config)
            rates, out = (12, 24, 36), 256
        self.aspp = ASPP(features, list(rates), out_channels=out)
        self.classifier = nn.Sequential(
            nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True),
            nn.Conv2d(out, config.n_outputs, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        features = self.backbone(x)
        if isinstance(features, dict):  # torchvision's IntermediateLayerGetter
            features = features["out"]
        y = self.classifier(self.aspp(features))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def _resnet_backbone(config: NetConfig) -> tuple[nn.Module, int]:
    """torchvision's ResNet-50 with the strides of its last two stages turned into dilation; its
    ImageNet weights when they are already in the torch cache (torchvision checks their hash)."""
    from torchvision import models
    from torchvision.models._utils import IntermediateLayerGetter

    weights_enum = models.ResNet50_Weights.IMAGENET1K_V1
    weights = weights_enum if pretrained_backbone_cached(weights_enum.url) else None
    net = models.resnet50(weights=weights, replace_stride_with_dilation=[False, True, True])
    if config.input_planes != 3:
        old = net.conv1
        net.conv1 = nn.Conv2d(config.input_planes, old.out_channels, 7, stride=2, padding=3, bias=False)
        with torch.no_grad():  # keep the pretrained filters' response to intensity
            net.conv1.weight.copy_(old.weight.mean(dim=1, keepdim=True).expand_as(net.conv1.weight))
    return IntermediateLayerGetter(net, return_layers={"layer4": "out"}), 2048


def pretrained_backbone_cached(url: str) -> bool:
    """Whether torchvision's weights file for ``url`` is already in the user's torch cache."""
    return os.path.exists(os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url)))



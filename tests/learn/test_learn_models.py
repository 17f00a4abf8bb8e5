"""The three architectures: shapes, what makes each one what it is, and configuration checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from napari_segsuite.learn.models import NetConfig, build_network, size_multiple


@pytest.mark.parametrize("architecture", ["unet", "segnet", "deeplab"])
@pytest.mark.parametrize("channels", [1, 3])
def test_logits_have_the_input_size_and_one_map_per_output(architecture, channels):
    config = NetConfig(architecture=architecture, in_channels=channels, class_ids=(0, 3, 7), width=8, depth=2)
    net = build_network(config).eval()
    m = size_multiple(config)
    assert config.input_planes == 2 * channels  # the image and its distance from the median
    x = torch.randn(2, config.input_planes, 5 * m, 3 * m)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 3, 5 * m, 3 * m)


def test_unet_concatenates_skips_and_segnet_unpools_with_indices(monkeypatch):
    unet = build_network(NetConfig(width=8, depth=3))
    # each merge block takes the skip and the upsampled features side by side
    assert [blk[0].in_channels for blk in unet.merge] == [64, 32, 16]
    segnet = build_network(NetConfig(architecture="segnet", width=8, depth=3)).eval()
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in segnet.modules()), "SegNet learns no upsampling"
    calls = []
    real = F.max_unpool2d

    def spy(x, indices, *args, **kwargs):
        calls.append(indices)
        return real(x, indices, *args, **kwargs)

    monkeypatch.setattr(F, "max_unpool2d", spy)
    with torch.no_grad():
        segnet(torch.randn(1, 2, 32, 32))
    # one unpooling per level, each with the indices its encoder's max pool recorded
    assert [tuple(i.shape[-2:]) for i in calls] == [(4, 4), (8, 8), (16, 16)]
    assert all(i.dtype == torch.int64 for i in calls)


def test_deeplab_uses_atrous_convolutions_and_aspp():
    from torchvision.models.segmentation.deeplabv3 import ASPP

    net = build_network(NetConfig(architecture="deeplab", width=8))
    assert any(isinstance(m, ASPP) for m in net.modules())
    assert any(isinstance(m, nn.Conv2d) and m.dilation[0] > 1 for m in net.backbone.modules())


def test_resnet50_backbone_builds_without_weights_and_takes_gray_input(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch cache: no pretrained file, no download
    net = build_network(NetConfig(architecture="deeplab", backbone="resnet50", in_channels=1, contrast=False)).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 1, 64, 64)).shape == (1, 2, 64, 64)


@pytest.mark.parametrize("bad, message", [
    (dict(architecture="fcn"), "architecture"),
    (dict(width=2), "width"),
    (dict(depth=9), "depth"),
    (dict(class_ids=(1,)), "two distinct"),
    (dict(in_channels=0), "in_channels"),
])
def test_bad_network_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        NetConfig(**bad)


def test_config_round_trips_through_json():
    c = NetConfig(architecture="segnet", in_channels=3, class_ids=(0, 2, 5), width=12, depth=2, class_names={"2": "cell"})
    assert NetConfig.from_json(c.to_json()) == c
    with pytest.raises(ValueError, match="unknown network settings"):
        NetConfig.from_json({**c.to_json(), "dropout": 0.5})
    old = {k: v for k, v in c.to_json().items() if k != "contrast"}  # saved before contrast planes existed
    assert NetConfig.from_json(old).contrast is False and NetConfig.from_json(old).input_planes == 3

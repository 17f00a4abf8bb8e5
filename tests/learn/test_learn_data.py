"""Normalisation, the validation split and the patch sampler."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.learn.data import Example, PatchSampler, normalize, split_validation, with_contrast
from napari_segsuite.learn.targets import IGNORE


def test_normalize_is_robust_and_channels_first():
    rgba = np.zeros((10, 12, 4), np.uint16)
    rgba[..., 0] = np.arange(12) * 1000
    out = normalize(rgba, -1)
    assert out.shape == (3, 10, 12) and out.dtype == np.float32
    assert out[0].min() < 0.05 and 0.95 < out[0].max() < 1.1
    img = np.ones((4, 4), np.float32)
    img[0, 0] = np.nan
    assert np.isfinite(normalize(img)).all()
    with pytest.raises(ValueError, match="no finite pixel"):
        normalize(np.full((4, 4), np.nan))


def test_validation_split_holds_out_whole_images_or_a_disjoint_strip():
    rng = np.random.default_rng(0)
    ex = [Example(np.zeros((1, 8, 8), np.float32), np.zeros((8, 8), np.int64)) for _ in range(5)]
    train, val = split_validation(ex, 0.2, rng)
    assert len(train) == 4 and len(val) == 1
    one = Example(np.zeros((1, 8, 20), np.float32), np.ones((8, 20), np.int64))
    (t,), (v,) = split_validation([one], 0.25, rng)
    labelled_t, labelled_v = t.target != IGNORE, v.target != IGNORE
    assert labelled_t.any() and labelled_v.any() and not (labelled_t & labelled_v).any()
    assert labelled_t.sum() + labelled_v.sum() == one.target.size


def test_patches_centre_on_labelled_pixels_and_pad_small_images():
    target = np.full((20, 30), IGNORE, np.int64)
    target[2, 3] = 1
    image = np.random.default_rng(0).random((2, 20, 30)).astype(np.float32)
    sampler = PatchSampler([Example(image, target)], 32, np.random.default_rng(1), augment=True)
    xs, ys = sampler.batch(6)
    assert xs.shape == (6, 2, 32, 32) and ys.shape == (6, 32, 32)
    assert all((y == 1).sum() == 1 for y in ys), "every patch holds the one labelled pixel"
    with pytest.raises(ValueError, match="no labelled pixel"):
        PatchSampler([Example(image, np.full((20, 30), IGNORE, np.int64))], 16, np.random.default_rng(0))


def test_every_image_is_drawn_alike_whatever_its_size():
    """A 512² image and three 64² ones: each gets about a quarter of the patches (drawn by pixels,
    the large one took 95 % of them and the network learnt mostly what large images show)."""
    rng = np.random.default_rng(0)
    big = Example(np.zeros((1, 512, 512), np.float32), np.ones((512, 512), np.int64))
    small = [Example(np.full((1, 64, 64), float(k + 1), np.float32), np.ones((64, 64), np.int64)) for k in range(3)]
    sampler = PatchSampler([big, *small], 32, rng, augment=False)
    x, _ = sampler.batch(2000)
    share_big = float((x[:, 0].max(axis=(1, 2)) == 0).mean())
    assert 0.2 < share_big < 0.3, share_big


def test_batch_norm_statistics_are_recomputed_over_every_kind_of_image():
    """After a run of one kind of patch the running statistics fit only that kind; the refresh
    averages fresh patches of every image alike."""
    import torch

    from napari_segsuite.learn.validation import refresh_batch_norm

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1, bias=False), torch.nn.BatchNorm2d(1))
    torch.nn.init.ones_(net[0].weight)
    with torch.no_grad():
        net.train()
        for _ in range(50):
            net(torch.full((4, 1, 8, 8), 10.0))  # the last batches were all bright
    bright = [Example(np.full((1, 16, 16), 10.0, np.float32), np.ones((16, 16), np.int64))]
    dark = [Example(np.zeros((1, 16, 16), np.float32), np.ones((16, 16), np.int64)) for _ in range(1)]
    sampler = PatchSampler(bright + dark, 16, np.random.default_rng(0), augment=False)
    refresh_batch_norm(net, sampler, 8, torch.device("cpu"), batches=40)
    assert 4.0 < float(net[1].running_mean) < 6.0 and not net.training


def test_colour_jitter_shuffles_or_greys_rgb_channels_only_when_asked():
    """Pure red patches: with ``colour=True`` the red moves to other channels or turns gray in
    about half the patches; without it, red stays the brightest channel in every patch (the gain
    and gamma jitter change levels, never the order of channels)."""
    image = np.zeros((3, 32, 32), np.float32)
    image[0] = 0.8
    example = Example(image, np.ones((32, 32), np.int64))
    plain, _ = PatchSampler([example], 32, np.random.default_rng(0), colour=False).batch(400)
    assert (plain[:, 0, 0, 0] > plain[:, 1:, 0, 0].max(axis=1)).all()
    jittered, _ = PatchSampler([example], 32, np.random.default_rng(0), colour=True).batch(400)
    red_first = float((jittered[:, 0, 0, 0] > jittered[:, 1:, 0, 0].max(axis=1) + 0.3).mean())
    assert 0.3 < red_first < 0.75, red_first
    assert np.isfinite(jittered).all() and jittered.dtype == np.float32
    gray = Example(np.full((1, 32, 32), 0.5, np.float32), np.ones((32, 32), np.int64))
    x, _ = PatchSampler([gray], 32, np.random.default_rng(0), colour=True).batch(50)
    assert x.shape == (50, 1, 32, 32)


def test_contrast_planes_make_dark_and_bright_objects_alike():
    """A bright object on a dark background and the same object dark on a bright one: the
    images differ, their contrast planes are the same."""
    bright = np.zeros((1, 20, 20), np.float32)
    bright[0, 5:9, 5:9] = 1.0
    dark = 1.0 - bright
    a, b = with_contrast(bright), with_contrast(dark)
    assert a.shape == (2, 20, 20) and a.dtype == np.float32
    np.testing.assert_array_equal(a[0], bright[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[1, 6, 6] == 1.0 and a[1, 0, 0] == 0.0

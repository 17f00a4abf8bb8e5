"""Inference: folded batch norm is the same function, tiles blend into the untiled result."""

from __future__ import annotations

import numpy as np
import torch

from napari_segsuite.learn.data import normalize, with_contrast
from napari_segsuite.learn.models import size_multiple
from napari_segsuite.learn.predict import inference_network, predict_probabilities


def test_folding_batch_norm_keeps_the_output(trained_semantic, blobs):
    net = trained_semantic.network.eval()
    fused = inference_network(net, torch.device("cpu"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    x = torch.from_numpy(with_contrast(normalize(blobs[0][0])))[None]
    with torch.no_grad():
        torch.testing.assert_close(fused(x.contiguous(memory_format=torch.channels_last)), net(x), atol=1e-4, rtol=1e-4)


def test_tiles_blend_into_the_untiled_result(trained_semantic):
    from synthetic_blobs import make_blobs

    img, _ = make_blobs(3, size=200, n=20)
    x = with_contrast(normalize(img))
    cfg = trained_semantic.config
    net = inference_network(trained_semantic.network, torch.device("cpu"))
    whole = predict_probabilities(net, x, cfg.n_outputs, size_multiple(cfg), device=torch.device("cpu"), tile=256)
    calls = []
    tiled = predict_probabilities(net, x, cfg.n_outputs, size_multiple(cfg), device=torch.device("cpu"), tile=64,
                                  overlap=16, progress=lambda d, t: calls.append((d, t)))
    assert whole.shape == tiled.shape == (2, 200, 200)
    assert calls and calls[-1][0] == calls[-1][1] > 1, "many tiles, progress reported"
    np.testing.assert_allclose(tiled.sum(0), 1.0, atol=1e-5)
    agree = (whole.argmax(0) == tiled.argmax(0)).mean()
    assert agree > 0.99, agree


def test_flips_average_the_predictions_of_the_mirrored_image(trained_semantic):
    from synthetic_blobs import make_blobs

    img, _ = make_blobs(4, size=96, n=8)
    x = with_contrast(normalize(img))
    cfg = trained_semantic.config
    net = inference_network(trained_semantic.network, torch.device("cpu"))

    def prob(a, **kw):
        return predict_probabilities(net, np.ascontiguousarray(a), cfg.n_outputs, size_multiple(cfg),
                                     device=torch.device("cpu"), tile=128, **kw)

    by_hand = (prob(x) + prob(x[:, :, ::-1])[:, :, ::-1] + prob(x[:, ::-1])[:, ::-1]
               + prob(x[:, ::-1, ::-1])[:, ::-1, ::-1]) / 4
    flipped = prob(x, flips=True)
    np.testing.assert_allclose(flipped, by_hand, atol=1e-5)
    assert np.abs(flipped - prob(x)).max() > 1e-4, "the mirrored predictions differ, so averaging changes something"
    np.testing.assert_allclose(flipped.sum(0), 1.0, atol=1e-5)

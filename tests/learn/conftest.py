"""Fixtures of the learning tests: synthetic blobs and a tiny U-Net trained once."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_blobs import make_blobs


@pytest.fixture(scope="session")
def blobs() -> list[tuple[np.ndarray, np.ndarray]]:
    return [make_blobs(seed) for seed in range(3)]


@pytest.fixture(scope="session")
def trained_semantic(blobs):
    """A tiny U-Net trained once for the session (foreground / background)."""
    from napari_segsuite.learn import models, train

    pairs = [(img, (lab > 0).astype(np.uint8)) for img, lab in blobs]
    return train.train(pairs, network=models.NetConfig(width=8, depth=2), name="blobs",
                       config=train.TrainConfig(patch_size=64, batch_size=4, max_epochs=6, steps_per_epoch=10))

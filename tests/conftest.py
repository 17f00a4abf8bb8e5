"""Shared fixtures: real data location, and a guard that GUI tests have a display."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from synthetic_blobs import make_blobs

from napari_segsuite._no_triton import import_segment_anything

# before any napari viewer (OpenGL) exists: see napari_segsuite/_no_triton.py
import_segment_anything()

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real data sets with ground truth); skips with a reason when absent."""
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA}: these tests need the project's shared data folder")
    return DATA


# `pytest -m "not slow"` is the quick loop; CI runs everything. Slow: 3 s or more on the project's
# 2-core machine (`pytest --durations=60`), whole modules where most tests are (fresh processes,
# training, automatic masks, worker pools), and the random walker's generic runs.
SLOW_MODULES = {"test_extras.py", "test_no_triton.py", "test_learn_train.py", "test_batches.py", "test_auto.py",
                "test_project_dock.py", "test_learn_technique.py", "test_sam2.py"}
SLOW_TESTS = {
    "test_reliability_table_lists_the_hostile_suite", "test_every_tool_fits_with_long_layer_names",
    "test_annotate_next_restart_resume", "test_tools_made_but_not_picked_add_no_layer",
    "test_unreachable_scheduler_and_bad_workers_are_explained", "test_dask_worker_processes_write_the_same_masks",
    "test_layout_screenshots", "test_train_in_a_worker_then_predict_into_a_new_layer",
    "test_edge_map_preview_then_regions", "test_the_next_image_is_embedded_for_sam_in_the_background",
    "test_only_the_shown_tool_previews_and_shows_its_preview",
    "test_a_sam2_checkpoint_loads_in_the_dock_and_propagates_with_its_memory",
}


def pytest_collection_modifyitems(config, items):
    """Mark the slow tests; GUI tests need a display (pytest-xvfb starts Xvfb when it is installed)."""
    slow = pytest.mark.slow
    for item in items:
        if (item.path.name in SLOW_MODULES or item.originalname in SLOW_TESTS
                or "region.random_walker" in item.name):
            item.add_marker(slow)
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if has_display:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("CI has no display: install Xvfb (see .ci/run) so that the GUI tests run")
    skip = pytest.mark.skip(reason="no display: install Xvfb (apt-get install xvfb) to run the napari GUI tests")
    for item in items:
        if "make_napari_viewer" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def build_tiny_sam(seed: int = 0):
    """A tiny SAM: a one-block ViT encoder (16 wide) with the real prompt encoder and mask decoder."""
    from functools import partial

    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    torch.manual_seed(seed)
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=1024, patch_size=16, embed_dim=16, depth=1, num_heads=1, mlp_ratio=2,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), out_chans=256, qkv_bias=True,
            use_rel_pos=True, window_size=14, global_attn_indexes=(),
        ),
        prompt_encoder=PromptEncoder(embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3, transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


@pytest.fixture(scope="session")
def tiny_sam():
    return build_tiny_sam()


@pytest.fixture(autouse=True)
def _private_caches(tmp_path_factory, monkeypatch):
    """Tests never read or write the user's model folders or embedding cache, and the learned
    techniques a test registers leave the catalog with it."""
    root = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("NAPARI_SEGSUITE_EMBEDDINGS", str(root / "embeddings"))
    monkeypatch.setenv("NAPARI_SEGSUITE_MODELS", str(root / "models"))
    monkeypatch.setenv("NAPARI_SEGSUITE_LEARNED", str(root / "learned"))
    monkeypatch.setenv("NAPARI_SEGSUITE_VERIFIED", str(root / "verified"))
    monkeypatch.setenv("NAPARI_SEGSUITE_CONFIG", str(tmp_path_factory.mktemp("config")))  # each test starts afresh
    yield
    from napari_segsuite.techniques import CATALOG

    for name in [n for n in CATALOG if n.startswith("learn.")]:  # trained models a test registered
        del CATALOG[name]


# -- learning (tests/learn, tests/_widgets/test_learn_widget.py) --------------------------------

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


@pytest.fixture
def settled(qtbot):
    """``settled(dock)``: wait until a project dock's Open / Previous / Next (save, then read in a
    worker) has finished."""

    def wait(dock) -> None:
        qtbot.waitUntil(lambda: not dock.switching, timeout=20_000)
        qtbot.wait(1)

    return wait

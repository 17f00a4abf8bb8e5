"""Triton (pulled in by torchvision and torch's optimisers through torch._dynamo) segfaults once
napari's OpenGL canvas exists; napari_segsuite._no_triton keeps it out. Checked in a fresh process,
where nothing was imported before the viewer."""

from __future__ import annotations

import importlib.util

import pytest
from fresh_process import run_python


def test_sam_and_training_load_after_the_viewer_exists_without_crashing(make_napari_viewer):
    code = (
        "import napari, numpy as np\n"
        "v = napari.Viewer(show=False); v.add_image(np.zeros((8, 8)))\n"
        "from qtpy.QtWidgets import QApplication; QApplication.processEvents()\n"
        "from napari_segsuite._no_triton import import_segment_anything\n"
        "sa = import_segment_anything(); print('sam', hasattr(sa, 'sam_model_registry'))\n"
        "from napari_segsuite.learn import models, train\n"
        "img = np.zeros((64, 64), np.float32); lab = np.zeros((64, 64), np.uint8); img[20:40, 20:40] = lab[20:40, 20:40] = 1\n"
        "m = train.train([(img, lab)], network=models.NetConfig(architecture='deeplab', width=8),\n"
        "                config=train.TrainConfig(patch_size=32, batch_size=2, max_epochs=1, steps_per_epoch=1))\n"
        "print('trained', m.info['best_epoch'])\n"
    )
    out = run_python(code, timeout=180)
    assert "sam True" in out.stdout and "trained 1" in out.stdout


def test_other_plugins_still_find_triton_after_ours_loaded():
    """Triton is hidden only while our imports run; torch's cached answer is forgotten afterwards."""
    if importlib.util.find_spec("triton") is None:
        pytest.skip("Triton is not installed here (CPU-only torch)")
    code = (
        "from napari_segsuite._no_triton import import_segment_anything, import_torch_dynamo\n"
        "import_torch_dynamo(); import_segment_anything()\n"
        "from napari_segsuite.learn import models\n"
        "import torch.utils._triton as t\n"
        "print('torch sees triton:', t.has_triton_package())\n"
        "import triton; print('imported', triton.__name__)\n"
    )
    out = run_python(code, timeout=180)
    assert "torch sees triton: True" in out.stdout and "imported triton" in out.stdout

"""The base install (no torch, no segment-anything, no distributed) is a whole classical app, and
the classical docks never import torch even when it is installed. Each check runs in a fresh
process, where nothing was imported before."""

from __future__ import annotations

import sys

import pytest
from fresh_process import run_python

from napari_segsuite import extras

# `sys.modules[name] = None` makes `import name` raise ModuleNotFoundError and find_spec return None:
# what a base install, where the extras' packages (OpenCV's too) were never installed, looks like
HIDE_EXTRAS = "import sys\nfor m in ('torch', 'torchvision', 'segment_anything', 'distributed', 'cv2'):\n    sys.modules[m] = None\n"


def test_the_classical_docks_and_the_suite_never_import_torch(make_napari_viewer):
    code = (
        "import sys, numpy as np, napari\n"
        "from qtpy.QtWidgets import QApplication\n"
        "from napari_segsuite.cli import build_viewer\n"
        "v = napari.Viewer(show=False); suite = build_viewer(v, sample='cells')\n"
        "for name in ('Thresholding', 'Edges', 'Clustering', 'Graph-based', 'Region-based', 'Active contours',\n"
        "             'Post-processing', 'Annotation project', 'Scoring'):\n"
        "    suite.show_tool(name); QApplication.processEvents()\n"
        "from napari_segsuite._widgets import ThresholdingWidget\n"
        "w = ThresholdingWidget(v); w.apply(); print('layers', [l.name for l in v.layers])\n"
        "print('torch loaded:', 'torch' in sys.modules)\n"
    )
    out = run_python(code)
    assert "torch loaded: False" in out.stdout, out.stdout


def test_without_the_extras_every_classical_tool_works_and_sam_and_training_say_what_to_install(make_napari_viewer):
    code = HIDE_EXTRAS + (
        "import numpy as np, napari\n"
        "from qtpy.QtWidgets import QApplication\n"
        "from napari_segsuite.cli import build_viewer\n"
        "from napari_segsuite._widgets.suite import TOOLS\n"
        "v = napari.Viewer(show=False); suite = build_viewer(v, sample='cells')\n"
        "for name in TOOLS:\n"
        "    w = suite.show_tool(name); QApplication.processEvents()\n"
        "    print(name, '->', type(w).__name__, getattr(w, 'message', '').replace(chr(10), ' '))\n"
        "suite.show_tool('Thresholding').apply(); QApplication.processEvents()\n"
        "print('labels:', [l.name for l in v.layers if l.__class__.__name__ == 'Labels'])\n"
    )
    out = run_python(code).stdout
    lines = {line.split(" -> ")[0]: line for line in out.splitlines() if " -> " in line}
    assert 'pip install "napari-segsuite[sam]"' in lines["Segment Anything"], out
    assert 'pip install "napari-segsuite[learn]"' in lines["Train a network"], out
    assert "torch" in lines["Segment Anything"]
    for name in ("Thresholding", "Edges", "Clustering", "Graph-based", "Region-based", "Active contours",
                 "Post-processing", "Annotation project", "Scoring"):
        assert "pip install" not in lines[name], lines[name]
    assert "labels:" in out and "[]" not in out.split("labels:")[1], "the Thresholding tool applied its result"


def test_without_the_extras_the_cli_runs_classical_work_and_names_the_extra_otherwise(tmp_path):
    import numpy as np
    from imageio.v3 import imwrite

    image = tmp_path / "blobs.png"
    imwrite(image, (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8))
    code = HIDE_EXTRAS + (
        "from napari_segsuite.cli import main\n"
        "print('run', main(['run', 'threshold.global', sys.argv[1], '-o', sys.argv[2]]))\n"
        "print('train', main(['train', sys.argv[3], '-o', sys.argv[2] + '/m.json']))\n"
        "print('models', main(['models', 'list']))\n"
        "print('embed', main(['embed', sys.argv[1]]))\n"
    )
    out = run_python(code, str(image), str(tmp_path / "out"), str(tmp_path))
    assert "run 0" in out.stdout and (tmp_path / "out").is_dir()
    assert "train 2" in out.stdout and "embed 2" in out.stdout
    assert "models 0" in out.stdout and "vit_b" in out.stdout, "listing checkpoints needs no torch"
    errors = out.stderr.splitlines()
    assert errors == ['napari-segsuite: error: train: torch is not installed; it comes with '
                      'pip install "napari-segsuite[learn]" (training networks)',
                      'napari-segsuite: error: embed: torch is not installed; it comes with '
                      'pip install "napari-segsuite[sam]" (Segment Anything)'], out.stderr
    assert "Traceback" not in out.stderr


def test_a_missing_extra_is_named_with_its_install_line(monkeypatch):
    assert extras.missing("learn") == [], "the test install holds every extra"
    monkeypatch.setitem(sys.modules, "segment_anything", None)
    assert extras.missing("sam") == ["segment_anything"]
    with pytest.raises(extras.MissingExtra, match=r'pip install "napari-segsuite\[sam\]"'):
        extras.require("sam")
    from napari_segsuite._no_triton import import_segment_anything

    with pytest.raises(extras.MissingExtra, match="segment_anything"):
        import_segment_anything()
    assert "napari-segsuite[sam]" in extras.explain("torch.nn") and "napari-segsuite[learn]" in extras.explain("torch")
    assert "[sam]" not in extras.explain("torch", "learn")
    assert extras.explain("numpy") is None

"""Layers change only on the UI thread: previews, SAM masks and whole-stack runs are computed in
workers, and every layer update happens in the main thread (a layer changed from a worker while
napari draws can crash in OpenGL)."""

from __future__ import annotations

import threading

import numpy as np
from napari.layers import Image, Labels, Layer

from napari_segsuite._widgets import SamWidget, ThresholdingWidget
from napari_segsuite.io import samples

TIMEOUT = 30_000


def test_every_layer_change_happens_on_the_ui_thread(make_napari_viewer, qtbot, monkeypatch):
    seen: list[tuple[str, bool]] = []
    for cls in (Layer, Labels, Image):
        original = cls.refresh

        def refresh(self, *args, _original=original, **kwargs):
            seen.append((type(self).__name__, threading.current_thread() is threading.main_thread()))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "refresh", refresh)
    viewer = make_napari_viewer()
    viewer.layers.events.inserted.connect(
        lambda e: seen.append(("inserted", threading.current_thread() is threading.main_thread())))
    image, _ = samples.cells()
    viewer.add_image(np.stack([image, image[::-1]]), name="stack")
    w = ThresholdingWidget(viewer)
    viewer.window.add_dock_widget(w)
    qtbot.waitUntil(lambda: w.preview_layer is not None and not w.runner.busy, timeout=TIMEOUT)
    w.form["method"].value = "li"
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=TIMEOUT)
    worker = w.apply_all_slices()
    qtbot.waitUntil(lambda: not worker.is_running, timeout=TIMEOUT)
    qtbot.wait(100)
    sam = SamWidget(viewer)
    viewer.window.add_dock_widget(sam)
    qtbot.waitUntil(lambda: sam.embedding_ready, timeout=TIMEOUT)
    sam.box_layer.add_rectangles(np.array([[0, 20, 20], [0, 20, 90], [0, 80, 90], [0, 80, 20]]))
    qtbot.waitUntil(lambda: sam.prediction is not None and not sam.decoding, timeout=TIMEOUT)
    sam.commit()
    assert len(seen) > 5
    assert all(on_main for _, on_main in seen), [s for s in seen if not s[1]]

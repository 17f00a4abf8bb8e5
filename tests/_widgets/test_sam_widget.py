"""The Segment Anything dock: clicks in the viewer, candidates, commit with undo, slices, queueing."""

from __future__ import annotations

import time

import numpy as np
import pytest
from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

from napari_segsuite._widgets import SamWidget
from napari_segsuite.sam import SamSession

TIMEOUT = 20_000


class _Event:
    """A mouse event as napari's layers receive it from the canvas."""

    def __init__(self, layer, pos, modifiers=(), type_="mouse_press"):
        self.type = type_
        self.is_dragging = False
        self.modifiers = list(modifiers)
        self.position = tuple(layer._data_to_world(np.asarray(pos, float)))
        self.view_direction = None
        self.dims_displayed = list(range(layer.ndim))[-2:]
        self.dims_point = self.position
        self.button = 1
        self.handled = False
        self.pos = np.asarray(pos)


def click(layer, pos, modifiers=()):
    """A left click (press + release) at data coordinates ``pos`` of ``layer``."""
    mouse_press_callbacks(layer, _Event(layer, pos, modifiers))
    mouse_release_callbacks(layer, _Event(layer, pos, modifiers, "mouse_release"))


def settle(qtbot, w):
    """Wait until the dock has answered the prompts (masks are decoded in a worker)."""
    qtbot.waitUntil(lambda: not w.decoding, timeout=TIMEOUT)
    qtbot.wait(5)


def _scene(h=200, w=260):
    img = np.full((h, w, 3), (30, 80, 30), np.uint8)
    img[50:150, 60:180] = (220, 60, 50)
    return img


def _docked(make_napari_viewer, image=None, name="image", rgb=None):
    """A viewer (with ``image``, if given) and a docked SamWidget."""
    viewer = make_napari_viewer()
    if image is not None:
        viewer.add_image(image, name=name, rgb=rgb)
    w = SamWidget(viewer)
    viewer.window.add_dock_widget(w)
    return viewer, w


@pytest.fixture
def sam_dock(make_napari_viewer, tiny_sam, qtbot):
    viewer, w = _docked(make_napari_viewer, _scene(), "scene", rgb=True)
    w.use_session(SamSession(tiny_sam, device="cpu", cache_dir=False))
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    return viewer, w


def test_clicks_preview_and_commit_with_undo(sam_dock, qtbot):
    viewer, w = sam_dock
    pts = w.points_layer
    assert pts is not None and w.box_layer is not None and pts.mode == "add"
    click(pts, (100, 120))
    settle(qtbot, w)
    assert len(pts.data) == 1 and bool(pts.features["positive"].iloc[0])
    assert w.prediction is not None and w.preview_layer is not None
    assert w.preview_layer.data.shape == (200, 260)
    first = w.preview_layer.data.copy()
    assert "mask" in w.candidate_label.text() and "of 3" in w.candidate_label.text()
    click(pts, (20, 20), modifiers=("Shift",))  # a background point, shown in the other colour
    settle(qtbot, w)
    assert not bool(pts.features["positive"].iloc[1])
    assert not np.allclose(pts.face_color[0], pts.face_color[1])
    assert w._logits is not None  # the previous logits refine the next prediction
    # N (the Next mask button) cycles the candidates
    shown = w.candidate
    w.next_candidate()
    assert w.candidate == (shown + 1) % 3
    assert w.session.encoder_runs == 1 and w.session.decoder_runs == 2
    # Enter commits into a new labels layer as instance 1; the prompts are cleared
    mask = w.prediction.mask(w.candidate)
    w.commit()
    labels = viewer.layers["SAM labels"]
    assert np.array_equal(labels.data > 0, mask) and labels.data.max() == 1
    assert len(pts.data) == 0 and not w.preview_layer.data.any()
    assert first.shape == labels.data.shape
    # a second object gets id 2 and does not overwrite the first
    w.box_layer.add_rectangles(np.array([[10, 10], [60, 90]]))
    settle(qtbot, w)
    assert w.prediction is not None
    second = w.prediction.mask(w.candidate)
    w.commit()
    assert labels.data.max() == 2
    assert np.array_equal(labels.data[mask], np.ones(mask.sum()))  # earlier labels kept
    assert np.array_equal(labels.data == 2, second & ~mask)
    labels.undo()
    assert labels.data.max() == 1


def test_escape_clears_and_class_commit(sam_dock, qtbot):
    viewer, w = sam_dock
    target = viewer.add_labels(np.zeros((200, 260), np.int32), name="classes")
    w.target.value = target
    w.mode.value = "class id"
    w.class_id.value = 7
    click(w.points_layer, (100, 120))
    settle(qtbot, w)
    w.clear()
    assert len(w.points_layer.data) == 0 and w.prediction is None
    click(w.points_layer, (100, 120))
    settle(qtbot, w)
    w.commit()
    assert set(np.unique(target.data)) <= {0, 7} and (target.data == 7).any()


def test_negative_toggle_and_key_bindings(sam_dock):
    viewer, w = sam_dock
    w.negative.value = True
    click(w.points_layer, (10, 10))
    assert not bool(w.points_layer.features["positive"].iloc[0])
    bound = {str(k).lower() for k in w.points_layer.keymap}
    assert {"n", "enter", "escape"} <= bound
    box_keys = {str(k) for k in w.box_layer.keymap}
    assert not box_keys & {"Enter", "Escape", "Tab"}, "the shapes layer keeps napari's finish-drawing keys"
    assert "Tab" not in {str(k) for k in w.points_layer.keymap}, "Tab stays Qt's focus key"


def test_the_keys_are_shown_and_can_be_rebound(sam_dock, make_napari_viewer):
    """Keys → 'next candidate mask' = M: M works in 'SAM points', N no longer does, the help line
    says M, and the next session keeps it. Tab and a key another action has are refused."""
    from qtpy.QtGui import QKeySequence

    from napari_segsuite._widgets import settings

    viewer, w = sam_dock
    assert "N next candidate mask" in w.keys_help.text()
    calls = []
    w.next_candidate = lambda: calls.append("next")
    edit = w.keys_panel.edits["next"]
    edit.setKeySequence(QKeySequence("M"))
    edit.editingFinished.emit()
    bound = {str(k).lower(): f for k, f in w.points_layer.keymap.items()}
    assert "m" in bound and "n" not in bound and "M next candidate mask" in w.keys_help.text()
    bound["m"](w.points_layer)
    assert calls == ["next"]
    settings.flush()
    assert settings.get("sam.key.next") == "M"
    for refused, why in (("Tab", "focus"), ("Return", "already does 'commit the mask'")):
        edit.setKeySequence(QKeySequence(refused))
        edit.editingFinished.emit()
        assert why in w.keys_panel.message.text() and settings.get("sam.key.next") == "M"
        assert edit.keySequence().toString() == "M", "the key in force stays in the field"
    again = SamWidget(make_napari_viewer())
    assert again.keys_panel.key("next") == "M"


def test_prompts_before_the_embedding_are_queued(make_napari_viewer, tiny_sam, qtbot):
    viewer, w = _docked(make_napari_viewer, _scene(), "scene", rgb=True)
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    original = session.set_image

    def slow_set_image(*a, **k):
        time.sleep(0.5)
        return original(*a, **k)

    session.set_image = slow_set_image
    w.use_session(session)
    assert not w.embedding_ready and "computing" in w.status.text()
    click(w.points_layer, (100, 120))
    assert w.pending and w.prediction is None
    qtbot.waitUntil(lambda: w.prediction is not None, timeout=TIMEOUT)
    assert session.encoder_runs == 1


def test_ui_stays_responsive_while_embedding(make_napari_viewer, qtbot):
    """A QTimer ticking every 10 ms never waits more than 100 ms while the encoder runs."""
    from conftest import build_tiny_sam
    from qtpy.QtCore import QTimer

    sam = build_tiny_sam()
    viewer, w = _docked(make_napari_viewer, _scene(600, 800), "big", rgb=True)
    session = SamSession(sam, device="cpu", cache_dir=False)
    original = session._run_encoder

    def slower_encoder(x):  # the tiny encoder is too quick to measure anything: run it 8 times
        for _ in range(7):
            original(x)
        return original(x)

    session._run_encoder = slower_encoder
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    t0 = time.perf_counter()
    w.use_session(session)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    busy = time.perf_counter() - t0
    timer.stop()
    gaps = np.diff(ticks)
    assert busy > 0.2 and len(gaps) > 5
    assert gaps.max() < 0.1, f"the UI froze for {gaps.max() * 1000:.0f} ms"


def test_slices_embed_lazily(make_napari_viewer, tiny_sam, qtbot):
    stack = np.stack([_scene()[..., 0], _scene()[..., 1], np.roll(_scene()[..., 0], 30, axis=1)])
    viewer, w = _docked(make_napari_viewer, stack, "stack")
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    w.use_session(session)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    assert session.encoder_runs == 1
    start = viewer.dims.current_step[0]  # napari opens a stack on its middle slice
    assert start != 2
    viewer.dims.set_current_step(0, 2)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    assert session.encoder_runs == 2
    click(w.points_layer, (2, 100, 150))
    settle(qtbot, w)
    w.commit()
    labels = viewer.layers["SAM labels"]
    assert labels.data.shape == stack.shape and labels.data[2].any() and not labels.data[start].any()
    viewer.dims.set_current_step(0, start)  # back: from memory, no new encoder run
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    assert session.encoder_runs == 2


def test_classical_fallback_is_the_default(make_napari_viewer, qtbot):
    viewer, w = _docked(make_napari_viewer, _scene(), "scene", rgb=True)
    assert "classical" in w.status.text()
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    w.box_layer.add_rectangles(np.array([[40, 50], [160, 190]]))
    settle(qtbot, w)
    m = w.prediction.mask()
    truth = np.zeros((200, 260), bool)
    truth[50:150, 60:180] = True
    assert (m & truth).sum() / (m | truth).sum() > 0.85


def test_missing_checkpoint_keeps_the_fallback(make_napari_viewer, tmp_path, monkeypatch, qtbot):
    from napari_segsuite.sam import registry

    monkeypatch.setattr(registry, "_models_dir_override", None)  # restored after the test, whatever happens
    viewer, w = _docked(make_napari_viewer)
    w.backend.value = "vit_b"
    w.models_dir.value = str(tmp_path)  # the setting in the dock
    assert registry.models_dir() == tmp_path
    errors = []
    monkeypatch.setattr("napari_segsuite._widgets.sam_model.show_error", errors.append)
    w.load_model()
    qtbot.waitUntil(lambda: not w.loading, timeout=TIMEOUT)
    assert len(errors) == 1 and "models download vit_b" in errors[0] and "stays active" in errors[0]
    assert w.session.backend == "classical" and w.load_button.enabled


def test_precompute_all_slices_in_the_background(make_napari_viewer, tiny_sam, qtbot):
    stack = np.stack([np.roll(_scene()[..., 0], 10 * i, axis=1) for i in range(4)])
    viewer, w = _docked(make_napari_viewer, stack, "stack")
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    w.use_session(session)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    w.precompute_all()
    qtbot.waitUntil(lambda: session.encoder_runs == 4 and not w._precompute_worker.is_running, timeout=TIMEOUT)
    for i in range(4):  # every slice now answers from memory
        viewer.dims.set_current_step(0, i)
        qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    assert session.encoder_runs == 4


def _generate_keeping_all(panel, points_per_side, qtbot):
    """Automatic masks on a grid, with thresholds that keep every candidate (random tiny weights)."""
    panel.points.value = points_per_side
    panel.iou.value = 0.0
    panel.stability.value = 0.0
    panel.nms.value = 1.0
    panel.generate()
    qtbot.waitUntil(lambda: panel.result is not None and panel.worker is None, timeout=TIMEOUT)


def test_automatic_masks_generate_refilter_and_commit(sam_dock, qtbot):
    viewer, w = sam_dock
    panel = w.auto
    runs = w.session.decoder_runs
    _generate_keeping_all(panel, 4, qtbot)
    assert w.session.decoder_runs == runs + 16 and w.session.encoder_runs == 1
    shown = len(panel.shown)
    assert shown > 0 and panel.preview_layer is not None and panel.preview_layer.data.max() == shown
    # a threshold change re-selects without the decoder
    panel.iou.value = float(np.median(panel.result.iou))
    assert w.session.decoder_runs == runs + 16 and len(panel.shown) < shown
    panel.commit()
    labels = viewer.layers["SAM labels"]
    assert labels.data.max() == len(panel.shown)


def test_automatic_masks_cancel_keeps_nothing(sam_dock, qtbot):
    viewer, w = sam_dock
    panel = w.auto
    panel.points.value = 40
    panel.generate()
    qtbot.waitUntil(lambda: w.session.decoder_runs > 3, timeout=TIMEOUT)
    panel.cancel()
    qtbot.waitUntil(lambda: panel.worker is None, timeout=TIMEOUT)
    assert panel.result is None and "cancelled" in panel.status.text()
    assert w.session.decoder_runs < 1600


def test_automatic_masks_need_sam(make_napari_viewer):
    viewer, w = _docked(make_napari_viewer, _scene(), "scene", rgb=True)
    w.auto.generate()  # the classical fallback has no automatic masks: a message, no worker
    assert w.auto.worker is None and w.auto.result is None


def test_refine_a_labels_layer(make_napari_viewer, qtbot):
    """Classical -> SAM: the objects of a rough threshold are redrawn into a new layer."""
    img = _scene()
    truth = np.zeros((200, 260), np.int32)
    truth[50:150, 60:180] = 1
    rough_data = np.zeros_like(truth)
    rough_data[40:160, 50:190] = 1  # a loose box-shaped guess around the object
    viewer, w = _docked(make_napari_viewer, img, "scene", rgb=True)
    rough = viewer.add_labels(rough_data, name="rough")
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    w.refine.source.value = rough
    w.refine.refine()
    qtbot.waitUntil(lambda: w.refine.worker is None and w.refine.result_layer is not None, timeout=TIMEOUT)
    out = viewer.layers["rough refined"].data
    assert np.array_equal(rough.data, rough_data)  # the source is untouched
    m = out == 1
    assert (m & (truth > 0)).sum() / (m | (truth > 0)).sum() > 0.9


def test_post_processing_applies_to_automatic_masks_and_saves_a_preset(sam_dock, qtbot, tmp_path, monkeypatch):
    from napari_segsuite.sam import registry
    from napari_segsuite.sam.pipeline import load_pipeline

    viewer, w = sam_dock
    panel = w.auto
    _generate_keeping_all(panel, 3, qtbot)
    before = panel.preview_layer.data.copy()
    w.post.add_step("post.morphology", {"operation": "erode", "radius": 3})
    after = panel.preview_layer.data
    assert (after > 0).sum() < (before > 0).sum()  # the step re-ran on the stored masks, no decoder
    with pytest.raises(ValueError, match="registry"):
        panel.save(str(tmp_path / "p.json"))  # a model built in memory has no name to save
    monkeypatch.setattr(w.session, "model_name", "vit_b")
    path = panel.save(str(tmp_path / "p.json"))
    p = load_pipeline(path)
    assert p.model == "vit_b" and p.mode == "auto" and p.options["points_per_side"] == 3
    assert [s.technique.name for s in p.post] == ["post.morphology"] and p.post[0].params["radius"] == 3
    assert registry.REGISTRY["vit_b"]


def _ticks_during(qtbot, until, timeout=TIMEOUT):
    """Largest gap (s) between ticks of a 10 ms QTimer while waiting for ``until()``."""
    from qtpy.QtCore import QTimer

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    try:
        qtbot.waitUntil(until, timeout=timeout)
    finally:
        timer.stop()
    return float(np.diff(ticks).max()) if len(ticks) > 1 else 0.0


@pytest.mark.parametrize("prompt", ["click", "box"])
def test_the_classical_fallback_never_freezes_the_ui(make_napari_viewer, qtbot, monkeypatch, prompt):
    from napari_segsuite.sam import ClassicalSession

    original = ClassicalSession._predict

    def slow(self, *a, **k):  # GrabCut on a large photo takes seconds: make the tiny one take 0.6 s
        time.sleep(0.6)
        return original(self, *a, **k)

    monkeypatch.setattr(ClassicalSession, "_predict", slow)
    viewer, w = _docked(make_napari_viewer, _scene(), "scene", rgb=True)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    if prompt == "click":
        click(w.points_layer, (100, 120))
    else:
        w.box_layer.add_rectangles(np.array([[40, 50], [160, 190]]))
    gap = _ticks_during(qtbot, lambda: w.prediction is not None)
    assert gap < 0.1, f"the UI froze for {gap * 1000:.0f} ms"
    assert "classical mask" in w.candidate_label.text() and "IoU" not in w.candidate_label.text()
    assert "classical masks computed" in w.status.text() and "decoder runs" not in w.status.text()


def test_changing_slice_with_sam_never_freezes_the_ui(make_napari_viewer, tiny_sam, qtbot):
    """Reading, converting and hashing a 2048² uint16 slice happens in the worker."""
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 60000, (3, 2048, 2048), dtype=np.uint16)
    viewer, w = _docked(make_napari_viewer, stack, "big stack")
    w.use_session(SamSession(tiny_sam, device="cpu", cache_dir=False))
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=60_000)
    gaps = []
    for i in (0, 2):
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, lambda i=i: viewer.dims.set_current_step(0, i))
        qtbot.wait(1)
        gaps.append(_ticks_during(qtbot, lambda: w.embedding_ready, timeout=60_000))
    assert max(gaps) < 0.25, f"the UI froze for {max(gaps) * 1000:.0f} ms on a slice change"


def test_a_click_is_decoded_against_its_own_slice_after_a_precompute(make_napari_viewer, tiny_sam, qtbot):
    """Precomputing leaves the session on the last slice; a click on slice 0 must still use slice 0."""
    stack = np.stack([np.roll(_scene()[..., 0], 40 * i, axis=1) for i in range(3)])
    viewer, w = _docked(make_napari_viewer, stack, "stack")
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    w.use_session(session)
    viewer.dims.set_current_step(0, 0)
    qtbot.waitUntil(lambda: w.embedding_ready and w.ready_key[1] == (0,), timeout=TIMEOUT)
    w.precompute_all()
    qtbot.waitUntil(lambda: w.precompute_job.worker is None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    assert session.current.key == (2,), "the precompute ended on the last slice"
    click(w.points_layer, (0, 100, 150))
    settle(qtbot, w)
    reference = SamSession(tiny_sam, device="cpu", cache_dir=False)
    reference.set_image(stack[0], (0,))
    expected = reference.predict(points=[[150, 100]], labels=[1])
    np.testing.assert_allclose(w.prediction.logits, expected.logits, atol=1e-4)


def test_precompute_can_be_cancelled(make_napari_viewer, tiny_sam, qtbot):
    stack = np.stack([np.roll(_scene()[..., 0], 10 * i, axis=1) for i in range(6)])
    viewer, w = _docked(make_napari_viewer, stack, "stack")
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    original = session.set_image

    def slow(*a, **k):
        time.sleep(0.2)
        return original(*a, **k)

    w.use_session(session)
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    session.set_image = slow
    w.precompute_all()
    assert w.cancel_precompute_button.enabled
    qtbot.wait(300)
    w.cancel_precompute_button.changed.emit(True)
    qtbot.waitUntil(lambda: w.precompute_job.worker is None, timeout=TIMEOUT)
    assert session.encoder_runs < 6 and w.precompute_button.enabled


def test_a_failed_model_load_shows_the_backend_in_use(make_napari_viewer, tmp_path, monkeypatch, qtbot):
    from napari_segsuite.sam import registry

    monkeypatch.setattr(registry, "_models_dir_override", tmp_path)
    viewer, w = _docked(make_napari_viewer)
    monkeypatch.setattr("napari_segsuite._widgets.sam_model.show_error", lambda m: None)
    w.backend.value = "vit_b"
    w.load_model()
    qtbot.waitUntil(lambda: not w.loading, timeout=TIMEOUT)
    assert w.session.backend == "classical" and w.backend.value == "classical"


def test_a_model_loads_in_a_worker_and_the_dock_keeps_answering_meanwhile(make_napari_viewer, tiny_sam, monkeypatch,
                                                                         qtbot):
    """Reading and checking a checkpoint takes seconds: it happens off the UI thread, the Load button
    is disabled meanwhile, and the new session is used once it is ready."""
    import threading

    from napari_segsuite._widgets import sam_model

    viewer, w = _docked(make_napari_viewer)
    release, threads = threading.Event(), []

    def slow_session(name, checkpoint, **kwargs):
        threads.append(threading.current_thread())
        release.wait(10)
        return SamSession(tiny_sam, device="cpu", cache_dir=False)

    monkeypatch.setattr(sam_model, "open_session", slow_session)
    w.backend.value = "vit_b"
    w.load_model()
    qtbot.waitUntil(lambda: bool(threads), timeout=TIMEOUT)
    assert threads[0] is not threading.main_thread()
    assert w.loading and not w.load_button.enabled and "loading SAM vit_b" in w.status.text()
    assert w.session.backend == "classical"  # still answering clicks with the session it had
    release.set()
    qtbot.waitUntil(lambda: not w.loading, timeout=TIMEOUT)
    assert w.session.backend != "classical" and w.load_button.enabled


def test_a_large_image_is_tiled_and_a_click_answers_at_full_resolution(make_napari_viewer, tiny_sam, qtbot):
    img = np.full((2048, 2048, 3), 40, np.uint8)
    img[1500:1600, 1500:1620] = (200, 70, 60)
    viewer, w = _docked(make_napari_viewer, img, "slide_scan_2048_with_a_long_name.tif", rgb=True)
    w.use_session(SamSession(tiny_sam, device="cpu", cache_dir=False))
    qtbot.waitUntil(lambda: w.embedding_ready, timeout=TIMEOUT)
    assert "tiled, 9 tiles of 1024 px" in w.status.text() and w.session.encoder_runs == 0
    click(w.points_layer, (1550, 1560))
    settle(qtbot, w)
    assert w.session.encoder_runs == 1, "only the clicked tile was embedded"
    mask = w.prediction.mask(w.candidate)
    assert mask.shape == (2048, 2048) and not mask[:1024 - 128].any(), "the mask lies in the clicked tile"
    w.commit()
    labels = viewer.layers["SAM labels"]
    assert labels.data.shape == (2048, 2048) and np.array_equal(labels.data > 0, mask)

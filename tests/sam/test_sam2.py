"""SAM 2: registry entries, the image session against stock SAM2ImagePredictor, the disk cache,
the video tracker against stock SAM2VideoPredictor, and propagation through a stack with it.

The model is SAM 2.1 Hiera-T with random weights (the architecture of the official checkpoint;
no weights can be downloaded here): what is compared is arithmetic, not mask quality.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("sam2", reason="SAM 2 tests need the sam2 package (the [sam2] extra)")

from napari_segsuite.sam import open_session, registry  # noqa: E402
from napari_segsuite.sam.propagate import propagate  # noqa: E402
from napari_segsuite.sam.registry import CheckpointError  # noqa: E402
from napari_segsuite.sam.sam2_session import Sam2Session  # noqa: E402
from napari_segsuite.sam.sam2_video import VideoTracker  # noqa: E402


@pytest.fixture(scope="module")
def sam2_model():
    torch.manual_seed(0)
    return registry.build_model("sam2.1_t")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = (rng.random((300, 400, 3)) * 60).astype(np.uint8)
    yy, xx = np.mgrid[:300, :400]
    img[(yy - 120) ** 2 + (xx - 110) ** 2 < 50**2] += 150
    return img


@pytest.fixture(scope="module")
def stock(sam2_model, image):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    predictor = SAM2ImagePredictor(sam2_model)
    predictor.set_image(image)
    return predictor


@pytest.fixture(scope="module")
def ours(sam2_model, image):
    session = open_session(sam2_model, device="cpu", cache_dir=False)
    session.set_image(image)
    return session


def _stack(n: int = 4):
    yy, xx = np.mgrid[:160, :200]
    frames = []
    for k in range(n):
        img = np.full((160, 200, 3), 40, np.uint8)
        img[(yy - 80) ** 2 + (xx - 70 - 8 * k) ** 2 < 30**2] = 200
        frames.append(img)
    labels = ((yy - 80) ** 2 + (xx - 70) ** 2 < 30**2).astype(np.uint16)
    return np.stack(frames), labels


def test_the_official_sam2_entries_are_registered_with_their_hashes():
    names = [n for n, s in registry.REGISTRY.items() if s.family == "sam2"]
    assert names == ["sam2.1_t", "sam2.1_s", "sam2.1_b+", "sam2.1_l"]
    for n in names:
        s = registry.REGISTRY[n]
        assert s.url.startswith("https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_")
        assert len(s.sha256) == 64 and set(s.sha256) <= set("0123456789abcdef") and s.size > 150_000_000
    assert len({registry.REGISTRY[n].sha256 for n in names}) == 4


def test_open_session_picks_the_session_of_each_family(sam2_model, tiny_sam):
    assert type(open_session(sam2_model, device="cpu", cache_dir=False)) is Sam2Session
    assert type(open_session(tiny_sam, device="cpu", cache_dir=False)).__name__ == "SamSession"
    from napari_segsuite.sam import SamSession

    with pytest.raises(ValueError, match="open_session"):
        SamSession("sam2.1_t")


@pytest.mark.parametrize("prompt", ["point", "box", "box and points"])
@pytest.mark.parametrize("multimask", [True, False])
def test_masks_scores_and_logits_equal_stock_sam2_image_predictor(ours, stock, prompt, multimask):
    kw, skw = {}, {}
    if "point" in prompt:
        kw.update(points=[[110, 120], [300, 40]], labels=[1, 0])
        skw.update(point_coords=np.array([[110, 120], [300, 40]]), point_labels=np.array([1, 0]))
    if "box" in prompt:
        kw.update(box=[50, 60, 180, 190])
        skw.update(box=np.array([50, 60, 180, 190]))
    pred = ours.predict(multimask=multimask, **kw)
    masks, scores, low = stock.predict(multimask_output=multimask, **skw)
    np.testing.assert_allclose(pred.scores, scores, atol=1e-5)
    np.testing.assert_allclose(np.clip(pred.logits, -32, 32), low, atol=1e-4)
    for a, b in zip(pred.masks, masks.astype(bool)):
        assert (a & b).sum() / max((a | b).sum(), 1) >= 0.999  # OpenCV's bilinear resize vs torch's
    # the answer fed back refines as stock's does
    again = ours.predict(mask_input=pred.logits[pred.best], multimask=False, **kw)
    m2, s2, _ = stock.predict(mask_input=low[int(np.argmax(scores))][None], multimask_output=False, **skw)
    np.testing.assert_allclose(again.scores, s2, atol=1e-5)
    assert (again.mask() != m2[0].astype(bool)).sum() <= 2


def test_batched_points_equal_one_by_one(ours):
    logits, scores = ours.predict_points(np.array([[110, 120], [300, 200]]))
    assert logits.shape == (2, 3, 256, 256) and scores.shape == (2, 3)
    one = ours.predict(points=[[300, 200]], labels=[1])
    np.testing.assert_allclose(logits[1], one.logits, atol=1e-4)


def test_a_reopened_image_is_read_from_the_disk_cache(sam2_model, image, ours, tmp_path):
    first = open_session(sam2_model, device="cpu", cache_dir=tmp_path)
    first.set_image(image)
    second = open_session(sam2_model, device="cpu", cache_dir=tmp_path)
    emb = second.set_image(image)
    assert emb.source == "disk" and second.encoder_runs == 0
    np.testing.assert_allclose(second.predict(points=[[110, 120]]).logits, ours.predict(points=[[110, 120]]).logits,
                               atol=1e-5)


def test_the_video_tracker_equals_stock_sam2_video_predictor(sam2_model, tmp_path, capfd):
    from PIL import Image

    stack, labels = _stack()
    for k, frame in enumerate(stack):  # stock reads a folder of JPEG files; its frames are then replaced
        Image.fromarray(frame).save(tmp_path / f"{k:05d}.jpg")  # by the very tensors our session makes
    session = open_session(sam2_model, device="cpu", cache_dir=False)
    state = sam2_model.init_state(str(tmp_path))
    state["images"] = [session.transforms(frame) for frame in stack]
    state["cached_features"] = {}
    sam2_model.add_new_mask(state, 0, 1, labels == 1)
    expected = {k: (lg[0, 0] > 0).cpu().numpy() for k, _, lg in sam2_model.propagate_in_video(state, start_frame_idx=0)}
    capfd.readouterr()
    tracker = VideoTracker(session, stack, 0, labels, [1], +1)
    for k in (1, 2, 3):
        np.testing.assert_array_equal(tracker.step(k)[1], expected[k])
    tracker.close()
    assert "propagate in video" not in capfd.readouterr().err  # no progress bar of SAM 2's own
    assert session.encoder_runs == 4  # one per slice, through the session's cache


def test_propagation_with_sam2_runs_no_encoder_over_precomputed_slices(sam2_model):
    stack, labels = _stack()
    session = open_session(sam2_model, device="cpu", cache_dir=False)
    for k, frame in enumerate(stack):
        session.set_image(frame, k)
    before = session.encoder_runs
    result = propagate(session, stack, 1, labels, min_overlap=0.0, regrowth=False)
    assert session.encoder_runs == before == 4
    assert result.slices() == [0, 1, 2, 3] and result.decoder_runs == 3
    assert all(v == "reached the end of the stack" for v in result.stopped[1].values())


def test_a_checkpoint_of_the_other_family_says_which_it_is(tmp_path):
    sam2_like = {"model": {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(96, 3, 7, 7),
                           **{f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(12)},
                           "memory_attention.norm.weight": torch.zeros(1)}}
    path = tmp_path / "renamed.pt"
    torch.save(sam2_like, path)
    with pytest.raises(CheckpointError, match=r"SAM 2 checkpoint, and model vit_b is SAM 1.*model sam2.1_t"):
        registry.load_model("vit_b", path)
    sam1_like = {"image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16),
                 **{f"image_encoder.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(12)}}
    torch.save(sam1_like, path)
    with pytest.raises(CheckpointError, match=r"SAM 1 \(segment-anything\) checkpoint.*model vit_b"):
        registry.load_model("sam2.1_t", path)


def test_a_sam2_checkpoint_loads_safely_and_keeps_its_weights(sam2_model, tmp_path):
    path = tmp_path / "my_sam2.pt"
    torch.save({"model": sam2_model.state_dict()}, path)
    session = open_session("sam2.1_t", path, device="cpu", cache_dir=False)
    assert isinstance(session, Sam2Session) and session.describe() == "SAM 2 sam2.1_t on cpu"
    a, b = session.model.state_dict(), sam2_model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in list(b)[::40])


def test_without_the_sam2_package_the_error_is_the_line_that_installs_it(monkeypatch):
    from napari_segsuite import extras

    monkeypatch.setattr(extras, "missing", lambda extra, modules=None: ["sam2"] if extra == "sam2" else [])
    with pytest.raises(extras.MissingExtra, match=r'pip install "napari-segsuite\[sam2\]"'):
        open_session("sam2.1_t")


def test_the_reordered_decoder_equals_sam2s_own_and_a_misfit_falls_back(sam2_model, image, ours, monkeypatch):
    slow = open_session(sam2_model, device="cpu", cache_dir=False, fast=False)
    slow.set_image(image)
    assert ours.fast_decoder and not slow.fast_decoder
    for kw in (dict(points=[[110, 120]], labels=[1]), dict(box=[50, 60, 180, 190], multimask=False)):
        a, b = ours.predict(**kw), slow.predict(**kw)
        np.testing.assert_allclose(a.logits, b.logits, atol=1e-4)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    logits, _ = ours.predict_batch(points=np.array([[[110, 120]], [[300, 40]]]), labels=np.ones((2, 1), int))
    np.testing.assert_allclose(logits, slow.predict_batch(points=np.array([[[110, 120]], [[300, 40]]]),
                                                          labels=np.ones((2, 1), int))[0], atol=1e-4)
    from napari_segsuite.sam import decoder

    real = decoder.upscale_logits
    monkeypatch.setattr(decoder, "upscale_logits", lambda *a, **k: real(*a, **k) + 1.0)  # a decoder of another shape
    said = []
    other = open_session(sam2_model, device="cpu", cache_dir=False, notify=said.append)
    other.set_image(image)
    assert not other.fast_decoder and "fast SAM 2 decoder does not fit" in said[0]
    np.testing.assert_allclose(other.predict(points=[[110, 120]]).logits, slow.predict(points=[[110, 120]]).logits,
                               atol=1e-5)

"""SamSession: embedding once, caches, the fast decoder against the stock predictor, prompts."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from napari_segsuite.sam import SamSession, to_sam_rgb
from napari_segsuite.sam.decoder import upsample_mask, upsample_mask_on_device
from napari_segsuite.sam.image import resize_longest_side


def _image(h=300, w=400, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8) + 40
    img[60:200, 80:260] = (200, 60, 50)
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture()
def session(tiny_sam, tmp_path):
    return SamSession(tiny_sam, device="cpu", cache_dir=tmp_path / "emb")


def test_encoder_runs_once_for_many_clicks(session):
    session.set_image(_image())
    rng = np.random.default_rng(1)
    for _ in range(6):
        session.predict(points=rng.uniform(0, 299, (2, 2)), labels=[1, 0])
    session.predict(box=[10, 20, 200, 150])
    assert session.encoder_runs == 1
    assert session.decoder_runs == 7


def test_memory_and_disk_cache(tiny_sam, tmp_path):
    img = _image()
    s1 = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    assert s1.set_image(img).source == "encoder"
    assert s1.set_image(_image(seed=3)).source == "encoder"
    assert s1.set_image(img).source == "memory"
    assert s1.encoder_runs == 2
    ref = s1.predict(points=[[150, 120]], labels=[1])
    # a new session (a reopened image) loads the embedding from disk: no encoder run, same masks
    s2 = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    assert s2.has_embedding(img)
    emb = s2.set_image(img)
    assert emb.source == "disk" and s2.encoder_runs == 0
    out = s2.predict(points=[[150, 120]], labels=[1])
    np.testing.assert_allclose(out.scores, ref.scores, atol=1e-6)
    assert np.array_equal(out.mask(), ref.mask())


def test_disk_cache_keeps_under_its_limit_removing_the_least_recently_used(tiny_sam, tmp_path):
    import os

    notes = []
    s1 = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path, notify=notes.append)
    images = [_image(seed=k) for k in range(3)]
    for img in images:
        s1.set_image(img)
    entries = sorted(tmp_path.rglob("*.npy"))
    assert len(entries) == 3 and not notes  # the default limit (20 GB) is far away
    entry_bytes = entries[0].stat().st_size + entries[0].with_suffix(".json").stat().st_size
    for k, img in enumerate(images):  # written 3, 2, 1 minutes ago, oldest first
        path = tmp_path / s1.model_hash[:16] / f"{s1.set_image(img).image_hash}.npy"
        os.utime(path, (time.time() - 180 + 60 * k,) * 2)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("mine")
    other = tmp_path / s1.model_hash[:16] / "not-an-embedding.npy"
    other.write_bytes(b"x")
    # a reopened image counts as used: the oldest one, loaded by a new session, is kept
    s2 = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path, notify=notes.append,
                    cache_limit_gb=3.5 * entry_bytes / 1e9)
    assert s2.set_image(images[0]).source == "disk"
    s2.set_image(_image(seed=7))  # a fourth embedding: one must go, the one used longest ago (images[1])
    assert s2.has_embedding(images[0]) and s2.has_embedding(_image(seed=7)) and s2.has_embedding(images[2])
    s3 = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    assert not s3.has_embedding(images[1])
    assert len(list(tmp_path.rglob("*.json"))) == 3  # its sidecar went with it
    assert foreign.read_text() == "mine" and other.exists()  # nothing the cache did not write is touched
    assert len(notes) == 1 and "limit" in notes[0] and "removed 1" in notes[0] and "MAX_GB" in notes[0]


def test_disk_cache_limit_from_the_environment(monkeypatch, tiny_sam, tmp_path):
    monkeypatch.setenv("NAPARI_SEGSUITE_EMBEDDINGS_MAX_GB", "0.5")
    assert SamSession(tiny_sam, device="cpu", cache_dir=tmp_path).cache_limit_gb == 0.5
    monkeypatch.setenv("NAPARI_SEGSUITE_EMBEDDINGS_MAX_GB", "lots")
    with pytest.raises(ValueError, match="number of gigabytes"):
        SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)


def test_damaged_disk_cache_is_recomputed(tiny_sam, tmp_path):
    img = _image()
    s1 = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    s1.set_image(img)
    (npy,) = tmp_path.rglob("*.npy")
    npy.write_bytes(b"not an array")
    s2 = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    assert s2.set_image(img).source == "encoder"


def test_other_weights_do_not_share_the_disk_cache(tiny_sam, tmp_path):
    from conftest import build_tiny_sam

    img = _image()
    SamSession(tiny_sam, device="cpu", cache_dir=tmp_path).set_image(img)
    other = SamSession(build_tiny_sam(seed=5), device="cpu", cache_dir=tmp_path)
    assert other.set_image(img).source == "encoder"


def test_lru_keeps_a_bounded_number(tiny_sam):
    s = SamSession(tiny_sam, device="cpu", cache_dir=False, memory_slots=2)
    for seed in range(3):
        s.set_image(_image(seed=seed))
    assert s.set_image(_image(seed=0)).source == "encoder"  # evicted
    assert s.set_image(_image(seed=2)).source == "memory"
    assert s.encoder_runs == 4


@pytest.mark.parametrize("shape", [(300, 400), (400, 300), (1024, 1024), (50, 1100)])
def test_fast_decoder_matches_the_stock_predictor(tiny_sam, shape):
    from segment_anything import SamPredictor

    img = _image(*shape)
    stock = SamPredictor(tiny_sam)
    with torch.inference_mode():
        stock.set_image(img)
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    s.set_image(img)
    rng = np.random.default_rng(0)
    h, w = shape
    cases = [
        dict(point_coords=np.array([[w * 0.4, h * 0.4]]), point_labels=np.array([1])),
        dict(point_coords=rng.uniform(0, min(h, w) - 1, (5, 2)), point_labels=np.array([1, 0, 1, 1, 0])),
        dict(point_coords=rng.uniform(0, min(h, w) - 1, (20, 2)), point_labels=rng.integers(0, 2, 20)),
        dict(box=np.array([w * 0.1, h * 0.2, w * 0.6, h * 0.7])),
    ]
    for case in cases:
        with torch.inference_mode():
            masks, scores, low = stock.predict(**case, multimask_output=True)
        pred = s.predict(points=case.get("point_coords"), labels=case.get("point_labels"), box=case.get("box"))
        np.testing.assert_allclose(pred.scores, scores, atol=1e-4)
        np.testing.assert_allclose(pred.logits, low, atol=1e-3)
        for i in range(3):
            a, b = pred.mask(i), masks[i]
            union = (a | b).sum()
            assert union == 0 or (a & b).sum() / union >= 0.999
        # feeding the logits back as a mask prompt (refinement)
        with torch.inference_mode():
            m2, s2, l2 = stock.predict(**case, mask_input=low[:1], multimask_output=False)
        p2 = s.predict(points=case.get("point_coords"), labels=case.get("point_labels"), box=case.get("box"),
                       mask_input=pred.logits[0], multimask=False)
        np.testing.assert_allclose(p2.logits, l2, atol=1e-3)
        assert p2.logits.shape == (1, 256, 256)


def test_slow_path_agrees_with_fast_path(tiny_sam):
    img = _image()
    fast = SamSession(tiny_sam, device="cpu", cache_dir=False)
    slow = SamSession(tiny_sam, device="cpu", cache_dir=False, fast=False)
    fast.set_image(img)
    slow.set_image(img)
    a = fast.predict(points=[[100, 100], [200, 150]], labels=[1, 0])
    b = slow.predict(points=[[100, 100], [200, 150]], labels=[1, 0])
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-3)


def test_upsample_mask_equals_torch_interpolation():
    import torch.nn.functional as F
    from scipy import ndimage as ndi

    rng = np.random.default_rng(2)
    for input_size, original in [((1024, 768), (1024, 768)), ((768, 1024), (300, 400)), ((1024, 683), (1500, 1001)),
                                 ((1024, 1024), (2048, 2048))]:
        for sigma, q in [(1.0, 0.97), (4.0, 0.9), (40.0, 0.3), (4.0, 0.995)]:
            lo = ndi.gaussian_filter(rng.normal(size=(256, 256)), sigma).astype(np.float32)
            lo -= np.quantile(lo, q)
            t = F.interpolate(torch.as_tensor(lo)[None, None], (1024, 1024), mode="bilinear", align_corners=False)
            t = t[..., : input_size[0], : input_size[1]]
            ref = F.interpolate(t, original, mode="bilinear", align_corners=False)[0, 0].numpy() > 0
            out = upsample_mask(lo, input_size, original)
            assert out.shape == ref.shape
            assert (out != ref).sum() <= 2  # float rounding at exact zero crossings only
            on_device = upsample_mask_on_device(torch.as_tensor(lo), input_size, original)
            assert on_device.shape == ref.shape and (on_device != ref).sum() <= 2
    assert not upsample_mask(-np.ones((256, 256), np.float32), (1024, 1024), (64, 64)).any()


def test_prompts_are_checked(session):
    with pytest.raises(RuntimeError, match="set_image"):
        session.predict(points=[[1, 1]])
    session.set_image(_image())
    with pytest.raises(ValueError, match="no prompt"):
        session.predict()
    with pytest.raises(ValueError, match="zero area"):
        session.predict(box=[10, 10, 10, 50])
    with pytest.raises(ValueError, match="outside the image"):
        session.predict(points=[[-5, 10], [1000, 10]], labels=[1, 1])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        session.predict(points=[1, 2, 3])
    with pytest.raises(ValueError, match="1 \\(object\\) or 0"):
        session.predict(points=[[5, 5]], labels=[3])
    with pytest.raises(ValueError, match="256 x 256"):
        session.predict(points=[[5, 5]], mask_input=np.zeros((64, 64)))
    pred = session.predict(points=[[50, 50], [5000, 5]], labels=[1, 1])
    assert pred.notes == ["1 point(s) outside the image were ignored"]
    pred = session.predict(box=[-50, -50, 100, 100])
    assert "clipped" in pred.notes[0]
    assert pred.mask().shape == (300, 400)


def test_image_conversion():
    gray16 = (np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) * 7)
    rgb = to_sam_rgb(gray16)
    assert rgb.shape == (64, 80, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].min() == 0 and rgb[..., 0].max() == 255 and np.array_equal(rgb[..., 0], rgb[..., 2])
    f = np.random.default_rng(0).normal(size=(32, 32, 3)).astype(np.float32)
    f[0, 0] = np.nan
    out = to_sam_rgb(f)
    assert out[0, 0].tolist() == [0, 0, 0] and out.max() == 255
    rgba = np.zeros((20, 20, 4), np.uint8)
    assert to_sam_rgb(rgba).shape == (20, 20, 3)
    assert to_sam_rgb(np.zeros((3, 20, 20), np.uint8), channel_axis=0).shape == (20, 20, 3)
    assert not to_sam_rgb(np.full((16, 16), 7.0)).any()  # constant: black, no error
    with pytest.raises(ValueError, match="channels"):
        to_sam_rgb(np.zeros((20, 20, 2)))
    with pytest.raises(ValueError, match="at least"):
        to_sam_rgb(np.zeros((4, 100)))
    with pytest.raises(ValueError, match="2D slice"):
        to_sam_rgb(np.zeros((5, 20, 20, 3)))
    with pytest.raises(ValueError, match="finite"):
        to_sam_rgb(np.full((16, 16), np.nan))


@pytest.mark.parametrize("shape", [(321, 481), (481, 321), (8, 8), (9, 1000), (1500, 1100), (2000, 3000), (37, 1025)])
def test_resize_equals_segment_anything_to_one_grey_level(shape):
    from segment_anything.utils.transforms import ResizeLongestSide

    rng = np.random.default_rng(sum(shape))
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    img[: shape[0] // 2] //= 4  # an edge as well as noise
    ref = ResizeLongestSide(64).apply_image(img)
    ours = resize_longest_side(img, 64)
    assert ours.shape == ref.shape and ours.dtype == np.uint8
    diff = np.abs(ours.astype(int) - ref)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    ref = ResizeLongestSide(1024).apply_image(img)
    diff = np.abs(resize_longest_side(img, 1024).astype(int) - ref)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_resize_keeps_an_image_already_at_size():
    img = np.zeros((1024, 700, 3), np.uint8)
    assert resize_longest_side(img, 1024) is img


def test_any_image_kind_runs(session):
    for img in [np.random.default_rng(0).integers(0, 65535, (100, 120), dtype=np.uint16),
                np.random.default_rng(0).random((90, 90, 4)).astype(np.float64), np.zeros((40, 40), bool)]:
        session.set_image(img)
        assert session.predict(points=[[10, 10]]).mask().shape == img.shape[:2]


def test_background_embedding_and_clicks_do_not_interleave(tiny_sam):
    """A click waits for a running set_image (one lock), and then answers on the new image."""
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    s.set_image(_image())
    other = _image(500, 500, seed=9)
    results = []
    t = threading.Thread(target=lambda: s.set_image(other))
    t.start()
    results.append(s.predict(points=[[10, 10]]))
    t.join()
    out = s.predict(points=[[10, 10]])
    assert out.original_size == (500, 500)
    assert results[0].original_size in {(300, 400), (500, 500)}


def test_device_choice():
    from napari_segsuite.sam import available_devices, resolve_device

    assert resolve_device("auto").type in {"cuda", "mps", "cpu"}
    assert resolve_device("cpu").type == "cpu"
    assert "auto" in available_devices()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no usable NVIDIA GPU"):
            resolve_device("cuda")


@pytest.mark.parametrize("relpos", ["folded", "mask"])
def test_sdpa_encoder_matches_stock(tiny_sam, relpos):
    import copy

    from napari_segsuite.sam.accelerate import use_sdpa

    enc = copy.deepcopy(tiny_sam.image_encoder)
    x = torch.randn(1, 3, 1024, 1024)
    with torch.inference_mode():
        ref = tiny_sam.image_encoder(x)
        assert use_sdpa(enc, relpos) == 1
        out = enc(x)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("relpos", ["folded", "mask"])
@pytest.mark.parametrize("size", [(5, 7), (14, 14)])
def test_sdpa_attention_matches_stock_on_any_window(relpos, size):
    """The folded relative-position bias is exact for non-square windows and several heads, with
    trained-looking (non-zero) position tables."""
    import copy

    from segment_anything.modeling.image_encoder import Attention

    from napari_segsuite.sam.accelerate import use_sdpa

    torch.manual_seed(1)
    attn = Attention(40, num_heads=4, use_rel_pos=True, input_size=size).eval()
    with torch.no_grad():
        attn.rel_pos_h.normal_(0, 0.5)
        attn.rel_pos_w.normal_(0, 0.5)
    block = torch.nn.Module()
    block.attn = copy.deepcopy(attn)
    holder = torch.nn.Module()
    holder.blocks = torch.nn.ModuleList([block])
    assert use_sdpa(holder, relpos) == 1
    x = torch.randn(3, *size, 40)
    with torch.inference_mode():
        torch.testing.assert_close(block.attn(x), attn(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="folded"):
        use_sdpa(holder, "dense")


def test_session_encoder_uses_folded_sdpa_and_matches_stock(tiny_sam, monkeypatch):
    """fast=True routes attention through SDPA (the embedding is the stock one); fast=False does not."""
    import copy

    from napari_segsuite.sam import accelerate

    img = _image()
    fast = SamSession(copy.deepcopy(tiny_sam), device="cpu", cache_dir=False)
    slow = SamSession(copy.deepcopy(tiny_sam), device="cpu", cache_dir=False, fast=False)
    seen = []
    original = accelerate._sdpa_forward
    monkeypatch.setattr(accelerate, "_sdpa_forward", lambda attn, x: seen.append(attn) or original(attn, x))
    a, b = fast.set_image(img), slow.set_image(img)
    assert seen == [fast.model.image_encoder.blocks[0].attn], "only the fast session's encoder ran through SDPA"
    torch.testing.assert_close(a.features, b.features, atol=1e-4, rtol=1e-4)
    for session in (fast, slow):  # the models given are left as they came: no instance forward
        assert not {"forward", "_relpos"} & set(vars(session.model.image_encoder.blocks[0].attn))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_cuda_session_matches_cpu(tiny_sam):
    import copy

    img = _image()
    cpu = SamSession(copy.deepcopy(tiny_sam), device="cpu", cache_dir=False)
    gpu = SamSession(copy.deepcopy(tiny_sam), device="cuda", cache_dir=False)
    cpu.set_image(img)
    gpu.set_image(img)
    a, b = cpu.predict(points=[[100, 100]]), gpu.predict(points=[[100, 100]])
    inter, union = (a.mask() & b.mask()).sum(), (a.mask() | b.mask()).sum()
    assert union == 0 or inter / union >= 0.98


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_cuda_session_upsamples_large_images_on_the_gpu(tiny_sam):
    """Images larger than the encoder's input keep their logits on the GPU and upsample there:
    the same mask as the CPU upsampling of the same logits."""
    gpu = SamSession(tiny_sam, device="cuda", cache_dir=False)
    gpu.set_image(_image(h=1100, w=1300))
    pred = gpu.predict(points=[[600, 500]])
    assert pred.device_logits is not None and pred.device_logits.device.type == "cuda"
    cpu_mask = upsample_mask(pred.logits[pred.best], pred.input_size, pred.original_size)
    # the GPU rounds differently where logits cross 0 (the tiny model's hover near it): 4 of 1.43 M seen
    assert pred.mask().shape == (1100, 1300) and (pred.mask() != cpu_mask).sum() <= 20
    gpu.set_image(_image())
    assert gpu.predict(points=[[100, 100]]).device_logits is None  # small images: the CPU path, as measured


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_cuda_graph_replays_the_eager_encoder(tiny_sam):
    """The captured encoder gives the eager bf16 encoder's features, for each of two images in
    turn (the graph's buffers are reused, the returned features are not)."""
    import copy

    graphed = SamSession(copy.deepcopy(tiny_sam), device="cuda", cache_dir=False)
    eager = SamSession(copy.deepcopy(tiny_sam), device="cuda", cache_dir=False, cuda_graph=False)
    first, second = _image(seed=1), _image(seed=2)
    g1, g2 = graphed.set_image(first).features, graphed.set_image(second).features
    assert graphed._graphed is not None and eager._graphed is None
    e1, e2 = eager.set_image(first).features, eager.set_image(second).features
    torch.testing.assert_close(g1, e1, atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(g2, e2, atol=2e-2, rtol=2e-2)
    assert (g1 - g2).abs().max() > 1e-2


def test_cuda_graph_capture_failure_runs_eagerly_and_says_so(tiny_sam, monkeypatch):
    """When the encoder cannot be captured, the session says why, encodes kernel by kernel, and
    does not try to capture again for every image."""
    from napari_segsuite.sam import accelerate

    attempts = []

    def refuse(*args):
        attempts.append(args)
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    monkeypatch.setattr(accelerate, "GraphedEncoder", refuse)
    messages = []
    s = SamSession(tiny_sam, device="cpu", cache_dir=False, notify=messages.append)
    assert s.cuda_graph  # on with fast=True; used only on CUDA
    assert s._captured_encoder() is None and s._captured_encoder() is None
    assert len(attempts) == 1
    assert len(messages) == 1 and "operation not permitted" in messages[0] and "kernel by kernel" in messages[0]
    assert SamSession(tiny_sam, device="cpu", cache_dir=False, cuda_graph=False)._captured_encoder() is None


def test_out_of_memory_falls_back_to_the_cpu(tiny_sam):
    """An out-of-memory error while encoding moves the model to the CPU, says so, and still answers."""
    messages = []
    s = SamSession(tiny_sam, device="cpu", cache_dir=False, notify=messages.append)
    original = s._run_encoder
    calls = []

    def oom_once(x):
        calls.append(1)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(x)

    s._run_encoder = oom_once
    emb = s.set_image(_image())
    assert emb.source == "encoder" and s.device.type == "cpu" and len(calls) == 2
    assert messages and "out of memory" in messages[0] and "CPU" in messages[0]
    assert s.predict(points=[[10, 10]]).mask().shape == (300, 400)


def test_embedding_cache_folder_from_the_environment(monkeypatch, tmp_path, tiny_sam):
    from napari_segsuite.sam.embedding_cache import ENV_EMBEDDINGS, default_embedding_dir

    monkeypatch.setenv(ENV_EMBEDDINGS, str(tmp_path))
    assert default_embedding_dir() == tmp_path
    SamSession(tiny_sam, device="cpu").set_image(_image())
    assert list(tmp_path.rglob("*.npy")) and list(tmp_path.rglob("*.json"))


def test_a_model_whose_decoder_the_fast_path_does_not_fit_uses_the_stock_decoder_and_says_so(tiny_sam):
    """A fine-tuned variant or another segment-anything release whose mask decoder computes something
    the fast path does not: the session notices with its first embedding, notes it once, and clicks
    give the stock masks."""
    import copy

    from napari_segsuite.sam import decoder

    assert decoder.fits(tiny_sam) is None, "the tiny model is stock segment-anything"
    variant = copy.deepcopy(tiny_sam)
    stock_forward = variant.mask_decoder.forward

    def shifted(*args, **kwargs):
        low, iou = stock_forward(*args, **kwargs)
        return low + 1.0, iou

    variant.mask_decoder.forward = shifted
    assert "differ" in decoder.fits(variant)
    notes = []
    session = SamSession(variant, device="cpu", cache_dir=False, notify=notes.append)
    img = _image()
    session.set_image(img)  # checked with the first embedding, off the UI thread
    assert not session.fast_decoder and len(notes) == 1
    assert "does not fit" in notes[0] and f"segment-anything {decoder.CHECKED_WITH}" in notes[0]
    stock = SamSession(variant, device="cpu", cache_dir=False, fast=False)
    stock.set_image(img)
    a, b = session.predict(points=[[100, 100]]), stock.predict(points=[[100, 100]])
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-5)
    batch, _ = session.predict_points(np.array([[100, 100], [30, 40]]))
    assert batch.shape[0] == 2

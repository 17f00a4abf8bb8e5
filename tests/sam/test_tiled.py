"""Large images: tiles embedded as clicks need them, answers in full-image coordinates, the same
result as on the tile's own pixels, prompts never cut, per-tile disk cache, bad settings refused."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.sam import SamSession
from napari_segsuite.sam.embed import embed_file
from napari_segsuite.sam.tiled import TiledImage, Window, embed_tiles, prompt_window, tile_windows


def _large(h=2048, w=2048, seed=0):
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 40, np.uint8)
    for y, x in [(300, 300), (1000, 1700), (1800, 200)]:
        img[y - 60:y + 60, x - 80:x + 80] = (200, 70, 60)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture()
def session(tiny_sam, tmp_path):
    return SamSession(tiny_sam, device="cpu", cache_dir=tmp_path / "emb")


def test_windows_cover_the_image_with_overlapping_cores():
    windows = tile_windows((2048, 3000), 1024, 128)
    covered = np.zeros((2048, 3000), int)
    for w in windows:
        assert (w.h, w.w) == (1024, 1024)
        covered[w.slices] += 1
    assert covered.min() >= 1 and len(windows) == 3 * 4
    assert tile_windows((600, 900), 1024, 128) == [Window(0, 0, 600, 900)]
    with pytest.raises(ValueError, match="the halo .512 px. must be under half the tile .1024 px."):
        tile_windows((2048, 2048), 1024, 512)


def test_a_prompt_goes_to_the_tile_with_most_context_or_gets_a_window_of_its_own():
    windows = tile_windows((2048, 2048), 1024, 128)
    chosen = prompt_window((2048, 2048), windows, (1000, 1000, 1010, 1010), 1024)
    assert (chosen.y0, chosen.x0) == (768, 768), "the tile with the widest margin around the click"
    wide = prompt_window((2048, 2048), windows, (100, 900, 1900, 1100), 1024)  # a box wider than a tile
    assert wide.margin((100, 900, 1900, 1100)) >= 0 and wide.w > 1024


def test_an_image_that_fits_is_embedded_whole_as_before(session, tiny_sam):
    img = _large(1200, 1500)
    emb = session.set_image(img)
    assert not isinstance(emb, TiledImage) and session.encoder_runs == 1
    whole = SamSession(tiny_sam, device="cpu", cache_dir=False, tile_above=None)
    whole.set_image(img)
    a = session.predict(points=[[300, 300]], labels=[1])
    b = whole.predict(points=[[300, 300]], labels=[1])
    assert np.array_equal(a.logits, b.logits)


def test_clicks_on_a_large_image_embed_only_the_tiles_they_need(session, tiny_sam):
    img = _large()
    emb = session.set_image(img)
    assert isinstance(emb, TiledImage) and session.encoder_runs == 0, "nothing embedded before a click"
    pred = session.predict(points=[[300, 300]], labels=[1])
    assert session.encoder_runs == 1
    mask = pred.mask()
    assert mask.shape == (2048, 2048)
    assert not mask[pred.window.slices[0].stop:].any() and not mask[:, pred.window.slices[1].stop:].any()
    # the same answer as SAM on the tile's own pixels, shifted
    window = pred.window
    alone = SamSession(tiny_sam, device="cpu", cache_dir=False)
    alone.set_image(img[window.slices])
    ref = alone.predict(points=[[300 - window.x0, 300 - window.y0]], labels=[1])
    assert np.array_equal(pred.logits, ref.logits)
    assert np.array_equal(mask[window.slices], ref.mask())
    session.predict(points=[[310, 290]], labels=[1], mask_input=pred.logits[pred.best])
    assert session.encoder_runs == 1, "a second click on the same tile reuses it"
    session.predict(points=[[1700, 1000]], labels=[1])
    assert session.encoder_runs == 2, "a click elsewhere embeds its own tile"


def test_a_box_wider_than_a_tile_is_answered_whole(session):
    session.set_image(_large())
    pred = session.predict(box=[100, 900, 1900, 1100])
    assert pred.window.margin((100, 900, 1900, 1100)) >= 0, "never cropped"
    assert pred.mask().shape == (2048, 2048)


def test_tiles_are_cached_on_disk_one_by_one(tiny_sam, tmp_path):
    first = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    img = _large()
    tiled = first.set_image(img)
    assert embed_tiles(first, tiled) == len(tiled.windows) == 9
    again = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    again.set_image(img)
    again.predict(points=[[1700, 1000]], labels=[1])
    assert again.encoder_runs == 0, "the clicked tile came from the disk cache"


def test_napari_segsuite_embed_precomputes_the_tiles(tiny_sam, tmp_path):
    import tifffile

    path = tmp_path / "large.tif"
    tifffile.imwrite(path, _large())
    outcome = embed_file(str(path), tiny_sam, cache_dir=str(tmp_path / "cache"), device="cpu")
    assert outcome.status == "written" and "in 9 tiles, 9 encoded" in outcome.message, outcome


def test_bad_tile_settings_are_refused_when_the_session_is_made(tiny_sam):
    with pytest.raises(ValueError, match="a tile of 512 px is smaller than the encoder's input .1024 px."):
        SamSession(tiny_sam, device="cpu", cache_dir=False, tile=512)
    with pytest.raises(ValueError, match="must be under half the tile"):
        SamSession(tiny_sam, device="cpu", cache_dir=False, halo=600)


class _BrightBlobSession:
    """A stand-in for SamSession with a perfect 'decoder': a point is answered with the bright blob
    under it on the image set last, as SAM's low-resolution logits (so the tiling and the merging
    of automatic masks are tested, not the weights)."""

    backend, img_size, tile, halo = "sam", 1024, 1024, 128

    def tiles(self, shape):
        return max(shape[:2]) > 1.5 * self.img_size

    def set_image(self, rgb, key=None, *, tiled=None, channel_axis=None):
        from types import SimpleNamespace

        import torch
        from scipy import ndimage as ndi

        from napari_segsuite.sam.image import resized_shape

        self.blobs, n = ndi.label(rgb[..., 0] > 128)
        h, w = resized_shape(self.blobs.shape, self.img_size)
        self.low = [np.full((256, 256), -10.0, np.float32)]  # per blob id: its logits (0: nothing)
        for i in range(1, n + 1):
            m = torch.nn.functional.interpolate(torch.from_numpy((self.blobs == i)[None, None].astype(np.float32)), size=(h, w))
            padded = torch.nn.functional.pad(m, (0, self.img_size - w, 0, self.img_size - h))
            low = torch.nn.functional.interpolate(padded, size=(256, 256), mode="area")[0, 0].numpy()
            self.low.append(np.where(low > 0.5, 10.0, -10.0).astype(np.float32))
        return SimpleNamespace(input_size=(h, w))

    def predict_points(self, points, multimask=True):
        h, w = self.blobs.shape
        ids = [self.blobs[min(int(y), h - 1), min(int(x), w - 1)] for x, y in points]
        logits = np.stack([np.repeat(self.low[i][None], 3, axis=0) for i in ids])
        return logits, np.full((len(points), 3), 0.95, np.float32)


def test_automatic_masks_on_a_tiled_image_keep_objects_on_seams_whole_and_once():
    from napari_segsuite.sam.auto import generate, grid_size

    yy, xx = np.mgrid[:2048, :2048]
    centres = [(400, 1024), (400, 768), (1024, 1024), (1500, 300), (1792, 1792), (60, 2030)]  # on seams, a corner
    truth = np.zeros((2048, 2048), np.int32)
    for i, (cy, cx) in enumerate(centres, start=1):
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= 30**2] = i
    img = np.where(truth[..., None] > 0, 220, 30).astype(np.uint8).repeat(3, -1)
    session = _BrightBlobSession()
    windows = tile_windows((2048, 2048), 1024, 128)
    assert grid_size((2048, 2048), points_per_side=32, tiles=windows) == 32 * 32 * 10
    masks = generate(session, img, points_per_side=32, tiles=windows)
    labels = masks.labels(pred_iou_thresh=0.9, stability_score_thresh=0.9)
    assert labels.max() == len(centres), "each object once"
    for i in range(1, len(centres) + 1):
        found = np.bincount(labels[truth == i]).argmax()
        got = labels == found
        iou = (got & (truth == i)).sum() / (got | (truth == i)).sum()
        assert found > 0 and iou > 0.9, (centres[i - 1], iou)
    with pytest.raises(ValueError, match="a tiled image takes no crop layers"):
        generate(session, img, points_per_side=4, tiles=windows, crop_n_layers=1)


def test_a_large_lazy_image_is_never_read_whole(tiny_sam):
    """A dask array of 16-bit microscopy: after the stretch's sample, a click reads only its tile."""
    import dask.array as da

    rng = np.random.default_rng(0)
    pixels = (rng.normal(300, 20, (3072, 3072)) + 2000 * (_large(3072, 3072)[..., 0] > 128)).astype(np.uint16)
    read = []

    class Counting:
        shape, dtype, ndim = pixels.shape, pixels.dtype, 2

        def __getitem__(self, key):
            out = pixels[key]
            read.append(out.size)
            return out

    lazy = da.from_array(Counting(), chunks=(512, 512))
    session = SamSession(tiny_sam, device="cpu", cache_dir=False)
    tiled = session.set_image(lazy)
    assert isinstance(tiled, TiledImage) and tiled.original_size == (3072, 3072)
    read.clear()
    pred = session.predict(points=[[300, 300]], labels=[1])
    assert sum(read) <= 1024 * 1024 + 2 * 512 * 1024, "the click read its tile's chunks, not the image"
    assert pred.mask().shape == (3072, 3072)
    whole = SamSession(tiny_sam, device="cpu", cache_dir=False).set_image(pixels)
    assert isinstance(whole, TiledImage), "the same image in memory is tiled the same way"
    assert whole.windows == tiled.windows

"""Classical -> SAM refinement of a labels layer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.sam import ClassicalSession
from napari_segsuite.sam.hybrid import prompts_from_labels, refine_labels
from napari_segsuite.techniques import CATALOG


def _scene():
    rng = np.random.default_rng(0)
    img = np.full((160, 220, 3), (30, 80, 30), np.float64)
    truth = np.zeros((160, 220), np.int32)
    yy, xx = np.mgrid[:160, :220]
    for k, (cy, cx, r) in enumerate([(50, 60, 25), (100, 150, 30)], 1):
        disk = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        img[disk] = (210, 70, 50)
        truth[disk] = k
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8), truth


def test_prompts_from_labels():
    labels = np.zeros((50, 60), np.int32)
    labels[10:21, 5:26] = 3
    labels[40, 40] = 7
    p = prompts_from_labels(labels)
    assert [q.label for q in p] == [3, 7]
    assert p[0].box == (5, 10, 25, 20) and p[0].point[1] == 15 and p[0].area == 11 * 21
    assert [q.label for q in prompts_from_labels(labels, min_area=2)] == [3]
    with pytest.raises(ValueError, match="2-D"):
        prompts_from_labels(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("mode", ["box", "point", "box+point"])
def test_rough_threshold_objects_are_redrawn(mode):
    img, truth = _scene()
    # a rough first guess: too large around boxes (a box must hold the object), too small for points
    rough = CATALOG["post.morphology"](truth, operation="dilate" if "box" in mode else "erode", radius=6)
    refined, notes = refine_labels(ClassicalSession(), img, rough, mode=mode)
    assert refined.max() == 2 and not notes
    for k in (1, 2):
        obj = truth == k
        best = max(((refined == j) & obj).sum() / ((refined == j) | obj).sum() for j in (1, 2))
        before = ((rough == k) & obj).sum() / ((rough == k) | obj).sum()
        assert best > 0.85 and best > before


def test_nothing_lost_and_bad_input():
    class Empty(ClassicalSession):
        def predict(self, *a, **k):
            p = super().predict(*a, **k)
            p._full[0] = np.zeros_like(p._full[0])
            return p

    img, truth = _scene()
    refined, notes = refine_labels(Empty(), img, truth)
    assert np.array_equal(refined > 0, truth > 0) and "kept their original pixels" in notes[0]
    out, notes = refine_labels(ClassicalSession(), img, np.zeros_like(truth))
    assert not out.any() and "no object" in notes[0]
    with pytest.raises(ValueError, match="shape"):
        refine_labels(ClassicalSession(), img, truth[:10])
    with pytest.raises(ValueError, match="mode"):
        refine_labels(ClassicalSession(), img, truth, mode="lasso")
    with pytest.raises(InterruptedError):
        refine_labels(ClassicalSession(), img, truth, cancel=lambda: True)


def test_sam_refinement_uses_the_cached_embedding(tiny_sam):
    from napari_segsuite.sam import SamSession

    img, truth = _scene()
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    s.set_image(img)
    refined, _ = refine_labels(s, img, truth, mode="box+point")
    assert s.encoder_runs == 1 and s.decoder_runs == 2 and refined.shape == truth.shape


def test_batched_refinement_equals_one_by_one(tiny_sam):
    """SAM refinement sends the objects through the decoder in batches: same masks as one at a time."""
    from napari_segsuite.sam import SamSession

    img, truth = _scene()
    truth[130:150, 10:40] = 3
    s = SamSession(tiny_sam, device="cpu", cache_dir=False)
    for mode in ("box", "point", "box+point"):
        batched, _ = refine_labels(s, img, truth, mode=mode, batch_size=16)
        single, _ = refine_labels(s, img, truth, mode=mode, batch_size=1)
        # equal but for logits within rounding of 0: BLAS may sum a batch of 16 in another order
        # than one prompt (seen on the Xeon host of an H100)
        assert (batched != single).mean() < 2e-3, f"{(batched != single).sum()} pixels differ ({mode})"
        one = [s.predict(box=p.box if "box" in mode else None, points=[p.point] if "point" in mode else None,
                         multimask=mode == "point").mask() for p in prompts_from_labels(truth)]
        for k, m in enumerate(one):  # each object's mask appears (possibly under a smaller one)
            assert ((batched > 0) | ~m).all() or not m.any()
    with pytest.raises(ValueError, match="no prompt"):
        s.predict_batch()

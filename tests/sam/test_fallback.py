"""The classical prompt backend: GrabCut for boxes, seeded watershed for points."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite import cv_compat
from napari_segsuite.sam import ClassicalSession


def _scene(h=240, w=320, seed=0):
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), (40, 90, 40), np.float64)
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - 120) ** 2 + (xx - 150) ** 2 < 60 ** 2
    img[disk] = (220, 60, 50)
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8), disk


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_box_uses_grabcut():
    img, disk = _scene()
    s = ClassicalSession()
    s.set_image(img)
    pred = s.predict(box=[80, 50, 220, 190])
    assert _iou(pred.mask(), disk) > 0.9
    assert pred.masks.shape == (1, 240, 320) and s.decoder_runs == 1


def test_without_opencv_boxes_use_a_seeded_watershed_and_say_so(monkeypatch):
    from napari_segsuite import cv_compat

    monkeypatch.setattr(cv_compat, "cv2", None)
    img, disk = _scene()
    s = ClassicalSession()
    s.set_image(img)
    assert _iou(s.predict(box=[80, 50, 220, 190]).mask(), disk) > 0.9
    assert _iou(s.predict(box=[80, 50, 220, 190], points=[[150, 120]], labels=[1]).mask(), disk) > 0.9
    assert 'pip install "napari-segsuite[opencv]"' in s.describe()
    s.set_image(np.zeros((50, 60), np.uint16))
    assert s.predict(box=[0, 0, 59, 49]).mask().shape == (50, 60)  # box covering the image


def test_points_use_a_seeded_watershed():
    img, disk = _scene()
    s = ClassicalSession()
    s.set_image(img)
    assert _iou(s.predict(points=[[150, 120]], labels=[1]).mask(), disk) > 0.9
    # a negative click outside, on a large image (worked on a shrunk copy)
    big, bigdisk = _scene(900, 1200)
    s.set_image(big)
    m = s.predict(points=[[150, 120], [600, 600]], labels=[1, 0]).mask()
    assert m.shape == (900, 1200) and _iou(m, bigdisk) > 0.9


def test_edge_cases():
    s = ClassicalSession()
    with pytest.raises(RuntimeError, match="set_image"):
        s.predict(points=[[1, 1]])
    s.set_image(np.zeros((50, 60), np.uint16))
    assert not s.predict(points=[[10, 10]], labels=[0]).mask().any()  # only a negative click
    flat = s.predict(points=[[10, 10]], labels=[1]).mask()  # constant image: no crash
    assert flat.shape == (50, 60)
    assert s.predict(box=[0, 0, 59, 49]).mask().shape == (50, 60)  # box covering the image
    with pytest.raises(ValueError, match="zero area"):
        s.predict(box=[5, 5, 5, 5])


def test_small_objects_keep_their_detail_on_large_images():
    """A 12-pixel nucleus in a 1200 x 1500 image: found at full resolution around the click."""
    img = np.full((1200, 1500), 20, np.uint8)
    yy, xx = np.mgrid[:1200, :1500]
    nucleus = (yy - 600) ** 2 + (xx - 700) ** 2 < 6 ** 2
    img[nucleus] = 200
    s = ClassicalSession()
    s.set_image(img)
    assert _iou(s.predict(points=[[700, 600]]).mask(), nucleus) > 0.8


def test_on_a_large_image_a_prompt_is_worked_on_in_a_tile_around_it_at_full_resolution():
    """On a 6000² image a box around a 40-pixel object was grown by a tenth of the image (600 px)
    and the crop shrunk 3x for GrabCut; now by a tenth of a tile, as SamSession would tile it."""
    rng = np.random.default_rng(0)
    n = 6000
    img = np.clip(40 + rng.normal(0, 8, (n, n, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.ogrid[:n, :n]
    for cy, cx in [(4321, 1234), (4321, 1300), (4250, 1234), (1000, 1000)]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < 20**2] = 200
    truth = (yy - 4321) ** 2 + (xx - 1234) ** 2 < 20**2
    found = {}
    for name, kwargs in (("tile", {}), ("whole image", {"tile_above": None})):
        session = ClassicalSession(**kwargs)
        session.set_image(img)
        for prompt in ("box", "point"):
            arg = dict(box=[1210, 4297, 1258, 4345]) if prompt == "box" else dict(points=[[1234, 4321]], labels=[1])
            mask = session.predict(**arg).mask()
            found[name, prompt] = (mask & truth).sum() / (mask | truth).sum()
    assert found["tile", "box"] > 0.95 and found["tile", "point"] > 0.95, found
    if cv_compat.available():  # GrabCut on the shrunk crop: the whole-image reach loses the edge
        assert found["whole image", "box"] < found["tile", "box"] - 0.05, found

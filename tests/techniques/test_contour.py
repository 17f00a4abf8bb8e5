"""Active contours find a disk from a checkerboard, a frame, or a drawn initial shape."""

from __future__ import annotations

import numpy as np

from napari_segsuite.techniques import get


def _disk(noise=10.0):
    y, x = np.mgrid[:80, :100]
    disk = (x - 55) ** 2 + (y - 40) ** 2 < 20**2
    img = np.where(disk, 170.0, 60.0) + np.random.default_rng(0).normal(0, noise, disk.shape)
    return np.clip(img, 0, 255).astype(np.uint8), disk


def _dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_chan_vese_finds_the_bright_disk_and_can_take_the_dark_phase():
    img, disk = _disk()
    assert _dice(get("contour.chan_vese")(img) == 1, disk) > 0.97
    assert _dice(get("contour.chan_vese")(img, foreground="darker") == 1, ~disk) > 0.97


def test_chan_vese_from_an_initial_shape_keeps_its_inside_as_label_1():
    img, disk = _disk()
    init = np.zeros(disk.shape, np.int32)
    init[30:50, 45:65] = 1
    assert _dice(get("contour.chan_vese")(img, init=init) == 1, disk) > 0.97


def test_geodesic_contour_shrinks_from_a_box_onto_the_disk():
    img, disk = _disk(noise=3)
    box = np.zeros(disk.shape, np.int32)
    box[10:72, 25:90] = 1
    out = get("contour.geodesic")(img, init=box, iterations=300)
    assert _dice(out == 1, disk) > 0.9


def test_geodesic_contour_that_vanishes_says_what_to_do():
    flat = np.full((40, 40), 100, np.uint8)
    flat[0, 0] = 101
    result = get("contour.geodesic").run(flat, iterations=200)
    assert not result.data.any() and any("vanished" in n for n in result.notes)

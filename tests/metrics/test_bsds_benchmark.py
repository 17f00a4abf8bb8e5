"""The BSDS500 benchmark reproduces the original MATLAB benchmark's reference outputs."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.metrics import (
    bsds_boundary_image,
    bsds_collect,
    bsds_region_collect,
    bsds_region_image,
    correspond_pixels,
)

IDS = ["2018", "3063", "5096", "6046", "8068"]


def _bench(shared_data):
    return shared_data / "bsds500" / "bench" / "data"


def _gt(bench, i):
    from napari_segsuite.io.bsds import read_bsds_groundtruth

    return read_bsds_groundtruth(bench / "groundTruth" / f"{i}.mat")


def test_boundary_benchmark_matches_test_2(shared_data):
    import imageio.v3 as iio

    bench = _bench(shared_data)
    counts = []
    for i in IDS:
        pb = iio.imread(bench / "png" / f"{i}.png") / 255.0
        counts.append(bsds_boundary_image(pb, _gt(bench, i).boundaries, thresholds=5))
    res = bsds_collect(counts)
    ref = np.loadtxt(bench / "test_2" / "eval_bdry.txt")  # thr R P F  R P F  AP
    assert res.ods["f"] == pytest.approx(ref[3], abs=0.005)
    assert res.ois["f"] == pytest.approx(ref[6], abs=0.005)
    assert res.ap == pytest.approx(ref[7], abs=0.01)
    assert res.ods["threshold"] == pytest.approx(ref[0], abs=1e-4)
    per_thr = np.loadtxt(bench / "test_2" / "eval_bdry_thr.txt")
    np.testing.assert_allclose([r["f"] for r in res.per_threshold], per_thr[:, 3], atol=0.005)


def test_region_benchmark_matches_test_4_and_test_5(shared_data):
    import scipy.io as sio

    bench = _bench(shared_data)
    counts = []
    for i in IDS:
        segs = list(sio.loadmat(bench / "segs" / f"{i}.mat")["segs"][0])
        counts.append(bsds_region_image(segs, _gt(bench, i).segmentations))
    res = bsds_region_collect(counts)
    for test in ("test_4", "test_5"):
        cover = np.loadtxt(bench / test / "eval_cover.txt")  # thr ODS OIS best
        ri_voi = np.loadtxt(bench / test / "eval_RI_VOI.txt")  # thr PRI_ODS PRI_OIS thr VOI_ODS VOI_OIS
        assert res["covering_ods"] == pytest.approx(cover[1], abs=0.01)
        assert res["covering_ois"] == pytest.approx(cover[2], abs=0.01)
        assert res["covering_best"] == pytest.approx(cover[3], abs=0.01)
        assert res["pri_ods"] == pytest.approx(ri_voi[1], abs=0.01)
        assert res["pri_ois"] == pytest.approx(ri_voi[2], abs=0.01)
        assert res["voi_ods"] == pytest.approx(ri_voi[4], abs=0.01)
        assert res["voi_ois"] == pytest.approx(ri_voi[5], abs=0.01)


def test_correspond_pixels_is_one_to_one_within_the_radius():
    a = np.zeros((50, 50), bool)
    b = np.zeros((50, 50), bool)
    a[10, 5:45] = True  # 40 pixels
    b[12, 5:25] = True  # 20 pixels, 2 px away: all matchable
    b[40, 5:45] = True  # 40 pixels, far away
    m1, m2 = correspond_pixels(a, b, max_dist=3 / np.hypot(50, 50))
    assert m1.sum() == m2.sum() == 20
    assert not m2[40].any()

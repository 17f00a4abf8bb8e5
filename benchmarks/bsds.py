"""BSDS500 boundary benchmark of the catalog's edge detectors on the val split.

    python benchmarks/bsds.py [--split val] [--thresholds 30] [--limit N]

Each method's soft boundary map is thresholded at ``--thresholds`` levels (the benchmark's own
sweep; the original uses 99) and scored with napari_segsuite.metrics (thinning, one-to-one
matching within 0.0075 of the diagonal, all annotators): ODS F, OIS F and AP, printed beside the
published test-split figures.

Soft maps: Canny = gradient magnitude on the non-maximum-suppressed edges (no hysteresis),
divided by its 99.5th percentile and clipped to [0, 1]; Sobel = gradient magnitude, same scaling.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from napari_segsuite.io import read_image
from napari_segsuite.io.bsds import read_bsds_groundtruth
from napari_segsuite.metrics import bsds_boundary_image, bsds_collect
from napari_segsuite.techniques import prepare_slice
from napari_segsuite.techniques.edges import _smooth, _sobel_xy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bsds500"
PUBLISHED = {"canny": (0.600, 0.640, None), "sobel": (None, None, None)}


def _scale(m: np.ndarray) -> np.ndarray:
    top = float(np.percentile(m[m > 0], 99.5)) if (m > 0).any() else 1.0
    return np.clip(m / (top or 1.0), 0, 1)


def canny_pb(gray: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    dx, dy = _sobel_xy(_smooth(gray, sigma))
    mag = cv2.magnitude(dx, dy)
    top = float(max(np.abs(dx).max(), np.abs(dy).max())) or 1.0
    s = 32000.0 / top
    nms = cv2.Canny((dx * s).astype(np.int16), (dy * s).astype(np.int16), 1, 1, L2gradient=True) > 0
    return _scale(mag * nms)


def sobel_pb(gray: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    dx, dy = _sobel_xy(_smooth(gray, sigma))
    return _scale(cv2.magnitude(dx, dy))


METHODS = {"canny": canny_pb, "sobel": sobel_pb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="val")
    ap.add_argument("--thresholds", type=int, default=30)
    ap.add_argument("--limit", type=int, default=None, help="only the first N images")
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    args = ap.parse_args()
    images = sorted((DATA / "images" / args.split).glob("*.jpg"))[: args.limit]
    if not images:
        raise SystemExit(f"no BSDS images under {DATA / 'images' / args.split}")
    print(f"BSDS500 {args.split}: {len(images)} images, {args.thresholds} thresholds, tolerance 0.0075 x diagonal\n")
    print(f"{'method':8s} {'ODS F':>7s} {'OIS F':>7s} {'AP':>7s}   published (test split) ODS / OIS   time")
    for name in args.methods:
        t0 = time.perf_counter()
        counts = []
        for path in images:
            gray, _ = prepare_slice(read_image(path), has_channels=True)
            gt = read_bsds_groundtruth(DATA / "groundTruth" / args.split / f"{path.stem}.mat")
            counts.append(bsds_boundary_image(METHODS[name](gray), gt.boundaries, thresholds=args.thresholds))
        res = bsds_collect(counts)
        pub = PUBLISHED.get(name, (None, None, None))
        pub_s = f"{pub[0]:.3f} / {pub[1]:.3f}" if pub[0] else "-"
        print(f"{name:8s} {res.ods['f']:7.3f} {res.ois['f']:7.3f} {res.ap:7.3f}   {pub_s:33s} {time.perf_counter() - t0:5.0f} s")


if __name__ == "__main__":
    main()

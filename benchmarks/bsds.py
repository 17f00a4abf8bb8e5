"""BSDS500 boundary benchmark of the catalog's techniques on the val split.

    python benchmarks/bsds.py [--split val] [--thresholds 30] [--limit N] [--methods ...] [--workers 2]

Edge detectors give a soft boundary map, thresholded at ``--thresholds`` levels (the original
uses 99). Segmentation methods are swept over their main parameter from fine to coarse, one
binary boundary map per value, as the BSDS benchmark scores them. Everything is scored with
napari_segsuite.metrics (thinning, one-to-one matching within 0.0075 of the diagonal, all
annotators): ODS F, OIS F and AP, printed beside the published test-split figures
(Arbelaez et al., PAMI 2011, table 1).

Soft maps of the edge detectors come from the catalog's own code: Canny = gradient magnitude on
the non-maximum-suppressed edges (the hysteresis thresholds are what the sweep replaces), divided
by its 99.5th percentile and clipped to [0, 1]; "canny colour" uses the technique's
``gradient="colour"`` (strongest Lab channel); Sobel = gradient magnitude, same scaling.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from napari_segsuite.io import read_image
from napari_segsuite.io.bsds import read_bsds_groundtruth
from napari_segsuite.metrics import bsds_boundary_image, bsds_boundary_maps, bsds_collect
from napari_segsuite.metrics.boundary import label_boundaries
from napari_segsuite.techniques import CATALOG, prepare_slice
from napari_segsuite.techniques.cluster import meanshift_sweep
from napari_segsuite.techniques.edges import _colour_gradient, _smooth, _sobel_xy
from napari_segsuite.techniques.graph import normalized_cuts

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bsds500"
PUBLISHED = {  # ODS / OIS on the test split
    "canny": (0.600, 0.640), "canny colour": (0.600, 0.640), "felzenszwalb": (0.610, 0.640),
    "meanshift": (0.640, 0.680), "normalized_cut": (0.640, 0.680),
}


def _scale(m: np.ndarray) -> np.ndarray:
    top = float(np.percentile(m[m > 0], 99.5)) if (m > 0).any() else 1.0
    return np.clip(m / (top or 1.0), 0, 1)


def _nms(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    top = float(max(np.abs(dx).max(), np.abs(dy).max())) or 1.0
    s = 32000.0 / top
    return cv2.Canny((dx * s).astype(np.int16), (dy * s).astype(np.int16), 1, 1, L2gradient=True) > 0


def canny_pb(rgb: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    gray, _ = prepare_slice(rgb, has_channels=True)
    dx, dy = _sobel_xy(_smooth(gray, sigma))
    return _scale(cv2.magnitude(dx, dy) * _nms(dx, dy))


def canny_colour_pb(rgb: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    data, info = prepare_slice(rgb, has_channels=True, mode="color")
    dx, dy = _colour_gradient(data, info, sigma)
    return _scale(cv2.magnitude(dx, dy) * _nms(dx, dy))


def sobel_pb(rgb: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    gray, _ = prepare_slice(rgb, has_channels=True)
    dx, dy = _sobel_xy(_smooth(gray, sigma))
    return _scale(cv2.magnitude(dx, dy))


SOFT = {"canny": canny_pb, "canny colour": canny_colour_pb, "sobel": sobel_pb}
# segmentation methods: (technique, fixed params, swept parameter, values from fine to coarse)
SWEEPS = {
    "felzenszwalb": ("graph.felzenszwalb", {"sigma": 0.8, "min_size": 300}, "scale", np.geomspace(20, 5000, 16)),
    "meanshift": ("cluster.meanshift", {"spatial_bandwidth": 8, "max_samples": 17, "min_size": 600, "merge": "boundary",
                                        "range_scale": "contrast"}, "range_bandwidth",
                  3 * 8 ** (np.arange(-2, 18) / 15)),  # 3..24 in 16 geometric steps, two more at each end
    "normalized_cut": ("graph.normalized_cut", {"n_segments": 1500, "compactness": 6.0, "cue": "histogram"}, "threshold",
                       np.geomspace(0.3, 0.003, 16)),
}
# post-processing after a method's segmentations (technique, params): mean shift leaves one-pixel
# jagged borders in texture, which the smallest majority filter straightens
POST = {"meanshift": ("post.majority", {"radius": 1})}
# techniques whose sweep shares work between values: same labels as one call per value (tested)
SHARED = {"graph.normalized_cut": normalized_cuts, "cluster.meanshift": meanshift_sweep}  # one call for the whole sweep
METHODS = [*SOFT, *SWEEPS]


def score_image(args: tuple[str, Path, Path, int]):
    name, path, gt_path, thresholds = args
    rgb = read_image(path)
    gt = read_bsds_groundtruth(gt_path).boundaries
    if name in SOFT:
        return bsds_boundary_image(SOFT[name](rgb), gt, thresholds=thresholds)
    tech, fixed, param, values = SWEEPS[name]
    if tech in SHARED:
        params = {k: v for k, v in CATALOG[tech].validate_params(fixed).items() if k != param}
        segs = SHARED[tech](*prepare_slice(rgb, has_channels=True, mode="color"), [float(v) for v in values], **params)
    else:
        segs = (CATALOG[tech](rgb, channel_axis=-1, **fixed, **{param: float(v)}) for v in values)
    if name in POST:
        step, step_params = POST[name]
        segs = (CATALOG[step](s, **step_params) for s in segs)
    maps = (label_boundaries(s) for s in segs)
    return bsds_boundary_maps(maps, gt, levels=np.linspace(0, 1, len(values)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="val")
    ap.add_argument("--thresholds", type=int, default=30)
    ap.add_argument("--limit", type=int, default=None, help="only the first N images")
    ap.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    images = sorted((DATA / "images" / args.split).glob("*.jpg"))[: args.limit]
    if not images:
        raise SystemExit(f"no BSDS images under {DATA / 'images' / args.split}")
    print(f"BSDS500 {args.split}: {len(images)} images, tolerance 0.0075 x diagonal; edge maps at {args.thresholds} "
          f"thresholds, segmentations at {', '.join(f'{len(v[3])} ({k})' for k, v in SWEEPS.items())} parameter values\n")
    print(f"{'method':15s} {'ODS F':>7s} {'OIS F':>7s} {'AP':>7s}   published (test) ODS / OIS   time")
    with ProcessPoolExecutor(args.workers) as pool:
        for name in args.methods:
            t0 = time.perf_counter()
            jobs = [(name, p, DATA / "groundTruth" / args.split / f"{p.stem}.mat", args.thresholds) for p in images]
            res = bsds_collect(list(pool.map(score_image, jobs)))
            pub = PUBLISHED.get(name)
            pub_s = f"{pub[0]:.3f} / {pub[1]:.3f}" if pub else "-"
            ap_s = f"{res.ap:7.3f}" if name in SOFT else "      -"  # AP needs a soft map's full sweep
            print(f"{name:15s} {res.ods['f']:7.3f} {res.ois['f']:7.3f} {ap_s}   {pub_s:27s} {time.perf_counter() - t0:5.0f} s", flush=True)


if __name__ == "__main__":
    main()

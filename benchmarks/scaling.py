"""How each technique's cost grows with image size, beside scikit-image's equivalent (issue 20 §0).

    python benchmarks/scaling.py [--sizes 256 512 1024 2048 4096 8192] [--only NAME ...] [--budget 60]

Each technique runs (the fastest of three runs under 0.3 s, of two under 10 s, else one run)
with its default parameters on an RGB scene (the astronaut image, resized to each size; label
techniques get the connected components of its thresholded red channel; the two that need seeds
get three seed points, on the face, the suit and the background), and
the scikit-image / scipy call a user would otherwise make runs on the same input in the same run.
Two extra rows set region.watershed beside napari-segment-blobs-and-things-with-membranes'
watersheds (seeds on the raw image; local minima of the blurred image), which are the scikit-image
calls shown in ``nsbatwm_rows``. Printed per size: our time and theirs; then the growth of the cost per pixel from the smallest to
the largest size measured (1.0 = linear in pixels; the target is at most about 1.5). A technique is
not run at the next size once one run took longer than ``--budget`` seconds (that size would take
about four times as long).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from without_opencv import inputs

from napari_segsuite.techniques import CATALOG


def _gray(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray

    return rgb2gray(rgb).astype(np.float32)


def baselines() -> dict:
    """technique name -> f(rgb, labels) calling the nearest scikit-image / scipy function."""
    from scipy import ndimage as ndi
    from skimage import feature, filters, measure, morphology, segmentation

    return {
        "threshold.global": lambda rgb, lab: _gray(rgb) > filters.threshold_otsu(_gray(rgb)),
        "threshold.multiotsu": lambda rgb, lab: np.digitize(_gray(rgb), filters.threshold_multiotsu(_gray(rgb))),
        "threshold.adaptive": lambda rgb, lab: _gray(rgb) > filters.threshold_local(_gray(rgb), 35),
        "edges.canny": lambda rgb, lab: feature.canny(_gray(rgb), 1.5),
        "edges.sobel": lambda rgb, lab: filters.sobel(_gray(rgb)),
        "edges.log": lambda rgb, lab: ndi.gaussian_laplace(_gray(rgb), 2.0),
        "graph.felzenszwalb": lambda rgb, lab: segmentation.felzenszwalb(rgb, scale=100, sigma=0.8, min_size=20),
        "graph.slic": lambda rgb, lab: segmentation.slic(rgb, n_segments=250, compactness=10, start_label=1),
        "region.watershed": lambda rgb, lab: segmentation.watershed(filters.sobel(_gray(rgb))),
        "contour.chan_vese": lambda rgb, lab: segmentation.chan_vese(_gray(rgb)),
        "post.fill_holes": lambda rgb, lab: ndi.binary_fill_holes(lab > 0),
        "post.remove_small": lambda rgb, lab: morphology.remove_small_objects(lab, 64),
        "post.connected_components": lambda rgb, lab: measure.label(lab > 0),
        "post.morphology": lambda rgb, lab: morphology.binary_opening(lab > 0, morphology.disk(1)),
        "region.random_walker": lambda rgb, lab: segmentation.random_walker(_gray(rgb), seed_points(rgb.shape[:2])),
    }


def seed_points(shape: tuple[int, int]) -> np.ndarray:
    """Three seed points (ids 1-3) at the same places of the scene at every size: face, suit,
    background."""
    seeds = np.zeros(shape, np.int32)
    for i, (fy, fx) in enumerate([(0.25, 0.45), (0.75, 0.35), (0.2, 0.9)], start=1):
        seeds[int(fy * shape[0]), int(fx * shape[1])] = i
    return seeds


def nsbatwm_rows() -> dict:
    """Extra rows: napari-segment-blobs-and-things-with-membranes' watersheds (its functions are
    these scikit-image calls) beside the same flood through ``region.watershed``."""
    from scipy import ndimage as ndi
    from skimage.filters import gaussian
    from skimage.morphology import local_minima
    from skimage.segmentation import watershed

    ws = CATALOG["region.watershed"]

    def local_minima_seeded(rgb, lab):  # nsbatwm.local_minima_seeded_watershed(image, spot_sigma=2)
        blurred = gaussian(_gray(rgb), sigma=2)
        return watershed(blurred, ndi.label(local_minima(blurred))[0])

    return {
        "watershed, seeds on image": (
            lambda rgb, lab: ws(rgb, channel_axis=-1, seeds=lab, surface="image", sigma=0),
            lambda rgb, lab: watershed(_gray(rgb), lab)),  # nsbatwm.seeded_watershed(membranes, seeds)
        "watershed, minima of image": (
            lambda rgb, lab: ws(rgb, channel_axis=-1, surface="image", sigma=2, h=1.0), local_minima_seeded),
    }


def seconds(fn) -> float:
    """The fastest of three runs when a run takes under 0.3 s, of two under 10 s, else one run
    (a shared machine's noise is mostly slowdowns)."""
    best = float("inf")
    for runs in range(1, 4):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        if best > 10 or (best > 0.3 and runs >= 2):
            break
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096, 8192])
    ap.add_argument("--only", nargs="*", help="technique or extra row names (default: every technique, and the "
                    "extra rows)")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds: above this, the next size is skipped")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    extras = nsbatwm_rows()
    unknown = sorted(set(args.only or ()) - set(CATALOG) - set(extras))
    if unknown:
        ap.error(f"unknown names {unknown}: a technique of the catalog or one of {sorted(extras)}")
    names = [n for n in args.only if n in CATALOG] if args.only else list(CATALOG)
    theirs_of = baselines()
    cache = {s: inputs(s) for s in args.sizes}
    small = inputs(64)
    for name in names:  # numba kernels compiled before timing
        _ours(CATALOG[name], *small)
    print(f"{'technique':26s} " + " ".join(f"{f'{s}²: ours / theirs':>24s}" for s in args.sizes)
          + "   growth per pixel: ours / theirs")
    rows = [(name, CATALOG[name], theirs_of.get(name)) for name in names]
    rows += [(name, ours, theirs) for name, (ours, theirs) in extras.items() if not args.only or name in args.only]
    for name, tech, theirs in rows:
        row, ours_t, theirs_t = f"{name:26s} ", {}, {}
        for s in args.sizes:
            rgb, lab = cache[s]
            if ours_t and max(ours_t.values()) > args.budget:
                row += f"{'(skipped)':>24s} "
                continue
            ours_t[s] = seconds(lambda: _ours(tech, rgb, lab))
            if theirs is not None and not (theirs_t and max(theirs_t.values()) > args.budget):
                theirs_t[s] = seconds(lambda: theirs(rgb, lab))
            cell = f"{ours_t[s]:8.3f} / " + (f"{theirs_t[s]:7.3f} s" if s in theirs_t else "      — ")
            row += f"{cell:>24s} "
        row += "   " + " / ".join(_growth(t) for t in (ours_t, theirs_t))
        print(row, flush=True)


def _ours(tech, rgb: np.ndarray, lab: np.ndarray):
    """Run a catalog technique on the input it takes, or an extra row's function."""
    if not hasattr(tech, "channels"):
        return tech(rgb, lab)
    img = lab if tech.channels == "labels" else rgb
    seeds = {"seeds": seed_points(img.shape[:2])} if any(i.required for i in tech.inputs) else {}
    return tech(img, channel_axis=None if img.ndim == 2 else -1, **seeds)


def _growth(times: dict[int, float]) -> str:
    """Cost per pixel at the largest size over the cost per pixel at the smallest, ``xN.N``."""
    if len(times) < 2:
        return "—"
    lo, hi = min(times), max(times)
    return f"x{(times[hi] / hi ** 2) / (times[lo] / lo ** 2):.1f} ({lo}² → {hi}²)"


if __name__ == "__main__":
    main()

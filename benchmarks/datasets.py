"""Classical pipelines scored against the masks of real data sets (same run, same images).

    python benchmarks/datasets.py [--limit N]

DSB2018 nuclei (50 images, instance masks): foreground Dice / IoU and instance F1 at IoU 0.5.
Colour-stain images (dark nuclei on a bright background, mean > 127) are inverted first, for
every pipeline alike.
Weizmann horses (164 images, figure-ground masks): Dice / IoU of the horse. Unsupervised
two-phase methods do not know which phase is the horse: the phase that scores better is taken
(stated "best phase"), a common convention for figure-ground evaluation of unsupervised methods.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from skimage.io import imread

from napari_segsuite.io.datasets import iter_instance_dataset
from napari_segsuite.metrics import score
from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.chain import Chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

DSB = {
    "otsu": [("threshold.global", {"method": "otsu", "components": True})],
    "otsu + fill + split_touching": [("threshold.global", {"method": "otsu"}), ("post.fill_holes", {}),
                                      ("post.remove_small", {"min_size": 15}), ("post.split_touching", {"min_distance": 5})],
    "adaptive (sauvola 51) + cc": [("threshold.adaptive", {"method": "sauvola", "block_size": 51}), ("post.remove_small", {"min_size": 15}),
                                    ("post.connected_components", {})],
    "watershed (distance)": [("region.watershed", {"markers": "distance", "min_distance": 5})],
    "kmeans k=2 (brighter class) + cc": [("cluster.kmeans", {"k": 2})],
    "chan_vese + cc": [("contour.chan_vese", {}), ("post.connected_components", {})],
}
HORSES = {
    "otsu": [("threshold.global", {"method": "otsu"})],
    "kmeans k=2 (lab)": [("cluster.kmeans", {"k": 2})],
    "fuzzy c-means k=2": [("cluster.fuzzy_cmeans", {"k": 2})],
    "chan_vese": [("contour.chan_vese", {})],
    "chan_vese + fill + open": [("contour.chan_vese", {}), ("post.fill_holes", {}), ("post.morphology", {"radius": 3})],
    "hierarchical k=2 (ward)": [("cluster.hierarchical", {"n_clusters": 2})],
}


def dice_iou(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    inter = np.logical_and(pred, gt).sum()
    total = pred.sum() + gt.sum()
    union = np.logical_or(pred, gt).sum()
    return (2 * inter / total if total else 1.0), (inter / union if union else 1.0)


def best_phase(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of the phase of ``pred`` (a label value, or background) that best matches ``gt``."""
    best = max((dice_iou(pred == v, gt) for v in np.unique(pred) if v > 0), default=(0.0, 0.0))
    return max(best, dice_iou(pred == 0, gt))  # the horse may be the background phase


def invert_stain(img: np.ndarray) -> np.ndarray:
    """A colour stain (dark nuclei on a bright background, mean > 127) inverted; others as they are."""
    return 255 - img if img.mean() > 127 else img


def components(mask: np.ndarray) -> np.ndarray:
    """Instances of a binary mask: its connected components."""
    return CATALOG["post.connected_components"](mask.astype(np.uint8))


def dsb_objects(name: str, chain: Chain, img: np.ndarray) -> np.ndarray:
    """The nuclei that the DSB pipeline ``name`` (its ``chain``) finds in a stain-inverted image."""
    pred = chain.run(img, channel_axis=-1).data
    return components(pred == 2) if name.startswith("kmeans") else pred  # class 2 = the brighter cluster


def dsb(limit: int | None) -> None:
    # read once for every pipeline; a colour stain is inverted for all alike
    samples = [(invert_stain(img), gt) for _, img, gt in iter_instance_dataset(DATA / "dsb2018", limit=limit)]
    print(f"DSB2018 nuclei: {len(samples)} images")
    print(f"{'pipeline':32s} {'Dice':>6s} {'IoU':>6s} {'F1@0.5':>7s} {'s/img':>6s}")
    for name, steps in DSB.items():
        chain = Chain(steps)
        dice, iou, f1, t0 = [], [], [], time.perf_counter()
        for img, gt in samples:
            pred = dsb_objects(name, chain, img)
            d, i = dice_iou(pred > 0, gt > 0)
            dice.append(d)
            iou.append(i)
            f1.append(score(pred, gt, kind="instance").summary.get("f1@0.5", np.nan))
        seconds = (time.perf_counter() - t0) / len(samples)
        print(f"{name:32s} {np.mean(dice):6.3f} {np.mean(iou):6.3f} {np.nanmean(f1):7.3f} {seconds:6.2f}", flush=True)


def horses(limit: int | None) -> None:
    masks = sorted((DATA / "weizmann_horse" / "figure_ground").glob("*.jpg"))[:limit]
    samples = []  # read once for every pipeline: the gray images, which are at the masks' size
    for mpath in masks:
        gt = imread(mpath) > 127
        samples.append((imread(DATA / "weizmann_horse" / "gray" / mpath.name), gt if gt.ndim == 2 else gt[..., 0]))
    print(f"\nWeizmann horses: {len(masks)} images (best phase)")
    print(f"{'pipeline':32s} {'Dice':>6s} {'IoU':>6s} {'s/img':>6s}")
    for name, steps in HORSES.items():
        chain = Chain(steps)
        dice, iou, t0 = [], [], time.perf_counter()
        for img, gt in samples:
            best = best_phase(chain.run(img).data, gt)
            dice.append(best[0])
            iou.append(best[1])
        print(f"{name:32s} {np.mean(dice):6.3f} {np.mean(iou):6.3f} {(time.perf_counter() - t0) / len(masks):6.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"the shared data folder {DATA} is missing")
    dsb(args.limit)
    horses(args.limit)


if __name__ == "__main__":
    main()

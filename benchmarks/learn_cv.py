"""Cross-validated networks trained with the user's recipe, against the best classical pipelines.

    python benchmarks/learn_cv.py [--set dsb|horses] [--scribbles] [--folds 5] [--only-fold K]

The images of a data set in ../shared/data, in sorted order, form five folds (image i is in fold
i % 5). For each fold a network is trained on the other four fifths with the recipe that
`napari-segsuite train` and the Train dock use (learn.train.TrainConfig's defaults; it holds out
20 % of its training images for model selection), then scored on the fold's images, which it has
never seen, predicted as `napari-segsuite predict` does (with the mirror images averaged;
``--no-flips``: without). Beside it, in the same run and on the same images, the classical pipelines of
benchmarks/datasets.py. Reported per fold and as mean ± standard deviation over the folds.

* ``--set dsb`` (default): the 50 DSB2018 nucleus images; an instance U-Net (interior + boundary,
  watershed). Scores: per-image means of foreground Dice (pixel F1) and instance F1 at IoU 0.5.
  The classical pipelines see colour stains inverted, as in datasets.py.
* ``--set dsb --scribbles``: the network learns from strokes instead of full masks, as a user
  paints them in the dock: in each training image, 10 % of the objects (at least one) get their
  skeleton painted as "object" and a ring 3 pixels outside them as "background", and as many
  short strokes (at least two) on the background away from the objects; nothing else is labelled.
  A semantic U-Net is trained on these sparse labels; its objects are the connected
  components of the "object" class, and (a second row) the same mask after the post-processing
  steps of the "otsu + fill + split_touching" pipeline, as a user chains them in the app.
* ``--set horses``: the 164 Weizmann horses (RGB, figure-ground); a semantic U-Net. Score: per-image
  mean IoU of the horse. The classical pipelines run on the gray images as in datasets.py and are
  given their better phase (an advantage the network does not get).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from datasets import DSB, HORSES, best_phase, components, dice_iou, dsb_objects, invert_stain
from scipy import ndimage as ndi
from skimage.io import imread
from skimage.morphology import skeletonize

from napari_segsuite.io.datasets import iter_instance_dataset
from napari_segsuite.learn.models import NetConfig
from napari_segsuite.learn.train import TrainConfig, train
from napari_segsuite.metrics import score
from napari_segsuite.techniques.chain import Chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
Scores = dict[str, float]


def scribbles(labels: np.ndarray, rng: np.random.Generator, fraction: float = 0.1) -> np.ndarray:
    """Sparse strokes a user might paint: for ``fraction`` of the objects (at least one), the
    object's skeleton as 2 ("object") and a one-pixel ring 3 pixels outside it as 1 ("background",
    only where no object is); and as many short background strokes (at least two) away from the
    objects: pieces of the skeleton of the background more than 5 pixels from any object, each
    within 15 pixels of a random point of it. 0 elsewhere (not annotated)."""
    ids = np.unique(labels[labels > 0])
    out = np.zeros(labels.shape, np.uint8)
    if not ids.size:
        return out
    chosen = rng.choice(ids, size=max(1, round(fraction * ids.size)), replace=False)
    for i in chosen:
        obj = labels == i
        out[skeletonize(obj)] = 2
        ring = ndi.binary_dilation(obj, iterations=4) & ~ndi.binary_dilation(obj, iterations=3)
        out[ring & (labels == 0)] = 1
    far = skeletonize(ndi.distance_transform_edt(labels == 0) > 5)
    ys, xs = np.nonzero(far)
    yy, xx = np.ogrid[:labels.shape[0], :labels.shape[1]]
    for j in rng.choice(ys.size, size=min(max(2, chosen.size), ys.size), replace=False):
        out[far & ((yy - ys[j]) ** 2 + (xx - xs[j]) ** 2 <= 15 ** 2) & (out == 0)] = 1
    return out


def _instance_scores(preds: list[np.ndarray], truths: list[np.ndarray]) -> Scores:
    dice = [dice_iou(p > 0, g > 0)[0] for p, g in zip(preds, truths)]
    f1 = [score(p, g, kind="instance").summary.get("f1@0.5", 0.0) for p, g in zip(preds, truths)]
    return {"pixel F1": float(np.mean(dice)), "instance F1@0.5": float(np.mean(f1))}


def _dsb_classical(images: list[np.ndarray], truths: list[np.ndarray]) -> dict[str, Scores]:
    images = [invert_stain(img) for img in images]
    chains = {name: Chain(steps) for name, steps in DSB.items()}
    return {name: _instance_scores([dsb_objects(name, chain, img) for img in images], truths)
            for name, chain in chains.items()}


def _horse_classical(names: list[str], truths: list[np.ndarray], data: Path) -> dict[str, Scores]:
    grays = [imread(data / "weizmann_horse" / "gray" / f"{n}.jpg") for n in names]
    out = {}
    for name, steps in HORSES.items():
        chain = Chain(steps)
        ious = [best_phase(chain.run(img).data, gt > 0)[1] for img, gt in zip(grays, truths)]
        out[name + " (best phase)"] = {"IoU": float(np.mean(ious))}
    return out


def _fold(samples: list, k: int, folds: int, kind: str, minutes: float | None, device: str,
          data: Path, flips: bool = True) -> tuple[dict[str, Scores], str]:
    held = [s for i, s in enumerate(samples) if i % folds == k]
    fit = [s for i, s in enumerate(samples) if i % folds != k]
    names, images, truths = [s[0] for s in held], [s[1] for s in held], [s[2] for s in held]
    rng = np.random.default_rng(k)
    if kind == "dsb-scribbles":
        pairs = [(img, scribbles(lab, rng)) for _, img, lab in fit]
        task, sparse = "semantic", True
    else:
        pairs = [(img, lab) for _, img, lab in fit]
        task, sparse = ("instance" if kind == "dsb" else "semantic"), False
    t = time.perf_counter()
    model = train(pairs, network=NetConfig(), task=task, sparse=sparse, channel_axis=-1,
                  config=TrainConfig(max_minutes=minutes, device=device), name=f"fold{k}")
    minutes_run = (time.perf_counter() - t) / 60
    preds = [model.predict(img, -1, flips=flips) for img in images]
    net = "U-Net (the CLI's recipe" + (", scribbles)" if sparse else ")")
    if kind == "horses":
        results = {net: {"IoU": float(np.mean([dice_iou(p == 1, g > 0)[1] for p, g in zip(preds, truths)]))}}
        results |= _horse_classical(names, truths, data)
    else:
        results = {}
        if sparse:  # objects = connected components of the "object" class (label 2), or split by post steps
            post = Chain(DSB["otsu + fill + split_touching"][1:])
            results[net + " + fill + split touching"] = _instance_scores(
                [post.run((p == 2).astype(np.uint8)).data for p in preds], truths)
            preds = [components(p == 2) for p in preds]
        results = {net: _instance_scores(preds, truths)} | results | _dsb_classical(images, truths)
    info = (f"{len(fit)} training / {len(held)} scored images; trained {minutes_run:.1f} min (best epoch "
            f"{model.info['best_epoch']} of {model.info['epochs_run']}, by {model.info['selected_by']})"
            + (f"; split at distance peaks {model.info['split_h']} deep" if "split_h" in model.info else "")
            + (f"; objects where background < {model.info['foreground_threshold']}"
               if "foreground_threshold" in model.info else ""))
    return results, info


def _print(results: dict[str, Scores], spread: dict[str, Scores] | None = None) -> None:
    for name, values in results.items():
        cells = [f"{m} {v:.3f}" + (f" ± {spread[name][m]:.3f}" if spread else "") for m, v in values.items()]
        print(f"  {name:42s} " + "  ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=("dsb", "horses"), default="dsb")
    ap.add_argument("--scribbles", action="store_true", help="DSB2018: train from strokes on 10 %% of the objects")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only-fold", type=int, default=None, help="run this fold only (0-based)")
    ap.add_argument("--minutes", type=float, default=None, help="training time limit (default: none, as the CLI)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-flips", action="store_true",
                    help="predict each image only, not also its mirror images (as `predict --no-flips`)")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    args = ap.parse_args()
    folder = args.data / ("dsb2018" if args.set == "dsb" else "weizmann_horse")
    if not folder.is_dir():
        raise SystemExit(f"needs the shared data at {folder}")
    kind = "horses" if args.set == "horses" else "dsb-scribbles" if args.scribbles else "dsb"
    samples = [(name, img[..., :3], lab) for name, img, lab in iter_instance_dataset(folder)]
    key: Callable[[Scores], float] = (lambda v: v["IoU"]) if kind == "horses" else (lambda v: v["instance F1@0.5"])
    folds = range(args.folds) if args.only_fold is None else [args.only_fold]
    rows: dict[str, list[Scores]] = {}
    for k in folds:
        results, info = _fold(samples, k, args.folds, kind, args.minutes, args.device, args.data, not args.no_flips)
        print(f"fold {k}: {info}")
        _print(results)
        best = max((n for n in results if not n.startswith("U-Net")), key=lambda n: key(results[n]))
        for net in (n for n in results if n.startswith("U-Net")):
            verdict = "above" if key(results[net]) > key(results[best]) else "NOT above"
            print(f"  {net} is {verdict} the best classical pipeline ({best}: {key(results[best]):.3f})", flush=True)
        for name, values in results.items():
            rows.setdefault(name, []).append(values)
    if len(folds) > 1:
        print(f"\nmean ± std over {len(folds)} folds")
        means = {n: {m: float(np.mean([v[m] for v in vs])) for m in vs[0]} for n, vs in rows.items()}
        spread = {n: {m: float(np.std([v[m] for v in vs])) for m in vs[0]} for n, vs in rows.items()}
        _print(means, spread)


if __name__ == "__main__":
    main()

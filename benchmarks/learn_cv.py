"""Cross-validated DSB2018 nuclei: the user's training recipe against the best classical pipelines.

    python benchmarks/learn_cv.py [--folds 5] [--only-fold K] [--minutes M] [--device cpu]

The 50 images of ../shared/data/dsb2018, in sorted order, form five folds (image i is in fold
i % 5). For each fold, an instance U-Net is trained on the other 40 with the recipe that
`napari-segsuite train --task instance` and the Train dock use (learn.train.TrainConfig; it holds
out 20 % of the 40 for model selection), then scored on the fold's 10 images. Beside it, in the
same run and on the same images, the classical pipelines of benchmarks/datasets.py (colour stains
inverted for them, as there). Reported per fold and as mean ± standard deviation over folds:
per-image mean foreground Dice (pixel F1) and instance F1 at IoU 0.5, and the training time
including validation.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from datasets import DSB

from napari_segsuite.io.datasets import iter_instance_dataset
from napari_segsuite.learn.models import NetConfig
from napari_segsuite.learn.train import TrainConfig, train
from napari_segsuite.metrics import score
from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.chain import Chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _scores(preds: list[np.ndarray], truths: list[np.ndarray]) -> tuple[float, float]:
    """Per-image means of foreground Dice and instance F1@0.5."""
    dice = [2 * ((p > 0) & (g > 0)).sum() / max((p > 0).sum() + (g > 0).sum(), 1) for p, g in zip(preds, truths)]
    f1 = [score(p, g, kind="instance").summary.get("f1@0.5", 0.0) for p, g in zip(preds, truths)]
    return float(np.mean(dice)), float(np.mean(f1))


def _classical(name: str, steps: list, images: list[np.ndarray]) -> list[np.ndarray]:
    chain, preds = Chain(steps), []
    for img in images:
        img = 255 - img if img.mean() > 127 else img  # colour stains: dark nuclei on a bright background
        pred = chain.run(img, channel_axis=-1).data
        if name.startswith("kmeans"):
            pred = CATALOG["post.connected_components"]((pred == 2).astype(np.uint8))
        preds.append(pred)
    return preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only-fold", type=int, default=None, help="run this fold only (0-based)")
    ap.add_argument("--minutes", type=float, default=None, help="training time limit (default: none, as the CLI)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (holding dsb2018/)")
    args = ap.parse_args()
    if not (args.data / "dsb2018").is_dir():
        raise SystemExit(f"needs the shared data at {args.data}")
    samples = [(name, img[..., :3], lab) for name, img, lab in iter_instance_dataset(args.data / "dsb2018")]
    folds = range(args.folds) if args.only_fold is None else [args.only_fold]
    rows: dict[str, list[tuple[float, float]]] = {}
    for k in folds:
        held = [s for i, s in enumerate(samples) if i % args.folds == k]
        fit = [s for i, s in enumerate(samples) if i % args.folds != k]
        t = time.perf_counter()
        model = train([(img, lab) for _, img, lab in fit], network=NetConfig(), task="instance", channel_axis=-1,
                      config=TrainConfig(max_minutes=args.minutes, device=args.device), name=f"fold{k}")
        minutes = (time.perf_counter() - t) / 60
        truths = [lab for *_, lab in held]
        results = {"U-Net (the CLI's recipe)": _scores([model.predict(img, -1) for _, img, _ in held], truths)}
        for name, steps in DSB.items():
            results[name] = _scores(_classical(name, steps, [img for _, img, _ in held]), truths)
        best = max((v for n, v in results.items() if not n.startswith("U-Net")), key=lambda v: v[1])
        net = results["U-Net (the CLI's recipe)"]
        print(f"fold {k}: {len(fit)} training / {len(held)} scored images; trained {minutes:.1f} min "
              f"(best epoch {model.info['best_epoch']} of {model.info['epochs_run']}, by {model.info['selected_by']})")
        for name, (dice, f1) in results.items():
            print(f"  {name:40s} pixel F1 {dice:.3f}  instance F1@0.5 {f1:.3f}")
        print(f"  U-Net {'above' if net[1] > best[1] else 'NOT above'} the best classical instance F1 ({best[1]:.3f})",
              flush=True)
        for name, value in results.items():
            rows.setdefault(name, []).append(value)
    if len(folds) > 1:
        print(f"\nmean ± std over {len(folds)} folds")
        for name, values in rows.items():
            a = np.array(values)
            print(f"  {name:40s} pixel F1 {a[:, 0].mean():.3f} ± {a[:, 0].std():.3f}  "
                  f"instance F1@0.5 {a[:, 1].mean():.3f} ± {a[:, 1].std():.3f}")


if __name__ == "__main__":
    main()

"""A small U-Net trained on DSB2018 nuclei beside the best classical pipelines, same held-out images.

    python benchmarks/learn.py [--minutes 8] [--device cpu] [--gpu-compare-epochs 3]

The 50 DSB2018 images are split by their sorted ids: every 4th image is held out (12), the rest
(38) train an instance U-Net (background / interior / boundary, then a watershed). Reported on the
held-out images: pixel F1 (foreground Dice, pooled over all pixels, and the per-image mean) and
instance F1 at IoU 0.5, for the U-Net and for the classical pipelines of benchmarks/datasets.py
(colour stains inverted for them, as there). Also: training time, and inference time on a
1024x1024 RGB image (median of 5). ``--gpu-compare-epochs N`` additionally times N epochs of the
same training on the CPU and on CUDA in the same run and prints the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from datasets import DSB

from napari_segsuite.io.datasets import iter_instance_dataset
from napari_segsuite.learn.models import NetConfig
from napari_segsuite.learn.train import TrainConfig, train
from napari_segsuite.metrics import score
from napari_segsuite.techniques.chain import Chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _scores(preds: list[np.ndarray], gts: list[np.ndarray]) -> tuple[float, float, float]:
    inter = sum(int(((p > 0) & (g > 0)).sum()) for p, g in zip(preds, gts))
    total = sum(int((p > 0).sum() + (g > 0).sum()) for p, g in zip(preds, gts))
    per_image = [2 * ((p > 0) & (g > 0)).sum() / max((p > 0).sum() + (g > 0).sum(), 1) for p, g in zip(preds, gts)]
    f1 = [score(p, g, kind="instance").summary.get("f1@0.5", np.nan) for p, g in zip(preds, gts)]
    return 2 * inter / max(total, 1), float(np.mean(per_image)), float(np.nanmean(f1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=8.0, help="training time limit (the target allows 10)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's (learn.train.TrainConfig), as the CLI")
    ap.add_argument("--gpu-compare-epochs", type=int, default=0,
                    help="also time N epochs of the same training on the CPU and (when there is one) on CUDA")
    ap.add_argument("--only-compare", action="store_true", help="stop after the device comparison")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (holding dsb2018/)")
    args = ap.parse_args()
    if not (args.data / "dsb2018").is_dir():
        raise SystemExit(f"needs the shared data at {args.data}")

    samples = list(iter_instance_dataset(args.data / "dsb2018"))
    held = [s for i, s in enumerate(samples) if i % 4 == 3]
    fit = [s for i, s in enumerate(samples) if i % 4 != 3]
    print(f"DSB2018: {len(fit)} training images, {len(held)} held-out; torch threads {torch.get_num_threads()}\n")
    pairs = [(img[..., :3], gt) for _, img, gt in fit]
    network = NetConfig(architecture="unet", width=args.width, depth=args.depth)

    if args.gpu_compare_epochs:
        _compare_devices(pairs, network, args.gpu_compare_epochs)
        if args.only_compare:
            return

    config = TrainConfig(**({"max_epochs": args.epochs} if args.epochs else {}), max_minutes=args.minutes,
                         device=args.device)  # the recipe of `napari-segsuite train` and the dock
    t = time.perf_counter()
    model = train(pairs, network=network, config=config, task="instance", channel_axis=-1, name="dsb_unet",
                  on_epoch=lambda r: print(f"  epoch {r['epoch']:3d} loss {r['loss']:.3f} val Dice {r['val_dice']:.3f} "
                                           f"F1@0.5 {r['val_f1']:.3f} ({r['seconds']:.1f} s with validation)", flush=True))
    t_train = time.perf_counter() - t
    print(f"\ntrained in {t_train / 60:.1f} min on {model.info['device']} (best epoch {model.info['best_epoch']}, "
          f"stopped: {model.info['stopped']})\n")

    rows = []
    t = time.perf_counter()
    preds = [model.predict(img[..., :3], -1) for _, img, _ in held]
    rows.append((f"U-Net w{args.width} d{args.depth} (instance)", *_scores(preds, [g for *_, g in held]),
                 (time.perf_counter() - t) / len(held)))
    for name, steps in DSB.items():
        chain = Chain(steps)
        t = time.perf_counter()
        preds = []
        for _, img, _ in held:
            img = 255 - img if img.mean() > 127 else img
            pred = chain.run(img, channel_axis=-1).data
            if name.startswith("kmeans"):
                from napari_segsuite.techniques import CATALOG

                pred = CATALOG["post.connected_components"]((pred == 2).astype(np.uint8))
            preds.append(pred)
        rows.append((name, *_scores(preds, [g for *_, g in held]), (time.perf_counter() - t) / len(held)))
    print(f"{f'held-out DSB2018 ({len(held)} images)':34s} {'pixel F1':>8s} {'(mean/img)':>10s} {'inst F1@0.5':>11s} {'s/img':>6s}")
    for name, pooled, mean, f1, sec in rows:
        print(f"{name:34s} {pooled:8.3f} {mean:10.3f} {f1:11.3f} {sec:6.2f}")
    best = max(rows[1:], key=lambda r: r[3])
    print(f"\nU-Net instance F1@0.5 {rows[0][3]:.3f} vs best classical ({best[0]}) {best[3]:.3f}: "
          f"{'above' if rows[0][3] > best[3] else 'NOT above'}; pixel F1 {rows[0][1]:.3f} (target >= 0.85)")

    model.device = args.device
    big = np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), dtype=np.uint8)
    model.predict(big, -1)  # warm-up (inference copy with folded batch norm)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        model.predict(big, -1)
        times.append(time.perf_counter() - t)
    print(f"inference 1024x1024 RGB on {args.device}: "
          f"{statistics.median(times) * 1000:.0f} ms median (target <= 1000 ms on the CPU)")


def _compare_devices(pairs, network: NetConfig, epochs: int) -> None:
    """Seconds per epoch of the same training on the CPU and on CUDA (no early stop, no validation),
    median over N epochs after one warm-up epoch."""
    per_epoch = {}
    for device in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
        config = TrainConfig(max_epochs=epochs + 1, patience=100, val_fraction=0.0, device=device)
        times = []
        train(pairs, network=network, config=config, task="instance", channel_axis=-1,
              on_epoch=lambda r: times.append(r["seconds"]))
        per_epoch[device] = statistics.median(times[1:])  # the first epoch warms up
        print(f"  {device}: {per_epoch[device]:.2f} s per epoch (25 steps of 8 patches 128x128)", flush=True)
    if "cuda" in per_epoch:
        print(f"CUDA training speed-up over this machine's CPU: {per_epoch['cpu'] / per_epoch['cuda']:.1f}x (target >= 10x)\n")


if __name__ == "__main__":
    main()

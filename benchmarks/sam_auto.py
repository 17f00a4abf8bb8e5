"""Automatic masks: ours beside segment-anything's SamAutomaticMaskGenerator, same run.

    python benchmarks/sam_auto.py [--model vit_b] [--size 1024] [--points-per-side 16] [--device cpu]

Random weights of the chosen architecture (the compute is that of real ones). Both are given the
image embedding (computed once before timing). Prints the time of a full run, the masks each kept
and how many agree (IoU >= 0.99, same order), then the time to re-filter the stored candidates
after a threshold change (select + label image), which needs no decoder run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _sam_setup import random_model_and_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vit_b")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--points-per-side", type=int, default=16)
    ap.add_argument("--pred-iou-thresh", type=float, default=0.0, help="random weights predict low IoUs: keep them all")
    ap.add_argument("--stability-thresh", type=float, default=0.0)
    ap.add_argument("--nms", type=float, default=1.0,
                    help="box NMS threshold; random weights make every mask overlap, so 1.0 (no suppression) keeps all "
                         "of them to compare")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from segment_anything import SamAutomaticMaskGenerator

    from napari_segsuite.sam import SamSession
    from napari_segsuite.sam.auto import generate

    model, img = random_model_and_image(args.model, args.size)
    model = model.to(args.device)
    params = dict(pred_iou_thresh=args.pred_iou_thresh, stability_score_thresh=args.stability_thresh, box_nms_thresh=args.nms)
    print(f"SAM {args.model}, random weights, {args.size}x{args.size} RGB, {args.points_per_side}^2 points, {params}, "
          f"device {args.device}, CPU threads {torch.get_num_threads()}\n")

    stock = SamAutomaticMaskGenerator(model, points_per_side=args.points_per_side, **params)
    with torch.inference_mode():
        stock.predictor.set_image(img)
    stock.predictor.set_image = lambda *a, **k: None  # given the embedding, like ours
    stock.predictor.reset_image = lambda: None
    t = time.perf_counter()
    with torch.inference_mode():
        ref = stock.generate(img)
    t_stock = time.perf_counter() - t

    session = SamSession(model, device=args.device, cache_dir=False)
    session.set_image(img)
    t = time.perf_counter()
    auto = generate(session, img, points_per_side=args.points_per_side)
    idx = auto.select(**params)
    labels = auto.labels(idx)
    t_ours = time.perf_counter() - t
    assert session.encoder_runs == 1

    ref = [r for r in ref if r["area"] > 0]
    same = sum(1 for r, i in zip(ref, idx)
               if (lambda m, g: (m & g).sum() / max((m | g).sum(), 1))(auto.mask(i), r["segmentation"]) >= 0.99)
    print(f"{'full run (given the embedding)':32s} stock {t_stock:7.1f} s   ours {t_ours:6.1f} s   {t_stock / t_ours:5.1f}x faster")
    print(f"{'masks kept':32s} stock {len(ref):7d}     ours {len(idx):6d}     same masks: {same} of {len(ref)}")
    print(f"{'candidates stored':32s} {len(auto)} masks in {auto.nbytes / 1e6:.1f} MB (run lengths or packed bits, whichever is smaller)")
    sel_times, lab_times, kept = [], [], []
    for thresh, nms in zip(np.linspace(0.0, 0.5, 10), [args.nms, 0.7] * 5):
        t = time.perf_counter()
        chosen = auto.select(stability_score_thresh=float(thresh), pred_iou_thresh=args.pred_iou_thresh, box_nms_thresh=nms)
        sel_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        auto.labels(chosen)
        lab_times.append(time.perf_counter() - t)
        kept.append(len(chosen))
    print(f"{'re-filter after a threshold change':32s} select {np.median(sel_times) * 1000:.1f} ms median, "
          f"{max(sel_times) * 1000:.1f} ms max over {len(auto)} candidates (target <= 100 ms)")
    per_mask = [t / k for t, k in zip(lab_times, kept) if k]
    print(f"{'label image of the kept masks':32s} {np.median(per_mask) * 1000:.2f} ms per kept mask "
          f"({min(kept)}..{max(kept)} masks; these random-weight masks cover "
          f"~{auto.areas.mean() / auto.areas.size and auto.areas.mean() / (args.size ** 2):.0%} of the image each)")
    print(f"label image: {int(labels.max())} objects")


if __name__ == "__main__":
    main()

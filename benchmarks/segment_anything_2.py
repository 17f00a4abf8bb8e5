"""SAM 2.1 on this machine: ours (Sam2Session) beside stock sam2 and beside our SAM 1 vit_b path.

    python benchmarks/segment_anything_2.py [--models sam2.1_t sam2.1_s] [--size 1024] [--clicks 20] [--slices 8]
                              [--device cpu] [--no-vit-b]

Random weights of each architecture (the compute is the same as with the official checkpoints,
which cannot be downloaded here). Prints, per model, in one run:
* the embedding of a ``--size``² RGB image: stock ``SAM2ImagePredictor.set_image`` against
  ``Sam2Session.set_image`` (median of 3, each on a new image so no cache answers);
* per click, median over ``--clicks`` prompts: stock ``SAM2ImagePredictor.predict`` (its three masks
  at full size, as it returns them) against ``Sam2Session.predict`` + the shown mask at full size,
  and the worst IoU of the two best masks (same prompts, same weights: the arithmetic is the same);
* propagation of one object through ``--slices`` slices of ``--slice-size``²: stock
  ``SAM2VideoPredictor`` (``init_state`` on a folder of JPEG frames, ``add_new_mask``,
  ``propagate_in_video``) against ours (:class:`napari_segsuite.sam.sam2_video.VideoTracker`, the
  engine of propagation with a SAM 2 model), per slice, start slice and encoder included; then ours
  again with every slice's embedding cached (memory attention + decoder only);
and the same embedding and click figures for SAM 1 vit_b through ``SamSession`` (unless ``--no-vit-b``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _sam_setup import gradient_image, random_model_and_image
from _timing import median_ms_over


def _images(size: int, n: int) -> list[np.ndarray]:
    base = gradient_image(size, size)
    return [np.roll(base, 7 * k, axis=1) for k in range(n)]


def _clicks(size: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.uniform(0.1 * size, 0.9 * size, (1, 2)) for _ in range(n)]


def image_rows(name: str, size: int, clicks: int, device: str) -> None:
    from napari_segsuite.sam import open_session

    model, _ = random_model_and_image(name, size)
    model = model.to(device)
    images, prompts = _images(size, 4), _clicks(size, clicks)
    ours = open_session(model, device=device, cache_dir=False)
    enc_ours = median_ms_over(lambda im: ours.set_image(im), images)
    if ours.family == "sam2":
        from sam2.sam2_image_predictor import SAM2ImagePredictor as Stock
    else:
        from segment_anything import SamPredictor as Stock
    stock = Stock(model)
    enc_stock = median_ms_over(lambda im: stock.set_image(im), images)

    def stock_click(p):
        return stock.predict(point_coords=p, point_labels=np.array([1]))

    ours.set_image(images[-1])
    click_ours = median_ms_over(lambda p: ours.predict(points=p, labels=[1]).mask(), prompts)
    click_stock = median_ms_over(stock_click, prompts)
    worst = 1.0
    for p in prompts[:10]:
        pred = ours.predict(points=p, labels=[1])
        masks, scores, _ = stock_click(p)
        a, b = pred.mask(), masks[int(np.argmax(scores))].astype(bool)
        worst = min(worst, (a & b).sum() / max((a | b).sum(), 1))
    stock_name = Stock.__name__
    print(f"{name:9s} embed {size}²: stock {stock_name} {enc_stock / 1000:6.2f} s, ours {enc_ours / 1000:6.2f} s "
          f"(x{enc_stock / enc_ours:.2f}) | click: stock {click_stock:6.1f} ms, ours {click_ours:6.1f} ms "
          f"(x{click_stock / click_ours:.2f}) | worst IoU of best masks {worst:.4f}")


def _stack(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:size, :size]
    frames = np.full((n, size, size, 3), 40, np.uint8)
    r = size // 6
    for k in range(n):
        frames[k][(yy - size // 2) ** 2 + (xx - size // 3 - 4 * k) ** 2 < r**2] = 200
    labels = ((yy - size // 2) ** 2 + (xx - size // 3) ** 2 < r**2).astype(np.uint16)
    return frames, labels


def propagation_rows(name: str, slices: int, size: int, device: str) -> None:
    from PIL import Image

    from napari_segsuite.sam import open_session
    from napari_segsuite.sam.sam2_video import VideoTracker

    model, _ = random_model_and_image(name, 64)
    model = model.to(device)
    frames, labels = _stack(slices, size)
    with tempfile.TemporaryDirectory() as d:
        for k, f in enumerate(frames):
            Image.fromarray(f).save(Path(d) / f"{k:05d}.jpg", quality=100)
        t = time.perf_counter()
        state = model.init_state(d)
        model.add_new_mask(state, 0, 1, labels == 1)
        for _ in model.propagate_in_video(state, start_frame_idx=0):
            pass
        stock = (time.perf_counter() - t) / slices

    def track(session) -> float:  # the engine of propagate(), every slice (random weights may empty a
        t = time.perf_counter()  # mask, which would stop propagate() early)
        tracker = VideoTracker(session, frames, 0, labels, [1], +1)
        for k in range(1, slices):
            tracker.step(k)
        tracker.close()
        return time.perf_counter() - t

    ours = open_session(model, device=device, cache_dir=False)
    cold = track(ours) / slices
    runs = ours.encoder_runs
    warm = track(ours) / slices
    print(f"{name:9s} propagation of 1 object through {slices} slices of {size}²: stock SAM2VideoPredictor "
          f"{stock * 1000:6.0f} ms/slice, ours {cold * 1000:6.0f} ms/slice (x{stock / cold:.2f}); "
          f"ours over precomputed slices {warm * 1000:5.0f} ms/slice ({ours.encoder_runs - runs} encoder runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["sam2.1_t", "sam2.1_s"])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--slices", type=int, default=8)
    ap.add_argument("--slice-size", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-vit-b", action="store_true")
    args = ap.parse_args()
    print(f"random weights, device {args.device}, torch threads {torch.get_num_threads()}\n")
    for name in args.models + ([] if args.no_vit_b else ["vit_b"]):
        image_rows(name, args.size, args.clicks, args.device)
    for name in args.models:
        propagation_rows(name, args.slices, args.slice_size, args.device)


if __name__ == "__main__":
    main()

"""SAM per-click latency and embedding cache, ours beside segment-anything's SamPredictor.

    python benchmarks/sam_latency.py [--model vit_b] [--size 1024] [--clicks 30] [--device cpu]

Random weights of the chosen architecture (the compute is the same as with real ones). Prints:
* resizing a 2048 x 1536 photo to the encoder's input: stock ``ResizeLongestSide.apply_image``
  (through PIL) against ``resize_longest_side`` (torch's uint8 kernel), and their largest difference;
* ``set_image`` end to end (conversion, hash, resize, encoder), stock ``SamPredictor.set_image``
  against ``SamSession.set_image``, and how many times the encoder ran for all the clicks (must be 1);
* reopening a cached image (disk cache) against re-encoding it;
* per click, median over ``--clicks`` prompts: stock ``SamPredictor.predict`` (all three masks at
  full size, as it returns them) against ``SamSession.predict`` + the shown mask at full size, and
  the IoU of the two best masks (same prompts, same weights).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
from _sam_setup import gradient_image, random_model_and_image
from _timing import median_ms_over


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vit_b")
    ap.add_argument("--size", type=int, default=1024, help="image side in pixels")
    ap.add_argument("--clicks", type=int, default=30)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sdpa", choices=["auto", "on", "off"], default="auto",
                    help="SamSession's encoder attention: auto (its default), folded SDPA, or stock")
    ap.add_argument("--gui", action="store_true", help="also time click -> preview layer updated in napari (needs a display)")
    args = ap.parse_args()
    sdpa = {"auto": None, "on": True, "off": False}[args.sdpa]

    from segment_anything import SamPredictor

    from napari_segsuite.sam import SamSession

    model, img = random_model_and_image(args.model, args.size)
    rng = np.random.default_rng(0)  # the prompts
    print(f"SAM {args.model}, random weights, {args.size}x{args.size} RGB, device {args.device}, "
          f"torch threads {torch.get_num_threads()}, SamSession sdpa={args.sdpa}\n")

    stock = SamPredictor(model.to(args.device))
    cuda = torch.device(args.device).type == "cuda"
    variants = [img ^ np.uint8(i + 1) for i in range(3 if cuda else 0)]  # new content: each one is encoded

    def timed(fn, im) -> float:
        t = time.perf_counter()
        fn(im)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t

    def stock_encode(im):
        with torch.inference_mode():
            stock.set_image(im)

    if cuda:  # the first CUDA call pays for kernel loading and autotuning: warm both up, then take medians
        stock_encode(variants[0])
    t_stock_enc = statistics.median([timed(stock_encode, im) for im in variants[1:] + [img]])

    with tempfile.TemporaryDirectory() as cache:
        session = SamSession(model, device=args.device, cache_dir=cache, sdpa=sdpa)
        _ = session.model_hash  # hashing the weights is done once per session, not per image
        warm = SamSession(model, device=args.device, cache_dir=False, sdpa=sdpa)
        for im in variants[:1]:
            warm.set_image(im)
        enc_times = [timed(warm.set_image, im) for im in variants[1:]]
        t_enc = statistics.median(enc_times + [timed(session.set_image, img)])
        reopened = SamSession(model, device=args.device, cache_dir=cache, sdpa=sdpa)
        reopened._model_hash = session.model_hash
        t = time.perf_counter()
        emb = reopened.set_image(img)
        t_load = time.perf_counter() - t
        assert emb.source == "disk" and reopened.encoder_runs == 0
        graph = " + CUDA graph" if warm._graphed is not None else ""

    kinds = {
        "1 point": lambda: dict(point_coords=rng.uniform(0, args.size - 1, (1, 2)), point_labels=np.array([1])),
        "3 points": lambda: dict(point_coords=rng.uniform(0, args.size - 1, (3, 2)), point_labels=np.array([1, 0, 1])),
        "box": lambda: dict(box=np.concatenate([corner := rng.uniform(0, args.size * 0.6, 2),
                                                corner + rng.uniform(8, args.size * 0.4, 2)])),
    }
    _resize_line(model.image_encoder.img_size)
    print(f"{'encoder (once per image)':34s} stock {t_stock_enc * 1000:8.0f} ms   ours {t_enc * 1000:8.0f} ms   "
          f"{t_stock_enc / t_enc:5.2f}x" + (f"  (ours: bf16 autocast{'' if sdpa is False else ' + SDPA'}{graph}; stock: fp32)" if cuda else ""))
    print(f"{'reopen cached image (disk)':34s} re-encode {t_enc * 1000:6.0f} ms   load {t_load * 1000:8.1f} ms   "
          f"{t_enc / t_load:6.0f}x faster\n")
    print(f"{'per click':12s} {'stock predict':>14s} {'ours':>9s} {'speed-up':>9s} {'mask IoU (min)':>15s}")
    for name, make in kinds.items():
        prompts = [make() for _ in range(args.clicks)]

        def run_stock(p):
            with torch.inference_mode():
                return stock.predict(**p, multimask_output=True)

        def run_ours(p):
            pred = session.predict(points=p.get("point_coords"), labels=p.get("point_labels"), box=p.get("box"))
            return pred, pred.mask()

        ious = []
        for p in prompts:
            masks, scores, _ = run_stock(p)
            pred, m = run_ours(p)
            ref = masks[int(np.argmax(scores))]
            union = (ref | m).sum()
            ious.append(1.0 if union == 0 else (ref & m).sum() / union)
        t_s, t_o = median_ms_over(run_stock, prompts), median_ms_over(run_ours, prompts)
        print(f"{name:12s} {t_s:11.1f} ms {t_o:6.1f} ms {t_s / t_o:8.2f}x {min(ious):15.4f}")
    print(f"\nencoder runs for {session.decoder_runs} clicks: {session.encoder_runs}")
    if args.gui:
        _gui_latency(model, img, args)


def _resize_line(long_side: int) -> None:
    """Stock's PIL resize against ours on a 2048 x 1536 photo-sized image (CPU, median of 10)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    from napari_segsuite.sam.image import resize_longest_side

    photo = gradient_image(1536, 2048)
    stock = ResizeLongestSide(long_side)
    t_stock = median_ms_over(lambda _: stock.apply_image(photo), range(10))
    t_ours = median_ms_over(lambda _: resize_longest_side(photo, long_side), range(10))
    diff = np.abs(resize_longest_side(photo, long_side).astype(int) - stock.apply_image(photo))
    print(f"{'resize a 2048x1536 photo (CPU)':34s} stock {t_stock:8.1f} ms   ours {t_ours:8.1f} ms   "
          f"{t_stock / t_ours:5.2f}x  (largest difference {diff.max()} grey level, on {(diff > 0).mean():.2%} of values)")


def _gui_latency(model, img, args) -> None:
    """Median time from a point added to the napari Points layer until the preview layer holds the
    new mask (the widget decodes on the UI thread once the embedding is cached)."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_segsuite._widgets import SamWidget
    from napari_segsuite.sam import SamSession

    viewer = napari.Viewer(show=False)
    viewer.add_image(img, name="image", rgb=True)
    widget = SamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.use_session(SamSession(model, device=args.device, cache_dir=False))
    while not widget.embedding_ready:
        QApplication.processEvents()
        time.sleep(0.01)
    rng = np.random.default_rng(1)
    times = []
    for _ in range(args.clicks):
        widget.clear()
        before = widget.session.decoder_runs
        t = time.perf_counter()
        widget.points_layer.add(rng.uniform(0, args.size - 1, 2))
        assert widget.session.decoder_runs == before + 1 and widget.preview_layer is not None
        times.append(time.perf_counter() - t)
    print(f"napari: point added -> preview layer updated (target <= 50 ms): {statistics.median(times) * 1000:.1f} ms median")
    viewer.close()


if __name__ == "__main__":
    main()

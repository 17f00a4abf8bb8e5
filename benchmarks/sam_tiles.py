"""SAM on large images: a click on a tiled image against a click on the image shrunk whole.

    python benchmarks/sam_tiles.py [--model vit_b] [--sizes 1024 2048 4096 8192] [--clicks 10]
                                   [--device cpu] [--embed-all 4096] [--micro-sam 2048]

Random weights of the chosen architecture (the compute is that of real ones) on a gradient-and-noise
RGB image of each size. Per size, medians over ``--clicks`` clicks near one spot:

* **whole**: what segment-anything's ``SamPredictor`` does (and this session with tiling off): the
  image shrunk to the encoder's 1024 px once, then per click the decoder and the mask upsampled to
  the full image; the embedding cost is printed too. A 40-pixel object in an 8192² image is 5
  pixels for the encoder.
* **tiled** (``SamSession``'s default above 1.5 x the encoder's input): the first click embeds
  the one tile it needs (printed: the wait for a click on a new tile), then each click decodes on
  that tile and pastes the mask into the full-size answer.

The click on a tiled image must stay within 1.5x of the click on a 1024² image at every size: the
ratio column. ``--embed-all N``: embed every tile of an N² image, as ``napari-segsuite embed`` does,
and print the time per tile and the process's peak memory beside the memory of the image itself
(the tiles go to the disk cache, not to RAM); the peak is the process's, so run it with ``--sizes
1024`` for the figure to mean the tiled embedding's own. ``--micro-sam N``: embed every tile of an N² image
with micro-sam's ``precompute_image_embeddings`` (its tile_shape = our tile less two halos, the
same halo, so the same tiles reach the encoder) and with ours, same weights, same run; needs
``micro_sam`` importable (``pip install micro_sam python-elf bioimage-cpp xxhash zarr``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time

import numpy as np
import torch
from _sam_setup import gradient_image


def _clicks(session, n: int, centre: tuple[int, int]) -> float:
    """Median ms of a click + its best mask at full size, ``n`` clicks within 30 px of ``centre``."""
    rng = np.random.default_rng(0)
    times = []
    for i in range(n + 1):
        point = np.array([[centre[0] + rng.integers(-30, 30), centre[1] + rng.integers(-30, 30)]], float)
        t = time.perf_counter()
        pred = session.predict(points=point, labels=[1])
        pred.mask()
        if i:  # the first one warms up (and, tiled, embeds its tile)
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vit_b")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--embed-all", type=int, default=0, help="also embed every tile of an image this size")
    ap.add_argument("--micro-sam", type=int, default=0, help="embed every tile of an image this size, ours and micro-sam's")
    args = ap.parse_args()

    from napari_segsuite.sam import SamSession
    from napari_segsuite.sam.registry import build_model
    from napari_segsuite.sam.tiled import TiledImage, embed_tiles

    torch.manual_seed(0)
    model = build_model(args.model).eval()
    print(f"SAM {args.model}, random weights, device {args.device}, torch threads {torch.get_num_threads()}\n")
    print(f"{'image':>7s} {'whole: embed':>13s} {'whole: click':>13s} {'tiled: new tile':>16s} {'tiled: click':>13s} "
          f"{'tiled click / 1024² click':>26s}")
    base = None
    for size in args.sizes:
        img = gradient_image(size, size)
        centre = (size // 3, size // 2)
        whole = SamSession(model, device=args.device, cache_dir=False, tile_above=None)
        t = time.perf_counter()
        whole.set_image(img)
        embed_whole = time.perf_counter() - t
        click_whole = _clicks(whole, args.clicks, centre)
        tiled = SamSession(model, device=args.device, cache_dir=False)
        is_tiled = isinstance(tiled.set_image(img), TiledImage)
        t = time.perf_counter()
        tiled.predict(points=np.array([centre], float), labels=[1]).mask()
        first = time.perf_counter() - t
        click_tiled = _clicks(tiled, args.clicks, centre)
        base = base or click_tiled
        new_tile = f"{first:.2f} s" if is_tiled else "(not tiled)"
        print(f"{size:>6d}² {embed_whole:>11.2f} s {click_whole:>10.1f} ms {new_tile:>16s} {click_tiled:>10.1f} ms "
              f"{click_tiled / base:>25.2f}x", flush=True)
    if args.embed_all:
        size = args.embed_all
        img = gradient_image(size, size)
        with tempfile.TemporaryDirectory() as cache:
            session = SamSession(model, device=args.device, cache_dir=cache)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            t = time.perf_counter()
            tiled = session.set_image(img)
            n = embed_tiles(session, tiled)
            seconds = time.perf_counter() - t
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nevery tile of a {size}² image: {n} tiles in {seconds:.0f} s ({seconds / n:.2f} s per tile); peak "
              f"memory of the process {peak:.0f} MB (before {before:.0f} MB; the image alone is {img.nbytes / 2**20:.0f} MB, "
              f"its {n} embeddings {n * 4:.0f} MB on disk)")
    if args.micro_sam:
        _against_micro_sam(model, args.micro_sam, args.device)


def _against_micro_sam(model, size: int, device: str) -> None:
    """Every tile of a ``size``² image embedded by micro-sam's tiled path and by ours, same weights."""
    from micro_sam.util import precompute_image_embeddings
    from segment_anything import SamPredictor

    from napari_segsuite.sam import SamSession
    from napari_segsuite.sam.tiled import embed_tiles

    img = gradient_image(size, size)
    session = SamSession(model, device=device, cache_dir=False)
    t = time.perf_counter()
    n = embed_tiles(session, session.set_image(img))
    ours = (time.perf_counter() - t) / n
    halo = session.halo
    inner = session.tile - 2 * halo
    predictor = SamPredictor(model.to(device))
    predictor.model_type = predictor.model_name = "random"  # what micro-sam's get_sam_model sets, for its signature
    t = time.perf_counter()
    embeddings = precompute_image_embeddings(predictor, img, ndim=2, tile_shape=(inner, inner), halo=(halo, halo),
                                             verbose=False)
    theirs_n = int(np.ceil(size / inner)) ** 2  # micro-sam's Blocking: tile_shape blocks, each read with its halo
    assert embeddings["features"] is not None
    theirs = (time.perf_counter() - t) / theirs_n
    print(f"\nevery tile of a {size}² image, {session.tile} px tiles with a {halo} px halo: ours {n} tiles, "
          f"{ours:.2f} s per tile; micro-sam's precompute_image_embeddings (tile_shape {inner}, halo {halo}) "
          f"{theirs_n} tiles, {theirs:.2f} s per tile; {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()

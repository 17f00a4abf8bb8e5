"""What a user waits for the first time, beside what they would wait for without our fixes (same run).

    python benchmarks/first_use.py [--image PATH] [--skip-cold] [--load N]

1. One BLAS thread while a technique runs (techniques/_blas.py): the random walker and the
   normalized cut on a BSDS photo (481 x 321, 4 seeds for the random walker, solved at full
   resolution), with one BLAS thread (ours) against the library's default threads (scikit-image's
   ``random_walker`` on the same Lab image with the same beta, as a user would call it; our
   normalized cut's own function run outside the limit). Medians of 3 runs, on a quiet machine and
   with ``--load N`` busy processes beside (the napari viewer, a training or another plugin
   competing for the cores, which is where the default threads lose most).
2. The numba warm-up (techniques/warmup.py): the first mean shift and the first fuzzy c-means in a
   new process, with an empty numba cache (the compiler runs on first use) and after the warm-up
   has run in the background; and the warm-up's own time, cold and with the cache.

Each timing of part 2 runs in a fresh Python process, so imports and caches are what a user meets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_IMAGE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bsds500" / "images" / "val" / "101085.jpg"

FIRST_USE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques.warmup import start_warm_up
image = np.asarray(__import__("imageio.v3", fromlist=["imread"]).imread(sys.argv[1]))
out = {}
if sys.argv[2] == "warm":
    t = time.perf_counter(); start_warm_up().join(); out["warm_up"] = time.perf_counter() - t
for name in ("cluster.meanshift", "cluster.fuzzy_cmeans"):
    t = time.perf_counter(); CATALOG[name](image, channel_axis=-1); out[name] = time.perf_counter() - t
print(json.dumps(out))
"""


def _seconds(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def blas_rows(image: np.ndarray) -> None:
    from skimage.segmentation import random_walker
    from threadpoolctl import threadpool_info

    from napari_segsuite.techniques import CATALOG, prepare_slice

    threads = max((i.get("num_threads", 1) for i in threadpool_info() if i.get("user_api") == "blas"), default=1)
    h, w = image.shape[:2]
    seeds = np.zeros((h, w), np.int32)
    seeds[h // 2, w // 2], seeds[5, 5], seeds[h - 6, w - 6], seeds[5, w - 6] = 1, 2, 2, 2
    walker = CATALOG["region.random_walker"]
    full = h * w  # solved at full resolution, as scikit-image's is
    ours = _seconds(lambda: walker(image, channel_axis=-1, seeds=seeds, max_pixels=full))
    from skimage.color import rgb2lab

    lab = rgb2lab(image).astype(np.float32) / 100
    base = _seconds(lambda: random_walker(lab, seeds, beta=1000, mode="cg_j", tol=1e-3, channel_axis=-1))
    print(f"random walker, 481 x 321, 4 seeds     ours (1 BLAS thread) {ours:6.2f} s | "
          f"skimage random_walker ({threads} BLAS threads) {base:6.2f} s | {base / ours:5.1f}x")
    ncut = CATALOG["graph.normalized_cut"]
    data, info = prepare_slice(image, has_channels=True)
    params = ncut.validate_params({})
    ours = _seconds(lambda: ncut.run_prepared(data, info, params))
    base = _seconds(lambda: ncut.func(data, info=info, **params))  # the same function outside the limit
    print(f"normalized cut, 481 x 321              ours (1 BLAS thread) {ours:6.2f} s | "
          f"the same function, {threads} BLAS threads {base:6.2f} s | {base / ours:5.1f}x")


def _busy() -> None:  # pragma: no cover - runs in the load processes
    while True:
        pass


def loaded_blas_rows(image: np.ndarray, n: int) -> None:
    """:func:`blas_rows` with ``n`` processes spinning on the cores meanwhile."""
    import multiprocessing

    workers = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(n)]
    for w in workers:
        w.start()
    try:
        print(f"-- with {n} busy processes beside")
        blas_rows(image)
    finally:
        for w in workers:
            w.terminate()


def _fresh(image: Path, mode: str, cache: str) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", FIRST_USE, str(image), mode], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def warm_up_rows(image: Path, skip_cold: bool) -> None:
    with tempfile.TemporaryDirectory() as cache:
        if not skip_cold:
            cold = _fresh(image, "cold", cache)  # an empty cache: the first call compiles
            for name in ("cluster.meanshift", "cluster.fuzzy_cmeans"):
                print(f"first {name:21s} empty numba cache, no warm-up {cold[name]:6.2f} s")
        with tempfile.TemporaryDirectory() as empty:
            first = _fresh(image, "warm", empty)  # the warm-up compiles into an empty cache
        again = _fresh(image, "warm", cache)  # a later session: the cache exists
    print(f"warm-up (every technique, tiny image)   empty cache {first['warm_up']:6.2f} s | with the cache "
          f"{again['warm_up']:6.2f} s (in a background thread at start)")
    for name in ("cluster.meanshift", "cluster.fuzzy_cmeans"):
        base = f" | {cold[name] / first[name]:5.1f}x" if not skip_cold else ""
        print(f"first {name:21s} after the warm-up {first[name]:6.2f} s{base}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="an RGB photo (default: a BSDS500 val image)")
    parser.add_argument("--skip-cold", action="store_true", help="skip the first-use timing with an empty numba cache")
    parser.add_argument("--load", type=int, default=2, metavar="N", help="busy processes beside the second BLAS timing (0: none)")
    args = parser.parse_args()
    if not args.image.is_file():
        sys.exit(f"{args.image}: no such image (../shared/data holds BSDS500; or pass --image)")
    import imageio.v3 as iio

    image = np.asarray(iio.imread(args.image))[..., :3]
    import warnings

    warnings.simplefilter("ignore")  # the techniques' remarks (a solver's tolerance) are not timings
    print("-- a quiet machine")
    blas_rows(image)
    if args.load > 0:
        loaded_blas_rows(image, args.load)
    warm_up_rows(args.image, args.skip_cold)


if __name__ == "__main__":
    main()

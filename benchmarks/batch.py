"""Batch runs: ``napari-segsuite run`` over 200 BSDS images with 1 and 2 workers, beside the plain
loop a user would write (read, run the technique, write), same run.

    python benchmarks/batch.py [--technique graph.felzenszwalb] [--limit 200]

Prints the plain loop's time and the technique's own share of it, the CLI's time with 1 worker
(the batch machinery's overhead per image = its extra time over the plain loop, as a fraction of the
technique's own time; target <= 5 %), and with 2 worker processes (throughput ratio; target >= 1.7x
on a 2-core machine). ``--tiled`` then runs an 8000 x 8000 adaptive threshold + opening whole and
in 2048-pixel tiles, each in a fresh process, and prints their peak memory (target: tiled < 2 GiB)
and whether the masks are identical.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from napari_segsuite.cli import main as cli
from napari_segsuite.io import read_image, write_labels
from napari_segsuite.techniques import get

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _cli(args: list[str]) -> float:
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli(args)
    if code != 0:
        raise SystemExit(f"napari-segsuite {' '.join(args)} failed")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--technique", default="graph.felzenszwalb")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--repeats", type=int, default=2, help="plain loop and 1-worker run, alternated; best of each")
    ap.add_argument("--tiled", action="store_true", help="also the 8000 x 8000 tiled-memory check")
    ap.add_argument("--only-tiled", action="store_true", help="only the 8000 x 8000 tiled-memory check")
    ap.add_argument("--_child", choices=["whole", "tiled"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        return _child(args._child)
    if args.only_tiled:
        return _tiled_check()
    files = sorted((args.data / "bsds500" / "images" / "train").glob("*.jpg"))[: args.limit]
    if not files:
        raise SystemExit(f"no BSDS images under {args.data}")
    tech = get(args.technique)
    n = len(files)
    print(f"{n} BSDS images, {args.technique}, {os.cpu_count()} CPUs\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tech(read_image(files[0]), channel_axis=-1)  # compile / warm up, as the CLI's first file would
        folder = str(files[0].parent) if args.limit >= 200 else None
        inputs = [folder] if folder else [str(f) for f in files]
        plain_runs, one_runs = [], []
        for rep in range(args.repeats):  # alternated, best of each: this machine's timings drift
            t = time.perf_counter()
            own = 0.0
            for f in files:
                image = read_image(f)
                t1 = time.perf_counter()
                labels = tech(image, channel_axis=-1)
                own += time.perf_counter() - t1
                write_labels(tmp / f"plain{rep}" / f"{f.stem}.png", labels)
            plain_runs.append((time.perf_counter() - t, own))
            one_runs.append(_cli(["run", args.technique, *inputs, "-o", str(tmp / f"one{rep}"), "--workers", "1"]))
        plain, own = min(plain_runs)
        one = min(one_runs)
        (tmp / "one").symlink_to(tmp / "one0")
        two = _cli(["run", args.technique, *inputs, "-o", str(tmp / "two"), "--workers", "2"])
        resumed = _cli(["run", args.technique, *inputs, "-o", str(tmp / "two"), "--workers", "2"])
        same = sum((read_image(tmp / "one" / f"{f.stem}.png") == read_image(tmp / "two" / f"{f.stem}.png")).all()
                   for f in files)
    overhead = (one - plain) / n
    print(f"{'plain loop (read, technique, write)':40s} {plain:7.2f} s   technique alone {own:.2f} s "
          f"({own / n * 1000:.0f} ms per image)")
    print(f"{'napari-segsuite run, 1 worker':40s} {one:7.2f} s   overhead {overhead * 1000:+.1f} ms per image = "
          f"{overhead / (own / n) * 100:+.1f} % of the technique's time (target <= 5 %)")
    print(f"{'napari-segsuite run, 2 workers':40s} {two:7.2f} s   throughput {one / two:.2f}x of 1 worker "
          f"(target >= 1.7x); {same} of {n} masks identical to 1 worker's")
    print(f"{'resumed run (all outputs exist)':40s} {resumed:7.2f} s")
    if args.tiled:
        _tiled_check()


SIDE = 8000
STEPS = [("threshold.adaptive", {"method": "gaussian", "block_size": 51}), ("post.morphology", {"radius": 2})]


def _child(mode: str) -> None:
    """In a fresh process: make the image, run whole or tiled, print seconds, peak RSS and a hash."""
    import resource

    import numpy as np

    from napari_segsuite.techniques.chain import Chain
    from napari_segsuite.techniques.tiles import run_tiled

    rng = np.random.default_rng(0)
    yy = np.arange(SIDE, dtype=np.float32)[:, None]
    image = np.empty((SIDE, SIDE), np.uint8)
    for y0 in range(0, SIDE, 500):  # built in strips so that making it costs little memory
        xx = np.arange(SIDE, dtype=np.float32)[None, :]
        strip = 100 + 60 * np.sin(xx / 23.0) * np.cos(yy[y0:y0 + 500] / 17.0) + rng.normal(0, 20, (min(500, SIDE - y0), SIDE))
        image[y0:y0 + 500] = np.clip(strip, 0, 255)
    chain = Chain(STEPS)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    labels = chain.run(image).data if mode == "whole" else run_tiled(chain, image, tile=2048)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(seconds, peak * 1024, base * 1024, hashlib.sha256(labels.tobytes()).hexdigest(), int(labels.sum()))


def _tiled_check() -> None:
    results = {}
    for mode in ("whole", "tiled"):
        out = subprocess.run([sys.executable, __file__, "--_child", mode], capture_output=True, text=True, check=True)
        seconds, peak, base, digest, total = out.stdout.split()
        results[mode] = (float(seconds), int(peak), int(base), digest, int(total))
    print(f"\n{SIDE} x {SIDE} uint8, adaptive Gaussian threshold (block 51) + opening (radius 2), each in a fresh process:")
    for mode, (seconds, peak, base, _, total) in results.items():
        print(f"  {mode:6s} {seconds:6.1f} s   peak memory {peak / 2**30:5.2f} GiB (process before the run "
              f"{base / 2**30:4.2f} GiB)   {total} foreground pixels")
    same = results["whole"][3] == results["tiled"][3]
    print(f"  tiled (2048-pixel tiles) peak {results['tiled'][1] / 2**30:.2f} GiB (target < 2 GiB); "
          f"masks {'identical' if same else 'DIFFERENT'} to the untiled run")


if __name__ == "__main__":
    main()

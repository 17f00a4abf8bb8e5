"""Batch runs: ``napari-segsuite run`` over 200 BSDS images with 1 and 2 workers, beside the plain
loop a user would write (read, run the technique, write), same run.

    python benchmarks/batch.py [--technique graph.felzenszwalb] [--limit 200]

Prints the plain loop's time and the technique's own share of it, the CLI's time with 1 worker
(the batch machinery's overhead per image = its extra time over the plain loop, as a fraction of the
technique's own time; target <= 5 %), and with 2 worker processes (throughput ratio; target >= 1.7x
on a 2-core machine).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
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
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()

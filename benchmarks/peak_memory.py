"""Time and peak memory of catalog techniques on one large input, each run in a fresh process.

    python benchmarks/peak_memory.py [--sizes 4096 8192] [--only NAME ...] [--tree DIR ...]

The input is ``scaling.py``'s (the astronaut image resized; label techniques get the components of
its thresholded red channel). Each (tree, technique, size) runs in its own Python process, once
after a warm-up on a 64² crop (numba kernels compiled or loaded), so the peak is that run's: the
process's maximum resident memory after the run minus before it, per pixel. ``--tree`` names
checkouts of napari-segsuite to compare in the same run, e.g. an earlier commit made with
``git worktree add /tmp/old COMMIT`` (default: this checkout).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import resource, sys, time
tree, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path[:0] = [tree, {here!r}]
from without_opencv import inputs
rgb, lab = inputs(size)
from napari_segsuite.techniques import CATALOG
tech = CATALOG[name]
arg = lab if tech.channels == "labels" else rgb
axis = None if arg.ndim == 2 else -1
tech(arg[:64, :64], channel_axis=axis)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
out = tech(arg, channel_axis=axis)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{{seconds:.4f}} {{(peak - before) * 1024 / size ** 2:.0f}} {{int(out.max())}}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 8192])
    ap.add_argument("--only", nargs="+", default=["region.watershed", "post.split_touching", "graph.felzenszwalb"])
    ap.add_argument("--tree", nargs="+", default=[str(HERE.parent)], help="napari-segsuite checkouts to compare")
    args = ap.parse_args()
    print(f"{'technique':22s} {'size':>6s}  {'tree':30s} {'seconds':>8s} {'peak bytes/px':>14s} {'largest id':>10s}")
    for name in args.only:
        for size in args.sizes:
            for tree in args.tree:
                run = subprocess.run([sys.executable, "-c", CHILD.format(here=str(HERE)), str(Path(tree).resolve()), name,
                                      str(size)], capture_output=True, text=True)
                if run.returncode:
                    print(f"{name:22s} {size:6d}  {tree:30s} failed: {run.stderr.strip().splitlines()[-1]}")
                    continue
                seconds, per_pixel, largest = run.stdout.split()
                print(f"{name:22s} {size:6d}  {tree[-30:]:30s} {seconds:>8s} {per_pixel:>14s} {largest:>10s}", flush=True)


if __name__ == "__main__":
    main()

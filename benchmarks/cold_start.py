"""Cold start: what a user waits for in a fresh process, beside the plain-library baseline.

    python benchmarks/cold_start.py [--repeat 3] [--source DIR]

Each row is the median wall time of ``--repeat`` fresh Python processes (imports, caches and
numba's on-disk cache as a user meets them on a second start; the first start after installing
also compiles numba kernels). ``--source DIR`` measures another checkout of the package (put first
on ``PYTHONPATH``), e.g. an older commit, with the same Python and packages. GUI rows need a display
(run under ``xvfb-run -a`` on a machine without one).

Rows:

* ``import napari_segsuite``;
* ``napari-segsuite techniques`` (the catalog listing);
* ``napari-segsuite run threshold.global`` on one 256 x 256 image, against a plain imageio +
  scikit-image script that reads, thresholds (Otsu) and writes the same image;
* the app to its first preview: a viewer with the cells sample and the SegSuite dock docked, until
  the Thresholding preview layer holds data, against napari alone showing the same image;
* whether torch was imported by the classical rows (it must not be: only the SAM and training
  docks need it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PLAIN = """
import sys
from imageio.v3 import imread, imwrite
from skimage.filters import threshold_otsu
img = imread(sys.argv[1]); imwrite(sys.argv[2] + "/plain.png", ((img > threshold_otsu(img)) * 255).astype("uint8"))
"""
CLI = ("import sys, napari_segsuite; from napari_segsuite.cli import main; code = main(sys.argv[1:]); "
       "print('torch', 'torch' in sys.modules); sys.exit(code)")
APP = """
import os, sys, time
import napari
from qtpy.QtWidgets import QApplication
viewer = napari.Viewer(show=False)
if sys.argv[1] == "napari":
    from napari_segsuite.io.samples import cells
    viewer.add_image(cells()[0]); QApplication.processEvents()
else:
    from napari_segsuite.cli import build_viewer
    build_viewer(viewer, sample="cells")
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        QApplication.processEvents()
        layers = [l for l in viewer.layers if l.name.endswith("preview")]
        if layers and layers[0].data.any():
            break
        time.sleep(0.005)
    else:
        raise SystemExit("no preview within 120 s")
import napari_segsuite
print("torch", "torch" in sys.modules, napari_segsuite.__file__, flush=True)
os._exit(0)
"""


def _seconds(args: list[str], env: dict[str, str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600,
                              cwd=tempfile.gettempdir())  # not a checkout's folder: `python -c` puts it first on sys.path
        times.append(time.perf_counter() - t0)
        if done.returncode:
            raise SystemExit(f"{args[:2]} failed:\n{done.stderr[-2000:]}")
        out = done.stdout
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--source", help="a checkout whose napari_segsuite to measure (default: the installed one)")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.source:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(args.source).resolve()), env.get("PYTHONPATH", "")])
    from imageio.v3 import imwrite

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "cells.png"
        from skimage.data import coins

        imwrite(image, coins()[:256, :256])
        rows = []
        t, _ = _seconds(["-c", "import napari_segsuite"], env, args.repeat)
        rows.append(("import napari_segsuite", t, None, ""))
        t, out = _seconds(["-c", CLI, "techniques"], env, args.repeat)
        rows.append(("napari-segsuite techniques", t, None, out.strip().splitlines()[-1]))
        t, out = _seconds(["-c", CLI, "run", "threshold.global", str(image), "-o", tmp], env, args.repeat)
        base, _ = _seconds(["-c", PLAIN, str(image), tmp], env, args.repeat)
        rows.append(("napari-segsuite run threshold.global, 256²", t, ("imageio + scikit-image script", base),
                     out.strip().splitlines()[-1]))
        t, out = _seconds(["-c", APP, "segsuite"], env, args.repeat)
        base, _ = _seconds(["-c", APP, "napari"], env, args.repeat)
        rows.append(("app: viewer + SegSuite dock to first preview", t, ("napari alone showing the image", base),
                     out.strip().splitlines()[-1]))
    where = args.source or "the installed package"
    print(f"cold start of {where}; median of {args.repeat} fresh processes each")
    print(f"{'what':48s} {'ours':>8s}   {'baseline':38s} {'ratio':>6s}  imports")
    for name, t, baseline, note in rows:
        if baseline:
            print(f"{name:48s} {t:7.2f}s   {baseline[0] + f' {baseline[1]:.2f}s':38s} {t / baseline[1]:5.1f}x  {note}")
        else:
            print(f"{name:48s} {t:7.2f}s   {'':38s} {'':6s}  {note}")


if __name__ == "__main__":
    main()

"""What OpenCV buys: every catalog technique's Apply with OpenCV and with the scipy / scikit-image
fallbacks of napari_segsuite.cv_compat (a base install without any ``cv2``), in the same run.

    python benchmarks/without_opencv.py [--sizes 256 512 1024] [--repeat 3]

Each row: the median time with OpenCV, without it, and their ratio (without / with), at each size,
on the astronaut image (RGB, resized) or, for label techniques, the connected components of its
thresholded red channel. Needs OpenCV installed (either opencv-python or opencv-python-headless).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _timing import median_ms

from napari_segsuite import cv_compat
from napari_segsuite.techniques import CATALOG


def inputs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image of size x size and labels of the same size."""
    from skimage import data
    from skimage.measure import label
    from skimage.transform import resize

    rgb = (resize(data.astronaut(), (size, size), anti_aliasing=True) * 255).astype(np.uint8)
    return rgb, label(rgb[..., 0] > 120).astype(np.int32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="technique names (default: all without a required input)")
    args = ap.parse_args()
    if not cv_compat.available():
        raise SystemExit("needs OpenCV installed: pip install opencv-python-headless")
    cv2 = cv_compat.cv2
    warnings.simplefilter("ignore")
    names = args.only or [n for n, t in CATALOG.items() if not any(i.required for i in t.inputs)]
    print(f"{'technique':24s}" + "".join(f"{f'{s}² with / without (ratio)':>34s}" for s in args.sizes))
    for name in names:
        tech = CATALOG[name]
        row = f"{name:24s}"
        for size in args.sizes:
            rgb, labels = inputs(size)
            img = labels if tech.channels == "labels" else rgb

            def run():
                return tech(img, channel_axis=None if img.ndim == 2 else -1)

            cv_compat.cv2 = cv2
            with_cv = median_ms(run, args.repeat)
            cv_compat.cv2 = None
            try:
                without = median_ms(run, args.repeat)
            finally:
                cv_compat.cv2 = cv2
            row += f"{f'{with_cv:8.0f} / {without:8.0f} ms ({without / with_cv:4.1f}x)':>34s}"
        print(row, flush=True)


if __name__ == "__main__":
    main()

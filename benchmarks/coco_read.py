"""Reading every image of a COCO instances file, one image at a time (what `evaluate` against a
COCO file and the napari reader do), beside pycocotools and beside re-parsing the file per image
(what the reader did before it parsed once).

    python benchmarks/coco_read.py [--sizes 500 1000 2000 5000]

Each image is 64 x 64 with 3 RLE objects. Prints seconds for all images, and the cost per image,
which stays flat when the cost is linear in the number of images.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_segsuite.io.coco import read_coco, rle_encode


def _make(path: Path, n: int) -> None:
    masks = []
    for k in range(3):
        m = np.zeros((64, 64), bool)
        m[5 + 18 * k:20 + 18 * k, 10:40] = True
        masks.append(rle_encode(m))
    data = {"images": [{"id": i, "file_name": f"im{i}.png", "height": 64, "width": 64} for i in range(n)],
            "annotations": [{"id": 3 * i + k, "image_id": i, "category_id": 1, "segmentation": masks[k], "area": 450,
                             "bbox": [10, 5 + 18 * k, 30, 15], "iscrowd": 0} for i in range(n) for k in range(3)],
            "categories": [{"id": 1, "name": "cell"}]}
    path.write_text(json.dumps(data))


def _reparse_per_image(path: Path, name: str) -> None:
    """The reader before: the whole file decoded again for each image."""
    data = json.loads(path.read_text())
    info = next(i for i in data["images"] if i["file_name"] == name)
    [a for a in data["annotations"] if a["image_id"] == info["id"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    ap.add_argument("--reparse-max", type=int, default=1000, help="largest size the quadratic baseline is timed at")
    args = ap.parse_args()
    try:
        from pycocotools.coco import COCO
    except ImportError:
        COCO = None
    print(f"{'images':>7} {'ours s':>8} {'ms/image':>9} {'pycocotools s':>14} {'ratio':>6} {'re-parse s':>11} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"coco{n}.json"
            _make(path, n)
            t0 = time.perf_counter()
            for i in range(n):
                read_coco(path, f"im{i}.png")
            ours = time.perf_counter() - t0
            theirs = ratio = float("nan")
            if COCO is not None:
                import contextlib
                import io

                t0 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    coco = COCO(str(path))
                for i in range(n):
                    for ann in coco.loadAnns(coco.getAnnIds(imgIds=i)):
                        coco.annToMask(ann)
                theirs = time.perf_counter() - t0
                ratio = theirs / ours
            reparse = rratio = float("nan")
            if n <= args.reparse_max:
                t0 = time.perf_counter()
                for i in range(n):
                    _reparse_per_image(path, f"im{i}.png")
                reparse = time.perf_counter() - t0
                rratio = reparse / ours
            print(f"{n:7d} {ours:8.2f} {ours / n * 1000:9.2f} {theirs:14.2f} {ratio:5.2f}x {reparse:11.2f} {rratio:6.1f}x")


if __name__ == "__main__":
    main()

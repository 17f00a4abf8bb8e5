"""One click per object and propagation through z, against a click on every slice.

    python benchmarks/propagation.py [--data ../shared/data] [--min-overlap 0.5] [--no-regrowth] [--vit-b-random]

On the 3D volume of ../shared/data/stardist (img3d.tif, 31 x 61 x 57, with its instance mask
mask3d.tif: 51 nuclei spanning 3 to 11 slices), for every nucleus, with the classical backend
(no checkpoint needed):

* **propagated**: one click at the nucleus' deepest pixel on its middle slice (the slice where it is
  largest), the mask the backend draws there, then ``sam.propagate`` through z in both directions;
* **propagated from the true slice**: the same, started from the ground-truth mask of the middle
  slice (what a corrected slice gives);
* **every slice**: a click at the deepest pixel of the nucleus on each slice it spans (the
  ground truth says where to click, so this is the best a slice-by-slice clicker does).

Printed: mean 3D IoU per nucleus against mask3d.tif, clicks per nucleus, the slices propagation
reached against the nucleus' true extent, and the time. ``--vit-b-random``: the same propagation
with SAM vit_b of random weights, for speed only (its masks mean nothing): time per slice with every
slice embedded beforehand, i.e. the decoder alone, against the encoder per slice.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from napari_segsuite.sam import ClassicalSession
from napari_segsuite.sam.propagate import propagate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def deepest(mask: np.ndarray) -> np.ndarray:
    """(x, y) of the pixel farthest inside ``mask``."""
    depth = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), mask.shape)
    return np.array([[x, y]], float)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def run_classical(volume: np.ndarray, truth: np.ndarray, min_overlap: float, regrowth: bool = True) -> dict[str, list[float]]:
    session = ClassicalSession()
    rows: dict[str, list[float]] = {k: [] for k in ("one click", "true slice", "every slice", "clicks", "slices",
                                                    "reached", "t one click", "t every slice")}
    for i, box in enumerate(ndi.find_objects(truth), start=1):
        if box is None:
            continue
        obj = truth == i
        areas = obj.sum(axis=(1, 2))
        middle = int(np.argmax(areas))
        t0 = time.perf_counter()
        first = session.predict(points=deepest(obj[middle]), labels=[1],
                                embedding=session.set_image(volume[middle], middle)).mask()
        found = {}
        for name, start in (("one click", first), ("true slice", obj[middle])):
            if not start.any():
                found[name] = np.zeros_like(obj)
                continue
            result = propagate(session, volume, middle, start.astype(np.uint8), min_overlap=min_overlap, regrowth=regrowth)
            stack = np.zeros_like(obj)
            for k, lab in result.labels.items():
                stack[k] = lab == 1
            found[name] = stack
            if name == "one click":
                rows["t one click"].append(time.perf_counter() - t0)
                rows["reached"].append(len(result.labels))
        t0 = time.perf_counter()
        every = np.zeros_like(obj)
        for k in np.flatnonzero(areas):
            every[k] = session.predict(points=deepest(obj[k]), labels=[1], embedding=session.set_image(volume[k], k)).mask()
        rows["t every slice"].append(time.perf_counter() - t0)
        rows["one click"].append(iou(found["one click"], obj))
        rows["true slice"].append(iou(found["true slice"], obj))
        rows["every slice"].append(iou(every, obj))
        rows["clicks"].append(float(np.count_nonzero(areas)))
        rows["slices"].append(float(np.count_nonzero(areas)))
    return rows


def run_vit_b(volume: np.ndarray, truth: np.ndarray) -> None:
    import torch

    from napari_segsuite.sam import SamSession
    from napari_segsuite.sam.registry import build_model

    torch.manual_seed(0)
    session = SamSession(build_model("vit_b").eval(), device="cpu", cache_dir=False, memory_slots=len(volume))
    t0 = time.perf_counter()
    for k in range(len(volume)):
        session.set_image(volume[k], k)
    encode = (time.perf_counter() - t0) / len(volume)
    ids, sizes = np.unique(truth[truth > 0], return_counts=True)
    obj = truth == ids[np.argmax(sizes)]  # the largest nucleus
    middle = int(np.argmax(obj.sum(axis=(1, 2))))
    runs = session.encoder_runs
    t0 = time.perf_counter()
    result = propagate(session, volume, middle, obj[middle].astype(np.uint8), min_overlap=0.0)
    seconds = time.perf_counter() - t0
    print(f"\nSAM vit_b, random weights (speed only), CPU: encoder {encode:.2f} s per slice; propagation with every "
          f"slice embedded: {result.decoder_runs} decoder runs, {session.encoder_runs - runs} encoder runs, "
          f"{1000 * seconds / max(result.decoder_runs, 1):.0f} ms per slice")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--min-overlap", type=float, default=0.5, help="propagation's stop threshold (its default)")
    ap.add_argument("--no-regrowth", action="store_true", help="do not stop objects that widen again")
    ap.add_argument("--vit-b-random", action="store_true", help="also time propagation with SAM vit_b, random weights")
    args = ap.parse_args()
    folder = args.data / "stardist"
    if not (folder / "img3d.tif").is_file():
        raise SystemExit(f"needs the shared data at {folder}")
    import tifffile

    volume, truth = tifffile.imread(folder / "img3d.tif"), tifffile.imread(folder / "mask3d.tif")
    rows = run_classical(volume, truth, args.min_overlap, not args.no_regrowth)
    n = len(rows["one click"])
    print(f"{folder / 'img3d.tif'}: {volume.shape}, {n} nuclei; classical backend; stop below IoU "
          f"{args.min_overlap} between slices{'' if args.no_regrowth else ' or where a mask widens again'}; "
          "mean over nuclei")
    print(f"  {'method':34s} {'3D IoU':>7s} {'clicks':>7s} {'seconds':>8s}")
    clicks = np.mean(rows["clicks"])
    print(f"  {'one click + propagation':34s} {np.mean(rows['one click']):7.3f} {1:7.1f} {np.mean(rows['t one click']):8.2f}")
    print(f"  {'true middle slice + propagation':34s} {np.mean(rows['true slice']):7.3f} {'-':>7s} {'':8s}")
    print(f"  {'a click on every slice':34s} {np.mean(rows['every slice']):7.3f} {clicks:7.1f} "
          f"{np.mean(rows['t every slice']):8.2f}")
    print(f"  clicks saved per nucleus: {clicks - 1:.1f} of {clicks:.1f}; propagation reached "
          f"{np.mean(rows['reached']):.1f} slices against {np.mean(rows['slices']):.1f} true")
    if args.vit_b_random:
        run_vit_b(volume, truth)


if __name__ == "__main__":
    main()

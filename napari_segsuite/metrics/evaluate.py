"""The ``evaluate`` command's engine: score prediction files against ground truth, with the kind of
score the data calls for, and the BSDS benchmark for BSDS ground truth.

``kind="auto"`` scores instance metrics when the first ground truth holds many object ids and no
class names (nuclei, COCO objects), semantic metrics otherwise, and says which it chose. A ground
truth of BSDS ``.mat`` files runs the BSDS500 benchmark the way its papers report it: boundary F
at the optimal dataset scale (ODS) and image scale (OIS), and the region benchmark (covering, PRI,
VOI), instead of per-label scores that mean nothing for segment ids.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Evaluation", "KEY_COLUMNS", "evaluate_files", "format_table"]

# the columns a terminal table shows first, per kind (the rest: --csv or --json)
KEY_COLUMNS = {
    "semantic": ("pixel_accuracy", "mean_iou", "mean_dice", "foreground_iou", "foreground_dice", "fw_iou"),
    "instance": ("n_true", "n_pred", "f1@0.5", "precision@0.5", "recall@0.5", "f1_mean", "pq", "adapted_rand_error"),
    "boundary": ("bf_mean", "bf_tolerance_px"),
}


@dataclass
class Evaluation:
    """What ``evaluate`` found: one row per scored image, their mean, the kind used, notes, and the
    files that failed (name, message). ``bsds`` holds the BSDS benchmark figures when it ran."""

    kind: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    aggregate: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    bsds: dict[str, Any] | None = None

    def fail(self, name: str, error: BaseException, report: Callable[[str, str], None] | None) -> None:
        """Record that the pair of ``name`` failed, and tell ``report(name, message)`` if given."""
        self.failures.append((name, str(error) or type(error).__name__))
        if report is not None:
            report(*self.failures[-1])

def evaluate_files(
    pred: str | Path, gt: str | Path, *, kind: str = "auto", ignore_index: int | None = None, binary: bool = False,
    tolerance: float | None = None, failed: Callable[[str, str], None] | None = None,
) -> Evaluation:
    """Score every prediction against its ground truth (see the module docstring).

    Parameters
    ----------
    pred, gt : path
        Two files, two folders (paired by file stem), or a folder of predictions and one COCO JSON.
    kind : str
        ``auto``, ``semantic``, ``instance``, ``boundary`` or ``all``.
    ignore_index, binary, tolerance
        As :func:`napari_segsuite.metrics.score`.
    failed : callable, optional
        ``failed(name, message)`` as each pair fails; the others are still scored.

    Returns
    -------
    Evaluation
    """
    from ..io import read_image
    from ..io.groundtruth import pair_files, read_groundtruth
    from . import score
    from .score import auto_kind, mean_of_defined

    pairs = pair_files(Path(pred), Path(gt))
    if all(g.suffix.lower() == ".mat" for _, g in pairs) and kind in ("auto", "all"):
        return _bsds(pairs, failed)
    result = Evaluation(kind)
    for pred_path, gt_path in pairs:
        try:
            p = read_image(pred_path)
            gts = read_groundtruth(gt_path, pred_path.stem)
            if result.kind == "auto":
                result.kind, why = auto_kind(gts[0], ignore_index=ignore_index, binary=binary)
                result.notes.append(f"--kind auto: {why}: {result.kind} metrics")
            scores = [score(p, g, kind=result.kind, ignore_index=ignore_index, binary=binary, tolerance=tolerance)
                      for g in gts]
        except Exception as e:  # one bad pair (a damaged or hostile file) is reported; the others are scored
            result.fail(pred_path.name, e, failed)
            continue
        for s in scores:
            result.notes.extend(n for n in s.notes if n not in result.notes)
        summary = {k: mean_of_defined([s.summary[k] for s in scores]) for k in scores[0].summary}
        result.rows.append({"image": pred_path.stem, "annotators": len(gts), **summary})
    if result.rows:
        metrics = [k for k in result.rows[0] if k not in ("image", "annotators")]
        result.aggregate = {k: mean_of_defined([r.get(k, float("nan")) for r in result.rows]) for k in metrics}
    return result


def _bsds(pairs: Sequence[tuple[Path, Path]], failed) -> Evaluation:
    """The BSDS500 benchmark of one segmentation per image against every annotator."""
    from ..io import read_image
    from ..io.bsds import read_bsds_groundtruth
    from . import bsds_boundary_maps, bsds_collect
    from .boundary import label_boundaries
    from .region import bsds_region_collect, bsds_region_image

    result = Evaluation("bsds")
    boundary, region = [], []
    for pred_path, gt_path in pairs:
        try:
            seg = read_image(pred_path)
            if seg.ndim != 2 or seg.dtype.kind not in "biu":
                raise ValueError(f"{pred_path}: the BSDS benchmark scores a segmentation (a 2D label image); "
                                 f"this holds {seg.dtype} of shape {seg.shape}")
            gt = read_bsds_groundtruth(gt_path)
            if gt.segmentations[0].shape != seg.shape:
                raise ValueError(f"{pred_path} is {seg.shape[0]}x{seg.shape[1]} but its ground truth is "
                                 f"{gt.segmentations[0].shape[0]}x{gt.segmentations[0].shape[1]}")
            counts = bsds_boundary_maps([label_boundaries(seg)], gt.boundaries, levels=[0.5])
            regions = bsds_region_image([seg], gt.segmentations)
        except Exception as e:
            result.fail(pred_path.name, e, failed)
            continue
        boundary.append(counts)
        region.append(regions)
        r = counts.cnt_r[0] / max(counts.sum_r[0], 1)
        p = counts.cnt_p[0] / max(counts.sum_p[0], 1)
        result.rows.append({"image": pred_path.stem, "annotators": len(gt.segmentations), "boundary_recall": float(r),
                            "boundary_precision": float(p), "boundary_f": float(2 * p * r / (p + r)) if p + r else 0.0,
                            "covering": float(regions.cnt_r[0] / max(regions.sum_r[0], 1)),
                            "pri": float(regions.pri[0]), "voi": float(regions.voi[0])})
    if boundary:
        bench = bsds_collect(boundary)
        regions = bsds_region_collect(region)
        result.bsds = {"images": len(boundary), "ods": bench.ods, "ois": bench.ois, **regions}
        result.aggregate = {k: float(np.mean([r[k] for r in result.rows])) for k in result.rows[0]
                            if k not in ("image", "annotators")}
        result.notes.append("BSDS ground truth: the BSDS500 benchmark (one segmentation per image, so ODS and OIS "
                            "coincide and AP needs a sweep of segmentations: benchmarks/bsds.py)")
    return result


def bsds_lines(bench: dict[str, Any]) -> list[str]:
    """The BSDS figures as its papers print them."""
    return [
        f"BSDS500 benchmark, {bench['images']} image(s), every annotator:",
        f"  Boundaries  ODS F {bench['ods']['f']:.3f} (R {bench['ods']['recall']:.3f}, P {bench['ods']['precision']:.3f})"
        f"   OIS F {bench['ois']['f']:.3f}",
        f"  Regions     Covering ODS {bench['covering_ods']:.3f}  OIS {bench['covering_ois']:.3f}  Best "
        f"{bench['covering_best']:.3f}   PRI ODS {bench['pri_ods']:.3f}  OIS {bench['pri_ois']:.3f}   VOI ODS "
        f"{bench['voi_ods']:.3f}  OIS {bench['voi_ois']:.3f}",
    ]


def format_table(evaluation: Evaluation, *, width: int | None = None) -> str:
    """A table that fits the terminal: the image names (shortened) and the key columns of the
    kind; how many metrics were left out, and where to find them."""
    rows = evaluation.rows + [{"image": "mean", **evaluation.aggregate}]
    metrics = [k for k in evaluation.rows[0] if k not in ("image", "annotators")]
    width = width or shutil.get_terminal_size((100, 24)).columns
    keys = [m for kind in ("semantic", "instance", "boundary") for m in KEY_COLUMNS[kind]
            if evaluation.kind in (kind, "all") and m in metrics] or metrics
    name_width = min(max(len(r["image"]) for r in rows), 24)
    shown = []
    used = name_width
    for m in keys:
        w = max(len(m), 8) + 1
        if used + w > width and shown:
            break
        shown.append(m)
        used += w
    lines = [f"{'image':{name_width}s} " + " ".join(f"{m:>{max(len(m), 8)}s}" for m in shown)]
    for r in rows:
        name = r["image"] if len(r["image"]) <= name_width else r["image"][: name_width - 1] + "…"
        cells = []
        for m in shown:
            v = r.get(m, float("nan"))
            cells.append(f"{v:{max(len(m), 8)}.4f}" if isinstance(v, float) else f"{v:>{max(len(m), 8)}}")
        lines.append(f"{name:{name_width}s} " + " ".join(cells))
    left = len(metrics) - len(shown)
    if left:
        lines.append(f"({left} more metrics: --csv or --json)")
    return "\n".join(lines)

"""Ground truth for ``evaluate``: pairing prediction files with ground-truth files, and reading
ground truth in every format the tool knows (masks, VOC palette PNGs, BSDS .mat, COCO JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["MASK_SUFFIXES", "pair_files", "read_groundtruth"]

MASK_SUFFIXES = {".png", ".tif", ".tiff", ".npy", ".mat"}


def pair_files(pred: Path, gt: Path) -> list[tuple[Path, Path]]:
    """(prediction, ground truth) pairs: two files, two folders paired by file stem, or a folder of
    predictions against one COCO JSON."""
    if gt.is_file() and gt.suffix.lower() == ".json":  # COCO: one file for every image
        preds = [pred] if pred.is_file() else sorted(p for p in pred.iterdir() if p.suffix.lower() in MASK_SUFFIXES)
        return [(p, gt) for p in preds]
    if pred.is_file() and gt.is_file():
        return [(pred, gt)]
    if pred.is_dir() and gt.is_dir():
        gts = {p.stem: p for p in gt.iterdir() if p.suffix.lower() in MASK_SUFFIXES}
        pairs = [(p, gts[p.stem]) for p in sorted(pred.iterdir()) if p.suffix.lower() in MASK_SUFFIXES and p.stem in gts]
        if not pairs:
            raise ValueError(f"no file in {pred} has a ground truth of the same name in {gt}")
        return pairs
    for p in (pred, gt):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
    raise ValueError("give two files or two folders")


def read_groundtruth(path: Path, stem: str = "") -> list[Any]:
    """Ground-truth label maps of a file: one, one per annotator for BSDS .mat, the image called
    ``stem`` of a COCO JSON, or the indices of a VOC palette PNG (255 = ignore: --ignore-index 255)."""
    from .bsds import read_bsds_groundtruth
    from .masks import read_image

    suffix = path.suffix.lower()
    if suffix == ".mat":
        return read_bsds_groundtruth(path).segmentations
    if suffix == ".json":
        from .coco import load_coco, read_coco

        coco = load_coco(path)  # parsed once for every image of the run
        match = [n for n in coco.by_name if Path(n).stem == stem]
        if not match:
            raise ValueError(f"{path} has no image named {stem}.*")
        return [read_coco(coco, match[0])[0]]
    if suffix == ".png":
        from PIL import Image

        try:
            with Image.open(path) as im:
                palette = im.mode == "P"
        except Exception:
            palette = False  # read_image below says what is wrong with the file
        if palette:
            from .voc import read_voc_mask

            return [read_voc_mask(path)]
    return [read_image(path)]

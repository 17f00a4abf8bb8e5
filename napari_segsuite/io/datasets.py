"""Folders of images with instance ground truth, read one image at a time.

Recognised layouts (the first that matches):

* ``images/`` + ``labels/``: an image and an instance label image with the same stem (DSB2018,
  and any folder exported the same way);
* ``rgb/`` (or ``gray/``) + ``figure_ground/``: one object per image, foreground = mask > 127; the
  image is resized to the mask's size (Weizmann horses);
* a COCO instances file, ``annotations/*.json`` or a ``.json`` at the top, with its images in
  ``images/``, beside it, or in a top-level folder such as ``val2017/`` (polygons and RLE, crowd
  regions skipped; needs pycocotools).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import cv_compat
from .masks import read_image

__all__ = ["InstanceSample", "iter_instance_dataset"]

_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}

InstanceSample = tuple[str, np.ndarray, np.ndarray]  # name, image, instance labels (int32, 0 = background)


def _files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in _SUFFIXES}


def _rgb(image: np.ndarray) -> np.ndarray:
    return image[..., :3] if image.ndim == 3 and image.shape[-1] == 4 else image


def iter_instance_dataset(path: str | os.PathLike, *, limit: int | None = None) -> Iterator[InstanceSample]:
    """Yield ``(name, image, instance_labels)`` for the images of a data set folder (see above)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if (root / "images").is_dir() and (root / "labels").is_dir():
        yield from _paired(root / "images", root / "labels", limit)
    elif (root / "figure_ground").is_dir() and ((root / "rgb").is_dir() or (root / "gray").is_dir()):
        yield from _figure_ground(root, limit)
    elif _coco_annotations(root) is not None:
        yield from _coco(root, limit)
    else:
        raise ValueError(f"{root} is not a known data set layout: expected images/ + labels/, rgb/ + figure_ground/, "
                         f"or a COCO instances JSON (annotations/*.json, or a .json at the top) with its images")


def _coco_annotations(root: Path) -> Path | None:
    """The COCO instances file of a folder: ``annotations/*.json`` (``instances*`` first), else a
    ``.json`` at the top (``annotations.json``, ``instances*.json`` first)."""
    for folder in (root / "annotations", root):
        found = sorted(folder.glob("*.json"), key=lambda p: (not p.stem.startswith(("instances", "annotations")), p.name)) \
            if folder.is_dir() else []
        if found:
            return found[0]
    return None


def _image_path(root: Path, ann_file: Path, file_name: str) -> Path | None:
    """Where an image named in a COCO file is: beside the annotations, in images/, or in any folder
    of the data set's top level (train2017/, val2017/...)."""
    name = Path(file_name)
    candidates = [root / "images" / name, root / name, ann_file.parent / name, root / "images" / name.name]
    candidates += [d / name.name for d in sorted(root.iterdir()) if d.is_dir()]
    return next((p for p in candidates if p.is_file()), None)


def _paired(images: Path, labels: Path, limit: int | None) -> Iterator[InstanceSample]:
    masks = _files(labels)
    pairs = [(stem, p) for stem, p in _files(images).items() if stem in masks][:limit]
    if not pairs:
        raise ValueError(f"no image in {images} has a label image of the same name in {labels}")
    for stem, p in pairs:
        yield stem, _rgb(read_image(p)), np.asarray(read_image(masks[stem])).astype(np.int32)


def _figure_ground(root: Path, limit: int | None) -> Iterator[InstanceSample]:
    folder = root / "rgb" if (root / "rgb").is_dir() else root / "gray"
    masks = _files(root / "figure_ground")
    for stem, p in [(s, p) for s, p in _files(folder).items() if s in masks][:limit]:
        m = np.asarray(read_image(masks[stem]))
        m = (m[..., 0] if m.ndim == 3 else m) > 127
        img = _rgb(read_image(p))
        if img.shape[:2] != m.shape:
            img = cv_compat.resize(img, m.shape, "area")
        yield stem, img, m.astype(np.int32)


def _coco(root: Path, limit: int | None) -> Iterator[InstanceSample]:
    try:
        from pycocotools.coco import COCO
    except ImportError as e:
        raise ImportError("reading COCO annotations needs pycocotools: pip install pycocotools") from e
    import contextlib
    import io

    ann_file = _coco_annotations(root)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco = COCO(str(ann_file))
    for img_id in sorted(coco.getImgIds())[:limit]:
        info = coco.loadImgs(img_id)[0]
        path = _image_path(root, ann_file, info["file_name"])
        if path is None:
            continue
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False)) if a.get("area", 0) > 0]
        labels = np.zeros((info["height"], info["width"]), np.int32)
        for k, a in enumerate(sorted(anns, key=lambda a: -a["area"]), 1):  # small objects drawn last, on top
            labels[coco.annToMask(a) > 0] = k
        yield path.stem, _rgb(read_image(path)), labels

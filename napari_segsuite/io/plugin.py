"""The npe2 readers and writers: label formats in and out of napari (no napari import needed).

Readers return napari layer-data tuples:

* BSDS500 ground truth (``*.mat``): every annotator's segmentation as one (annotator, Y, X) labels
  layer, and their boundaries as a second, hidden one;
* COCO instances JSON: one instance labels layer per image listed, whose features table carries each
  object's category (and crowd flag); with ``semantic=True`` a category-id layer as well;
* a Pascal VOC folder (the data set root, or its ``SegmentationClass`` / ``SegmentationObject``
  folder): the JPEGs and their masks, palette indices with 255 kept as the ignore label, shown in the
  VOC colours, class names in the metadata. (npe2 matches reader patterns on file names only, and a
  VOC mask is a plain ``.png``: claiming every PNG would make napari ask which reader to use for all
  of them, so VOC masks are opened by folder.)

Writers take a labels layer: ``.png`` / ``.tif`` / ``.npy`` masks (dtype chosen by label count), and
``.json`` COCO instances with the layer's categories (from its features or its classes metadata).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .bsds import read_bsds_groundtruth
from .coco import load_coco, read_coco, write_coco
from .labels import feature_classes, labels_metadata, object_classes
from .masks import write_labels
from .voc import VOC_CLASSES, VOC_IGNORE, read_voc_mask, voc_palette

__all__ = ["get_reader", "read_bsds_layers", "read_coco_layers", "read_voc_folder", "read_voc_layers", "write_coco_layer",
           "write_mask_layer"]

LayerData = tuple[Any, dict[str, Any], str]


def get_reader(path: str | list[str]) -> Any:
    """npe2 reader hook: the reader for ``path``, or None when it is not one of our formats."""
    if isinstance(path, list):
        readers = [get_reader(p) for p in path]
        if not path or any(r is None for r in readers):
            return None
        return lambda paths: [layer for p, r in zip(paths, readers) for layer in r(p)]
    p = Path(path)
    if p.is_dir():
        return read_voc_folder if _voc_masks(p) else None
    suffix = p.suffix.lower()
    if suffix == ".mat":
        return read_bsds_layers
    if suffix == ".json" and _looks_like_coco(p):
        return read_coco_layers
    return None


VOC_FOLDERS = ("SegmentationClass", "SegmentationObject")
VOC_MAX_IMAGES = 50


def _voc_masks(folder: Path) -> list[Path]:
    """The mask files of a VOC folder (the data set root, or one of its Segmentation* folders)."""
    folders = [folder] if folder.name in VOC_FOLDERS else [folder / f for f in VOC_FOLDERS if (folder / f).is_dir()]
    return sorted(p for f in folders for p in f.glob("*.png"))


def read_voc_folder(path: str | os.PathLike) -> list[LayerData]:
    """A Pascal VOC folder: for each of its first :data:`VOC_MAX_IMAGES` images, the JPEG (when
    ``JPEGImages`` holds it) and its class and object masks."""
    from .masks import read_image

    folder = Path(path)
    masks = _voc_masks(folder)
    stems = sorted({m.stem for m in masks})[:VOC_MAX_IMAGES]
    root = folder.parent if folder.name in VOC_FOLDERS else folder
    layers: list[LayerData] = []
    for stem in stems:
        jpeg = root / "JPEGImages" / f"{stem}.jpg"
        if jpeg.is_file():
            layers.append((read_image(jpeg), {"name": stem, "rgb": True}, "image"))
        for m in masks:
            if m.stem == stem:
                layers.extend(read_voc_layers(m))
    return layers


def _looks_like_coco(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(4096)
    except OSError:
        return False
    return '"images"' in head or '"annotations"' in head or '"categories"' in head


def read_bsds_layers(path: str | os.PathLike) -> list[LayerData]:
    """A BSDS ``groundTruth/*.mat``: segmentations (annotator, Y, X) and boundaries (hidden)."""
    gt = read_bsds_groundtruth(path)
    name = Path(path).stem
    return [
        (gt.stack("segmentations").astype(np.int32), {"name": f"{name} ground truth",
                                                      "metadata": labels_metadata("instance", source=str(path))}, "labels"),
        (gt.stack("boundaries").astype(np.uint8), {"name": f"{name} boundaries", "visible": False,
                                                   "metadata": labels_metadata("semantic", source=str(path))}, "labels"),
    ]


def read_coco_layers(path: str | os.PathLike, *, semantic: bool = False) -> list[LayerData]:
    """One instance labels layer per image of a COCO file (features: label, category, crowd...)."""
    path = Path(path)
    coco = load_coco(path)
    layers: list[LayerData] = []
    for info in coco.images:
        labels, table = read_coco(coco, info.get("id"))
        features = {key: [row[key] for row in table] for key in ("label", "annotation_id", "category_id", "category", "iscrowd")}
        features = {"index": features.pop("label"), **features}
        name = Path(str(info.get("file_name", info.get("id")))).stem
        meta = labels_metadata("instance", source=str(path), coco_image_id=info.get("id"))
        layers.append((labels, {"name": name, "features": features, "metadata": meta}, "labels"))
        if semantic:
            lut = np.zeros(int(labels.max()) + 1, np.int32)
            for row in table:
                if not isinstance(row["category_id"], (int, type(None))) or isinstance(row["category_id"], bool):
                    raise ValueError(f"{path}: annotation {row['annotation_id']!r} has a category_id that is not an integer")
                lut[row["label"]] = row["category_id"] or 0
            layers.append((lut[labels], {"name": f"{name} categories",
                                         "metadata": labels_metadata("semantic", source=str(path))}, "labels"))
    if not layers:
        raise ValueError(f"{path}: the file lists no image")
    return layers


def read_voc_layers(path: str | os.PathLike) -> list[LayerData]:
    """A VOC class or object mask: indices, 255 = ignore, in the VOC colours."""
    from .labels import ClassInfo

    labels = read_voc_mask(path)
    palette = voc_palette() / 255.0
    colours = {int(i): (*palette[i], 1.0) for i in np.unique(labels)}
    colours[None] = (0.0, 0.0, 0.0, 0.0)
    is_class = "SegmentationClass" in Path(path).parts
    kind = "semantic" if is_class else "instance"
    classes = [ClassInfo(i, n, tuple(palette[i])) for i, n in enumerate(VOC_CLASSES)] if is_class else None
    meta = labels_metadata(kind, classes, source=str(path), ignore_label=VOC_IGNORE)
    return [(labels, {"name": Path(path).stem + (" classes" if is_class else " objects"), "colormap": colours,
                      "metadata": meta}, "labels")]


def layer_classes(meta: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A labels layer's classes: its metadata's (``segsuite.classes``), else the distinct
    class ids and names of its features, else None."""
    entry = (meta.get("metadata") or {}).get("segsuite") or {}
    if entry.get("classes"):
        return [{"id": int(c["id"]), "name": str(c.get("name", c["id"])), "color": c.get("color")} for c in entry["classes"]]
    names = feature_classes(meta.get("features"))
    return [{"id": i, "name": n, "color": None} for i, n in sorted(names.items())] or None


def write_mask_layer(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer: a labels layer as PNG / TIFF / NPY (napari's dialog asked about
    replacing an existing file; the write itself is atomic). The layer's class names and colours go
    into PNG and TIFF files (``io.read_label_classes`` reads them back)."""
    data = np.asarray(data)
    if data.dtype.kind not in "biu":
        raise TypeError(f"only labels layers can be written as masks, got dtype {data.dtype}")
    return [str(write_labels(path, data, overwrite=True, classes=layer_classes(meta)))]


def write_coco_layer(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer: an instance labels layer (2D) as COCO instances JSON (RLE).

    Each object's category comes from the layer's features (``class_id`` or ``category_id``, with
    ``class_name`` / ``category``); without them every object is category 1, "object". Objects
    flagged ``iscrowd`` (as a COCO file read into napari has them) stay crowd regions.
    """
    labels = np.asarray(data)
    if labels.ndim != 2:
        raise ValueError(f"COCO holds 2D images: this layer has shape {labels.shape}; save one slice at a time")
    features = meta.get("features")
    cats: dict[int, int] | int = object_classes(features) or 1
    names = feature_classes(features) or {1: "object"}
    present = set(np.unique(labels)) - {0}
    if isinstance(cats, dict):
        missing = sorted(int(v) for v in present - set(cats))
        if missing:
            raise ValueError(f"objects {missing[:10]} have no category in the layer's features: give every object a "
                             f"class_id (or remove the features table to write them all as one category)")
    crowd = []
    if features is not None and len(features) and "iscrowd" in features and "index" in features:
        crowd = [int(i) for i, c in zip(features["index"], features["iscrowd"]) if c]
    categories = [{"id": cid, "name": n} for cid, n in sorted(names.items())]
    name = str(meta.get("name") or Path(path).stem)
    return [str(write_coco(path, [(name, labels, cats, crowd)], categories, overwrite=True))]

"""COCO instance annotations: instance label images to and from COCO JSON (RLE or polygons).

RLE follows the COCO format exactly (column-major run lengths, the compressed string of
``pycocotools.mask.encode``), without needing pycocotools, so that written files round-trip without
loss and pycocotools reads them. Polygons come from OpenCV's contours of each object and pass
through the centres of its boundary pixels, so they lose about half of each boundary pixel: use RLE
when the exact mask matters. Crowd
annotations are kept: they are read like any object and flagged ``iscrowd`` in the returned table.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import cv_compat
from .atomic import atomic_write
from .limits import check_pixels

__all__ = ["CocoFile", "fill_polygon", "labels_to_annotations", "load_coco", "read_coco", "rle_decode", "rle_encode", "write_coco"]


def _counts(mask: np.ndarray) -> list[int]:
    """Column-major run lengths, starting with a run of zeros (possibly empty)."""
    flat = np.asarray(mask, bool).T.ravel()
    if not flat.size:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return ([0] + runs) if flat[0] else runs


def _to_string(counts: list[int]) -> str:
    """COCO's compressed RLE string (maskApi.c ``rleToString``)."""
    out = []
    for i, x in enumerate(counts):
        x = int(x) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def _from_string(s: str) -> list[int]:
    """Inverse of :func:`_to_string` (maskApi.c ``rleFrString``)."""
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """A boolean mask as compressed COCO RLE: ``{"size": [h, w], "counts": str}``."""
    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"RLE encodes one 2-D mask; got shape {mask.shape}")
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": _to_string(_counts(mask))}


def rle_decode(rle: dict[str, Any], *, source: str | os.PathLike = "COCO RLE", what: str = "RLE") -> np.ndarray:
    """A COCO RLE (compressed string or uncompressed list of counts) as a boolean mask. Its declared
    size is checked before anything is allocated; a refusal names ``source`` and ``what``."""
    check_pixels(source, rle["size"], what)
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    counts = _from_string(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if sum(counts) != h * w:
        raise ValueError(f"this RLE covers {sum(counts)} pixels, but its size is {h} x {w}: it is corrupt")
    values = np.zeros(len(counts), bool)
    values[1::2] = True
    return np.repeat(values, counts).reshape(w, h).T


def _polygons(mask: np.ndarray) -> list[list[float]]:
    polys = []
    for c in cv_compat.outer_contours(mask):
        c = c + 0.5  # through the boundary pixels' centres, in COCO coordinates
        if len(c) >= 3:
            polys.append(c.ravel().tolist())
        else:  # a one- or two-pixel sliver: its pixel square
            x, y = c.min(0) - 0.5
            X, Y = c.max(0) + 0.5
            polys.append([x, y, X, y, X, Y, x, Y])
    return polys


def _fill_polygons(polygons: list[list[float]], h: int, w: int) -> np.ndarray:
    """The union of ``polygons`` rasterised exactly as COCO does (``pycocotools.mask.frPyObjects``
    then ``decode``: pixel-equal, tests/io/test_coco.py), with no pycocotools needed."""
    out = np.zeros((h, w), bool)
    for poly in polygons:
        xy = np.asarray(poly, float)  # a polygon of text is refused here (ValueError)
        if xy.ndim != 1 or len(xy) % 2 or len(xy) < 6:  # pycocotools fails on these too (4 numbers: a box, then a crash)
            raise ValueError(f"a polygon must be a flat list [x0, y0, x1, y1, ...] of at least three vertices, "
                             f"got {xy.size} number(s) in shape {xy.shape}")
        out |= fill_polygon(xy, h, w)
    return out


def fill_polygon(polygon: list[float] | np.ndarray, h: int, w: int) -> np.ndarray:
    """Rasterise one COCO polygon ``[x0, y0, x1, y1, ...]`` into an ``(h, w)`` bool mask, pixel for
    pixel as pycocotools' ``rleFrPoly`` does.

    The outline is walked on a grid 5x finer than the pixels; where it crosses a pixel column's
    centre line, the pixel below the crossing toggles inside/outside, column by column (COCO's
    column-major run-length order).

    Parameters
    ----------
    polygon : sequence of float
        Vertex coordinates, x then y, in COCO's convention (pixel (r, c) spans [c, c + 1] x [r, r + 1]).
    h, w : int
        The image's height and width.

    Returns
    -------
    numpy.ndarray
        Bool mask of shape ``(h, w)``.
    """
    scale = 5.0
    xy = np.asarray(polygon, float).reshape(-1, 2)
    x, y = np.trunc(scale * np.vstack([xy, xy[:1]]) + 0.5).astype(np.int64).T  # closed; C's (int) truncates
    us, vs = [], []
    for j in range(len(xy)):  # dense points along each edge, stepping along its longer axis
        xs, xe, ys, ye = x[j], x[j + 1], y[j], y[j + 1]
        dx, dy = abs(xe - xs), abs(ye - ys)
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            xs, xe, ys, ye = xe, xs, ye, ys
        if dx >= dy:
            t = dx - np.arange(dx + 1) if flip else np.arange(dx + 1)
            us.append(t + xs)
            vs.append(np.trunc(ys + ((ye - ys) / dx if dx else 0.0) * t + 0.5).astype(np.int64))
        else:
            t = dy - np.arange(dy + 1) if flip else np.arange(dy + 1)
            vs.append(t + ys)
            us.append(np.trunc(xs + (xe - xs) / dy * t + 0.5).astype(np.int64))
    u, v = np.concatenate(us), np.concatenate(vs)
    j = np.nonzero(u[1:] != u[:-1])[0] + 1  # where the outline moves to another fine column
    xd = (np.where(u[j] < u[j - 1], u[j], u[j] - 1) + 0.5) / scale - 0.5
    keep = (np.floor(xd) == xd) & (xd >= 0) & (xd <= w - 1)  # crossings of a pixel centre line
    yd = np.ceil(np.clip((np.minimum(v[j], v[j - 1]) + 0.5) / scale - 0.5, 0, h))
    toggles = np.bincount(xd[keep].astype(np.int64) * h + yd[keep].astype(np.int64), minlength=h * w + 1)[:h * w]
    return (np.cumsum(toggles) % 2).astype(bool).reshape(w, h).T


def labels_to_annotations(labels: np.ndarray, *, image_id: int, categories: dict[int, int] | int = 1,
                          mode: str = "rle", first_id: int = 1, crowd: Any = ()) -> list[dict[str, Any]]:
    """One COCO annotation per object of an instance label image (0 = background).

    ``categories`` maps each label to its category id (or gives one id for all); ``mode`` writes
    segmentations as ``"rle"`` (lossless) or ``"polygon"``; labels in ``crowd`` are written as crowd
    regions (``iscrowd: 1``, always RLE as COCO requires).
    """
    crowd = {int(c) for c in crowd}
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"COCO annotations describe one 2-D image; got shape {labels.shape}")
    if mode not in ("rle", "polygon"):
        raise ValueError(f"mode must be 'rle' or 'polygon', got {mode!r}")
    anns = []
    from scipy import ndimage as ndi

    slices = ndi.find_objects(labels.astype(np.int64, copy=False))
    for lab, sl in enumerate(slices, 1):
        if sl is None:
            continue
        mask = labels == lab
        ys, xs = sl
        cat = categories if isinstance(categories, int) else categories.get(lab)
        if cat is None:
            raise ValueError(f"object {lab} has no category: give every label a category id")
        seg = rle_encode(mask) if mode == "rle" or lab in crowd else _polygons(mask)
        anns.append({"id": first_id + len(anns), "image_id": int(image_id), "category_id": int(cat),
                     "segmentation": seg, "area": int(mask.sum()), "iscrowd": int(lab in crowd),
                     "bbox": [int(xs.start), int(ys.start), int(xs.stop - xs.start), int(ys.stop - ys.start)]})
    return anns


def write_coco(path: str | os.PathLike, images: list[tuple], categories: list[dict[str, Any]], *, mode: str = "rle",
               overwrite: bool = False) -> Path:
    """Write ``images`` — ``(file_name, instance labels, label -> category id[, crowd labels])`` —
    and the ``categories`` (``{"id", "name"}``) as one COCO instances file, atomically."""
    known = {int(c["id"]) for c in categories}
    out_images, anns = [], []
    for image_id, (name, labels, cats, *crowd) in enumerate(images, 1):
        labels = np.asarray(labels)
        new = labels_to_annotations(labels, image_id=image_id, categories=cats, mode=mode, first_id=len(anns) + 1,
                                    crowd=crowd[0] if crowd else ())
        unknown = {a["category_id"] for a in new} - known
        if unknown:
            raise ValueError(f"{name}: category id(s) {sorted(unknown)} are not among the categories given")
        out_images.append({"id": image_id, "file_name": str(name), "height": int(labels.shape[0]), "width": int(labels.shape[1])})
        anns.extend(new)
    data = {"images": out_images, "annotations": anns, "categories": list(categories)}
    return atomic_write(path, lambda f: f.write(json.dumps(data).encode()), overwrite=overwrite)


@dataclass(frozen=True)
class CocoFile:
    """A COCO instances file parsed once and indexed: image entries by file name and id, annotations
    by image id, category names by id."""

    path: Path
    images: list[dict[str, Any]]
    by_name: dict[str, dict[str, Any]]
    by_id: dict[Any, dict[str, Any]]
    annotations: dict[Any, list[dict[str, Any]]]
    categories: dict[Any, str]


def _list_of_dicts(path: Path, data: dict, key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{path}: '{key}' must be a list of objects, got {type(value).__name__}"
                         + ("" if not isinstance(value, list) else " holding other values"))
    return value


@functools.lru_cache(maxsize=4)
def _load(path: Path, _mtime_ns: int, _size: int) -> CocoFile:
    from .limits import read_json

    data = read_json(path, "COCO file")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a COCO file is a JSON object with 'images' and 'annotations', got {type(data).__name__}")
    images = _list_of_dicts(path, data, "images")
    anns: dict[Any, list[dict[str, Any]]] = {}
    for a in _list_of_dicts(path, data, "annotations"):
        key = a.get("image_id")
        if isinstance(key, (list, dict)):
            raise ValueError(f"{path}: annotation {a.get('id', '?')!r} has an image_id that is not a number or a name")
        anns.setdefault(key, []).append(a)
    names = {}
    for c in _list_of_dicts(path, data, "categories"):
        if "id" in c and not isinstance(c["id"], (list, dict)):
            names[c["id"]] = str(c.get("name", c["id"]))
    by_name = {str(i.get("file_name")): i for i in reversed(images)}
    by_id = {i.get("id"): i for i in reversed(images) if not isinstance(i.get("id"), (list, dict))}
    return CocoFile(path, images, by_name, by_id, anns, names)


def load_coco(path: str | os.PathLike) -> CocoFile:
    """Parse and index a COCO instances file (parsed once while it is unchanged: reading every image
    of a 5000-image file costs one parse, not 5000). Raises ``ValueError`` naming the file and the
    field when it is not a COCO file."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise ValueError(f"{path}: cannot read this COCO file ({e.strerror or e})") from None
    return _load(path.resolve(), st.st_mtime_ns, st.st_size)


def read_coco(path: str | os.PathLike | CocoFile, image: str | int | None = None) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The instance labels of one image of a COCO file (its file name or id; the first if omitted)
    and a table with one row per label: ``label, annotation_id, category_id, category, iscrowd``.
    Larger objects are painted first, so a smaller one on top of it stays visible. Sizes are checked
    against :func:`~napari_segsuite.io.limits.max_pixels` before anything is allocated."""
    coco = path if isinstance(path, CocoFile) else load_coco(path)
    path = coco.path
    if not coco.images:
        raise ValueError(f"{path}: the file lists no image")
    if image is None:
        info = coco.images[0]
    else:
        info = coco.by_name.get(str(image)) or coco.by_id.get(image)
        if info is None:
            raise ValueError(f"{path}: no image {image!r} in this file")
    try:
        h, w, image_id = int(info["height"]), int(info["width"]), info["id"]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: image entry {info.get('file_name', info)!r} lacks a valid id, height or width "
                         f"({e}); COCO images need all three") from None
    check_pixels(path, (h, w), f"image entry {info.get('file_name', image_id)!r}")
    labels = np.zeros((h, w), np.int32)
    table = []
    anns = coco.annotations.get(image_id, [])
    for k, a in enumerate(sorted(anns, key=lambda a: -_number(a.get("area", 0))), 1):
        seg = a.get("segmentation")
        try:
            if isinstance(seg, dict):
                mask = rle_decode(seg, source=path, what=f"RLE of annotation {a.get('id', '?')!r}")
            elif isinstance(seg, list):
                mask = _fill_polygons(seg, h, w)
            else:
                raise ValueError(f"its segmentation is {type(seg).__name__}, not polygons or an RLE")
            if mask.shape != (h, w):
                raise ValueError(f"its mask is {mask.shape[0]}x{mask.shape[1]}, the image {h}x{w}")
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
            if str(e).startswith(str(path)):
                raise
            raise ValueError(f"{path}: annotation {a.get('id', '?')} of image {image_id} has no usable segmentation "
                             f"({e or type(e).__name__}); every annotation needs polygons or an RLE") from None
        labels[mask] = k
        table.append({"label": k, "annotation_id": a.get("id"), "category_id": a.get("category_id"),
                      "category": coco.categories.get(a.get("category_id"), ""), "iscrowd": int(_number(a.get("iscrowd", 0)))})
    return labels, table


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0

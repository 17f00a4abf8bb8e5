"""Annotation projects: a folder of images labelled one after the other, saved as you go.

``Project(images_dir)`` keeps the labels in a sibling folder (``<images>_labels/`` unless given), one
mask per image in the chosen format, written atomically. ``project.json`` there remembers the
format, the classes, the image shown last and which images hold annotation, so reopening the folder
resumes where the person left off. Object classes of an image (a labels layer's ``class_id``
feature) are kept beside its mask as ``<stem>.classes.json``. ``export_voc`` and ``export_coco``
write the whole project in those formats.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from . import read_image, read_json, write_labels
from .atomic import atomic_write, remove_stale_temporaries
from .batch import expand_inputs

__all__ = ["Project"]

STATE = "project.json"
FORMAT = "napari-segsuite.project"


class Project:
    """A folder of images and the labels painted on them (see the module docstring)."""

    _state_mtime = float("-inf")  # when project.json was last read or written: masks newer than it are read

    def __init__(self, images_dir: str | os.PathLike, labels_dir: str | os.PathLike | None = None, *, fmt: str = "png"):
        self.images_dir = Path(images_dir)
        if not self.images_dir.is_dir():
            raise ValueError(f"{self.images_dir} is not a folder: choose the folder that holds the images")
        self.images = expand_inputs([self.images_dir])
        self.labels_dir = Path(labels_dir) if labels_dir else self.images_dir.parent / f"{self.images_dir.name}_labels"
        remove_stale_temporaries(self.labels_dir)
        state = self._read_state()
        self.fmt = state.get("mask_format") or self._format_on_disk() or fmt
        if self.fmt not in ("png", "tif", "npy"):
            raise ValueError(f"mask format must be png, tif or npy, got {self.fmt!r}")
        self.keys = self._keys()
        self.classes: dict[int, str] = state.get("classes", {1: "object"})
        self.annotated: set[str] = self._annotated_on_disk(set(state.get("annotated", [])))
        current = state.get("current")
        self.index = self.keys.index(current) if current in self.keys else 0

    # -- state ----------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any]:
        path = self.labels_dir / STATE
        if not path.is_file():
            return {}
        advice = ("it is damaged: move it away to start the project's bookkeeping afresh (the masks beside it are "
                  "kept and found again)")
        try:
            data = read_json(path, "project file")
        except ValueError as e:
            raise ValueError(f"{e}; {advice}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a napari-segsuite project file; {advice}")
        fields = {"mask_format": str, "current": str, "classes": dict, "annotated": list}
        for key, kind in fields.items():
            if key in data and data[key] is not None and not isinstance(data[key], kind):
                raise ValueError(f"{path}: '{key}' must be {kind.__name__}, got {type(data[key]).__name__}; {advice}")
        if not all(isinstance(a, str) for a in data.get("annotated") or []):
            raise ValueError(f"{path}: 'annotated' must list image names; {advice}")
        if data.get("classes") is None:
            data.pop("classes", None)  # absent or null: the default class
        else:
            try:
                data["classes"] = {int(k): str(v) for k, v in data["classes"].items()}
            except (TypeError, ValueError):
                raise ValueError(f"{path}: 'classes' must map integer ids to names; {advice}") from None
        self._state_mtime = path.stat().st_mtime
        return data

    def _format_on_disk(self) -> str | None:
        """The mask format of the masks already in the labels folder (a project without its
        project.json), when they are all of one format."""
        if not self.labels_dir.is_dir():
            return None
        stems = {p.stem for p in self.images} | {p.name for p in self.images}
        found = {p.suffix[1:] for p in self.labels_dir.iterdir() if p.suffix[1:] in ("png", "tif", "npy") and p.stem in stems}
        return found.pop() if len(found) == 1 else None

    def _keys(self) -> list[str]:
        """Each image's name in the labels folder: its stem, or its whole file name where several
        images share a stem (``cell.jpg`` and ``cell.tif``), so no two images share a mask file."""
        stems = Counter(p.stem for p in self.images)
        keys = [p.stem if stems[p.stem] == 1 else p.name for p in self.images]
        for stem in sorted(s for s, n in stems.items() if n > 1):
            legacy = self.labels_dir / f"{stem}.{self.fmt}"
            if legacy.exists():
                names = ", ".join(p.name for p in self.images if p.stem == stem)
                raise ValueError(f"{names} in {self.images_dir} share the name {stem!r}, and {legacy} could be the "
                                 f"labels of any of them: rename it to <image file name>.{self.fmt} (e.g. "
                                 f"{next(p.name for p in self.images if p.stem == stem)}.{self.fmt}) for the image it "
                                 f"belongs to, then open the folder again")
        return keys

    def _annotated_on_disk(self, listed: set[str]) -> set[str]:
        """The images whose saved mask holds a label. The masks on disk are the truth: a mask saved
        after project.json was last written (a save cut short, or project.json moved away) is read
        to find out; one project.json lists and that is no newer is trusted without reading."""
        annotated = set()
        for i, key in enumerate(self.keys):
            path = self.labels_path(i)
            try:
                st = path.stat()
            except OSError:
                continue
            if key in listed and st.st_mtime <= self._state_mtime:
                annotated.add(key)
                continue
            try:
                if read_image(path).any():
                    annotated.add(key)
            except ValueError:
                continue  # a damaged mask: not counted (opening that image says what is wrong)
        return annotated

    def save_state(self) -> None:
        data = {"format": FORMAT, "version": 1, "mask_format": self.fmt, "current": self.keys[self.index],
                "classes": {str(k): v for k, v in sorted(self.classes.items())}, "annotated": sorted(self.annotated)}
        text = json.dumps(data, indent=2)
        atomic_write(self.labels_dir / STATE, lambda f: f.write(text.encode()), overwrite=True)
        self._state_mtime = (self.labels_dir / STATE).stat().st_mtime

    # -- images and labels ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.images)

    @property
    def progress(self) -> tuple[int, int]:
        """(images with annotation, images)."""
        return len(self.annotated & set(self.keys)), len(self.images)

    def is_annotated(self, i: int | None = None) -> bool:
        """Whether image ``i`` (the current one by default) has saved labels."""
        return self.keys[self.index if i is None else i] in self.annotated

    def labels_path(self, i: int) -> Path:
        return self.labels_dir / f"{self.keys[i]}.{self.fmt}"

    def image(self, i: int | None = None) -> np.ndarray:
        return read_image(self.images[self.index if i is None else i])

    def labels(self, i: int | None = None) -> np.ndarray | None:
        """The saved labels of image ``i`` (the current one by default), or None if none yet."""
        path = self.labels_path(self.index if i is None else i)
        return read_image(path) if path.is_file() else None

    def object_classes(self, i: int | None = None) -> dict[int, int]:
        path = self.labels_path(self.index if i is None else i).with_suffix(".classes.json")
        if not path.is_file():
            return {}
        data = read_json(path, "object classes file")
        try:
            return {int(k): int(v) for k, v in data.items()}
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"{path}: must map object ids to class ids (integers)") from None

    def save(self, labels: Any, i: int | None = None, *, object_classes: dict[int, int] | None = None) -> Path:
        """Write the labels of image ``i`` atomically (a failed write keeps the previous file) and
        record whether it holds annotation."""
        i = self.index if i is None else i
        labels = np.asarray(labels)
        path = write_labels(self.labels_path(i), labels, overwrite=True)
        if object_classes:
            text = json.dumps({str(k): int(v) for k, v in sorted(object_classes.items())})
            atomic_write(path.with_suffix(".classes.json"), lambda f: f.write(text.encode()), overwrite=True)
        if labels.any():
            self.annotated.add(self.keys[i])
        else:
            self.annotated.discard(self.keys[i])
        self.save_state()
        return path

    def go(self, i: int) -> int:
        """Make image ``i`` (clamped to the project) the current one and remember it."""
        self.index = int(np.clip(i, 0, len(self.images) - 1))
        self.save_state()
        return self.index

    # -- export ---------------------------------------------------------------------------------
    def _saved(self) -> list[int]:
        return [i for i, key in enumerate(self.keys) if key in self.annotated and self.labels_path(i).is_file()]

    def export_voc(self, out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Pascal VOC layout: JPEGImages/ (RGB JPEGs, as VOC has), SegmentationObject/ (object ids),
        SegmentationClass/ (class ids; 255 stays ignore), ImageSets/Segmentation/all.txt, and
        classes.json. Every mask is checked first: an object or class id VOC cannot hold (255 or
        more) refuses the export before anything is written."""
        from .voc import VOC_IGNORE, write_voc_mask

        out = Path(out_dir)
        bad_classes = sorted(k for k in self.classes if not 0 < k < VOC_IGNORE)
        if bad_classes:
            raise ValueError(f"class id(s) {bad_classes} do not fit VOC's class masks (1..{VOC_IGNORE - 1}; {VOC_IGNORE} "
                             f"is VOC's ignore label): renumber the classes, or export to COCO")
        planned = []
        for i in self._saved():
            labels, name = self.labels(i), self.images[i].name
            if labels.max() >= VOC_IGNORE:
                raise ValueError(f"{name}: object id {int(labels.max())} does not fit VOC's object masks (at most "
                                 f"{VOC_IGNORE - 1} objects); export this project to COCO instead. Nothing was written.")
            classes = self.object_classes(i)
            wrong = sorted({v for v in classes.values() if not 0 <= v < VOC_IGNORE})
            if wrong:
                raise ValueError(f"{name}: class id(s) {wrong} do not fit VOC's class masks (1..{VOC_IGNORE - 1}); "
                                 f"export to COCO instead. Nothing was written.")
            lut = np.zeros(int(labels.max()) + 1, np.uint8)
            for obj in range(1, len(lut)):
                lut[obj] = classes.get(obj, min(self.classes) if self.classes else 1)
            planned.append((i, labels.astype(np.uint8), lut[labels]))
        if not planned:
            raise ValueError("no image of this project holds annotation yet: nothing to export")
        names = []
        for i, objects, classes_mask in planned:
            key = self.keys[i]
            write_voc_mask(out / "SegmentationObject" / f"{key}.png", objects, overwrite=overwrite)
            write_voc_mask(out / "SegmentationClass" / f"{key}.png", classes_mask, overwrite=overwrite)
            target = out / "JPEGImages" / f"{key}.jpg"
            if overwrite or not target.exists():
                atomic_write(target, lambda f, i=i: _write_jpeg(f, self.image(i)), overwrite=True)
            names.append(key)
        text = "\n".join(names) + "\n"
        atomic_write(out / "ImageSets" / "Segmentation" / "all.txt", lambda f: f.write(text.encode()), overwrite=True)
        classes = json.dumps({"0": "background", **{str(k): v for k, v in sorted(self.classes.items())}, "255": "ignore"})
        atomic_write(out / "classes.json", lambda f: f.write(classes.encode()), overwrite=True)
        return out

    def export_coco(self, path: str | os.PathLike, *, mode: str = "rle", overwrite: bool = False) -> Path:
        """One COCO instances file for every annotated image (RLE by default, or polygons)."""
        from .coco import write_coco

        items = []
        default = min(self.classes) if self.classes else 1
        for i in self._saved():
            classes = self.object_classes(i)
            labels = self.labels(i)
            cats = {int(v): classes.get(int(v), default) for v in np.unique(labels) if v}
            items.append((self.images[i].name, labels, cats))
        if not items:
            raise ValueError("no image of this project holds annotation yet: nothing to export")
        categories = [{"id": k, "name": v} for k, v in sorted(self.classes.items())]
        return write_coco(path, items, categories, mode=mode, overwrite=overwrite)


def _write_jpeg(file: Any, image: np.ndarray) -> None:
    """An image as an RGB JPEG (VOC's JPEGImages): gray is repeated, alpha dropped, other dtypes
    scaled to 0..255."""
    from PIL import Image

    if image.ndim == 3 and image.shape[-1] in (3, 4):
        rgb = image[..., :3]
    elif image.ndim == 2:
        rgb = np.repeat(image[..., None], 3, axis=-1)
    else:
        raise ValueError(f"VOC holds 2D gray or colour images; this one has shape {image.shape}")
    if rgb.dtype != np.uint8:
        values = rgb.astype(np.float64)
        lo, hi = (np.nanmin(values), np.nanmax(values)) if values.size else (0.0, 1.0)
        rgb = np.clip(np.nan_to_num((values - lo) * (255.0 / ((hi - lo) or 1.0))), 0, 255).astype(np.uint8)
    Image.fromarray(np.ascontiguousarray(rgb)).save(file, format="JPEG", quality=95)

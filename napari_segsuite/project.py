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
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .batch import expand_inputs
from .io import read_image, write_labels
from .io.atomic import atomic_write

__all__ = ["Project"]

STATE = "project.json"
FORMAT = "napari-segsuite.project"


class Project:
    """A folder of images and the labels painted on them (see the module docstring)."""

    def __init__(self, images_dir: str | os.PathLike, labels_dir: str | os.PathLike | None = None, *, fmt: str = "png"):
        self.images_dir = Path(images_dir)
        if not self.images_dir.is_dir():
            raise ValueError(f"{self.images_dir} is not a folder: choose the folder that holds the images")
        self.images = expand_inputs([self.images_dir])
        self.labels_dir = Path(labels_dir) if labels_dir else self.images_dir.parent / f"{self.images_dir.name}_labels"
        state = self._read_state()
        self.fmt = state.get("mask_format", fmt)
        if self.fmt not in ("png", "tif", "npy"):
            raise ValueError(f"mask format must be png, tif or npy, got {self.fmt!r}")
        self.classes: dict[int, str] = {int(k): str(v) for k, v in state.get("classes", {"1": "object"}).items()}
        self.annotated: set[str] = set(state.get("annotated", []))
        current = state.get("current")
        stems = [p.stem for p in self.images]
        self.index = stems.index(current) if current in stems else 0

    # -- state ----------------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any]:
        path = self.labels_dir / STATE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"{path} is damaged ({e}); move it away to start the project's bookkeeping afresh "
                             f"(the masks beside it are kept)") from e
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a napari-segsuite project file")
        return data

    def save_state(self) -> None:
        data = {"format": FORMAT, "version": 1, "mask_format": self.fmt, "current": self.images[self.index].stem,
                "classes": {str(k): v for k, v in sorted(self.classes.items())}, "annotated": sorted(self.annotated)}
        text = json.dumps(data, indent=2)
        atomic_write(self.labels_dir / STATE, lambda f: f.write(text.encode()), overwrite=True)

    # -- images and labels ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.images)

    @property
    def progress(self) -> tuple[int, int]:
        """(images with annotation, images)."""
        return len(self.annotated & {p.stem for p in self.images}), len(self.images)

    def labels_path(self, i: int) -> Path:
        return self.labels_dir / f"{self.images[i].stem}.{self.fmt}"

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
        return {int(k): int(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}

    def save(self, labels: Any, i: int | None = None, *, object_classes: dict[int, int] | None = None) -> Path:
        """Write the labels of image ``i`` atomically (a failed write keeps the previous file) and
        record whether it holds annotation."""
        i = self.index if i is None else i
        labels = np.asarray(labels)
        path = write_labels(self.labels_path(i), labels, overwrite=True)
        if object_classes:
            text = json.dumps({str(k): int(v) for k, v in sorted(object_classes.items())})
            atomic_write(path.with_suffix(".classes.json"), lambda f: f.write(text.encode()), overwrite=True)
        stem = self.images[i].stem
        if labels.any():
            self.annotated.add(stem)
        else:
            self.annotated.discard(stem)
        self.save_state()
        return path

    def go(self, i: int) -> int:
        """Make image ``i`` (clamped to the project) the current one and remember it."""
        self.index = int(np.clip(i, 0, len(self.images) - 1))
        self.save_state()
        return self.index

    # -- export ---------------------------------------------------------------------------------
    def _saved(self) -> list[int]:
        return [i for i, p in enumerate(self.images) if p.stem in self.annotated and self.labels_path(i).is_file()]

    def export_voc(self, out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Pascal VOC layout: JPEGImages/, SegmentationObject/ (object ids), SegmentationClass/
        (class ids; 255 stays ignore), ImageSets/Segmentation/all.txt, and classes.json."""
        from .io.voc import VOC_IGNORE, write_voc_mask

        out = Path(out_dir)
        names = []
        for i in self._saved():
            labels = self.labels(i)
            stem = self.images[i].stem
            if labels.max() >= VOC_IGNORE:
                raise ValueError(f"{stem}: {int(labels.max())} objects do not fit VOC's object masks (at most 254); "
                                 f"export this project to COCO instead")
            classes = self.object_classes(i)
            lut = np.zeros(int(labels.max()) + 1, np.uint8)
            for obj in range(1, len(lut)):
                lut[obj] = classes.get(obj, min(self.classes) if self.classes else 1)
            write_voc_mask(out / "SegmentationObject" / f"{stem}.png", labels.astype(np.uint8), overwrite=overwrite)
            write_voc_mask(out / "SegmentationClass" / f"{stem}.png", lut[labels], overwrite=overwrite)
            image = self.images[i]
            target = out / "JPEGImages" / image.name
            if overwrite or not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(image, target)
            names.append(stem)
        if not names:
            raise ValueError("no image of this project holds annotation yet: nothing to export")
        text = "\n".join(names) + "\n"
        atomic_write(out / "ImageSets" / "Segmentation" / "all.txt", lambda f: f.write(text.encode()), overwrite=True)
        classes = json.dumps({"0": "background", **{str(k): v for k, v in sorted(self.classes.items())}, "255": "ignore"})
        atomic_write(out / "classes.json", lambda f: f.write(classes.encode()), overwrite=True)
        return out

    def export_coco(self, path: str | os.PathLike, *, mode: str = "rle", overwrite: bool = False) -> Path:
        """One COCO instances file for every annotated image (RLE by default, or polygons)."""
        from .io.coco import write_coco

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

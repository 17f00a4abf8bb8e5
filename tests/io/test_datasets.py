"""Data set folders: the COCO layouts people have (annotations/ or a JSON at the top)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segsuite.io import write_labels
from napari_segsuite.io.coco import rle_encode
from napari_segsuite.io.datasets import iter_instance_dataset

pytest.importorskip("pycocotools")


@pytest.mark.parametrize("layout", ["annotations/instances_val.json+images", "annotations.json+val2017",
                                    "annotations.json+beside"])
def test_coco_layouts_are_recognised(tmp_path, layout):
    mask = np.zeros((12, 16), bool)
    mask[3:8, 4:10] = True
    data = {"images": [{"id": 1, "file_name": "a.png", "height": 12, "width": 16}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle_encode(mask), "area": 30,
                             "bbox": [4, 3, 6, 5], "iscrowd": 0}],
            "categories": [{"id": 1, "name": "thing"}]}
    ann, images = {"annotations/instances_val.json+images": ("annotations/instances_val.json", "images"),
                   "annotations.json+val2017": ("annotations.json", "val2017"),
                   "annotations.json+beside": ("annotations.json", ".")}[layout]
    (tmp_path / ann).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / ann).write_text(json.dumps(data))
    write_labels(tmp_path / images / "a.png", (mask * 200).astype(np.uint8))
    (name, image, labels), = list(iter_instance_dataset(tmp_path))
    assert name == "a" and image.shape == (12, 16) and (labels > 0).sum() == 30


def test_an_unknown_layout_names_what_it_expected(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(ValueError, match="COCO instances JSON"):
        list(iter_instance_dataset(tmp_path))

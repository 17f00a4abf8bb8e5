"""COCO instances: RLE equal to pycocotools', round trips, pycocotools reads what we write."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.io.coco import labels_to_annotations, read_coco, rle_decode, rle_encode, write_coco

mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools (a test dependency) is the reference")


def _labels():
    labels = np.zeros((60, 80), np.int32)
    yy, xx = np.mgrid[:60, :80]
    labels[(yy - 20) ** 2 + (xx - 20) ** 2 < 12**2] = 1
    labels[30:55, 40:75] = 2
    labels[0, 79] = 3  # a single pixel in a corner
    return labels


def test_rle_matches_pycocotools():
    rng = np.random.default_rng(0)
    masks = [rng.random((37, 53)) > 0.5, np.zeros((10, 12), bool), np.ones((9, 7), bool), _labels() == 1]
    for m in masks:
        ours = rle_encode(m)
        ref = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
        assert ours["counts"] == ref["counts"].decode() and ours["size"] == list(ref["size"])
        assert np.array_equal(rle_decode(ours), m)
        assert np.array_equal(rle_decode({"size": ours["size"], "counts": ref["counts"].decode()}), m)
    with pytest.raises(ValueError, match="corrupt"):
        rle_decode({"size": [4, 4], "counts": [3, 2]})


def test_write_read_round_trip_and_pycocotools_reads_it(tmp_path):
    from pycocotools.coco import COCO

    labels = _labels()
    cats = [{"id": 1, "name": "cell"}, {"id": 7, "name": "box"}]
    path = write_coco(tmp_path / "a.json", [("a.png", labels, {1: 1, 2: 7, 3: 1})], cats)
    back, table = read_coco(path, "a.png")
    # lossless: the same objects (ids may be renumbered, larger first)
    for lab in (1, 2, 3):
        (new,) = np.unique(back[labels == lab])
        assert np.array_equal(back == new, labels == lab)
    assert {r["category"] for r in table} == {"cell", "box"} and all(r["iscrowd"] == 0 for r in table)
    coco = COCO(str(path))
    for ann in coco.loadAnns(coco.getAnnIds()):
        assert coco.annToMask(ann).sum() == ann["area"]
    with pytest.raises(FileExistsError):
        write_coco(tmp_path / "a.json", [("a.png", labels, 1)], cats)
    with pytest.raises(ValueError, match="not among the categories"):
        write_coco(tmp_path / "b.json", [("a.png", labels, 5)], cats)
    assert not (tmp_path / "b.json").exists()


def test_polygons_are_close(tmp_path):
    labels = _labels()
    anns = labels_to_annotations(labels, image_id=1, mode="polygon")
    assert len(anns) == 3 and all(isinstance(a["segmentation"], list) for a in anns)
    path = write_coco(tmp_path / "p.json", [("p.png", labels, 1)], [{"id": 1, "name": "x"}], mode="polygon")
    back, _ = read_coco(path)
    big = labels == 2  # a 25 x 35 rectangle: its polygon runs through the boundary pixels' centres
    ids, counts = np.unique(back[big], return_counts=True)
    new = ids[np.argmax(counts)]
    assert new > 0 and ((back == new) & big).sum() / ((back == new) | big).sum() > 0.85


def test_polygons_are_rasterised_pixel_for_pixel_as_pycocotools_does():
    from pycocotools import mask as coco_mask

    from napari_segsuite.io.coco import fill_polygon

    rng = np.random.default_rng(0)
    for _ in range(500):  # vertices inside, on and outside the image, whole and fractional, repeated
        h, w = (int(v) for v in rng.integers(5, 60, 2))
        k = int(rng.integers(3, 12))
        poly = (rng.random(2 * k) * np.array([w, h] * k) * 1.3 - 3 * rng.random()).round(int(rng.integers(0, 3)))
        ref = coco_mask.decode(coco_mask.frPyObjects([poly.tolist()], h, w))[..., 0].astype(bool)
        np.testing.assert_array_equal(fill_polygon(poly, h, w), ref, err_msg=str((h, w, poly.tolist())))


def test_real_coco_sample_with_crowd(shared_data):
    from pycocotools.coco import COCO

    ann_file = next((shared_data / "coco_mini" / "annotations").glob("*.json"))
    coco = COCO(str(ann_file))
    crowd = coco.loadAnns(coco.getAnnIds(iscrowd=True))
    assert crowd, "the sample holds one crowd annotation"
    img = coco.loadImgs(crowd[0]["image_id"])[0]
    labels, table = read_coco(ann_file, img["file_name"])
    rows = {r["annotation_id"]: r for r in table}
    assert rows[crowd[0]["id"]]["iscrowd"] == 1
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
        ref = coco.annToMask(ann) > 0
        ours = labels == rows[ann["id"]]["label"]
        # exactly COCO's pixels, except those a smaller object painted over (each pixel holds one label)
        assert not (ours & ~ref).any() and not (ref & ~ours & (labels == 0)).any()
        assert ours.sum() > 0 or not ref.any()


def test_coco_files_with_missing_fields_get_clear_errors(tmp_path):
    import json

    import pytest

    from napari_segsuite.io.coco import read_coco

    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}], "annotations": []}))
    with pytest.raises(ValueError, match="lacks a valid id, height or width"):
        read_coco(path)
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 5}],
                                "annotations": [{"id": 7, "image_id": 1, "category_id": 1}]}))
    with pytest.raises(ValueError, match="annotation 7 of image 1 has no usable segmentation"):
        read_coco(path)
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 5}],
                                "annotations": [{"id": 8, "image_id": 1, "segmentation": {"size": [9, 9], "counts": [81]}}]}))
    with pytest.raises(ValueError, match="its mask is 9x9, the image 4x5"):
        read_coco(path)

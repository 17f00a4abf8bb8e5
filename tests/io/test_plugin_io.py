"""The npe2 readers and writers, through napari's own open and save."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segsuite.io import read_image
from napari_segsuite.io.coco import read_coco
from napari_segsuite.io.plugin import get_reader, read_coco_layers, write_coco_layer, write_mask_layer


def test_reader_claims_only_our_formats(tmp_path):
    assert get_reader(str(tmp_path / "x.mat")) is not None
    coco = tmp_path / "a.json"
    coco.write_text(json.dumps({"images": [], "annotations": []}))
    other = tmp_path / "b.json"
    other.write_text(json.dumps({"hello": 1}))
    assert get_reader(str(coco)) is not None and get_reader(str(other)) is None
    assert get_reader(str(tmp_path / "photo.png")) is None
    assert get_reader(str(tmp_path)) is None, "a folder without VOC masks is not ours"
    (tmp_path / "SegmentationClass").mkdir()
    (tmp_path / "SegmentationClass" / "a.png").write_bytes(b"")
    assert get_reader(str(tmp_path)) is not None and get_reader(str(tmp_path / "SegmentationClass")) is not None


def test_open_bsds_ground_truth_in_napari(make_napari_viewer, shared_data):
    viewer = make_napari_viewer()
    path = sorted((shared_data / "bsds500" / "groundTruth" / "val").glob("*.mat"))[0]
    layers = viewer.open(str(path), plugin="napari-segsuite")
    seg, bdry = layers
    assert seg.data.ndim == 3 and seg.data.shape[0] >= 4, "one plane per annotator"
    assert seg.data.min() >= 1 and not bdry.visible and set(np.unique(bdry.data)) <= {0, 1}
    assert seg.metadata["segsuite"]["kind"] == "instance"


def test_open_coco_with_categories_in_features(make_napari_viewer, shared_data):
    viewer = make_napari_viewer()
    path = shared_data / "coco_mini" / "annotations" / "instances_val2017_subset.json"
    layers = viewer.open(str(path), plugin="napari-segsuite")
    assert len(layers) == 10
    first = layers[0]
    labels, table = read_coco(path, first.metadata["segsuite"]["coco_image_id"])
    np.testing.assert_array_equal(first.data, labels)
    assert list(first.features["category"]) == [row["category"] for row in table]
    assert any(first.features["iscrowd"]) or any(any(layer.features["iscrowd"]) for layer in layers), "crowd kept"
    semantic = read_coco_layers(path, semantic=True)
    ids = semantic[1][0]
    assert set(np.unique(ids)) - {0} <= {int(c) for c in first.features["category_id"]}


def test_open_voc_masks_keeps_the_ignore_label_and_colours(make_napari_viewer, shared_data):
    viewer = make_napari_viewer()
    voc = shared_data / "voc_sample"
    image, cls, obj = viewer.open(str(voc), plugin="napari-segsuite")
    assert image.rgb and image.data.shape[:2] == cls.data.shape == obj.data.shape
    assert 255 in np.unique(cls.data), "255 stays the ignore label"
    names = {c["id"]: c["name"] for c in cls.metadata["segsuite"]["classes"]}
    assert names[0] == "background" and names[15] == "person"
    present = [int(v) for v in np.unique(cls.data) if v not in (0, 255)]
    colour = cls.colormap.map(np.array([present[0]]))[0][:3]
    from napari_segsuite.io.voc import voc_palette

    np.testing.assert_allclose(colour, voc_palette()[present[0]] / 255, atol=0.01)
    assert obj.metadata["segsuite"]["kind"] == "instance" and obj.data.max() == 255


def test_save_labels_layer_as_masks_and_coco(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    lab = np.zeros((30, 40), np.int32)
    lab[2:10, 3:12], lab[15:25, 20:35] = 1, 300
    layer = viewer.add_labels(lab, name="cells", features={"index": [1, 300], "class_id": [2, 5],
                                                           "class_name": ["nucleus", "debris"]})
    for suffix in (".png", ".tif", ".npy"):
        write_mask_layer(str(tmp_path / f"m{suffix}"), layer.data, {"name": layer.name})
        np.testing.assert_array_equal(read_image(tmp_path / f"m{suffix}"), lab)
    assert read_image(tmp_path / "m.png").dtype == np.uint16, "300 labels need 16 bits in PNG"
    layer.save(str(tmp_path / "cells.json"), plugin="napari-segsuite")
    data = json.loads((tmp_path / "cells.json").read_text())
    assert sorted((c["id"], c["name"]) for c in data["categories"]) == [(2, "nucleus"), (5, "debris")]
    pycocotools = pytest.importorskip("pycocotools.mask", reason="pycocotools (a test dependency) decodes COCO RLE")
    for ann in data["annotations"]:
        mask = pycocotools.decode(ann["segmentation"]).astype(bool)
        obj = 1 if ann["category_id"] == 2 else 300
        np.testing.assert_array_equal(mask, lab == obj)


def test_coco_writer_refuses_objects_without_category(tmp_path):
    lab = np.zeros((10, 10), np.int32)
    lab[1:3, 1:3], lab[5:7, 5:7] = 1, 2
    with pytest.raises(ValueError, match=r"objects \[2\] have no category"):
        write_coco_layer(str(tmp_path / "x.json"), lab, {"features": {"index": [1], "class_id": [3]}})
    with pytest.raises(ValueError, match="2D images"):
        write_coco_layer(str(tmp_path / "x.json"), np.zeros((2, 4, 4), np.int32), {})
    assert not (tmp_path / "x.json").exists()


def test_coco_layer_round_trip_keeps_categories_and_crowd(shared_data, tmp_path):
    path = shared_data / "coco_mini" / "annotations" / "instances_val2017_subset.json"
    layers = read_coco_layers(path)
    data, kwargs, _ = next(layer for layer in layers if any(layer[1]["features"]["iscrowd"]))
    meta = {"name": kwargs["name"], "features": kwargs["features"]}
    (out,) = write_coco_layer(str(tmp_path / "back.json"), data, meta)
    (back, back_kwargs, _), = read_coco_layers(out)
    # RLE is lossless: the same objects, pixel for pixel (read_coco numbers them by area again)
    pairs = np.unique(np.stack([data.ravel(), back.ravel()]), axis=1)
    assert len(pairs[0]) == len(np.unique(data)) == len(np.unique(back)) and ((pairs[0] == 0) == (pairs[1] == 0)).all()
    new_id = dict(zip(pairs[0].tolist(), pairs[1].tolist()))
    before = {int(i): (c, k) for i, c, k in zip(kwargs["features"]["index"], kwargs["features"]["category"],
                                              kwargs["features"]["iscrowd"])}
    after = {int(i): (c, k) for i, c, k in zip(back_kwargs["features"]["index"], back_kwargs["features"]["category"],
                                             back_kwargs["features"]["iscrowd"])}
    for old, new in new_id.items():
        if old:
            assert after[new] == before[old], "category and crowd flag kept"
    assert any(k for _, k in after.values())


def test_class_names_and_colours_travel_with_png_and_tif(tmp_path):
    from napari_segsuite.io import read_label_classes
    from napari_segsuite.io.labels import ClassInfo, labels_metadata

    lab = np.zeros((12, 12), np.uint8)
    lab[2:6, 2:6], lab[7:11, 7:11] = 1, 2
    classes = [ClassInfo(1, "cell", (1.0, 0.0, 0.0, 1.0)), ClassInfo(2, "debris", (0.0, 0.0, 1.0, 1.0))]
    meta = {"name": "sem", "metadata": labels_metadata("semantic", classes)}
    for suffix in (".png", ".tif"):
        (out,) = write_mask_layer(str(tmp_path / f"m{suffix}"), lab, meta)
        np.testing.assert_array_equal(read_image(out), lab)
        got = read_label_classes(out)
        assert [(c["id"], c["name"]) for c in got] == [(1, "cell"), (2, "debris")]
        assert got[0]["color"][:3] == [1.0, 0.0, 0.0]
    (plain,) = write_mask_layer(str(tmp_path / "n.png"), lab, {"name": "x"})
    assert read_label_classes(plain) is None
    (feat,) = write_mask_layer(str(tmp_path / "f.png"), lab, {"features": {"index": [1, 2], "class_id": [3, 3],
                                                                           "class_name": ["cell", "cell"]}})
    assert read_label_classes(feat) == [{"id": 3, "name": "cell", "color": None}]

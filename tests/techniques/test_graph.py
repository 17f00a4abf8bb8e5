"""Felzenszwalb-Huttenlocher against scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data, metrics, segmentation

from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques._rag import touching_pairs
from napari_segsuite.techniques._texture import histogram_boundaries

FH = CATALOG["graph.felzenszwalb"]


@pytest.mark.parametrize(("name", "params"), [("coffee", {}), ("astronaut", {"scale": 300.0, "sigma": 1.2, "min_size": 50})])
def test_same_segments_as_scikit_image(name, params):
    img = getattr(data, name)()[::2, ::2]
    p = FH.validate_params(params)
    ours = FH(img, channel_axis=-1, **p)
    theirs = segmentation.felzenszwalb(img, channel_axis=-1, **p)
    assert ours.min() == 1 and ours.max() == len(np.unique(ours))
    assert ours.max() == theirs.max() + 1
    # the same partition (labels may be numbered differently)
    assert metrics.adapted_rand_error(theirs + 1, ours)[0] == pytest.approx(0.0, abs=1e-12)


def test_same_segments_as_scikit_image_on_a_large_upscaled_image():
    """An upscaled photograph is smooth: many edge costs differ only past float32's precision, so
    smoothing and costs are computed in float64, as scikit-image does (float32 gave other
    segments at 1024² here: 1810 against 1808)."""
    from skimage.transform import resize

    img = (resize(data.astronaut(), (1024, 1024), anti_aliasing=True) * 255).astype(np.uint8)
    ours = FH(img, channel_axis=-1)
    theirs = segmentation.felzenszwalb(img, channel_axis=-1, scale=100.0, sigma=0.8, min_size=20)
    pairs = np.unique(np.stack([ours.ravel(), theirs.ravel()]), axis=1).shape[1]
    assert ours.max() == theirs.max() + 1 == pairs  # the same partition


def test_edge_costs_are_numpys_bit_for_bit_and_ties_in_float32_are_put_in_float64_order():
    from napari_segsuite.techniques._felzenszwalb import edge_costs, sorted_edges

    rng = np.random.default_rng(5)
    for shape in [(7, 9, 3), (1, 6, 3), (6, 1, 1), (12, 10, 1)]:
        img = rng.random(shape)
        img[2:4] = 0.25  # equal costs: kept in edge order
        steps = 0.1 - 1e-12 * np.arange(shape[1])  # along the last row: costs equal in float32,
        img[-1, :, 0] = np.cumsum(steps)  # decreasing in float64 (the sort must reverse them)
        pairs = [(img[1:, :], img[:-1, :]), (img[:, 1:], img[:, :-1]), (img[1:, 1:], img[:-1, :-1]),
                 (img[:-1, 1:], img[1:, :-1])]
        numpy_costs = np.concatenate([np.sqrt(((p - q) ** 2).sum(-1)).ravel() for p, q in pairs])
        costs = edge_costs(img)
        np.testing.assert_array_equal(costs.view(np.uint64), numpy_costs.view(np.uint64))
        np.testing.assert_array_equal(sorted_edges(img), np.argsort(numpy_costs, kind="stable"))


def test_gray_images_and_scale_controls_segment_size():
    img = data.camera()[::4, ::4]
    small = FH(img, scale=50.0).max()
    large = FH(img, scale=1000.0).max()
    assert small > 2 * large >= 2
    ref = segmentation.felzenszwalb(img, scale=50.0, sigma=0.8, min_size=20)
    assert small == ref.max() + 1


# -- SLIC, normalized cuts, RAG merging ------------------------------------------------------------

from sklearn.metrics import adjusted_rand_score  # noqa: E402

from napari_segsuite.techniques import get  # noqa: E402


def _blocks(noise=3.0, seed=0):
    y, x = np.mgrid[:96, :128]
    truth = 1 + (x > 50) + 2 * (y > 60)
    colours = np.array([[0, 0, 0], [220, 40, 40], [40, 200, 40], [40, 40, 220], [230, 230, 60]], float)
    img = colours[truth] + np.random.default_rng(seed).normal(0, noise, truth.shape + (3,))
    return np.clip(img, 0, 255).astype(np.uint8), truth


def _asa(segments, truth):
    """Achievable segmentation accuracy: each segment labelled with its majority truth label."""
    n = segments.max() + 1
    table = np.zeros((n, truth.max() + 1), int)
    np.add.at(table, (segments.ravel(), truth.ravel()), 1)
    return table.max(1).sum() / truth.size


def test_slic_gives_connected_superpixels_as_good_as_scikit_image(shared_data):
    from skimage.io import imread
    from skimage.segmentation import slic as sk_slic

    from napari_segsuite.io.bsds import read_bsds_groundtruth

    img_path = sorted((shared_data / "bsds500" / "images" / "val").glob("*.jpg"))[0]
    image = imread(img_path)
    truth = read_bsds_groundtruth(shared_data / "bsds500" / "groundTruth" / "val" / (img_path.stem + ".mat")).segmentations[0]
    ours = get("graph.slic")(image, channel_axis=-1, n_segments=400)
    ref = sk_slic(image, n_segments=400, compactness=10, start_label=1)
    n = len(np.unique(ours))
    assert 300 <= n <= 500
    from scipy import ndimage as ndi

    assert sum(ndi.label(ours == v)[1] for v in np.unique(ours)) == n  # every superpixel in one piece
    assert _asa(ours, truth) >= _asa(ref, truth) - 0.01


def test_normalized_cut_separates_colour_blocks():
    img, truth = _blocks()
    out = get("graph.normalized_cut")(img, channel_axis=-1, n_segments=200)
    assert adjusted_rand_score(truth.ravel(), out.ravel()) > 0.95


def test_ncut_partition_keeps_disconnected_parts_apart():
    from napari_segsuite.techniques._rag import Rag
    from napari_segsuite.techniques.graph import ncut_partition

    rag = Rag(np.zeros((1, 1), np.int32), np.ones(4), np.zeros((4, 3)), np.array([0, 2]), np.array([1, 3]), np.ones(2))
    parts = ncut_partition(rag, sigma=10.0, threshold=0.0, num_cuts=5)
    assert parts[0] == parts[1] != parts[2] == parts[3]


def test_ncut_partitions_equal_separate_runs_and_nest():
    from napari_segsuite.techniques import prepare_slice
    from napari_segsuite.techniques.graph import ncut_partition, ncut_partitions, superpixel_rag

    img, _ = _blocks()
    noisy = np.clip(img + np.random.default_rng(3).normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    rag, _ = superpixel_rag(*prepare_slice(noisy, has_channels=True, mode="color"), 150, 10.0)
    thresholds = [0.5, 0.05, 0.005, 0.0005]
    together = ncut_partitions(rag, 10.0, thresholds, 10)
    counts = [len(np.unique(t)) for t in together]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    for t, labels in zip(thresholds, together):
        assert adjusted_rand_score(ncut_partition(rag, 10.0, t, 10), labels) == 1.0
    for fine, coarse in zip(together, together[1:]):  # every fine part lies inside one coarse part
        pairs = np.unique(np.stack([fine, coarse]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1]


@pytest.mark.parametrize("cue", ["gradient", "histogram"])
def test_normalized_cuts_sweep_equals_the_technique_at_each_threshold(cue):
    from napari_segsuite.techniques import prepare_slice
    from napari_segsuite.techniques.graph import normalized_cuts

    img, _ = _blocks()
    noisy = np.clip(img + np.random.default_rng(4).normal(0, 30, img.shape), 0, 255).astype(np.uint8)
    params = {**get("graph.normalized_cut").defaults(), "n_segments": 120, "cue": cue}
    del params["threshold"]
    sweep = normalized_cuts(*prepare_slice(noisy, has_channels=True, mode="color"), [0.2, 0.002], **params)
    for t, labels in zip([0.2, 0.002], sweep):  # the same partition; numbering can differ where the eigenvector is not unique
        one = get("graph.normalized_cut")(noisy, channel_axis=-1, n_segments=120, threshold=t, cue=cue)
        assert adjusted_rand_score(one.ravel(), labels.ravel()) == 1.0


def _texture_halves(size: int = 96) -> np.ndarray:
    """Left half: a checkerboard of 2x2 blocks of two colours; right half: their mean colour."""
    yy, xx = np.indices((size, size))
    a, b = np.array([40, 160, 60]), np.array([200, 40, 180])
    img = np.where((((yy // 2) + (xx // 2)) % 2 == 0)[..., None], a, b).astype(np.float64)
    img[:, size // 2:] = (a + b) / 2
    return img.astype(np.uint8)


def test_normalized_cut_histogram_cue_splits_first_at_the_border_between_textures():
    """On a grid of square regions (no superpixel noise) whose mean colours are all equal, the
    histogram cue makes the border between a checkerboard and its own mean colour the cheapest cut."""
    from napari_segsuite.techniques import prepare_slice
    from napari_segsuite.techniques._image import to_lab
    from napari_segsuite.techniques._rag import build_rag
    from napari_segsuite.techniques.graph import ncut_partitions

    img = _texture_halves()
    lab = to_lab(*prepare_slice(img, has_channels=True, mode="color"))
    blocks = (np.indices(img.shape[:2]) // 8)
    rag = build_rag(blocks[0] * 100 + blocks[1], lab)
    *_, strength = touching_pairs(rag.labels, rag.n, along=histogram_boundaries(lab))
    parts = ncut_partitions(rag, 10.0, np.geomspace(1e-4, 1.0, 40), 10, strength, 1.4)
    first = next(p[rag.labels] for p in parts if p.max() == 2)
    left, right = first[:, : img.shape[1] // 2], first[:, img.shape[1] // 2:]
    assert len(np.unique(left)) == 1 and len(np.unique(right)) == 1 and left[0, 0] != right[0, 0]


def test_rag_merge_merges_superpixels_back_into_the_blocks():
    img, truth = _blocks()
    out = get("graph.rag_merge")(img, channel_axis=-1, n_segments=300)
    assert adjusted_rand_score(truth.ravel(), out.ravel()) > 0.98
    many = get("graph.rag_merge")(img, channel_axis=-1, n_segments=300, threshold=0.0)
    assert len(np.unique(many)) > 100  # threshold 0 merges nothing

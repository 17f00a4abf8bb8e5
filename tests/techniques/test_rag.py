"""Region adjacency graphs and the agglomeration engine, against brute force and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.techniques._rag import agglomerate, build_rag, merge_small_by_cost, relabel_sequential


def _brute_edges(labels):
    edges = set()
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            for yy, xx in ((y + 1, x), (y, x + 1)):
                if yy < h and xx < w and labels[y, x] != labels[yy, xx]:
                    edges.add(tuple(sorted((labels[y, x], labels[yy, xx]))))
    return edges


def test_rag_edges_and_means_match_brute_force():
    rng = np.random.default_rng(0)
    labels = ndi.zoom(rng.integers(0, 30, (6, 7)), 5, order=0) * 7 + 3  # sparse, non-sequential ids
    feats = rng.random(labels.shape + (3,))
    rag = build_rag(labels, feats)
    seq, n = relabel_sequential(labels)
    assert rag.n == n == len(np.unique(labels))
    assert set(zip(rag.a.tolist(), rag.b.tolist())) == _brute_edges(seq)
    for j in range(3):
        np.testing.assert_allclose(rag.means[:, j], ndi.mean(feats[..., j], seq, np.arange(n)))
    np.testing.assert_array_equal(rag.sizes, np.bincount(seq.ravel()))


def test_ward_equals_scikit_learn_connectivity_constrained_clustering():
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(1)
    img = ndi.gaussian_filter(rng.random((24, 24, 3)), (2, 2, 0))
    pixels = np.arange(24 * 24).reshape(24, 24)  # one node per pixel: sizes 1, as scikit-learn
    rag = build_rag(pixels, img)
    ours = agglomerate(rag, linkage="ward", n_target=6)
    from scipy.sparse import coo_matrix

    conn = coo_matrix((np.ones(len(rag.a)), (rag.a, rag.b)), shape=(rag.n, rag.n))
    ref = sklearn_cluster.AgglomerativeClustering(n_clusters=6, connectivity=conn + conn.T, linkage="ward").fit(img.reshape(-1, 3))
    assert len(np.unique(ours)) == 6
    assert adjusted_rand_score(ref.labels_, ours.ravel()) == 1.0


def test_small_regions_join_their_most_similar_neighbour():
    labels = np.array([[1, 1, 2, 3, 3], [1, 1, 2, 3, 3]])
    feats = np.array([[0, 0, 9, 10, 10], [0, 0, 9, 10, 10]], float)[..., None]
    out = agglomerate(build_rag(labels, feats), linkage="small", min_size=3)
    assert out[0, 2] == out[0, 3] != out[0, 0]  # the 2-pixel region joins the closer colour


def test_small_regions_join_across_the_cheapest_edge_when_costs_are_given():
    labels = np.array([[1, 1, 2, 3, 3], [1, 1, 2, 3, 3]])
    feats = np.array([[0, 0, 9, 10, 10], [0, 0, 9, 10, 10]], float)[..., None]
    rag = build_rag(labels, feats)
    costs = np.where((rag.a == 0) & (rag.b == 1), 0.5, 2.0)  # the border with the far colour is the weakest
    out = merge_small_by_cost(rag, costs, min_size=3)
    assert out[0, 2] == out[0, 0] != out[0, 3]
    assert np.array_equal(merge_small_by_cost(rag, costs, min_size=2), relabel_sequential(labels)[0] + 1)  # none small


def test_mean_linkage_stops_at_the_threshold():
    labels = np.repeat(np.arange(4), 3)[None, :].repeat(2, 0)
    feats = np.repeat(np.array([0.0, 1.0, 5.0, 5.5]), 3)[None, :, None].repeat(2, 0)
    out = agglomerate(build_rag(labels, feats), linkage="mean", threshold=1.5)
    assert len(np.unique(out)) == 2 and out[0, 0] == out[0, 3] and out[0, 6] == out[0, 9]


def test_boundary_means_match_brute_force():
    from napari_segsuite.techniques._rag import touching_pairs

    rng = np.random.default_rng(5)
    labels, n = relabel_sequential(ndi.zoom(rng.integers(0, 6, (4, 5)), 4, order=0))
    g = rng.random(labels.shape)
    a, b, length, mean = touching_pairs(labels, n, along=g)
    sums = {}
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            for yy, xx in ((y + 1, x), (y, x + 1)):
                if yy < h and xx < w and labels[y, x] != labels[yy, xx]:
                    key = tuple(sorted((labels[y, x], labels[yy, xx])))
                    s, c = sums.get(key, (0.0, 0))
                    sums[key] = (s + (g[y, x] + g[yy, xx]) / 2, c + 1)
    for i, key in enumerate(zip(a.tolist(), b.tolist())):
        assert length[i] == sums[key][1]
        assert mean[i] == pytest.approx(sums[key][0] / sums[key][1])

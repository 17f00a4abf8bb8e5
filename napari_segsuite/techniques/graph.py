"""Graph-based segmentation: on the pixel grid (Felzenszwalb, SLIC) and on region adjacency graphs
of superpixels (normalized cuts, hierarchical merging)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import scipy.linalg
from numba import njit
from scipy.sparse import csgraph, csr_matrix

from .. import cv_compat
from ._catalog import Range, When, technique
from ._felzenszwalb import merge_grid
from ._image import ImageInfo, lab_gradient, to_lab, to_unit
from ._rag import Rag, agglomerate, build_rag, touching_pairs
from ._texture import histogram_boundaries
from .cancel import checkpoint

__all__ = ["felzenszwalb", "normalized_cut", "normalized_cuts", "rag_merge", "slic", "slic_labels"]


@technique("graph.felzenszwalb", family="Graph-based", output="labels", label_kind="instance", channels="color")
def felzenszwalb(
    image: np.ndarray,
    *,
    info: ImageInfo,
    scale: Annotated[float, Range(1.0, 5000.0, step=1.0)] = 100.0,
    sigma: Annotated[float, Range(0.0, 10.0, step=0.05)] = 0.8,
    min_size: Annotated[int, Range(1, 100000)] = 20,
) -> np.ndarray:
    """Felzenszwalb-Huttenlocher: greedy merging along the grid's minimum spanning tree.

    As ``skimage.segmentation.felzenszwalb`` (same graph, costs and merge rule, so the same
    parameters mean the same thing): the image is scaled to [0, 1] by its dtype range, smoothed
    with a Gaussian, joined into an 8-connected grid whose edge costs are Euclidean colour
    differences; components merge while the cost stays below each side's internal difference
    plus scale / 255 / size, then components under ``min_size`` pixels join a neighbour.

    Parameters
    ----------
    scale : float
        Observation scale (the paper's k): larger values give larger segments.
    sigma : float
        Gaussian smoothing before building the graph, in pixels.
    min_size : int
        Smallest segment kept, in pixels.

    Notes
    -----
    Kruskal's merge takes the edges in cost order, so its union-find jumps across the image: once
    the arrays leave the CPU cache each edge waits on memory. Prefetching the edges ahead hides
    part of the wait: the cost per pixel grows about 3.5-4x from 256² to 8192² (it was 7x;
    scikit-image's 6.5x to 4096²; docs/benchmarks.md), and an 8192² image needs about 5.4 GB
    (``_felzenszwalb.py``). The live preview runs on a downscaled image.
    """
    # float64 throughout, as scikit-image: float32 smoothing or costs reorder near-equal edges
    if info.dtype.kind == "u":  # skimage's img_as_float64
        img = image.astype(np.float64) * (1.0 / info.dtype_range[1])
    else:
        img = to_unit(image, info).astype(np.float64)
    if sigma > 0:
        radius = max(int(4.0 * sigma + 0.5), 1)
        img = cv_compat.gaussian(img, sigma, radius, "reflect")
        if img.ndim == 2:
            img = img[..., None]
    return merge_grid(img, scale / 255.0, min_size)


@njit(cache=True)
def _slic_iterate(lab, step, compactness, n_iter):  # pragma: no cover - compiled
    h, w, c = lab.shape
    ny = max(h // step, 1)
    nx = max(w // step, 1)
    k = ny * nx
    centres = np.zeros((k, c + 2))
    for i in range(ny):
        for j in range(nx):
            y = min(int((i + 0.5) * h / ny), h - 1)
            x = min(int((j + 0.5) * w / nx), w - 1)
            centres[i * nx + j, 0] = y
            centres[i * nx + j, 1] = x
            for q in range(c):
                centres[i * nx + j, 2 + q] = lab[y, x, q]
    labels = np.zeros((h, w), np.int32)
    dist = np.empty((h, w), np.float32)
    spatial = (compactness / step) ** 2
    sums = np.zeros((k, c + 3))
    for _ in range(n_iter):
        dist[:] = np.inf
        for ci in range(k):
            cy = centres[ci, 0]
            cx = centres[ci, 1]
            for y in range(max(int(cy) - step, 0), min(int(cy) + step + 1, h)):
                dy2 = (y - cy) ** 2
                for x in range(max(int(cx) - step, 0), min(int(cx) + step + 1, w)):
                    d = spatial * (dy2 + (x - cx) ** 2)
                    for q in range(c):
                        diff = lab[y, x, q] - centres[ci, 2 + q]
                        d += diff * diff
                    if d < dist[y, x]:
                        dist[y, x] = d
                        labels[y, x] = ci
        sums[:] = 0
        for y in range(h):
            for x in range(w):
                ci = labels[y, x]
                sums[ci, 0] += y
                sums[ci, 1] += x
                for q in range(c):
                    sums[ci, 2 + q] += lab[y, x, q]
                sums[ci, c + 2] += 1
        for ci in range(k):
            if sums[ci, c + 2] > 0:
                for q in range(c + 2):
                    centres[ci, q] = sums[ci, q] / sums[ci, c + 2]
    return labels


@njit(cache=True)
def _enforce_connectivity(labels, min_size):  # pragma: no cover - compiled
    """Relabel 4-connected pieces 1..n; pieces under min_size join the previous piece they touch."""
    h, w = labels.shape
    out = np.zeros((h, w), np.int32)
    stack_y = np.empty(h * w, np.int64)
    stack_x = np.empty(h * w, np.int64)
    n = 0
    for sy in range(h):
        for sx in range(w):
            if out[sy, sx] != 0:
                continue
            n += 1
            lab = labels[sy, sx]
            adjacent = 0
            for dy, dx in ((-1, 0), (0, -1), (1, 0), (0, 1)):
                yy, xx = sy + dy, sx + dx
                if 0 <= yy < h and 0 <= xx < w and out[yy, xx] != 0:
                    adjacent = out[yy, xx]
            out[sy, sx] = n
            stack_y[0] = sy
            stack_x[0] = sx
            top = 1
            size = 0
            while size < top:  # breadth-first over the stack, which also lists the piece
                y, x = stack_y[size], stack_x[size]
                size += 1
                for dy, dx in ((-1, 0), (0, -1), (1, 0), (0, 1)):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and out[yy, xx] == 0 and labels[yy, xx] == lab:
                        out[yy, xx] = n
                        stack_y[top] = yy
                        stack_x[top] = xx
                        top += 1
            if size < min_size and adjacent != 0:
                for i in range(size):
                    out[stack_y[i], stack_x[i]] = adjacent
                n -= 1
    return out


def slic_labels(lab: np.ndarray, n_segments: int, compactness: float, iterations: int = 10) -> np.ndarray:
    """SLIC superpixels (labels 1..n) of a (Y, X, C) float32 Lab image (L in 0..100)."""
    h, w = lab.shape[:2]
    step = max(int(round(np.sqrt(h * w / max(n_segments, 1)))), 1)
    labels = _slic_iterate(np.ascontiguousarray(lab, np.float32), step, float(compactness), int(iterations))
    return _enforce_connectivity(labels, max(step * step // 4, 1))


@technique("graph.slic", family="Graph-based", output="labels", label_kind="instance", channels="color")
def slic(
    image: np.ndarray,
    *,
    info: ImageInfo,
    n_segments: Annotated[int, Range(1, 100000)] = 400,
    compactness: Annotated[float, Range(0.01, 100.0, step=0.5)] = 10.0,
    iterations: Annotated[int, Range(1, 50)] = 10,
    sigma: Annotated[float, Range(0.0, 10.0, step=0.1)] = 0.0,
) -> np.ndarray:
    """SLIC superpixels: k-means in (Lab colour, position) restricted to a window around each centre.

    Achanta et al. (2012): centres start on a regular grid of step S = sqrt(pixels / n_segments);
    each pixel joins the centre within 2S x 2S that minimises d_lab^2 + (compactness / S)^2 d_xy^2;
    disconnected pieces under S^2 / 4 pixels then join a neighbour. Gray images use intensity
    scaled to 0..100 (the units of L).

    Parameters
    ----------
    n_segments : int
        Approximate number of superpixels.
    compactness : float
        Weight of position against colour (the paper's m): larger values give squarer superpixels.
    iterations : int
        Number of assignment / update rounds.
    sigma : float
        Gaussian smoothing before clustering, in pixels (0 = none).
    """
    return slic_labels(_smoothed_lab(image, info, sigma), n_segments, compactness, iterations)


def _smoothed_lab(image: np.ndarray, info: ImageInfo, sigma: float) -> np.ndarray:
    lab = to_lab(image, info)
    if sigma > 0:
        lab = cv_compat.gaussian(lab, sigma, border="reflect")
    return lab


def superpixel_rag(image: np.ndarray, info: ImageInfo, n_segments: int, compactness: float) -> tuple[Rag, np.ndarray]:
    """The RAG of the SLIC superpixels of a prepared slice (mean Lab colours), and that Lab image."""
    lab = to_lab(image, info)
    return build_rag(slic_labels(lab, n_segments, compactness), lab), lab


def ncut_partition(
    rag: Rag, sigma: float, threshold: float, num_cuts: int, edge_strength: np.ndarray | None = None, edge_sigma: float = 0.0
) -> np.ndarray:
    """Recursive two-way normalized cuts (Shi & Malik 2000) of a RAG; returns a label per node.

    Edge weights are colour similarities exp(-(d / sigma)^2) between touching regions, times the
    intervening-contour term exp(-(e / edge_sigma)^2) when a per-edge boundary strength ``e`` (the
    mean image gradient along the shared boundary) is given. Each
    (connected) part is split along the second generalized eigenvector of (D - W) y = l D y at the
    best of ``num_cuts`` evenly spaced values, and split again while the cut's Ncut value stays
    below ``threshold``.
    """
    return ncut_partitions(rag, sigma, [threshold], num_cuts, edge_strength, edge_sigma)[0]


def ncut_partitions(
    rag: Rag, sigma: float, thresholds, num_cuts: int, edge_strength: np.ndarray | None = None, edge_sigma: float = 0.0
) -> list[np.ndarray]:
    """:func:`ncut_partition` at several thresholds from one recursion: a part split at threshold
    t is split identically at every larger one, so the splits are found once (down to the
    largest threshold) and each threshold keeps those whose Ncut value is below it."""
    n = rag.n
    d = np.linalg.norm(rag.means[rag.a] - rag.means[rag.b], axis=1)
    weights = np.exp(-((d / sigma) ** 2))
    if edge_strength is not None and edge_sigma > 0:
        weights = weights * np.exp(-((edge_strength / edge_sigma) ** 2))
    w_all = np.zeros((n, n))
    w_all[rag.a, rag.b] = weights
    w_all[rag.b, rag.a] = weights
    top = max(thresholds)
    splits: dict[int, tuple[float, list[int]]] = {}  # part -> (Ncut value, child parts)
    parts = [np.arange(n)]
    todo = [0]
    while todo:
        checkpoint()
        k = todo.pop()
        idx = parts[k]
        value, pieces = _best_cut(w_all[np.ix_(idx, idx)], num_cuts)
        if pieces is None or not value < top:
            continue
        children = list(range(len(parts), len(parts) + len(pieces)))
        parts.extend(idx[p] for p in pieces)
        splits[k] = (value, children)
        todo.extend(children)
    out = []
    for t in thresholds:
        labels = np.zeros(n, np.int64)
        stack, next_label = [0], 1
        while stack:
            k = stack.pop()
            if k in splits and splits[k][0] < t:
                stack.extend(splits[k][1])
            else:
                labels[parts[k]] = next_label
                next_label += 1
        out.append(labels)
    return out


def _best_cut(w: np.ndarray, num_cuts: int) -> tuple[float, list[np.ndarray] | None]:
    """The best two-way normalized cut of a weighted graph: ``(Ncut value, [side, other side])``
    as boolean masks. A disconnected graph splits into its components at every threshold
    (value -inf)."""
    n_parts, comp = csgraph.connected_components(csr_matrix(w > 0), directed=False)
    if n_parts > 1:
        return -np.inf, [comp == p for p in range(n_parts)]
    if len(w) <= 2:
        return np.inf, None
    deg = w.sum(1)
    inv_sqrt = 1.0 / np.sqrt(deg)
    lap = np.eye(len(w)) - inv_sqrt[:, None] * w * inv_sqrt[None, :]
    _, vecs = scipy.linalg.eigh(lap, subset_by_index=[1, 1])
    y = vecs[:, 0] * inv_sqrt
    best = (np.inf, None)
    for t in np.linspace(y.min(), y.max(), num_cuts + 2)[1:-1]:
        side = y > t
        if side.all() or not side.any():
            continue
        cut = w[side][:, ~side].sum()
        value = cut / deg[side].sum() + cut / deg[~side].sum()
        if value < best[0]:
            best = (value, [side, ~side] if side[0] else [~side, side])  # the eigenvector's sign is arbitrary
    return best


@technique("graph.normalized_cut", family="Graph-based", output="labels", label_kind="instance", channels="color")
def normalized_cut(
    image: np.ndarray,
    *,
    info: ImageInfo,
    n_segments: Annotated[int, Range(2, 5000)] = 400,
    compactness: Annotated[float, Range(0.01, 100.0, step=0.5)] = 10.0,
    sigma: Annotated[float, Range(0.1, 100.0, step=0.5)] = 10.0,
    threshold: Annotated[float, Range(0.0, 2.0, step=0.001)] = 0.01,
    num_cuts: Annotated[int, Range(1, 100)] = 10,
    cue: Literal["gradient", "histogram"] = "gradient",
    edge_sigma: Annotated[float, Range(0.0, 1000.0, step=1.0), When("cue", "gradient")] = 30.0,
    histogram_sigma: Annotated[float, Range(0.0, 10.0, step=0.1), When("cue", "histogram")] = 1.4,
) -> np.ndarray:
    """Normalized cuts: recursive spectral bipartition of a graph of SLIC superpixels.

    The image is first cut into ``n_segments`` SLIC superpixels; touching superpixels are joined
    by edges weighted by the similarity of their mean Lab colours, exp(-(d / sigma)^2), times an
    intervening-contour weight that falls where a boundary cue is strong along their shared
    border; the graph is split in two along its second generalized eigenvector while the
    normalized cut value stays below ``threshold`` (Shi & Malik 2000).

    Parameters
    ----------
    n_segments : int
        Number of SLIC superpixels the graph is built on.
    compactness : float
        SLIC compactness (squareness of the superpixels).
    sigma : float
        Colour distance (Lab units) at which the similarity falls to 1/e.
    threshold : float
        A part is split again only when the best cut's Ncut value is below this.
    num_cuts : int
        Number of splitting points tried along the eigenvector.
    cue : {"gradient", "histogram"}
        Boundary cue for the intervening-contour weight: the Lab gradient magnitude (fast), or the
        oriented histogram gradient of colour and texture (about 1.4 s more per image, scored at
        600 pixels of diagonal at most; sees the border between two textures of the same mean
        colour, and not the busy inside of one).
    edge_sigma : float
        With the gradient cue, edges are also weighted by exp(-(g / edge_sigma)^2), where g is the
        mean Lab gradient magnitude along the boundary between the two superpixels (0 = colour only).
    histogram_sigma : float
        With the histogram cue, the same weight with g the mean histogram gradient along the
        boundary (chi-squared distances: 0 inside a texture, up to 5 across the strongest borders;
        0 = colour only).
    """
    return normalized_cuts(image, info, [threshold], n_segments=n_segments, compactness=compactness, sigma=sigma,
                           num_cuts=num_cuts, cue=cue, edge_sigma=edge_sigma, histogram_sigma=histogram_sigma)[0]


def normalized_cuts(
    image: np.ndarray, info: ImageInfo, thresholds, *, n_segments: int, compactness: float, sigma: float,
    num_cuts: int, cue: str, edge_sigma: float, histogram_sigma: float,
) -> list[np.ndarray]:
    """``graph.normalized_cut`` of a prepared slice at several thresholds, sharing the
    superpixels, the graph and the splits (:func:`ncut_partitions`); one label image each.
    The other parameters are the technique's (its catalog entry holds their defaults)."""
    rag, lab = superpixel_rag(image, info, n_segments, compactness)
    strength, scale = None, 0.0
    if cue == "gradient" and edge_sigma > 0:
        *_, strength = touching_pairs(rag.labels, rag.n, along=lab_gradient(lab, 1.0))
        scale = edge_sigma
    elif cue == "histogram" and histogram_sigma > 0:
        *_, strength = touching_pairs(rag.labels, rag.n, along=histogram_boundaries(lab))
        scale = histogram_sigma
    parts = ncut_partitions(rag, sigma, thresholds, num_cuts, strength, scale)
    return [p[rag.labels].astype(np.int32) for p in parts]


@technique("graph.rag_merge", family="Graph-based", output="labels", label_kind="instance", channels="color")
def rag_merge(
    image: np.ndarray,
    *,
    info: ImageInfo,
    n_segments: Annotated[int, Range(2, 20000)] = 800,
    compactness: Annotated[float, Range(0.01, 100.0, step=0.5)] = 10.0,
    threshold: Annotated[float, Range(0.0, 100.0, step=0.5)] = 12.0,
) -> np.ndarray:
    """Hierarchical merging of superpixels: the most similar touching pair merges first.

    SLIC superpixels are joined in a region adjacency graph; the pair of touching regions with
    the closest mean Lab colours merges (means updated by size) until no touching pair is closer
    than ``threshold``.

    Parameters
    ----------
    n_segments : int
        Number of SLIC superpixels to start from.
    compactness : float
        SLIC compactness (squareness of the superpixels).
    threshold : float
        Largest Lab colour distance between regions that still merge.
    """
    return agglomerate(superpixel_rag(image, info, n_segments, compactness)[0], linkage="mean", threshold=threshold)

"""Post-processing of label images: morphology, majority filter, hole filling, small-object
removal, splitting of touching objects, connected components. Chainable after any technique (see :mod:`.chain`).

Every step works label by label, so touching objects never merge and semantic classes keep their
ids. ``kind`` says how the input is read: ``instance`` (one id per object) or ``semantic`` (class
ids, each class possibly in several pieces); steps that create objects output instance labels.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from numba import njit
from scipy import ndimage as ndi

from .. import cv_compat
from ._catalog import Range, technique
from ._flood import watershed as flood
from ._rag import find_root, ids_index_an_array, relabel_sequential, touching_pairs, union_min

__all__ = ["connected_components", "fill_holes", "majority", "morphology", "remove_small", "split_touching"]

Kind = Literal["instance", "semantic"]


def _same_kind(params) -> str:
    """the kind of the input (the kind parameter)"""
    return params["kind"]


def footprint(shape: str, radius: int) -> np.ndarray:
    """A (2r+1)^2 uint8 footprint: ``disk``, ``square`` or ``diamond``."""
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    if shape == "disk":
        return (x * x + y * y <= radius * radius).astype(np.uint8)  # as skimage.morphology.disk
    if shape == "diamond":
        return (np.abs(x) + np.abs(y) <= radius).astype(np.uint8)
    return np.ones_like(x, np.uint8)


def _exact(labels: np.ndarray) -> np.ndarray:
    """``labels`` in the smallest type OpenCV's min/max filters take that holds every id exactly:
    uint8 / uint16 (the ids as they are), float32 below 2^24, else float64 (below 2^53). At 8192²
    a uint16 copy is a quarter of a float64 one, and the filters run that much faster."""
    lo, hi = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    for dtype, top in ((np.uint8, 2**8), (np.uint16, 2**16), (np.float32, 2**24)):
        if lo >= 0 and hi < top:
            return labels.astype(dtype, copy=labels.dtype != dtype)
    return labels.astype(np.float64)


def _erode(labels: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Per-label erosion: a pixel keeps its id only if every pixel under the footprint has it
    (the footprint holds the pixel, so: where the minimum equals the maximum)."""
    f = _exact(labels)
    keep = cv_compat.erode(f, fp, "nearest") == cv_compat.dilate(f, fp, "nearest")
    return np.where(keep, labels, labels.dtype.type(0))


def _dilate(labels: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Per-label dilation into background only (where ids compete, the largest id wins)."""
    grown = cv_compat.dilate(_exact(labels), fp, "nearest").astype(labels.dtype, copy=False)
    return np.where(labels == 0, grown, labels)


@technique("post.morphology", family="Post-processing", output="labels", label_kind=_same_kind, channels="labels",
           overlap=lambda p: (2 if p["operation"] in ("open", "close") else 1) * p["radius"] + 1)
def morphology(
    labels: np.ndarray,
    *,
    operation: Literal["open", "close", "erode", "dilate"] = "open",
    shape: Literal["disk", "square", "diamond"] = "disk",
    radius: Annotated[int, Range(1, 50)] = 2,
    kind: Kind = "instance",
) -> np.ndarray:
    """Morphology per label: opening, closing, erosion or dilation with a footprint.

    Opening removes protrusions and specks thinner than the footprint; closing fills gaps and
    notches. Each label is processed on its own: dilation grows into background only, so objects
    never merge, and opening/closing never give a pixel to another label.

    Parameters
    ----------
    operation : str
        ``open`` (erode then dilate), ``close`` (dilate then erode), ``erode`` or ``dilate``.
    shape : str
        Footprint shape.
    radius : int
        Footprint radius in pixels.
    kind : str
        How the input is read: instance ids or semantic classes (the output keeps it).
    """
    fp = footprint(shape, radius)
    if operation == "erode":
        return _erode(labels, fp)
    if operation == "dilate":
        return _dilate(labels, fp)
    if operation == "open":
        opened = _dilate(_erode(labels, fp), fp)
        return np.where(opened == labels, labels, labels.dtype.type(0))
    closed = _erode(_dilate(labels, fp), fp)
    return np.where(labels == 0, closed, labels)


@njit(cache=True)
def _majority(labels, dy, dx, out):  # pragma: no cover - compiled
    """Each pixel takes the most common label under the footprint offsets (cut at the image's
    edge); on a tie it keeps its own label if that is among the most common, else the smallest."""
    h, w = labels.shape
    buf = np.empty(dy.size, labels.dtype)
    for y in range(h):
        for x in range(w):
            c = labels[y, x]
            n = 0
            uniform = True
            for i in range(dy.size):
                yy, xx = y + dy[i], x + dx[i]
                if 0 <= yy < h and 0 <= xx < w:
                    buf[n] = labels[yy, xx]
                    uniform &= buf[n] == c
                    n += 1
            if uniform:
                out[y, x] = c
                continue
            best, best_count = c, 0
            for i in range(n):
                best_count += buf[i] == c
            for i in range(n):
                v = buf[i]
                if v == c:
                    continue
                count = 0
                for j in range(n):
                    count += buf[j] == v
                if count > best_count or (count == best_count and best != c and v < best):
                    best, best_count = v, count
            out[y, x] = best


@technique("post.majority", family="Post-processing", output="labels", label_kind=_same_kind, channels="labels",
           overlap=lambda p: p["radius"] + 1)
def majority(
    labels: np.ndarray,
    *,
    radius: Annotated[int, Range(1, 10)] = 1,
    shape: Literal["disk", "square", "diamond"] = "disk",
    kind: Kind = "instance",
) -> np.ndarray:
    """Majority filter: each pixel takes the most common label around it.

    Smooths jagged, one-pixel-noisy borders between regions (as clustering and mean shift leave
    them in texture) and removes specks and strands thinner than the footprint, without the
    background that an opening leaves: every pixel goes to a label that is there. A straight
    border stays where it is; on a tie a pixel keeps its label. Background (0) votes like a label.

    Parameters
    ----------
    radius : int
        Footprint radius in pixels.
    shape : str
        Footprint shape.
    kind : str
        How the input is read: instance ids or semantic classes (the output keeps it).
    """
    dy, dx = np.nonzero(footprint(shape, radius))
    labels = np.ascontiguousarray(labels)
    out = np.empty_like(labels)
    _majority(labels, dy.astype(np.int64) - radius, dx.astype(np.int64) - radius, out)
    return out


def _holes(labels: np.ndarray, max_size: int) -> np.ndarray:
    """Ids to paint into each background pixel that lies in a hole (0 elsewhere).

    A hole is a 4-connected background component that does not touch the image border and whose
    neighbours all carry one label; holes larger than ``max_size`` pixels (when > 0) are kept.
    """
    background, n = ndi.label(labels == 0)
    if n == 0:
        return np.zeros_like(labels)
    offset = int(labels.max()) + 1
    # objects keep their ids, background components follow them; int32 unless the ids need more
    combined = background.astype(np.int64 if offset + n >= 2**31 else np.int32)
    combined += offset
    np.copyto(combined, labels, where=labels > 0, casting="unsafe")
    seq, m = relabel_sequential(combined)
    a, b, _ = touching_pairs(seq, m)
    # map sequential ids back: components are the ids >= offset in the combined image
    values = np.zeros(m, np.int64)
    values[seq.ravel()] = combined.ravel()
    va, vb = values[a], values[b]
    is_hole_edge = (va >= offset) ^ (vb >= offset)
    comp = np.where(va >= offset, va, vb)[is_hole_edge] - offset
    neighbour = np.where(va >= offset, vb, va)[is_hole_edge]
    n_neighbours = np.bincount(comp, minlength=n + 1)
    fill = np.zeros(n + 1, labels.dtype)
    fill[comp] = neighbour
    border = np.unique(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]]))
    ok = n_neighbours == 1
    ok[border] = False
    ok[0] = False
    if max_size > 0:
        ok &= np.bincount(background.ravel(), minlength=n + 1) <= max_size
    fill[~ok] = 0
    return fill[background]


@technique("post.fill_holes", family="Post-processing", output="labels", label_kind=_same_kind, channels="labels")
def fill_holes(
    labels: np.ndarray,
    *,
    max_size: Annotated[int, Range(0, 10**8)] = 0,
    kind: Kind = "instance",
) -> np.ndarray:
    """Fill holes: background enclosed by a single label takes that label.

    Parameters
    ----------
    max_size : int
        Largest hole filled, in pixels (0 = every hole).
    kind : str
        How the input is read: instance ids or semantic classes (the output keeps it).
    """
    return np.where(labels == 0, _holes(labels, max_size), labels).astype(labels.dtype)


@technique("post.remove_small", family="Post-processing", output="labels", label_kind=_same_kind, channels="labels")
def remove_small(
    labels: np.ndarray,
    *,
    min_size: Annotated[int, Range(0, 10**8)] = 64,
    max_hole: Annotated[int, Range(0, 10**8)] = 0,
    connectivity: Literal[4, 8] = 8,
    kind: Kind = "instance",
) -> np.ndarray:
    """Remove small objects (and fill small holes).

    Instance labels: objects with fewer than ``min_size`` pixels become background. Semantic
    labels: connected pieces of a class smaller than ``min_size`` become background. Holes of at
    most ``max_hole`` pixels are then filled with the label around them.

    Parameters
    ----------
    min_size : int
        Objects (pieces) smaller than this many pixels are removed.
    max_hole : int
        Holes up to this many pixels are filled (0 = none).
    connectivity : int
        Pixel connectivity of the pieces of a semantic class (4 or 8).
    kind : str
        How the input is read: instance ids or semantic classes (the output keeps it).
    """
    if kind == "instance":
        flat = labels.ravel()
        lo, hi = int(flat.min()), int(flat.max())
        if ids_index_an_array(lo, hi, flat.size):  # ids as indices: no renumbering needed
            keep, ids = np.bincount(flat, minlength=hi + 1) >= min_size, labels
        else:
            ids, n = relabel_sequential(labels)
            keep = np.bincount(ids.ravel(), minlength=n) >= min_size
        out = np.where(keep[ids], labels, 0).astype(labels.dtype, copy=False)  # background stays 0 either way
    else:
        pieces = _components(labels, connectivity)
        sizes = np.bincount(pieces.ravel())
        sizes[0] = 0  # piece 0 is the background
        out = np.where(sizes[pieces] >= max(min_size, 1), labels, 0).astype(labels.dtype, copy=False)
    if max_hole > 0:
        out = np.where(out == 0, _holes(out, max_hole), out).astype(labels.dtype)
    return out


def _ids(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 1..n in order of value, background (0) kept as 0."""
    seq, _ = relabel_sequential(labels)
    return (seq if (labels == 0).any() else seq + 1).astype(np.int32)


@njit(cache=True)
def _union_equal(labels, eight, parent):  # pragma: no cover - compiled
    """Union-find over pixels (``parent``: 0..h*w-1): neighbours with the same non-zero label join;
    roots per pixel."""
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            v = labels[y, x]
            if v == 0:
                continue
            for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
                if not eight and dy == 1 and dx != 0:
                    continue
                yy, xx = y + dy, x + dx
                if yy >= h or xx < 0 or xx >= w or labels[yy, xx] != v:
                    continue
                union_min(parent, y * w + x, yy * w + xx)
    out = np.zeros(h * w, np.int32)
    n = 0
    for i in range(h * w):
        if labels.flat[i] == 0:
            continue
        r = find_root(parent, i)
        if r == i:
            n += 1
            out[i] = n
        else:
            out[i] = out[r]  # the root comes first in raster order, so it is numbered already
    return out.reshape(h, w)


@njit(cache=True)
def _argmax_per_label(labels, values, n):  # pragma: no cover - compiled
    """Flat index of the largest value of each label 0..n (first in raster order on ties)."""
    best = np.full(n + 1, -1, np.int64)
    flat_l = labels.ravel()
    flat_v = values.ravel()
    for i in range(flat_l.size):
        lab = flat_l[i]
        if best[lab] < 0 or flat_v[i] > flat_v[best[lab]]:
            best[lab] = i
    return best


def _components(labels: np.ndarray, connectivity: int) -> np.ndarray:
    """Connected pieces of each label value, numbered 1..n in raster order (0 stays 0); pieces of
    different values never join. One union-find pass over the pixels."""
    n = labels.size
    parent = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)  # int32: half the memory traffic
    return _union_equal(np.ascontiguousarray(labels), connectivity == 8, parent)


@technique("post.connected_components", family="Post-processing", output="labels", label_kind="instance", channels="labels")
def connected_components(
    labels: np.ndarray,
    *,
    connectivity: Literal[4, 8] = 8,
) -> np.ndarray:
    """Connected components: each connected piece of each label becomes its own object.

    Turns a semantic map or a mask into instance labels; pieces of different labels never join.

    Parameters
    ----------
    connectivity : int
        4 (edge neighbours) or 8 (edge and corner neighbours).
    """
    return _components(labels, connectivity)


@technique("post.split_touching", family="Post-processing", output="labels", label_kind="instance", channels="labels")
def split_touching(
    labels: np.ndarray,
    *,
    min_distance: Annotated[int, Range(1, 200)] = 5,
    footprint_shape: Literal["disk", "square"] = "disk",
    compactness: Annotated[float, Range(0.0, 10.0, step=0.01)] = 0.0,
) -> np.ndarray:
    """Split touching objects: watershed of the distance transform from its peaks.

    Inside the foreground, the distance to the nearest background (or to a pixel of another
    label) has one peak per round object; peaks at least ``min_distance`` apart seed a watershed
    of the inverted distance, which cuts objects along their necks. Output: instance labels.

    Parameters
    ----------
    min_distance : int
        Smallest distance between two object centres, in pixels.
    footprint_shape : str
        Neighbourhood in which a peak must be the maximum: disk or square of radius ``min_distance``.
    compactness : float
        Compact watershed weight (0 = classic).

    Notes
    -----
    Its flood is ``region.watershed``'s, and its cost grows with the image as that one's does
    (about 2.5x per pixel from 256² to 8192²; see the notes there).
    """
    fg = labels > 0
    if not fg.any():
        return np.zeros(labels.shape, np.int32)
    inside = fg & ~_inner_boundaries(labels) if labels.max() > 1 else fg
    # exact Euclidean distance (OpenCV's precise mask equals scipy's distance_transform_edt)
    dist = inner_distance(inside)
    pieces = _components(labels, 8)
    # peaks: pixels that are the maximum of the distance within the footprint (a plateau of equal
    # maxima is one peak), at least one per piece so that no object disappears
    fp = footprint(footprint_shape, min_distance)
    top = cv_compat.dilate(dist, fp, "constant", 0.0)
    markers, n = ndi.label((dist >= top) & (dist > 0), np.ones((3, 3), bool))
    n_pieces = int(pieces.max())
    has_marker = np.zeros(n_pieces + 1, bool)
    has_marker[pieces[markers > 0]] = True
    missing = np.flatnonzero(~has_marker[1:]) + 1
    if len(missing):
        best = _argmax_per_label(pieces, dist, n_pieces)[missing]
        markers.flat[best] = np.arange(n + 1, n + 1 + len(missing))
    # only pieces holding two or more peaks need a watershed; the others stay whole
    per_piece = np.bincount(pieces[markers > 0], minlength=n_pieces + 1)
    split = per_piece[pieces] >= 2
    out = pieces.astype(np.int64)
    if split.any():
        ys, xs = np.nonzero(split)
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        if compactness > 0:
            from skimage.segmentation import watershed

            basins = watershed(-dist[box], np.where(split[box], markers[box], 0), mask=split[box], compactness=compactness)
        else:
            basins = flood(-dist[box], markers[box], split[box])
        # basins are cut inside one piece each (a marker's piece), so they get new ids past the pieces
        out[box] = np.where(split[box], basins.astype(np.int64) + n_pieces, out[box])
    return _ids(out)


def inner_distance(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of each pixel of ``mask`` to the nearest pixel outside it, the image
    border counting as outside (as scipy's ``distance_transform_edt``)."""
    padded = np.pad(np.asarray(mask, bool), 1).astype(np.uint8)
    return cv_compat.distance_inside(padded)[1:-1, 1:-1]


def _inner_boundaries(labels: np.ndarray) -> np.ndarray:
    """Labelled pixels with a 4-neighbour of another value (scikit-image's
    ``find_boundaries(mode="inner", background=0)``, without its two grey-level filters)."""
    b = np.zeros(labels.shape, bool)
    d = labels[:, 1:] != labels[:, :-1]
    b[:, 1:] |= d
    b[:, :-1] |= d
    d = labels[1:] != labels[:-1]
    b[1:] |= d
    b[:-1] |= d
    return b & (labels != 0)

"""Active contours: morphological Chan-Vese and morphological geodesic active contours.

Both use scikit-image's morphological implementations (Marquez-Neila et al. 2014), which evolve a
binary level set with morphological operators: the same fixed points as the PDE versions, at a
fraction of their cost. The initial contour can come from a Labels or Shapes layer.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np

from ._catalog import Input, Range, technique
from ._image import ImageInfo, to_unit
from .cancel import checkpoint

__all__ = ["chan_vese", "geodesic"]


MIN_SIDE = 3  # the level-set operators need 3 pixels per side: thinner images are padded


def _gray01(image: np.ndarray, info: ImageInfo) -> np.ndarray:
    """The slice in [0, 1], padded (edge values) to at least MIN_SIDE pixels per side."""
    unit = to_unit(image, info)
    return _pad(unit if unit.ndim == 2 else unit.mean(-1))


def _pad(a: np.ndarray) -> np.ndarray:
    pad = [(0, max(MIN_SIDE - n, 0)) for n in a.shape]
    return np.pad(a, pad, mode="edge") if any(p for _, p in pad) else a


@technique("contour.chan_vese", family="Active contours", output="labels", label_kind="semantic", channels="gray")
def chan_vese(
    image: np.ndarray,
    *,
    info: ImageInfo,
    init: Annotated[np.ndarray | None, Input("labels", "shapes")] = None,
    iterations: Annotated[int, Range(1, 1000)] = 100,
    smoothing: Annotated[int, Range(0, 4)] = 1,
    lambda_inside: Annotated[float, Range(0.01, 100.0, step=0.1)] = 1.0,
    lambda_outside: Annotated[float, Range(0.01, 100.0, step=0.1)] = 1.0,
    foreground: Literal["brighter", "darker"] = "brighter",
) -> np.ndarray:
    """Chan-Vese active contour without edges: two regions, each close to its mean intensity.

    Morphological Chan-Vese (MorphACWE): the contour moves to minimise the intensity variance
    inside and outside, weighted by the two lambdas, with ``smoothing`` curvature steps per
    iteration. It starts from the initial shape (Labels/Shapes layer) when given, else from a
    checkerboard; without an initial shape label 1 is the ``foreground`` phase.

    Parameters
    ----------
    init : array
        Initial region (non-zero = inside); a checkerboard when absent.
    iterations : int
        Number of evolution steps.
    smoothing : int
        Curvature smoothing steps per iteration (0 = none).
    lambda_inside : float
        Weight of the inside region's intensity variance.
    lambda_outside : float
        Weight of the outside region's intensity variance.
    foreground : str
        Without an initial shape: whether label 1 is the brighter or the darker region.
    """
    from skimage.segmentation import morphological_chan_vese

    gray = _gray01(image, info)
    start = _pad(init > 0) if init is not None else "checkerboard"
    level = morphological_chan_vese(
        gray, iterations, init_level_set=start, smoothing=smoothing, lambda1=lambda_inside, lambda2=lambda_outside,
        iter_callback=checkpoint,
    ).astype(bool)
    if init is None and level.any() and not level.all():
        inside_brighter = gray[level].mean() >= gray[~level].mean()
        if inside_brighter != (foreground == "brighter"):
            level = ~level
    return level[: image.shape[0], : image.shape[1]].astype(np.uint8)


@technique("contour.geodesic", family="Active contours", output="labels", label_kind="semantic", channels="gray")
def geodesic(
    image: np.ndarray,
    *,
    info: ImageInfo,
    init: Annotated[np.ndarray | None, Input("shapes", "labels")] = None,
    iterations: Annotated[int, Range(1, 2000)] = 200,
    balloon: Annotated[float, Range(-1.0, 1.0, step=0.1)] = -1.0,
    smoothing: Annotated[int, Range(0, 4)] = 1,
    alpha: Annotated[float, Range(1.0, 1000.0, step=1.0)] = 100.0,
    sigma: Annotated[float, Range(0.1, 10.0, step=0.1)] = 2.0,
    edge_threshold: Annotated[float, Range(0.0, 1.0, step=0.01)] = 0.5,
) -> tuple[np.ndarray, dict]:
    """Geodesic active contour: a contour that shrinks (or grows) until it stops at edges.

    Morphological GAC (MorphGAC) on the inverse Gaussian gradient of the image: the balloon
    force pushes the contour inwards (negative) or outwards (positive) where the image is flat,
    and it stops where the edge indicator drops below ``edge_threshold``. It starts from the
    initial shape (draw a box or polygon around the object in a Shapes layer, or paint a
    region); without one, from a rectangle two pixels inside the image border.

    Parameters
    ----------
    init : array
        Initial region (non-zero = inside); the image frame when absent.
    iterations : int
        Number of evolution steps.
    balloon : float
        Balloon force: negative shrinks, positive grows, 0 only follows edges.
    smoothing : int
        Curvature smoothing steps per iteration.
    alpha : float
        Steepness of the edge indicator (inverse Gaussian gradient).
    sigma : float
        Gaussian smoothing of the gradient, in pixels.
    edge_threshold : float
        Edge indicator values below this stop the balloon (0..1; lower = only strong edges).
    """
    from skimage.segmentation import inverse_gaussian_gradient, morphological_geodesic_active_contour

    gray = _gray01(image, info)
    edges = inverse_gaussian_gradient(gray, alpha=alpha, sigma=sigma)
    if init is not None:
        start = _pad(init > 0)
    else:
        start = np.zeros(gray.shape, bool)
        margin = 2 if min(gray.shape) > 6 else 0
        start[margin : gray.shape[0] - margin, margin : gray.shape[1] - margin] = True
    level = morphological_geodesic_active_contour(
        edges, iterations, init_level_set=start, smoothing=smoothing, threshold=edge_threshold, balloon=balloon,
        iter_callback=checkpoint,
    )[: image.shape[0], : image.shape[1]].astype(np.uint8)
    notes = []
    if not level.any() and start.any():
        notes.append(
            "the contour vanished (no edge stopped it): draw an initial shape closer to the object, "
            "lower the balloon force or raise edge_threshold"
        )
    elif start.any() and level.sum() < 0.05 * start[: image.shape[0], : image.shape[1]].sum():
        notes.append(
            f"the contour shrank to {level.sum() / start.sum():.0%} of the initial shape: probably past the object's "
            f"edges; set balloon to 0 or lower its force, raise edge_threshold, or draw the shape closer to the object"
        )
    return level, {"notes": notes}

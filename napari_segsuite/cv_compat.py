"""Image operations taken from OpenCV when it is installed, with scipy / scikit-image equivalents
when it is not.

OpenCV is not a dependency: ``opencv-python`` and ``opencv-python-headless`` both provide ``cv2``,
and a napari session in which two plugins each require a different one breaks. Whichever is
installed is used (the ``[opencv]`` extra installs the headless one into an environment that has
none). Without it every operation here gives OpenCV's result up to float rounding, only slower
(``benchmarks/without_opencv.py`` prints by how much), with three exceptions named where they
apply: :func:`rgb_to_lab` computes the exact formula where OpenCV interpolates a table (up to 0.5
apart), :func:`outer_contours` traces the boundary between pixels rather than through their
centres, and GrabCut has no equivalent (``sam/fallback.py`` then answers box prompts with a
seeded watershed).

Borders are named as ``scipy.ndimage`` names its modes: ``reflect`` (d c b a | a b c d, OpenCV's
BORDER_REFLECT), ``mirror`` (d c b | a b c d, BORDER_REFLECT_101, OpenCV's default), ``nearest``
(BORDER_REPLICATE) and ``constant`` (BORDER_CONSTANT).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

try:
    import cv2
except ImportError:  # neither opencv-python nor opencv-python-headless: the fallbacks below
    cv2 = None

__all__ = [
    "available", "box_mean", "canny", "components", "correlate", "dilate", "disk", "distance_inside", "erode",
    "gaussian", "gaussian_radius", "histogram", "laplacian", "magnitude", "median_u8", "otsu_u8", "pair_histogram",
    "outer_contours", "resize", "rgb_to_hsv", "rgb_to_lab", "sep_filter", "sobel",
]

_BORDER = {"constant": 0, "nearest": 1, "reflect": 2, "mirror": 4}  # OpenCV's BORDER_* values
_INTERPOLATION = {"nearest": 0, "linear": 1, "area": 3}  # OpenCV's INTER_* values
_SOBEL = {0: np.array([1, 2, 1], np.float32), 1: np.array([-1, 0, 1], np.float32), 2: np.array([1, -2, 1], np.float32)}


def available() -> bool:
    """Whether OpenCV (either package) is installed and used."""
    return cv2 is not None


def gaussian_radius(sigma: float) -> int:
    """The kernel radius OpenCV picks for a float image when given only sigma: about 4 sigma."""
    return (int(np.rint(8.0 * sigma + 1.0)) | 1) // 2


def gaussian(image: np.ndarray, sigma: float, radius: int | None = None, border: str = "mirror") -> np.ndarray:
    """Gaussian blur of each channel of a (Y, X[, C]) float image (kernel radius
    :func:`gaussian_radius` unless given), the same shape and dtype."""
    r = gaussian_radius(sigma) if radius is None else int(radius)
    if cv2 is not None:
        return cv2.GaussianBlur(image, (2 * r + 1, 2 * r + 1), sigma, borderType=_BORDER[border]).reshape(image.shape)
    sig, rad = (sigma, sigma) + (0,) * (image.ndim - 2), (r, r) + (0,) * (image.ndim - 2)
    return ndi.gaussian_filter(image, sig, mode=border, radius=rad).astype(image.dtype, copy=False)


def sep_filter(image: np.ndarray, kx: np.ndarray, ky: np.ndarray, border: str = "mirror") -> np.ndarray:
    """Separable correlation (not convolution) of each channel: ``kx`` along X, ``ky`` along Y,
    centred; float32."""
    kx, ky = np.asarray(kx, np.float32).ravel(), np.asarray(ky, np.float32).ravel()
    if cv2 is not None:
        return cv2.sepFilter2D(image, cv2.CV_32F, kx, ky, borderType=_BORDER[border]).reshape(image.shape)
    out = ndi.correlate1d(np.asarray(image, np.float32), kx, axis=1, mode=border)
    return ndi.correlate1d(out, ky, axis=0, mode=border)


def sobel(image: np.ndarray, dx: int, dy: int, border: str = "mirror", out: np.ndarray | None = None) -> np.ndarray:
    """3x3 Sobel derivative of order ``dx`` in X and ``dy`` in Y (0, 1 or 2 each), float32
    (into ``out``, a float32 array of the image's shape, when given)."""
    if cv2 is not None:
        return cv2.Sobel(image, cv2.CV_32F, dx, dy, dst=out, ksize=3, borderType=_BORDER[border])
    return _into(sep_filter(image, _SOBEL[dx], _SOBEL[dy], border), out)


def _into(result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``result``, copied into ``out`` when one is given (the fallbacks' way to honour ``out``)."""
    if out is None:
        return result
    out[...] = result
    return out


def laplacian(image: np.ndarray, border: str = "mirror") -> np.ndarray:
    """4-neighbour Laplacian (kernel [[0, 1, 0], [1, -4, 1], [0, 1, 0]]), float32."""
    if cv2 is not None:
        return cv2.Laplacian(image, cv2.CV_32F, ksize=1, borderType=_BORDER[border])
    image = np.asarray(image, np.float32)
    return ndi.correlate1d(image, _SOBEL[2], axis=0, mode=border) + ndi.correlate1d(image, _SOBEL[2], axis=1, mode=border)


def magnitude(dx: np.ndarray, dy: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sqrt(dx^2 + dy^2) of two float32 arrays (into ``out`` when given)."""
    if cv2 is not None:
        return cv2.magnitude(dx, dy, magnitude=out)
    return _into(np.sqrt(dx * dx + dy * dy), out)


def correlate(image: np.ndarray, kernel: np.ndarray, border: str = "mirror") -> np.ndarray:
    """2D correlation of a (Y, X) float32 image with a centred kernel."""
    if cv2 is not None:
        return cv2.filter2D(image, -1, kernel, borderType=_BORDER[border])
    return ndi.correlate(image, np.asarray(kernel, image.dtype), mode=border)


def box_mean(image: np.ndarray, size: int, border: str = "mirror") -> np.ndarray:
    """Mean over a ``size`` x ``size`` window around each pixel of a (Y, X) float image."""
    if cv2 is not None:
        return cv2.blur(image, (size, size), borderType=_BORDER[border])
    return ndi.uniform_filter(image, size, mode=border)


def dilate(image: np.ndarray, footprint: np.ndarray, border: str = "nearest", cval: float = 0.0) -> np.ndarray:
    """Maximum under ``footprint`` (centred, not reflected) around each pixel of a (Y, X) image."""
    if cv2 is not None:
        return cv2.dilate(image, footprint.astype(np.uint8), borderType=_BORDER[border], borderValue=cval)
    return ndi.maximum_filter(image, footprint=footprint.astype(bool), mode=border, cval=cval)


def erode(image: np.ndarray, footprint: np.ndarray, border: str = "nearest", cval: float = 0.0) -> np.ndarray:
    """Minimum under ``footprint`` (centred, not reflected) around each pixel of a (Y, X) image."""
    if cv2 is not None:
        return cv2.erode(image, footprint.astype(np.uint8), borderType=_BORDER[border], borderValue=cval)
    return ndi.minimum_filter(image, footprint=footprint.astype(bool), mode=border, cval=cval)


def median_u8(image: np.ndarray, size: int) -> np.ndarray:
    """Median over a ``size`` x ``size`` window (odd) of a uint8 image; only pixels at least
    ``size // 2`` from the border are defined the same way by both paths (pad first)."""
    if cv2 is not None:
        return cv2.medianBlur(image, size)
    from skimage.filters.rank import median

    return median(image, footprint=np.ones((size, size), bool))


def resize(image: np.ndarray, shape: tuple[int, int], how: str = "linear") -> np.ndarray:
    """(Y, X[, C]) image resampled to ``shape`` = (height, width) as OpenCV does: ``nearest``,
    ``linear`` (pixel centres aligned, edges clamped) or ``area`` (the mean of the pixels each
    output pixel covers when shrinking). Same dtype."""
    h, w = int(shape[0]), int(shape[1])
    if cv2 is not None:
        out = cv2.resize(image, (w, h), interpolation=_INTERPOLATION[how])
        return out.reshape((h, w) + image.shape[2:])
    if how == "nearest":
        ys = np.minimum((np.arange(h) * (image.shape[0] / h)).astype(np.intp), image.shape[0] - 1)
        xs = np.minimum((np.arange(w) * (image.shape[1] / w)).astype(np.intp), image.shape[1] - 1)
        return image[ys[:, None], xs[None, :]]
    shrinking = h <= image.shape[0] and w <= image.shape[1]
    work = image.astype(np.float32)
    for axis, n in ((0, h), (1, w)):
        n_in = image.shape[axis]
        weights = _area_weights(n_in, n) if how == "area" and shrinking else _linear_weights(n_in, n, how == "area")
        work = np.moveaxis(np.tensordot(weights, work, axes=(1, axis)), 0, axis)
    if image.dtype.kind in "biu":
        info = np.iinfo(image.dtype)
        work = np.clip(np.rint(work), info.min, info.max)
    return work.astype(image.dtype)


def _linear_weights(n_in: int, n_out: int, area: bool = False) -> np.ndarray:
    """(n_out, n_in) matrix of OpenCV's bilinear weights along one axis (with ``area``, those it
    uses for INTER_AREA when the image grows along some axis)."""
    dst = np.arange(n_out)
    if area:
        src = np.floor(dst * (n_in / n_out))
        frac = (dst + 1) - (src + 1) * (n_out / n_in)
        frac = np.where(frac <= 0, 0.0, frac - np.floor(frac))
    else:
        pos = (dst + 0.5) * (n_in / n_out) - 0.5
        src = np.floor(pos)
        frac = pos - src
    frac = np.where((src < 0) | (src >= n_in - 1), 0.0, frac).astype(np.float32)
    i0 = np.clip(src, 0, n_in - 1).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    weights = np.zeros((n_out, n_in), np.float32)
    np.add.at(weights, (dst, i0), 1 - frac)
    np.add.at(weights, (dst, i1), frac)
    return weights


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: the share of output pixel i covered by input pixel j."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + scale, j + 1) - np.maximum(lo, j), 0, None)
    return (overlap / scale).astype(np.float32)


def rgb_to_lab(unit: np.ndarray) -> np.ndarray:
    """CIE Lab (D65, L in 0..100) of a (Y, X, 3) float32 sRGB image in [0, 1]. OpenCV interpolates
    a table (its values are up to 0.5 from the formula's, 0.08 on average); scikit-image computes
    the formula."""
    if cv2 is not None:
        return cv2.cvtColor(np.ascontiguousarray(unit, np.float32), cv2.COLOR_RGB2Lab)
    from skimage.color import rgb2lab

    return rgb2lab(unit).astype(np.float32)


def rgb_to_hsv(unit: np.ndarray) -> np.ndarray:
    """HSV of a (Y, X, 3) float32 RGB image in [0, 1]; hue in turns (0..1), like s and v."""
    if cv2 is not None:
        return cv2.cvtColor(np.ascontiguousarray(unit, np.float32), cv2.COLOR_RGB2HSV) * np.float32([1 / 360, 1, 1])
    from skimage.color import rgb2hsv

    return rgb2hsv(unit).astype(np.float32)


def components(mask: np.ndarray, connectivity: int = 2) -> tuple[np.ndarray, int]:
    """int32 ids 1..n of the connected components of a (Y, X) mask (``connectivity`` 1: four
    neighbours, 2: eight), numbered in raster order of their first pixel, and n."""
    mask = np.asarray(mask)
    if cv2 is not None:
        n, labels = cv2.connectedComponents(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8),
                                            connectivity=4 if connectivity == 1 else 8, ltype=cv2.CV_32S)
        return labels, n - 1
    labels, n = ndi.label(mask, ndi.generate_binary_structure(2, connectivity), output=np.int32)
    return labels, int(n)


def distance_inside(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance (float32) of each pixel of ``mask`` to the nearest pixel outside
    it; OpenCV's precise mask equals scipy's ``distance_transform_edt``."""
    if cv2 is not None:
        return cv2.distanceTransform(np.asarray(mask, np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return ndi.distance_transform_edt(mask).astype(np.float32)


def otsu_u8(image: np.ndarray) -> int:
    """Otsu's threshold of a uint8 image as OpenCV computes it: foreground is ``image > t``."""
    if cv2 is not None:
        return int(cv2.threshold(image, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[0])
    p = np.bincount(image.ravel(), minlength=256).astype(np.float64) / max(image.size, 1)
    q1 = np.cumsum(p)
    m1 = np.cumsum(p * np.arange(256))
    eps = np.finfo(np.float32).eps
    with np.errstate(divide="ignore", invalid="ignore"):
        q2 = 1.0 - q1
        between = q1 * q2 * (m1 / q1 - (m1[-1] - m1) / q2) ** 2
    between[(np.minimum(q1, q2) < eps) | (np.maximum(q1, q2) > 1 - eps) | ~np.isfinite(between)] = -1
    return int(np.argmax(between)) if between.max() > 0 else 0


def pair_histogram(first: np.ndarray, second: np.ndarray, k: int) -> np.ndarray | None:
    """(k, k) int64 counts of value pairs of two uint8 arrays with OpenCV's 2D histogram (about ten
    times faster than bincount), or None without OpenCV."""
    if cv2 is None:
        return None
    a = np.ascontiguousarray(first, dtype=np.uint8).reshape(-1, 1)
    b = np.ascontiguousarray(second, dtype=np.uint8).reshape(-1, 1)
    return _calc_hist([a, b], k)


def histogram(values: np.ndarray, bins: int) -> np.ndarray:
    """int64 counts of ``floor(v)`` for float32 ``values`` in [0, ``bins``), with OpenCV's histogram
    (no int64 copy of the values), else bincount."""
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1, 1)
    if cv2 is None:
        return np.bincount(np.clip(flat.ravel().astype(np.intp), 0, bins - 1), minlength=bins)
    return _calc_hist([flat], bins)


_EXACT_FLOAT32 = 2**24 - 1  # the largest count a float32 bin holds exactly, with margin for its rounding


def _calc_hist(columns: list[np.ndarray], bins: int) -> np.ndarray:
    """int64 joint counts of the (n, 1) ``columns`` over ``bins`` unit bins from 0 each, by
    ``cv2.calcHist``; its float32 bins count exactly only below 2**24, so longer columns are
    counted in chunks of that size and the counts summed."""
    d = len(columns)
    out = np.zeros((bins,) * d, np.int64)
    for i in range(0, len(columns[0]), _EXACT_FLOAT32):
        chunk = [c[i:i + _EXACT_FLOAT32] for c in columns]
        out += np.rint(cv2.calcHist(chunk, list(range(d)), None, [bins] * d, [0, bins] * d)).astype(np.int64).reshape(out.shape)
    return out


_TAN_22_5, _TAN_67_5 = np.tan(np.pi / 8), np.tan(3 * np.pi / 8)


def canny(dx: np.ndarray, dy: np.ndarray, low: float, high: float) -> np.ndarray:
    """Canny edges (uint8 0/1) from int16 derivatives: non-maximum suppression across the gradient
    (quantised to four directions) and hysteresis from ``high`` through ``low`` (8-connected), on
    the Euclidean magnitude."""
    if cv2 is not None:
        return (cv2.Canny(dx, dy, low, high, L2gradient=True) > 0).view(np.uint8)
    ax, ay = np.abs(dx.astype(np.float32)), np.abs(dy.astype(np.float32))
    mag = np.sqrt(ax * ax + ay * ay)
    p = np.pad(mag, 1)
    c = p[1:-1, 1:-1]
    across = ay < ax * _TAN_22_5
    along = ay > ax * _TAN_67_5
    same_sign = (dx.astype(np.int32) ^ dy.astype(np.int32)) >= 0
    diagonal = np.where(same_sign, (c > p[:-2, :-2]) & (c > p[2:, 2:]), (c > p[:-2, 2:]) & (c > p[2:, :-2]))
    peak = np.where(across, (c > p[1:-1, :-2]) & (c >= p[1:-1, 2:]),
                    np.where(along, (c > p[:-2, 1:-1]) & (c >= p[2:, 1:-1]), diagonal))
    weak = peak & (c > low)
    labels, n = ndi.label(weak, np.ones((3, 3), bool))
    seeded = np.zeros(n + 1, bool)
    seeded[labels[weak & (c > high)]] = True
    seeded[0] = False
    return seeded[labels].view(np.uint8)


def outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    """The outer boundary of each 8-connected component of a (Y, X) mask, as (N, 2) float (x, y)
    corner points in pixel coordinates. OpenCV traces the boundary pixels' centres; without it the
    boundary runs halfway between the object's pixels and the background's (scikit-image's
    marching squares), which encloses the object's area more closely."""
    mask = np.asarray(mask, bool)
    if cv2 is not None:
        found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        return [c.reshape(-1, 2).astype(float) for c in found]
    from skimage.measure import approximate_polygon, find_contours

    labels, _ = ndi.label(mask, np.ones((3, 3), bool))
    out = []
    for i, box in enumerate(ndi.find_objects(labels), start=1):
        filled = np.pad(ndi.binary_fill_holes(labels[box] == i), 1).astype(np.float32)
        ring = max(find_contours(filled, 0.5, fully_connected="high"), key=len)
        ring = approximate_polygon(ring, 0.0)[:-1]  # corners only, not closed
        out.append(ring[:, ::-1] - 1 + np.array([box[1].start, box[0].start], float))
    return out


def disk(target: np.ndarray, x: int, y: int, radius: int, value) -> None:
    """Fill a disc of ``radius`` pixels around (x, y) in the (Y, X) array ``target`` with ``value``."""
    if cv2 is not None:
        cv2.circle(target, (int(x), int(y)), int(radius), value, -1)
        return
    y0, y1 = max(0, y - radius), min(target.shape[0], y + radius + 1)
    x0, x1 = max(0, x - radius), min(target.shape[1], x + radius + 1)
    ys, xs = np.ogrid[y0:y1, x0:x1]
    inside = (ys - y) ** 2 + (xs - x) ** 2 <= radius * radius  # OpenCV's filled circle
    target[y0:y1, x0:x1][inside] = value

"""Classical techniques beside the library call a user would otherwise make (same run, same
1024 x 1024 RGB image, medians). Families land here as they are added to the catalog.

    python benchmarks/classical.py

"preview" is the work a widget does on a parameter change (the gray slice is prepared once);
"full" starts from the RGB image.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import color, feature, filters

from napari_segsuite.samples import scene
from _timing import median_ms

from napari_segsuite.techniques import CATALOG, prepare_slice


def row(label, ours, base, what, target=None):
    tgt = f"target <= {target:g} ms: {'met' if ours <= target else 'MISSED'}" if target else ""
    print(f"{label:30s} {ours:8.2f} ms | {base:8.2f} ms {what:42s} | {base / ours:6.1f}x | {tgt}")


def main() -> None:
    img, _, _ = scene((1024, 1024))
    data, info = prepare_slice(img, has_channels=True)
    gray = color.rgb2gray(img)
    print(f"input {img.shape} {img.dtype}; ratio = baseline / ours\n")
    canny = CATALOG["edges.canny"]
    p = canny.validate_params({"sigma": 1.5, "low": 0.8, "high": 0.92})
    base = median_ms(lambda: feature.canny(gray, sigma=1.5, low_threshold=0.8, high_threshold=0.92, use_quantiles=True), 5)
    row("edges.canny preview", median_ms(lambda: canny.run_prepared(data, info, p)), base, "skimage.feature.canny(gray, quantiles)", 30)
    row("edges.canny full (RGB in)", median_ms(lambda: canny(img, channel_axis=-1, **p)), median_ms(
        lambda: feature.canny(color.rgb2gray(img), sigma=1.5, low_threshold=0.8, high_threshold=0.92, use_quantiles=True), 5),
        "rgb2gray + canny")
    sob = CATALOG["edges.sobel"]
    p = sob.validate_params({})
    row("edges.sobel preview", median_ms(lambda: sob.run_prepared(data, info, p)), median_ms(lambda: filters.sobel(gray)), "skimage.filters.sobel(gray)", 100)
    log = CATALOG["edges.log"]
    p = log.validate_params({"sigma": 2.0})
    from scipy import ndimage as ndi

    row("edges.log preview", median_ms(lambda: log.run_prepared(data, info, p)), median_ms(lambda: ndi.gaussian_laplace(gray, 2.0), 5),
        "ndi.gaussian_laplace only (no crossings)", 100)
    from sklearn.cluster import KMeans

    from napari_segsuite.techniques.cluster import _features

    km = CATALOG["cluster.kmeans"]
    p = km.validate_params({"k": 4, "color_space": "rgb"})
    cdata, cinfo = prepare_slice(img, has_channels=True, mode="color")
    ours = median_ms(lambda: km.run_prepared(cdata, cinfo, p), 5)
    x = _features(cdata, cinfo, "rgb", 0.0).T
    sk_ms = median_ms(lambda: KMeans(4, n_init=3, random_state=0).fit(x), 2)
    cv_ms = median_ms(lambda: cv2.kmeans(x, 4, None, (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-4), 3, cv2.KMEANS_PP_CENTERS), 2)
    row("cluster.kmeans k=4 preview", ours, sk_ms, "sklearn KMeans(4, n_init=3) on the same features", 100)
    row("cluster.kmeans k=4 preview", ours, cv_ms, "cv2.kmeans(4, attempts=3, k-means++)", 100)
    inertia = km.run_prepared(cdata, cinfo, p).info["inertia"]
    print(f"{'':30s} inertia ours / sklearn = {inertia / KMeans(4, n_init=3, random_state=0).fit(x).inertia_:.4f} (target within 1 %)")

    from skimage.segmentation import felzenszwalb

    fh = CATALOG["graph.felzenszwalb"]
    p = fh.validate_params({"scale": 100.0, "sigma": 0.8, "min_size": 20})
    ours = median_ms(lambda: fh.run_prepared(cdata, cinfo, p), 3)
    base = median_ms(lambda: felzenszwalb(img, scale=100, sigma=0.8, min_size=20, channel_axis=-1), 2)
    row("graph.felzenszwalb", ours, base, "skimage felzenszwalb (identical labels)", 1000)

    p = canny.validate_params({"output": "regions"})
    ms = median_ms(lambda: canny.run_prepared(data, info, p), 3)
    print(f"{'edges.canny regions':30s} {ms:8.2f} ms (watershed of the enclosed areas)")


if __name__ == "__main__":
    main()

"""Classical techniques beside the library call a user would otherwise make (same run, same
1024 x 1024 RGB image, medians). Families land here as they are added to the catalog.

    python benchmarks/classical.py

"preview" is the work a widget does on a parameter change (the gray slice is prepared once);
"full" starts from the RGB image.
"""

from __future__ import annotations

import cv2
import numpy as np
from _timing import median_ms
from skimage import color, feature, filters

from napari_segsuite.io.samples import scene
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
    rgb_data, rgb_info = prepare_slice(img, has_channels=True, mode="color")
    base = median_ms(lambda: feature.canny(gray, sigma=1.5, low_threshold=0.8, high_threshold=0.92, use_quantiles=True), 5)
    row("edges.canny preview", median_ms(lambda: canny.run_prepared(rgb_data, rgb_info, p)), base, "skimage.feature.canny(gray, quantiles)", 30)
    row("edges.canny full (RGB in)", median_ms(lambda: canny(img, channel_axis=-1, **p)), median_ms(
        lambda: feature.canny(color.rgb2gray(img), sigma=1.5, low_threshold=0.8, high_threshold=0.92, use_quantiles=True), 5),
        "rgb2gray + canny")
    sob = CATALOG["edges.sobel"]
    p = sob.validate_params({})
    row("edges.sobel preview", median_ms(lambda: sob.run_prepared(data, info, p)), median_ms(lambda: filters.sobel(gray)),
        "skimage.filters.sobel(gray)", 100)
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
    mine = fh.run_prepared(cdata, cinfo, p).data
    theirs = felzenszwalb(img, scale=100, sigma=0.8, min_size=20, channel_axis=-1)
    pairs = np.unique(np.stack([mine.ravel(), theirs.ravel()]), axis=1).shape[1]
    same = pairs == mine.max() == theirs.max() + 1  # one segment of ours per segment of theirs
    row("graph.felzenszwalb", ours, base, f"skimage felzenszwalb ({'identical' if same else 'DIFFERENT'} labels)", 1000)

    pc = canny.validate_params({"sigma": 1.5, "low": 0.8, "high": 0.92, "gradient": "colour"})
    ms = median_ms(lambda: canny.run_prepared(rgb_data, rgb_info, pc), 5)
    print(f"{'edges.canny colour preview':30s} {ms:8.2f} ms (Lab channels, strongest gradient per pixel)")
    p = canny.validate_params({"output": "regions"})
    ms = median_ms(lambda: canny.run_prepared(rgb_data, rgb_info, p), 3)
    print(f"{'edges.canny regions':30s} {ms:8.2f} ms (watershed of the enclosed areas)")
    superpixels_and_graphs(img, cdata, cinfo)
    clustering(img, cdata, cinfo)
    regions_contours_post(img, cdata, cinfo)


def superpixels_and_graphs(img, cdata, cinfo) -> None:
    from skimage import graph as skgraph
    from skimage.segmentation import slic

    print()
    sl = CATALOG["graph.slic"]
    p = sl.validate_params({"n_segments": 400})
    row("graph.slic 400", median_ms(lambda: sl.run_prepared(cdata, cinfo, p), 3),
        median_ms(lambda: slic(img, n_segments=400, compactness=10, start_label=1), 2), "skimage slic(400, compactness 10)")
    nc = CATALOG["graph.normalized_cut"]
    p = nc.validate_params({"n_segments": 400})

    def skimage_ncut():
        labels = slic(img, n_segments=400, compactness=10, start_label=1)
        rag = skgraph.rag_mean_color(img, labels, mode="similarity")
        return skgraph.cut_normalized(labels, rag)

    row("graph.normalized_cut 400 sp", median_ms(lambda: nc.run_prepared(cdata, cinfo, p), 3), median_ms(skimage_ncut, 1),
        "skimage slic + rag_mean_color + cut_normalized", 1500)
    rm = CATALOG["graph.rag_merge"]
    p = rm.validate_params({})

    def skimage_merge():
        labels = slic(img, n_segments=800, compactness=10, start_label=1)
        rag = skgraph.rag_mean_color(img, labels)
        return skgraph.merge_hierarchical(labels, rag, thresh=30, rag_copy=False, in_place_merge=True,
                                          merge_func=_merge_mean, weight_func=_weight_mean)

    row("graph.rag_merge 800 sp", median_ms(lambda: rm.run_prepared(cdata, cinfo, p), 3), median_ms(skimage_merge, 1),
        "skimage slic + rag_mean_color + merge_hierarchical")


def _weight_mean(graph, src, dst, n):
    diff = graph.nodes[dst]["mean color"] - graph.nodes[n]["mean color"]
    return {"weight": np.linalg.norm(diff)}


def _merge_mean(graph, src, dst):
    graph.nodes[dst]["total color"] += graph.nodes[src]["total color"]
    graph.nodes[dst]["pixel count"] += graph.nodes[src]["pixel count"]
    graph.nodes[dst]["mean color"] = graph.nodes[dst]["total color"] / graph.nodes[dst]["pixel count"]


def clustering(img, cdata, cinfo) -> None:
    from sklearn.cluster import AgglomerativeClustering, MeanShift
    from sklearn.feature_extraction.image import grid_to_graph

    print()
    ms = CATALOG["cluster.meanshift"]
    p = ms.validate_params({})
    ours = median_ms(lambda: ms.run_prepared(cdata, cinfo, p), 3)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    row("cluster.meanshift", ours, median_ms(lambda: cv2.pyrMeanShiftFiltering(bgr, 8, 8), 2),
        "cv2.pyrMeanShiftFiltering(sp=8, sr=8), filter only", 1000)
    small = img[::8, ::8].reshape(-1, 3).astype(np.float64)
    row("cluster.meanshift", ours, median_ms(lambda: MeanShift(bandwidth=8, bin_seeding=True).fit(small), 1),
        "sklearn MeanShift(bin_seeding) on 1/64 px", 1000)

    hc = CATALOG["cluster.hierarchical"]
    p = hc.validate_params({})
    ours = median_ms(lambda: hc.run_prepared(cdata, cinfo, p), 3)
    small = cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA)
    conn = grid_to_graph(128, 128)
    base = median_ms(lambda: AgglomerativeClustering(8, connectivity=conn, linkage="ward").fit(small.reshape(-1, 3)), 1)
    row("cluster.hierarchical 1000 sp", ours, base, "sklearn ward + grid connectivity, 1/64 px", 1500)

    fc = CATALOG["cluster.fuzzy_cmeans"]
    p = fc.validate_params({"k": 4, "color_space": "rgb"})
    ours = median_ms(lambda: fc.run_prepared(cdata, cinfo, p), 3)
    try:
        import skfuzzy
    except ImportError:
        print(f"{'cluster.fuzzy_cmeans c=4':30s} {ours:8.2f} ms (install scikit-fuzzy for the baseline)")
        return
    from napari_segsuite.techniques._kmeans import plus_plus
    from napari_segsuite.techniques.cluster import _fcm_step, _unique_rows, fuzzy_cmeans_fit

    # the same start for both: our k-means++ centres, given to scikit-fuzzy as the partition they imply
    x = (cdata.reshape(-1, 3) / 255.0).astype(np.float64)
    start = plus_plus(np.ascontiguousarray(x[np.random.default_rng(0).choice(len(x), 20000)].T, np.float32), 4, np.random.default_rng(0))
    u0 = np.empty((len(x), 4))
    _fcm_step(x, np.ones(len(x)), start.astype(np.float64), 2.0, u0)
    import time

    t0 = time.perf_counter()
    _, u_ref, *_ = skfuzzy.cluster.cmeans(x.T, 4, 2.0, error=1e-5, maxiter=50, init=u0.T)
    base = (time.perf_counter() - t0) * 1000
    row("cluster.fuzzy_cmeans c=4", ours, base, "scikit-fuzzy cmeans (<= 50 iterations)", 500)
    colours, inverse, counts = _unique_rows(cdata.reshape(-1, 3))
    # scikit-fuzzy's first centres are the u0-weighted means: one update past ours, hence 51
    _, u, _ = fuzzy_cmeans_fit(colours / 255.0, counts, start, 2.0, 51, 0.0)
    print(f"{'':30s} largest membership difference to scikit-fuzzy (same start): {np.abs(u[inverse] - u_ref.T).max():.2e} (target 1e-3)")


def regions_contours_post(img, cdata, cinfo) -> None:
    from skimage import morphology as skm
    from skimage.segmentation import watershed

    print()
    sm = CATALOG["region.split_merge"]
    p = sm.validate_params({})
    ms = median_ms(lambda: sm.run_prepared(cdata, cinfo, p), 3)
    print(f"{'region.split_merge':30s} {ms:8.2f} ms (no library baseline exists) | target <= 500 ms: {'met' if ms <= 500 else 'MISSED'}")
    ws = CATALOG["region.watershed"]
    p = ws.validate_params({})
    row("region.watershed (h-minima)", median_ms(lambda: ws.run_prepared(cdata, cinfo, p), 3),
        median_ms(lambda: watershed(filters.sobel(color.rgb2gray(img))), 2), "skimage sobel + watershed (every minimum)")
    seeds = np.zeros(img.shape[:2], np.int32)
    seeds[100, 100], seeds[500, 500], seeds[900, 300] = 1, 2, 3
    gr = CATALOG["region.grow"]
    p = gr.validate_params({})
    ms = median_ms(lambda: gr.run_prepared(cdata, cinfo, p, {"seeds": (seeds, [])}), 3)
    print(f"{'region.grow 3 seeds':30s} {ms:8.2f} ms")
    rw = CATALOG["region.random_walker"]
    p = rw.validate_params({})
    ms = median_ms(lambda: rw.run_prepared(cdata, cinfo, p, {"seeds": (seeds, [])}), 1)
    print(f"{'region.random_walker 3 seeds':30s} {ms:8.2f} ms (solved at <= 65536 px; skimage at full size takes minutes)")
    gdata, ginfo = prepare_slice(img, has_channels=True)
    for name in ("contour.chan_vese", "contour.geodesic"):
        t = CATALOG[name]
        ms = median_ms(lambda: t.run_prepared(gdata, ginfo, t.validate_params({})), 1)
        print(f"{name:30s} {ms:8.2f} ms (scikit-image's morphological implementation, default iterations)")
    labels = CATALOG["threshold.global"](img, channel_axis=-1, components=True)
    ldata, linfo = prepare_slice(labels, has_channels=False, mode="labels")
    mask = labels > 0
    base = {
        "post.morphology": lambda: skm.opening(mask, skm.disk(2)),
        "post.fill_holes": lambda: ndi_fill(mask),
        "post.remove_small": lambda: skm.remove_small_objects(labels, max_size=63),
        "post.connected_components": lambda: __import__("skimage.measure").measure.label(mask),
        "post.split_touching": None,
    }
    for name, fn in base.items():
        t = CATALOG[name]
        p = t.validate_params({})
        ours = median_ms(lambda: t.run_prepared(ldata, linfo, p), 3)
        if fn is None:
            print(f"{name + ' preview':30s} {ours:8.2f} ms | target <= 100 ms: {'met' if ours <= 100 else 'MISSED'}")
        else:
            row(name + " preview", ours, median_ms(fn, 3), "skimage on the binary mask (one label)", 100)
    if labels.max() < 2**16:  # scikit-image's rank filters take at most 16-bit images
        from skimage.filters.rank import majority

        t = CATALOG["post.majority"]
        p = t.validate_params({})
        row("post.majority preview", median_ms(lambda: t.run_prepared(ldata, linfo, p), 3),
            median_ms(lambda: majority(labels.astype(np.uint16), skm.disk(1)), 3), "skimage rank.majority, all labels", 100)


def ndi_fill(mask):
    from scipy import ndimage as ndi

    return ndi.binary_fill_holes(mask)


if __name__ == "__main__":
    main()

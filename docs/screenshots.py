"""Regenerate the README screenshots: napari with the plugin's widgets in use.

Run under a display (``xvfb-run -a python docs/screenshots.py``); writes docs/images/*.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_segsuite._widgets.suite import TOOLS
from napari_segsuite.cli import build_viewer

OUT = Path(__file__).parent / "images"


def settle(widget, ms: int = 1500) -> None:
    """Let the debounced preview run and the canvas redraw, with napari's toasts dismissed."""
    import time

    end = time.time() + ms / 1000
    while time.time() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    for w in QApplication.topLevelWidgets() + QApplication.allWidgets():
        if type(w).__name__ == "NapariQtNotification":
            w.close()
    QApplication.processEvents()


SUITE = None  # the SegSuite dock (set by main)


def _raise_dock(widget) -> None:
    """Show ``widget``'s tool in the SegSuite dock."""
    SUITE.show_tool(next(name for name, tool in SUITE.tools.items() if tool is widget))


def new_family_shots(viewer, thresholding, region_widget, contour_widget, post_widget) -> None:
    """Region growing from clicked seeds, a contour from a drawn box, post-processing steps."""
    import numpy as np

    from napari_segsuite.io import samples

    keep = list(viewer.layers)
    image, _ = samples.cells()
    cells = viewer.add_image(image, name="cells")
    for layer in keep:
        layer.visible = False
    _raise_dock(region_widget)
    region_widget.input.value = cells
    region_widget.technique.value = "region.grow"
    points = region_widget.input_forms["region.grow"]._add_points_layer()
    points.add(np.array([[40, 40], [100, 60], [150, 150], [200, 90]]))
    region_widget.form.set_values({"tolerance": 12.0})
    settle(region_widget, 2500)
    viewer.screenshot(str(OUT / "region_grow_seeds.png"), canvas_only=False)
    viewer.layers.remove("Region-based preview")
    region_widget.live.value = False
    viewer.layers.remove(points)

    _raise_dock(contour_widget)
    contour_widget.input.value = cells
    contour_widget.technique.value = "contour.chan_vese"
    settle(contour_widget, 4000)
    viewer.screenshot(str(OUT / "contour_chan_vese.png"), canvas_only=False)
    viewer.layers.remove("Active contours preview")
    contour_widget.live.value = False

    _raise_dock(thresholding)
    thresholding.live.value = True
    thresholding.input.value = cells
    thresholding.form.set_values({"method": "otsu", "invert": False})
    thresholding.post_section.expand(animate=False)
    thresholding.post.add_step("post.fill_holes")
    thresholding.post.add_step("post.remove_small", {"min_size": 30})
    thresholding.post.add_step("post.split_touching", {"min_distance": 12})
    settle(thresholding, 2500)
    viewer.screenshot(str(OUT / "post_chain.png"), canvas_only=False)
    thresholding.post.clear()
    thresholding.post_section.collapse(animate=False)
    settle(thresholding, 1000)
    viewer.layers.remove(cells)
    for layer in keep:
        if layer in viewer.layers:
            layer.visible = True


def sam_shots(viewer, sam_widget) -> None:
    """The Segment Anything dock on the colour scene with the classical fallback (no checkpoint
    needed): a box around a ball, a background click, the preview, then a committed object."""
    import numpy as np

    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    viewer.open_sample("napari-segsuite", "scene")
    viewer.layers["scene ground truth"].visible = False
    _raise_dock(sam_widget)
    settle(sam_widget, 500)
    sam_widget.box_layer.add_rectangles(np.array([[180, 419], [232, 471]]))
    sam_widget.points_layer.feature_defaults = {"positive": False}
    sam_widget.points_layer.add([200, 400])
    settle(sam_widget)
    viewer.screenshot(str(OUT / "sam_prompts.png"), canvas_only=False)
    sam_widget.commit()
    sam_widget.box_layer.add_rectangles(np.array([[214, 108], [278, 180]]))
    settle(sam_widget)  # masks are decoded in a worker
    sam_widget.commit()
    settle(sam_widget)
    viewer.screenshot(str(OUT / "sam_committed.png"), canvas_only=False)


def propagation_shots(viewer, sam_widget) -> None:
    """One click on a nucleus of a 3D stack (../shared/data/stardist/img3d.tif when present, else
    a synthetic stack), then *Propagate* through z with the classical backend."""
    import numpy as np

    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "stardist" / "img3d.tif"
    if data.is_file():
        import tifffile

        stack, z, yx = tifffile.imread(data), 15, (27, 32)
    else:
        zz, yy, xx = np.indices((24, 64, 64), dtype=float)
        ball = ((zz - 11) * 1.5) ** 2 + (yy - 32) ** 2 + (xx - 32) ** 2 <= 81
        stack, z, yx = (40 + 150 * ball + np.random.default_rng(0).normal(0, 12, ball.shape)).astype(np.uint8), 11, (32, 32)
    viewer.layers.clear()  # the 2D samples would set the canvas' extent
    image = viewer.add_image(stack, name="nuclei_3d_stack_embryo_sample_2026-11-28_confocal_z31_ch0.tif")
    _raise_dock(sam_widget)
    sam_widget.image.value = image
    sam_widget.target.value = None
    viewer.dims.set_current_step(0, z)
    viewer.reset_view()
    settle(sam_widget, 1000)
    sam_widget.propagate_section.expand(animate=False)
    from qtpy.QtWidgets import QScrollArea

    scroll = sam_widget.findChild(QScrollArea)
    settle(sam_widget, 300)
    scroll.ensureWidgetVisible(sam_widget.propagation.status, 0, 0)
    sam_widget.points_layer.add([z, *yx])
    settle(sam_widget)
    sam_widget.propagation.propagate()
    while sam_widget.propagation.worker is not None:
        settle(sam_widget, 200)
    settle(sam_widget)
    scroll.ensureWidgetVisible(sam_widget.propagation.status, 0, 0)
    settle(sam_widget, 300)
    viewer.screenshot(str(OUT / "sam_propagated.png"), canvas_only=False)
    viewer.dims.set_current_step(0, z + 3)
    settle(sam_widget)
    viewer.screenshot(str(OUT / "sam_propagated_z_plus_3.png"), canvas_only=False)


def large_image_shots(viewer, sam_widget) -> None:
    """A click on one small nucleus of a 6144² mosaic (the cells sample, 24 x 24 with flips), with
    the classical backend: it works in a tile's worth around the click at full resolution."""
    import numpy as np

    from napari_segsuite.io import samples

    cells, _ = samples.cells()
    rows = [np.concatenate([np.flip(cells, (j + i) % 2) if (i * 24 + j) % 3 else cells for j in range(24)], 1)
            for i in range(24)]
    mosaic = np.concatenate(rows, 0)
    viewer.layers.clear()
    image = viewer.add_image(mosaic, name="slide_scan_6144x6144_nuclei_mosaic_patient_0042_region_7.tif")
    _raise_dock(sam_widget)
    sam_widget.image.value = image
    sam_widget.target.value = None
    settle(sam_widget, 1000)
    h, w = cells.shape[:2]
    yx = np.unravel_index(np.argmax(cells[h // 3: 2 * h // 3, w // 3: 2 * w // 3]), (h // 3, w // 3))
    y, x = 13 * h + h // 3 + int(yx[0]), 11 * w + w // 3 + int(yx[1])
    sam_widget.points_layer.add([y, x])
    settle(sam_widget, 2500)
    viewer.camera.center = (y, x)
    viewer.camera.zoom = 6.0
    settle(sam_widget, 500)
    viewer.screenshot(str(OUT / "sam_large_image.png"), canvas_only=False)


def learn_shots(viewer, learn_widget) -> None:
    """The Train a network dock: an instance U-Net trained on the cells sample's ground truth, its
    loss / validation Dice plot, and its prediction."""
    import time

    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    viewer.open_sample("napari-segsuite", "cells")
    w = learn_widget
    w._reset_choices()
    w.image.value, w.labels.value = viewer.layers["cells"], viewer.layers["cells ground truth"]
    w.task.value, w.name.value = "instance", "cells_unet"
    w.net_width.value, w.depth.value, w.patch.value, w.epochs.value, w.steps.value = 16, 3, 96, 15, 15
    _raise_dock(w)
    w.start_training()
    while w.worker is not None:
        QApplication.processEvents()
        time.sleep(0.05)
    w.predict(all_slices=False)
    while w.predict_worker is not None:  # the prediction runs in a worker
        QApplication.processEvents()
        time.sleep(0.05)
    viewer.layers["cells ground truth"].visible = False
    settle(w, 800)
    viewer.screenshot(str(OUT / "learn_trained.png"), canvas_only=False)


def project_shots(viewer, project_widget) -> None:
    """The Annotation project dock on a folder of three cell images, the first one annotated."""
    import tempfile

    import numpy as np

    from napari_segsuite.io import write_labels
    from napari_segsuite.io.samples import cells_layers

    (image, _, _), (truth, _, _) = cells_layers()[:2]
    folder = Path(tempfile.mkdtemp()) / "cells"
    for i in range(3):
        write_labels(folder / f"cells_{i}.png", np.roll(image, 40 * i, axis=1).astype(np.uint16))
    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    w = project_widget
    w.autosave.value = 0
    _raise_dock(w)
    def switched() -> None:  # Open / Next / Previous save and read in a worker
        while w.switching:
            QApplication.processEvents()

    w.open(folder)
    switched()
    w.labels_layer.data = truth.astype(np.int32)
    w.step(+1)
    switched()
    w.step(-1)
    switched()
    settle(w, 800)
    viewer.screenshot(str(OUT / "project.png"), canvas_only=False)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    viewer = napari.Viewer(title="napari-segsuite")
    viewer.window.resize(1280, 800)
    global SUITE
    SUITE = build_viewer(viewer, sample="cells")
    docked = [SUITE.tool(name) for name in TOOLS]
    (w, edges_widget, clustering_widget, graph_widget, region_widget, contour_widget, post_widget, sam_widget,
     learn_widget, project_widget, scoring) = docked
    if "--only-sam" in sys.argv:
        sam_shots(viewer, sam_widget)
        viewer.close()
        return
    if "--only-large" in sys.argv:
        large_image_shots(viewer, sam_widget)
        viewer.close()
        return
    if "--only-propagation" in sys.argv:
        propagation_shots(viewer, sam_widget)
        viewer.close()
        return
    if "--only-project" in sys.argv:
        project_shots(viewer, project_widget)
        viewer.close()
        return
    if "--only-learn" in sys.argv:
        learn_shots(viewer, learn_widget)
        viewer.close()
        return
    viewer.layers["cells ground truth"].visible = False
    settle(w)
    viewer.screenshot(str(OUT / "thresholding_otsu.png"), canvas_only=False)

    w.technique.value = "threshold.adaptive"
    w.form.set_values({"method": "sauvola", "block_size": 41, "components": True})
    settle(w)
    viewer.screenshot(str(OUT / "thresholding_adaptive.png"), canvas_only=False)

    viewer.layers.clear()
    viewer.open_sample("napari-segsuite", "scene")
    viewer.layers["scene ground truth"].visible = False
    w.technique.value = "threshold.multiotsu"
    w.form.set_values({"classes": 4})
    settle(w)
    viewer.screenshot(str(OUT / "thresholding_multiotsu.png"), canvas_only=False)

    w.technique.value = "threshold.global"
    w.form.set_values({"method": "manual", "value": 120.0, "invert": True})
    settle(w)
    viewer.screenshot(str(OUT / "thresholding_manual.png"), canvas_only=False)
    # edges: Canny edge map, then regions, on the colour scene
    viewer.layers.clear()
    viewer.open_sample("napari-segsuite", "scene")
    viewer.layers["scene ground truth"].visible = False
    w.live.value = False  # one preview at a time in this picture
    _raise_dock(edges_widget)
    edges_widget.technique.value = "edges.canny"
    edges_widget.form.set_values({"sigma": 1.5, "output": "edges"})
    settle(edges_widget)
    viewer.screenshot(str(OUT / "edges_canny.png"), canvas_only=False)
    viewer.layers.clear()  # regions: closed outlines (nuclei) make clean regions
    viewer.open_sample("napari-segsuite", "cells")
    viewer.layers["cells ground truth"].visible = False
    edges_widget.form.set_values({"output": "regions", "min_size": 50, "sigma": 1.0})
    settle(edges_widget, 2500)
    viewer.screenshot(str(OUT / "edges_regions.png"), canvas_only=False)
    viewer.layers.remove("Edges preview")
    edges_widget.live.value = False

    # clustering: k-means in Lab on the colour scene
    viewer.layers.clear()
    viewer.open_sample("napari-segsuite", "scene")
    viewer.layers["scene ground truth"].visible = False
    _raise_dock(clustering_widget)
    clustering_widget.form.set_values({"k": 5, "color_space": "lab"})
    settle(clustering_widget)
    viewer.screenshot(str(OUT / "clustering_kmeans.png"), canvas_only=False)
    viewer.layers.remove("Clustering preview")
    clustering_widget.live.value = False
    _raise_dock(graph_widget)
    graph_widget.form.set_values({"scale": 400.0, "sigma": 0.8, "min_size": 200})
    settle(graph_widget, 2500)
    viewer.screenshot(str(OUT / "graph_felzenszwalb.png"), canvas_only=False)
    graph_widget.technique.value = "graph.normalized_cut"
    graph_widget.form.set_values({"cue": "histogram"})
    settle(graph_widget, 4000)
    viewer.screenshot(str(OUT / "graph_normalized_cut.png"), canvas_only=False)
    viewer.layers.remove("Graph-based preview")
    graph_widget.live.value = False
    _raise_dock(clustering_widget)
    clustering_widget.live.value = True
    clustering_widget.technique.value = "cluster.meanshift"
    clustering_widget.form.set_values({"merge": "boundary", "range_scale": "contrast", "min_size": 300})
    clustering_widget.post_section.expand(animate=False)
    clustering_widget.post.add_step("post.majority", {"radius": 1})  # as the BSDS benchmark runs it
    settle(clustering_widget, 4000)
    viewer.screenshot(str(OUT / "clustering_meanshift.png"), canvas_only=False)
    clustering_widget.post.clear()
    clustering_widget.post_section.collapse(animate=False)
    clustering_widget.technique.value = "cluster.fuzzy_cmeans"
    clustering_widget.form.set_values({"output": "membership", "cluster": 2})
    settle(clustering_widget, 2000)
    viewer.screenshot(str(OUT / "clustering_fuzzy_membership.png"), canvas_only=False)
    viewer.layers.remove("Clustering preview")
    clustering_widget.live.value = False
    new_family_shots(viewer, w, region_widget, contour_widget, post_widget)
    w.live.value = True
    _raise_dock(w)

    # tuning: sweep the manual threshold against the cells ground truth
    viewer.layers.clear()
    viewer.open_sample("napari-segsuite", "cells")
    w.technique.value = "threshold.adaptive"
    w.form.set_values({"method": "gaussian", "components": False})
    w.tuning_section.expand(animate=False)
    w.tuning.axes[0][0].value = "block_size"
    w.tuning.axes[0][1].value, w.tuning.axes[0][2].value, w.tuning.axes[0][3].value = 15, 151, 8
    w.tuning.axes[1][0].value = "offset"
    w.tuning.axes[1][1].value, w.tuning.axes[1][2].value, w.tuning.axes[1][3].value = -300, 100, 6
    w.tuning.run()
    while w.tuning.job.running:
        settle(w, 100)
    w.tuning.use_best()
    viewer.layers["cells ground truth"].visible = False
    settle(w)
    _raise_dock(w)
    settle(w)
    viewer.screenshot(str(OUT / "tuning_sweep.png"), canvas_only=False)
    w.tuning.grab().save(str(OUT / "tuning_panel.png"))  # the whole panel with its plot
    w.tuning_section.collapse(animate=False)

    # scoring panel: Otsu components of the cells sample against its ground truth, live
    viewer.layers.clear()
    viewer.open_sample("napari-segsuite", "cells")
    w.technique.value = "threshold.global"
    w.form.set_values({"method": "otsu", "components": True, "invert": False})
    settle(w)
    mine = w.apply()
    mine.name = "otsu objects"
    scoring.pred.value, scoring.gt.value = mine, viewer.layers["cells ground truth"]
    viewer.layers["cells ground truth"].visible = False
    viewer.layers["Thresholding preview"].visible = False
    mine.visible = False  # the overlay layers tell the story
    scoring.kind.value = "instance"
    scoring.overlay.value = True
    _raise_dock(scoring)
    settle(scoring)
    viewer.screenshot(str(OUT / "scoring_instance.png"), canvas_only=False)
    scoring.overlay.value = False  # or the scoring panel paints its error overlay on the next samples
    sam_shots(viewer, sam_widget)
    propagation_shots(viewer, sam_widget)
    learn_shots(viewer, learn_widget)
    project_shots(viewer, project_widget)
    viewer.close()
    print("\n".join(str(p) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    sys.exit(main())

"""One dock class per classical family, bound to :class:`FamilyWidget` (npe2 needs importable names)."""

from __future__ import annotations

from napari.viewer import Viewer

from .family_widget import FamilyWidget

__all__ = [
    "ClusteringWidget",
    "ContourWidget",
    "EdgesWidget",
    "GraphWidget",
    "PostProcessingWidget",
    "RegionWidget",
    "ThresholdingWidget",
    "family_widget_class",
]


def family_widget_class(class_name: str, family: str, doc: str) -> type[FamilyWidget]:
    """A FamilyWidget subclass bound to one family, constructible by napari from the viewer."""

    def __init__(self: FamilyWidget, napari_viewer: Viewer) -> None:
        FamilyWidget.__init__(self, napari_viewer, family)

    return type(class_name, (FamilyWidget,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


ThresholdingWidget = family_widget_class(
    "ThresholdingWidget",
    "Thresholding",
    "Global, multi-level Otsu and adaptive thresholds with live preview and histogram.",
)
EdgesWidget = family_widget_class(
    "EdgesWidget", "Edges", "Canny, Sobel/Prewitt/Scharr and Laplacian-of-Gaussian edges, as edge maps or regions."
)
ClusteringWidget = family_widget_class(
    "ClusteringWidget", "Clustering", "K-means, mean shift, hierarchical and fuzzy c-means clustering."
)
GraphWidget = family_widget_class(
    "GraphWidget", "Graph-based", "Felzenszwalb-Huttenlocher, SLIC superpixels, normalized cuts and RAG merging."
)
RegionWidget = family_widget_class(
    "RegionWidget", "Region-based", "Split and merge, region growing, watershed and random walker (seeds from layers)."
)
ContourWidget = family_widget_class(
    "ContourWidget", "Active contours", "Chan-Vese and geodesic active contours (initial shapes from layers)."
)
PostProcessingWidget = family_widget_class(
    "PostProcessingWidget",
    "Post-processing",
    "Morphology, hole filling, small-object removal, splitting, connected components on a labels layer.",
)

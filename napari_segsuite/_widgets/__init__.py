"""napari dock widgets (the only package that imports napari and Qt).

One widget class per technique family, made by :func:`family_widget_class` and listed in
``napari.yaml`` (npe2 needs importable names); a test checks that every family of the catalog
has one.
"""

from napari.viewer import Viewer

from .family_widget import FamilyWidget
from .scoring_widget import ScoringWidget

__all__ = [
    "DOCKED", "FAMILY_WIDGETS", "ClusteringWidget", "EdgesWidget", "FamilyWidget", "GraphWidget",
    "ScoringWidget", "ThresholdingWidget", "family_widget_class",
]


def family_widget_class(class_name: str, family: str, doc: str) -> type[FamilyWidget]:
    """A FamilyWidget subclass bound to one family, constructible by napari from the viewer."""

    def __init__(self: FamilyWidget, napari_viewer: Viewer) -> None:
        FamilyWidget.__init__(self, napari_viewer, family)

    return type(class_name, (FamilyWidget,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


ThresholdingWidget = family_widget_class("ThresholdingWidget", "Thresholding", "Global, multi-level Otsu and adaptive thresholds with live preview and histogram.")
EdgesWidget = family_widget_class("EdgesWidget", "Edges", "Canny, Sobel/Prewitt/Scharr and Laplacian-of-Gaussian edges, as edge maps or regions.")
ClusteringWidget = family_widget_class("ClusteringWidget", "Clustering", "K-means clustering of colours (and optionally positions) into classes.")
GraphWidget = family_widget_class("GraphWidget", "Graph-based", "Graph-based segmentation: Felzenszwalb-Huttenlocher.")

#: family -> (manifest widget display name, widget class)
FAMILY_WIDGETS = {
    "Thresholding": ("Thresholding", ThresholdingWidget),
    "Edges": ("Edges", EdgesWidget),
    "Clustering": ("Clustering", ClusteringWidget),
    "Graph-based": ("Graph-based", GraphWidget),
}

#: manifest display names of the widgets the app docks at start, in order
DOCKED = [name for name, _ in FAMILY_WIDGETS.values()] + ["Scoring"]

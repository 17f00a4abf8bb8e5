"""napari dock widgets (the only package that imports napari and Qt).

One small class per technique family, listed in ``napari.yaml``; a test checks that every family
of the catalog has one.
"""

from napari.viewer import Viewer

from .family_widget import FamilyWidget
from .scoring_widget import ScoringWidget

__all__ = ["DOCKED", "FAMILY_WIDGETS", "ClusteringWidget", "EdgesWidget", "FamilyWidget", "GraphWidget", "ScoringWidget", "ThresholdingWidget"]


class ThresholdingWidget(FamilyWidget):
    """Global, multi-level Otsu and adaptive thresholds with live preview and histogram."""

    def __init__(self, napari_viewer: Viewer) -> None:
        super().__init__(napari_viewer, "Thresholding")


class EdgesWidget(FamilyWidget):
    """Canny, Sobel/Prewitt/Scharr and Laplacian-of-Gaussian edges, as edge maps or regions."""

    def __init__(self, napari_viewer: Viewer) -> None:
        super().__init__(napari_viewer, "Edges")


class ClusteringWidget(FamilyWidget):
    """K-means clustering of colours (and optionally positions) into classes."""

    def __init__(self, napari_viewer: Viewer) -> None:
        super().__init__(napari_viewer, "Clustering")


class GraphWidget(FamilyWidget):
    """Graph-based segmentation: Felzenszwalb-Huttenlocher."""

    def __init__(self, napari_viewer: Viewer) -> None:
        super().__init__(napari_viewer, "Graph-based")


#: family -> (manifest widget display name, widget class)
FAMILY_WIDGETS = {
    "Thresholding": ("Thresholding", ThresholdingWidget),
    "Edges": ("Edges", EdgesWidget),
    "Clustering": ("Clustering", ClusteringWidget),
    "Graph-based": ("Graph-based", GraphWidget),
}

#: manifest display names of the widgets the app docks at start, in order
DOCKED = [name for name, _ in FAMILY_WIDGETS.values()] + ["Scoring"]

"""napari-segsuite: interactive image segmentation for napari, with a headless engine."""

from __future__ import annotations

try:
    from importlib.metadata import version as _version

    __version__ = _version("napari-segsuite")
except Exception:  # pragma: no cover - not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]

"""BSDS500 ground truth (.mat): every annotator's segmentation and boundary map."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["BsdsGroundTruth", "read_bsds_groundtruth"]


@dataclass
class BsdsGroundTruth:
    """All human annotations of one image: label maps (from 1) and {0, 1} boundary maps."""

    segmentations: list[np.ndarray]
    boundaries: list[np.ndarray]

    def stack(self, what: str = "segmentations") -> np.ndarray:
        """The annotations as one (annotator, Y, X) array."""
        return np.stack(getattr(self, what))


def read_bsds_groundtruth(path: str | os.PathLike) -> BsdsGroundTruth:
    """Read a BSDS ``groundTruth/*.mat`` file (``scipy.io.loadmat``; nothing in it is executed)."""
    import scipy.io as sio

    path = Path(path)
    try:
        cells = sio.loadmat(path)["groundTruth"][0]
        segs = [np.asarray(c["Segmentation"][0][0]) for c in cells]
        bdry = [np.asarray(c["Boundaries"][0][0]).astype(bool) for c in cells]
    except (KeyError, IndexError, ValueError, OSError, TypeError) as e:
        raise ValueError(f"{path}: not a BSDS ground-truth file (expected a 'groundTruth' cell of Segmentation/Boundaries): {e}") from None
    if not segs:
        raise ValueError(f"{path}: the ground truth holds no annotation")
    return BsdsGroundTruth(segs, bdry)

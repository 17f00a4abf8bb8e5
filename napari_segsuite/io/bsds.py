"""BSDS500 ground truth (.mat): every annotator's segmentation and boundary map."""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .limits import ENV_MAX_PIXELS, max_pixels

__all__ = ["BsdsGroundTruth", "check_mat", "read_bsds_groundtruth"]


@dataclass
class BsdsGroundTruth:
    """All human annotations of one image: label maps (from 1) and {0, 1} boundary maps."""

    segmentations: list[np.ndarray]
    boundaries: list[np.ndarray]

    def stack(self, what: str = "segmentations") -> np.ndarray:
        """The annotations as one (annotator, Y, X) array."""
        return np.stack(getattr(self, what))


_MI_COMPRESSED = 15  # the MAT-file v5 data type of a zlib-compressed variable


def check_mat(path: str | os.PathLike) -> None:
    """Refuse a .mat file that is empty, MATLAB v7.3 (HDF5), or whose variables declare more bytes than
    :func:`~napari_segsuite.io.limits.max_pixels` allows (a zlib bomb), reading only the headers
    (each compressed variable's first 8 decompressed bytes)."""
    path = Path(path)
    limit = 8 * max_pixels()
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(128)
        if head.startswith(b"MATLAB 7.3") or head[:8] == b"\x89HDF\r\n\x1a\n" or head[124:126] in (b"\x00\x02", b"\x02\x00"):
            raise ValueError(f"{path}: MATLAB v7.3 (HDF5) .mat files are not read; save it in MATLAB with -v7 "
                             f"(BSDS500's own files are v5)")
        if len(head) < 128 or head[126:128] not in (b"IM", b"MI"):
            return  # not a v5 file (v4, or garbage): scipy says what it is
        order = "<" if head[126:128] == b"IM" else ">"
        declared = 0
        while True:
            tag = f.read(8)
            if len(tag) < 8:
                break
            dtype, nbytes = struct.unpack(order + "II", tag)
            if dtype >> 16:  # small data element: 4 bytes of data in the tag itself
                continue
            if dtype == _MI_COMPRESSED:
                inner = zlib.decompressobj().decompress(f.read(min(nbytes, 1 << 16)), 8)
                f.seek(max(nbytes - min(nbytes, 1 << 16), 0), os.SEEK_CUR)
                if len(inner) == 8:
                    declared += struct.unpack(order + "II", inner)[1]
            else:
                declared += nbytes
                f.seek(nbytes + (-nbytes % 8), os.SEEK_CUR)
            if declared > limit:
                raise ValueError(f"{path}: its variables declare {declared:,} bytes once decompressed, over the limit "
                                 f"of {limit:,} (8 bytes x ${ENV_MAX_PIXELS}); if the data is genuinely this large, "
                                 f"set ${ENV_MAX_PIXELS} higher")


def read_bsds_groundtruth(path: str | os.PathLike) -> BsdsGroundTruth:
    """Read a BSDS ``groundTruth/*.mat`` file (``scipy.io.loadmat``; nothing in it is executed).

    Empty, v7.3 and decompression-bomb files are refused with a ``ValueError`` naming the file
    (:func:`check_mat`) before scipy reads them.
    """
    import scipy.io as sio

    path = Path(path)
    check_mat(path)
    try:
        cells = sio.loadmat(path)["groundTruth"][0]
        segs = [np.asarray(c["Segmentation"][0][0]) for c in cells]
        bdry = [np.asarray(c["Boundaries"][0][0]).astype(bool) for c in cells]
    except (KeyError, IndexError, ValueError, OSError, TypeError, NotImplementedError, MemoryError) as e:
        raise ValueError(f"{path}: not a BSDS ground-truth file (expected a 'groundTruth' cell of Segmentation/Boundaries): {e}") from None
    if not segs:
        raise ValueError(f"{path}: the ground truth holds no annotation")
    return BsdsGroundTruth(segs, bdry)

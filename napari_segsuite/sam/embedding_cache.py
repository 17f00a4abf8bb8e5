"""The on-disk cache of SAM image embeddings: a reopened image skips the encoder.

Entries are ``<folder>/<model hash, 16 hex>/<image hash, 32 hex>.npy`` (float32 features) beside a
``.json`` that says which model, image size and encoder input they belong to; an entry that does not
match (damaged, forged, another image or model) is recomputed and overwritten, never trusted. The
folder is kept under ``limit_gb`` (default 20, or ``$NAPARI_SEGSUITE_EMBEDDINGS_MAX_GB``): past it,
the entries used longest ago go first (loading one counts as a use).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write

__all__ = ["CACHE_VERSION", "DEFAULT_CACHE_LIMIT_GB", "ENV_CACHE_LIMIT", "ENV_EMBEDDINGS", "DiskCache", "cache_limit_gb",
           "default_embedding_dir"]

CACHE_VERSION = 1
ENV_EMBEDDINGS = "NAPARI_SEGSUITE_EMBEDDINGS"
ENV_CACHE_LIMIT = "NAPARI_SEGSUITE_EMBEDDINGS_MAX_GB"
DEFAULT_CACHE_LIMIT_GB = 20.0
_HEX16, _HEX32 = re.compile(r"[0-9a-f]{16}"), re.compile(r"[0-9a-f]{32}")  # the cache's folder and file names


def default_embedding_dir() -> Path:
    """``$NAPARI_SEGSUITE_EMBEDDINGS``, else ``embeddings`` in the user cache directory."""
    if os.environ.get(ENV_EMBEDDINGS):
        return Path(os.environ[ENV_EMBEDDINGS])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-segsuite")) / "embeddings"


def cache_limit_gb() -> float:
    """``$NAPARI_SEGSUITE_EMBEDDINGS_MAX_GB``, else the default (20 GB)."""
    raw = os.environ.get(ENV_CACHE_LIMIT)
    if not raw:
        return DEFAULT_CACHE_LIMIT_GB
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"${ENV_CACHE_LIMIT} must be a number of gigabytes (e.g. 20); it is {raw!r}") from None
    if not value >= 0:
        raise ValueError(f"${ENV_CACHE_LIMIT} must be 0 or more gigabytes; it is {raw!r}")
    return value


class DiskCache:
    """The embeddings of one model in ``folder`` (see the module docstring).

    ``model_hash`` is asked for on first use (hashing a checkpoint takes a while); ``notify``
    receives one line when a write fails (then ``error`` says why) or when old entries are removed.
    """

    def __init__(self, folder: Path, model_name: str, model_hash: Callable[[], str], *, limit_gb: float,
                 notify: Callable[[str], None]) -> None:
        self.folder = Path(folder)
        self.model_name = model_name
        self._model_hash = model_hash
        self.limit_gb = float(limit_gb)
        self.notify = notify
        self.error: str | None = None  # the last failed write, if any
        self._bytes: float | None = None  # the folder's size as last listed, plus what was written since
        self._pruned_before = False

    def path(self, digest: str) -> Path:
        """Where the features of the image with hash ``digest`` are (or would be) kept."""
        return self.folder / self._model_hash()[:16] / f"{digest}.npy"

    def has(self, digest: str) -> bool:
        """Whether an entry (features and description) exists for ``digest``; not yet checked."""
        path = self.path(digest)
        return path.exists() and path.with_suffix(".json").exists()

    def load(self, digest: str, original_size: tuple[int, int], input_size: tuple[int, int],
             feature_shape: tuple[int, ...] | None) -> np.ndarray | None:
        """The cached features of an image of ``original_size`` encoded at ``input_size``, or None when
        there are none or the entry does not match (unreadable, wrong shape, dtype or sizes,
        non-finite); a use refreshes the entry's age."""
        path = self.path(digest)
        if not path.exists():
            return None
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            if (not isinstance(meta, dict) or meta.get("version") != CACHE_VERSION
                    or meta.get("model_sha256") != self._model_hash()):
                return None
            if list(meta.get("original_size", ())) != list(original_size) or list(meta.get("input_size", ())) != list(input_size):
                return None  # written for another image (or forged): a click would be mapped wrongly
            arr = np.load(path, allow_pickle=False)
            if arr.dtype != np.float32 or arr.shape != tuple(meta["shape"]) or not np.isfinite(arr).all():
                return None
            if feature_shape is not None and arr.shape != feature_shape:
                return None
        except (OSError, ValueError, KeyError, TypeError, EOFError, AttributeError):
            return None  # a damaged cache entry is simply recomputed (and overwritten)
        try:
            os.utime(path)  # a use: the size limit removes the embeddings used longest ago first
        except OSError:
            pass
        return arr

    def save(self, digest: str, features: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int]) -> None:
        """Write one entry (atomically, features then description), then keep the folder under its limit."""
        path = self.path(digest)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda f: np.save(f, features, allow_pickle=False), overwrite=True)
            meta = {"version": CACHE_VERSION, "model": self.model_name, "model_sha256": self._model_hash(),
                    "image_hash": digest, "shape": list(features.shape), "input_size": list(input_size),
                    "original_size": list(original_size), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            atomic_write(path.with_suffix(".json"), lambda f: f.write(json.dumps(meta, indent=1).encode()), overwrite=True)
        except OSError as e:
            self.error = f"could not write the embedding cache in {path.parent} ({e.strerror or e})"
            self.notify(f"{self.error}; embeddings are kept in memory only")
            return
        self._prune(keep=path, added=path.stat().st_size if path.exists() else 0)

    def _prune(self, keep: Path, added: int) -> None:
        """Remove the embeddings used longest ago (oldest modification time: written or loaded)
        until the folder is under ``limit_gb``, never ``keep``. Only files this cache writes
        (``<16 hex>/<32 hex>.npy`` and its ``.json``) are looked at; anything else stays. The
        folder is listed on the first write and then only when the running total (plus what was
        written since) passes the limit, so a write costs no listing."""
        limit = self.limit_gb * 1e9
        if self._bytes is not None:
            self._bytes += added
            if self._bytes <= limit:
                return
        entries = []
        try:
            for npy in self.folder.glob("*/*.npy"):
                if _HEX16.fullmatch(npy.parent.name) and _HEX32.fullmatch(npy.stem):
                    side = npy.with_suffix(".json")
                    st = npy.stat()
                    entries.append((st.st_mtime, npy, side, st.st_size + (side.stat().st_size if side.exists() else 0)))
        except OSError:
            return  # a file removed meanwhile (another session): prune on the next write
        total = sum(e[3] for e in entries)
        removed = 0
        for _, npy, side, size in sorted(entries, key=lambda e: e[0]):
            if total <= limit:
                break
            if npy == keep:
                continue
            try:
                npy.unlink()
                side.unlink(missing_ok=True)
            except OSError:
                continue
            total -= size
            removed += 1
        self._bytes = total
        if removed and not self._pruned_before:
            self._pruned_before = True
            self.notify(f"the embedding cache in {self.folder} reached its limit of {self.limit_gb:g} GB: "
                        f"removed {removed} embedding(s) used longest ago (their images are encoded again when "
                        f"reopened). Set ${ENV_CACHE_LIMIT} to keep more.")

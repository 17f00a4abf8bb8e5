"""What the widgets remember between sessions, in one small JSON file under the user config folder.

``$NAPARI_SEGSUITE_CONFIG`` (a folder) overrides where it lives. A damaged file is set aside
(``settings.json.damaged``) and the defaults are used: a settings file never stops the plugin.
Only plain values are kept (text, numbers, booleans), under keys such as ``"sam.device"``.
:func:`remember` returns at once: the file is written in a background thread (a write syncs to
disk, which can take tens of milliseconds, too long for the UI thread), one write for a burst of
changes; :func:`flush` waits for it.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["ENV_CONFIG", "flush", "get", "remember", "settings_path"]

ENV_CONFIG = "NAPARI_SEGSUITE_CONFIG"
_cache: dict[str, Any] | None = None
_cache_path: Path | None = None
_lock = threading.Lock()
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segsuite-settings")  # joined at exit: nothing is lost
_pending: Future | None = None


def settings_path() -> Path:
    """The settings file: ``$NAPARI_SEGSUITE_CONFIG/settings.json`` or the user config folder's."""
    folder = os.environ.get(ENV_CONFIG)
    if not folder:
        from platformdirs import user_config_dir

        folder = user_config_dir("napari-segsuite")
    return Path(folder) / "settings.json"


def _load() -> dict[str, Any]:
    global _cache, _cache_path
    path = settings_path()
    if _cache is not None and _cache_path == path:
        return _cache
    data: dict[str, Any] = {}
    if path.is_file():
        from ..io.limits import read_json

        try:
            loaded = read_json(path, "settings file")
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: the settings file is not a JSON object")
            data = {str(k): v for k, v in loaded.items() if isinstance(v, (str, int, float, bool))}
        except ValueError as e:
            warnings.warn(f"{e}; it was set aside as {path.name}.damaged and the defaults are used", stacklevel=2)
            try:
                path.replace(path.with_name(path.name + ".damaged"))
            except OSError:
                pass
    _cache, _cache_path = data, path
    return data


def get(key: str, default: Any = None) -> Any:
    """The remembered value of ``key``, or ``default``."""
    return _load().get(key, default)


def remember(key: str, value: Any) -> None:
    """Keep ``value`` (text, a number or a boolean) under ``key`` for later sessions. A failed write
    (read-only config folder) is ignored: settings are a convenience, never a reason to fail."""
    if not isinstance(value, (str, int, float, bool)):
        value = str(value)
    data = _load()
    if data.get(key) == value:
        return
    global _pending
    with _lock:
        data[key] = value
        if _pending is None or _pending.done():
            _pending = _writer.submit(_write, settings_path(), data)


def _write(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` (the values remembered for ``path``) as it is now; later changes queue the
    next write."""
    global _pending
    with _lock:
        text = json.dumps(data, indent=1, sort_keys=True).encode()
        _pending = None
    try:
        from ..io.atomic import atomic_write

        atomic_write(path, lambda f: f.write(text), overwrite=True)
    except OSError:
        pass


def flush() -> None:
    """Wait until every remembered value is on disk."""
    _writer.submit(lambda: None).result()

"""Atomic file writes: a temporary file in the same folder, then a rename (or a no-replace link).

The temporary file is created with mode 0666 through ``os.open``, so the kernel applies the user's
umask exactly as for a plain ``open()``: a lab whose umask is 022 can read what the plugin wrote.
Its name is short (``.segsuite.<pid>.<random>.tmp``) whatever the target's length, and carries the
writer's process id so that :func:`remove_stale_temporaries` can remove those a killed process
left behind without touching a live writer's.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "remove_stale_temporaries"]

PREFIX = ".segsuite."
_OURS = re.compile(r"\.segsuite\.(\d+)\.[0-9a-f]{8}\.tmp")
_LEGACY = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")  # tempfile.mkstemp names of earlier versions
STALE_SECONDS = 3600.0  # a temporary file this old is nobody's work in progress
LEGACY_STALE_SECONDS = 60.0


def _temporary(folder: Path) -> tuple[int, Path]:
    while True:
        tmp = folder / f"{PREFIX}{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


def _place_no_replace(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist, atomically (a hard link fails when
    the name is taken, so two writers cannot both believe they wrote ``path``)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} already exists (another process wrote it meanwhile?); "
                              f"pass overwrite=True (CLI: --overwrite) to replace it") from None
    except OSError as e:  # no hard links on this file system (FAT, some network shares)
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if path.exists():
            raise FileExistsError(f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it") from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None], *, overwrite: bool = False) -> Path:
    """Write a file through ``write(fileobj)`` so that it appears whole or not at all.

    Parameters
    ----------
    path : path-like
        The file to write; its folder is created if needed.
    write : callable
        ``write(fileobj)`` writes the content into a binary file object.
    overwrite : bool
        Replace an existing file. Without it an existing file (even one another process writes at
        the same moment) raises ``FileExistsError`` and is left as it is.

    Returns
    -------
    Path
        ``path``, holding exactly what ``write`` wrote, with the permissions a plain ``open()``
        would give it under the user's umask.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary(path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _place_no_replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process (PermissionError): assume it is alive
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Remove the temporary files that writers killed mid-write left in ``folder``.

    A file of ours goes when the process that created it is gone (or after an hour); a temporary
    name of earlier versions (no process id in it) goes once it is a minute old. Returns how many
    were removed; errors are ignored (a file another process removed meanwhile, a read-only folder).
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if not name.endswith(".tmp") or not name.startswith("."):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            ours = _OURS.fullmatch(name)
            if ours:
                stale = not _alive(int(ours.group(1))) or age > STALE_SECONDS
            else:  # an earlier version's writer: no process id to ask, so by age alone
                stale = bool(_LEGACY.fullmatch(name)) and age > LEGACY_STALE_SECONDS
            if stale:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed

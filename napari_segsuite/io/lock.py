"""One writer per output folder: an advisory lock that a killed process releases by dying."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "output_lock"]

LOCK_NAME = ".napari-segsuite.lock"


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of ``folder`` for the duration of the block, or raise ``ValueError`` naming the
    process that holds it. The lock file holds that process id and is removed on exit. Where the
    system has no ``fcntl`` (Windows) the block runs unlocked: writes still never replace a file
    another process wrote (:func:`~napari_segsuite.io.atomic.atomic_write`)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(folder) / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ValueError(f"another napari-segsuite run (process {holder}) is writing into {folder}: wait for it to "
                             f"finish or choose another output folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and our lock: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)

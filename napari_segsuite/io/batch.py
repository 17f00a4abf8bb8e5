"""Headless batch runs: one processing function over many image files, resumable, in parallel.

``run_files(process, files, out_dir)`` reads each file, calls ``process(image, channel_axis)`` ->
``(labels, what, notes)`` and writes the mask atomically. Outputs that exist are skipped unless
``overwrite`` (so an interrupted run resumes), and a file that fails is reported while the others go
on. The work runs:

* in this process (``workers=1``);
* on dask's local process scheduler (``workers=N``), each worker process limited to one thread for
  numba, BLAS and torch, so that N workers use N cores rather than fighting over them;
* on a dask.distributed cluster (``scheduler="tcp://host:8786"``; needs the ``distributed`` package).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .atomic import remove_stale_temporaries
from .lock import output_lock
from .masks import guess_channel_axis

__all__ = ["IMAGE_SUFFIXES", "Outcome", "expand_inputs", "process_one", "run_distributed", "run_files"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".npy", ".webp"}
Process = Callable[[Any, "int | None"], tuple[Any, str, list[str]]]


@dataclass(frozen=True)
class Outcome:
    """What happened to one input file."""

    source: str
    target: str
    status: Literal["written", "skipped", "failed"]
    message: str = ""
    seconds: float = 0.0


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files from files, folders (their images, sorted) and glob patterns (``**`` recurses, following
    links to folders but never around a loop), in the order given, each real file once (a file
    reached through two links is listed by its first path). A path that does not exist is kept, to
    be reported as failed."""
    files: list[Path] = []
    for item in inputs:
        text = str(item)
        if any(c in text for c in "*?[") and not Path(text).exists():
            files.extend(p for p in _glob(text) if p.suffix.lower() in IMAGE_SUFFIXES)
        elif Path(text).is_dir():
            files.extend(sorted(p for p in Path(text).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            files.append(Path(text))
    seen: set[Any] = set()
    unique = []
    for p in files:
        try:
            st = p.stat()
            key: Any = (st.st_dev, st.st_ino)
        except OSError:
            key = p
        if key not in seen:
            seen.add(key)
            unique.append(p)
    if not unique:
        raise ValueError(f"no images found in {[str(i) for i in inputs]} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return unique


def _glob(pattern: str) -> list[Path]:
    """The files matching ``pattern`` (``*``, ``?``, ``[...]`` within a name, ``**`` for any number of
    folders), sorted. Unlike :func:`glob.glob`, a folder reached again through a link (a loop, or two
    links to one folder) is walked once, so a link loop neither hangs nor repeats files."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    base = Path(*parts[:fixed]) if fixed else Path(".")
    rest = parts[fixed:]
    found: list[Path] = []
    visited: set[tuple[int, int]] = set()

    def walk(folder: Path, rest: tuple[str, ...]) -> None:
        if not rest:
            return
        try:
            st = folder.stat()
        except OSError:
            return
        if (st.st_dev, st.st_ino, rest) in visited:
            return
        visited.add((st.st_dev, st.st_ino, rest))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        head, tail = rest[0], rest[1:]
        if head == "**":
            walk(folder, tail)  # zero folders
            for e in entries:
                if _is_dir(e) and not e.name.startswith("."):
                    walk(Path(e.path), rest)
            return
        for e in entries:
            if not fnmatch.fnmatchcase(e.name, head) or (e.name.startswith(".") and not head.startswith(".")):
                continue
            if not tail:
                if _is_file(e):
                    found.append(Path(e.path))
            elif _is_dir(e):
                walk(Path(e.path), tail)

    walk(base, rest)
    return sorted(set(found))


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def channel_axis_for(option: str | int | None, shape: tuple[int, ...]) -> int | None:
    """``"auto"`` (RGB(A) when the last axis has 3 or 4 entries), ``"none"``, or an axis number."""
    if option in ("auto", None):
        return guess_channel_axis(shape) if option == "auto" else None
    if option == "none":
        return None
    try:
        return int(option)
    except ValueError:
        raise ValueError(f"channel axis must be 'auto', 'none' or an integer, got {option!r}") from None


def process_one(process: Process, source: str, target: str, channel_axis: str | int | None = "auto",
                overwrite: bool = False, lazy: bool = False) -> Outcome:
    """Read ``source`` (memory-mapped when ``lazy`` and the format allows), process it, write
    ``target``; every expected failure becomes an Outcome."""
    from . import open_image_lazy, read_image_with_notes, write_labels

    t0 = time.perf_counter()
    try:
        image, read_notes = (open_image_lazy(source), []) if lazy else read_image_with_notes(source)
        labels, what, notes = process(image, channel_axis_for(channel_axis, image.shape))
        write_labels(target, labels, overwrite=overwrite)
    except Exception as e:  # one file's failure, whatever it is, is that file's outcome: the batch goes on
        return Outcome(source, target, "failed", str(e) if str(e) else type(e).__name__, time.perf_counter() - t0)
    message = what + "".join(f"; note: {n}" for n in [*read_notes, *notes])
    return Outcome(source, target, "written", message, time.perf_counter() - t0)


def _one_thread_per_worker(parent: int | None = None) -> None:
    """Worker-process initialiser: one thread each for numba, BLAS/OpenMP and torch, and a watch that
    ends this worker when ``parent`` (the process that started it) is gone.

    ``NUMBA_NUM_THREADS`` is set only while numba is not yet imported (a spawned worker): in a forked
    worker numba's configuration came from the parent, and changing the variable there makes the
    next compilation fail ("Cannot set NUMBA_NUM_THREADS to a different value once the threads have
    been launched"); ``numba.set_num_threads(1)`` limits it instead.
    """
    import sys

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = "1"
    try:
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError):  # pragma: no cover - numba is a dependency
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/scikit-image
        pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if parent is not None:
        _die_with(parent)


def _die_with(parent: int, every: float = 0.5) -> None:
    """End this process (at once, as a kill would) soon after process ``parent`` is gone, so that a
    killed ``run`` leaves no worker behind writing outputs."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="segsuite-parent-watch", daemon=True).start()


def run_files(
    process: Process,
    files: Sequence[Path],
    out_dir: str | os.PathLike,
    *,
    fmt: str = "png",
    overwrite: bool = False,
    channel_axis: str | int | None = "auto",
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[Outcome, int, int], None] | None = None,
    lazy: bool = False,
) -> list[Outcome]:
    """Process ``files`` into ``out_dir/<stem>.<fmt>``; returns one :class:`Outcome` per file, in
    order. ``progress(outcome, done, total)`` is called as each file finishes (in completion order).
    ``lazy`` memory-maps NPY and uncompressed TIFF inputs (for tiled runs over huge images)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder {out} ({e.strerror or e}): choose another output folder") from e
    if not os.access(out, os.W_OK):
        raise ValueError(f"the output folder {out} is not writable: choose another output folder")
    remove_stale_temporaries(out)
    with output_lock(out):
        return _run_files(process, files, out, fmt, overwrite, channel_axis, workers, scheduler, progress, lazy)


def _run_files(process, files, out, fmt, overwrite, channel_axis, workers, scheduler, progress, lazy) -> list[Outcome]:
    targets = [out / f"{Path(f).stem}.{fmt}" for f in files]
    clashes = sorted(str(t) for t, n in Counter(targets).items() if n > 1)
    if clashes:
        raise ValueError(f"several inputs would write the same output {clashes[0]}: inputs need distinct file names")
    outcomes: dict[int, Outcome] = {}
    total = len(files)

    def finished(i: int, outcome: Outcome) -> None:
        outcomes[i] = outcome
        if progress is not None:
            progress(outcome, len(outcomes), total)

    todo = []
    for i, (src, dst) in enumerate(zip(files, targets)):
        if dst.exists() and not overwrite:
            finished(i, Outcome(str(src), str(dst), "skipped", f"{dst} exists (--overwrite replaces it)"))
        else:
            todo.append(i)
    args = [(process, str(files[i]), str(targets[i]), channel_axis, overwrite, lazy) for i in todo]
    if scheduler and todo:
        run_distributed(scheduler, todo, args, finished)
    elif workers > 1 and len(todo) > 1:
        _run_local_processes(min(workers, len(todo)), todo, args, finished)
    else:
        for i, a in zip(todo, args):
            finished(i, process_one(*a))
    return [outcomes[i] for i in range(total)]


def _run_local_processes(workers: int, todo: list[int], args: list[tuple], finished) -> None:
    """dask's process scheduler on a pool of single-threaded workers; results as they complete."""
    import multiprocessing

    import dask
    from dask.callbacks import Callback

    tasks = [dask.delayed(process_one, pure=False)(*a, dask_key_name=f"file-{i}") for i, a in zip(todo, args)]

    class Report(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            if isinstance(key, str) and key.startswith("file-"):
                finished(int(key[5:]), result)

    context = multiprocessing.get_context(_start_method())
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread_per_worker,
                             initargs=(os.getpid(),)) as pool, Report():
        dask.compute(*tasks, scheduler="processes", pool=pool, num_workers=workers)


def _start_method() -> str:
    """``fork`` (workers start in milliseconds with everything imported) when this process holds
    no Qt application, no CUDA context and no thread pool of numba's; otherwise ``spawn``."""
    import sys
    import threading

    if sys.platform != "linux" or threading.active_count() > 1:
        return "spawn"
    if "qtpy" in sys.modules or "PyQt5" in sys.modules or "PyQt6" in sys.modules:
        return "spawn"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "spawn"
    return "fork"


def run_distributed(address: str, todo: list[int], args: list[tuple], finished, func: Callable = process_one) -> None:
    """Run ``func(*a)`` for each tuple ``a`` of ``args`` on a dask.distributed cluster.

    Parameters
    ----------
    address : str
        The scheduler's address (``tcp://host:8786``).
    todo : list of int
        The index of each call (the caller's numbering of its files), one per tuple of ``args``.
    args : list of tuple
        The arguments of each call.
    finished : callable
        ``finished(index, result)`` is called on this process as each call completes, in
        completion order.
    func : callable
        What each worker runs (default :func:`process_one`).

    Raises
    ------
    RuntimeError
        When dask.distributed is not installed or the scheduler cannot be reached.
    """
    from ..extras import require

    require("distributed")
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout="5s")
    except OSError as e:
        raise RuntimeError(f"cannot reach the dask scheduler at {address}: {e}") from e
    try:
        futures = {client.submit(func, *a, key=f"segsuite-file-{i}-{time.time_ns()}", pure=False): i
                   for i, a in zip(todo, args)}
        for future in as_completed(futures):
            finished(futures[future], future.result())
    finally:
        client.close()

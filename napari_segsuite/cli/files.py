"""The loop over input files that ``run``, ``predict`` and ``embed`` share: outputs written or
skipped, failures reported one line each, a progress bar on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["progress_bar", "with_progress_bar", "worker_count", "write_each"]


def write_each(args: argparse.Namespace, process, summary: str = "", *, parallel: bool = True) -> int:
    """Apply ``process(image, channel_axis) -> (labels, what, notes)`` to every input (files, folders,
    globs) through :func:`napari_segsuite.io.batch.run_files`, with a progress bar; existing outputs are
    skipped unless --overwrite; a failing file is reported and the others go on. Exit code 1 when any
    file failed."""
    from ..io.batch import expand_inputs, run_files

    files = expand_inputs(args.inputs)
    workers = worker_count(getattr(args, "workers", "1"), len(files)) if parallel else 1
    scheduler = getattr(args, "scheduler", None) if parallel else None

    def line(outcome):
        if outcome.status == "skipped":
            return f": {outcome.message}, skipped"
        return f" -> {outcome.target} ({outcome.message})"

    t0 = time.perf_counter()
    outcomes = with_progress_bar(len(files), line, lambda report: run_files(
        process, files, args.output, fmt=args.format, overwrite=args.overwrite, channel_axis=args.channel_axis,
        workers=workers, scheduler=scheduler, progress=report, lazy=bool(getattr(args, "tile", None))))
    counts = {s: sum(o.status == s for o in outcomes) for s in ("written", "skipped", "failed")}
    where = f"on {scheduler}" if scheduler else f"{workers} worker{'s' * (workers > 1)}"
    print(f"{counts['written']} written, {counts['skipped']} skipped, {counts['failed']} failed "
          f"in {time.perf_counter() - t0:.1f} s ({where}){summary}")
    return 1 if counts["failed"] else 0


def worker_count(option: str, n_files: int) -> int:
    """The number of worker processes for ``--workers`` (checked when the options were parsed)."""
    if str(option) == "auto":
        return max(1, min(os.cpu_count() or 1, n_files))
    return int(option)


def with_progress_bar(total: int, line, run):
    """``run(report)`` under a progress bar; ``report(outcome, done, total)`` writes ``[done/total]
    source`` + ``line(outcome)`` above it (failures on stderr, as ``: FAILED: message``)."""
    bar = progress_bar(total)

    def report(outcome, done, total):
        failed = outcome.status == "failed"
        text = f": FAILED: {outcome.message}" if failed else line(outcome)
        bar.write(f"[{done}/{total}] {outcome.source}{text}", file=sys.stderr if failed else None)
        bar.update(1)

    try:
        return run(report)
    finally:
        bar.close()


def progress_bar(total: int):
    """A tqdm bar on stderr (messages above it), or plain lines where tqdm is missing."""
    try:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: worker processes can then be forked
        return tqdm(total=total, unit="image", file=sys.stderr, disable=None, dynamic_ncols=True)
    except ImportError:  # pragma: no cover - tqdm is a dependency
        class Plain:
            def write(self, text, file=None):
                print(text, file=file or sys.stdout)

            def update(self, n):
                pass

            def close(self):
                pass

        return Plain()

"""The ``napari-segsuite`` command: ``gui`` (default), ``techniques``, ``run``, ``evaluate``, ``train``,
``predict``, ``embed``, ``propagate``, ``models``, ``benchmark-clicks``.

The options are declared in :mod:`.parser`; the classical commands live in :mod:`.classical`, the
SAM and learning ones in :mod:`.learned` (propagation through a stack in :mod:`.propagation`), and the file loop with its progress bar they share in
:mod:`.files`.

Examples::

    napari-segsuite                                  # napari with a sample image and the widgets
    napari-segsuite gui photo.png                    # ... on your images
    napari-segsuite techniques --json                # the catalog, machine-readable
    napari-segsuite techniques --markdown            # the README's technique table
    napari-segsuite run threshold.adaptive imgs/ -o masks/ --param method=sauvola --param block_size=31
    napari-segsuite run my_preset.json imgs/*.tif -o masks/ --format tif
    napari-segsuite evaluate masks/ groundtruth/ --kind all --json
    napari-segsuite train dsb2018/ -o nuclei.json --task instance --minutes 5
    napari-segsuite predict nuclei.json new_images/ -o masks/
    napari-segsuite run graph.felzenszwalb 'photos/**/*.jpg' -o masks/ --workers auto
    napari-segsuite embed images/ --model vit_b             # SAM embeddings into the cache
    napari-segsuite propagate stack.tif --labels slice12.tif --slice 12 -o stack_labels.tif
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .classical import evaluate, markdown_table, run, techniques
from .learned import benchmark_clicks, embed, models, predict, train
from .parser import make_parser
from .propagation import propagate

__all__ = ["build_viewer", "main", "markdown_table"]

# the commands that take the parsed options as they are ("gui" and "techniques" take some of them)
COMMANDS = {"run": run, "evaluate": evaluate, "models": models, "benchmark-clicks": benchmark_clicks, "embed": embed,
            "propagate": propagate, "train": train, "predict": predict}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = make_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    command = args.command or "gui"
    try:
        if command == "gui":
            return gui(getattr(args, "images", []), getattr(args, "sample", "cells"))
        if command == "techniques":
            return techniques(args.json, args.family, args.markdown)
        return COMMANDS[command](args)
    except BrokenPipeError:  # `napari-segsuite techniques | head`: the reader has gone, which is no error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as e:  # an optional extra (torch for SAM and training) is not installed
        from ..extras import explain

        hint = explain(e.name or "", "learn" if command in ("train", "predict") else "sam")
        if hint is None:
            raise
        print(f"napari-segsuite: error: {command}: {hint}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, FileNotFoundError, RuntimeError) as e:
        print(f"napari-segsuite: error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2


def build_viewer(viewer: Any, images: Sequence[str] = (), sample: str = "cells") -> Any:
    """Open ``images`` (or a sample) in ``viewer`` and dock the SegSuite widget (every tool behind
    one picker, Thresholding shown); returns it."""
    if images:
        for path in images:
            viewer.open(path)
    else:
        viewer.open_sample("napari-segsuite", sample)
    _, suite = viewer.window.add_plugin_dock_widget("napari-segsuite", "SegSuite")
    return suite


def gui(images: Sequence[str], sample: str) -> int:
    for path in images:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file")
    import napari

    viewer = napari.Viewer(title="napari-segsuite")
    build_viewer(viewer, images, sample)  # the SegSuite dock warms the numba kernels up in the background
    napari.run()
    return 0

"""``napari-segsuite propagate``: objects labelled on one slice of a stack, carried through it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

__all__ = ["propagate"]


def propagate(args: argparse.Namespace) -> int:
    """Propagate every object of slice ``--slice`` of ``--labels`` through the stack and write the
    labels stack to ``--output`` (the objects already in a 3D ``--labels`` are kept, the propagated
    ones replaced on the side(s) propagated)."""
    from ..io import read_image
    from ..io.masks import write_labels
    from ..sam import ClassicalSession
    from ..sam.propagate import merge_into
    from ..sam.propagate import propagate as run
    from ..techniques import guess_channel_axis

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} exists: pass --overwrite to replace it")
    stack = read_image(args.stack)
    axis = guess_channel_axis(stack.shape)
    channels = stack.ndim - (axis is not None)
    if channels != 3:
        raise ValueError(f"{args.stack}: propagation needs a stack of 2D slices (z or t first); this image has "
                         f"{channels} spatial axes, shape {stack.shape}")
    if axis is not None and axis != stack.ndim - 1:
        stack = np.moveaxis(stack, axis, -1)
    spatial = stack.shape[:3]
    if args.slice >= spatial[0]:
        raise ValueError(f"--slice {args.slice} is outside the stack (0 to {spatial[0] - 1})")
    labels = read_image(args.labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{args.labels}: labels must be integers, this file holds {labels.dtype}")
    if labels.shape == spatial:
        start_labels, base = labels[args.slice], labels
    elif labels.shape == spatial[1:]:
        start_labels, base = labels, np.zeros(spatial, labels.dtype)
        base[args.slice] = labels
    else:
        raise ValueError(f"{args.labels}: labels of shape {labels.shape} fit neither the stack {spatial} nor one of "
                         f"its slices {spatial[1:]}")
    if args.model == "classical":
        session = ClassicalSession()
    else:
        from ..sam import open_session

        session = open_session(args.model, args.checkpoint, device=args.device)
    t0 = time.perf_counter()
    result = run(session, stack, args.slice, start_labels, direction=args.direction,
                 channel_axis=-1 if stack.ndim == 4 else None, min_overlap=args.min_overlap,
                 min_score=args.min_score, regrowth=not args.no_regrowth)
    merged = merge_into(base, result, args.direction,
                        overwrite=args.overwrite_labels)
    write_labels(out, merged, overwrite=args.overwrite)
    for i, (first, last) in sorted(result.extent.items()):
        ends = "; ".join(f"{'below' if d < 0 else 'above'}: {why}" for d, why in sorted(result.stopped[i].items()))
        print(f"object {i}: slices {first}-{last} ({ends})")
    print(f"{len(result.extent)} object(s) propagated with {session.describe()} in {time.perf_counter() - t0:.1f} s "
          f"-> {out}")
    return 0

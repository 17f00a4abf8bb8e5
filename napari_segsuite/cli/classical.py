"""The classical commands: ``techniques`` (the catalog), ``run`` (a technique or preset over
files) and ``evaluate`` (scores against ground truth)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from .files import write_each

__all__ = ["evaluate", "markdown_table", "run", "techniques"]


def markdown_table(techs: Sequence[Any]) -> str:
    """The technique table of the README."""
    lines = ["| technique | family | output | parameters |", "|---|---|---|---|"]
    for t in techs:
        params = [
            f"`{i.name}` from a {' / '.join(i.layers)} layer{'' if i.required else ' (optional)'}" for i in t.inputs
        ]
        for p in t.params:
            if p.choices is not None:
                params.append(f"`{p.name}` ({' / '.join(map(str, p.choices))})")
            elif p.range is not None and p.range.min is not None and p.range.max is not None:
                params.append(f"`{p.name}` {p.range.min:g}..{p.range.max:g}")
            else:
                params.append(f"`{p.name}`")
        d = t.to_dict()
        output = f"{d['output']} ({d['label_kind']})" if d["output"] == "labels" else d["output"]
        lines.append(f"| `{t.name}`, `{t.func.__name__}()` — {t.summary} | {t.family} | {output} | {', '.join(params)} |")
    return "\n".join(lines)


def techniques(as_json: bool, family: str | None, markdown: bool = False) -> int:
    from ..techniques import CATALOG

    techs = [t for t in CATALOG.values() if family is None or t.family.lower() == family.lower()]
    if family is not None and not techs:
        raise ValueError(f"no family {family!r}; families: {sorted({t.family for t in CATALOG.values()})}")
    if as_json:
        print(json.dumps([t.to_dict() for t in techs], indent=2))
        return 0
    if markdown:
        print(markdown_table(techs))
        return 0
    for t in techs:
        print(f"{t.name}  [{t.family}, {t.to_dict()['output']}]  {t.summary}")
        for p in t.params:
            d = p.to_dict()
            extra = f" choices={d['choices']}" if "choices" in d else f" range={d['range']}" if "range" in d else ""
            when = f" (when {p.when.param} in {list(p.when.values)})" if p.when else ""
            print(f"    {p.name}: {p.type.__name__} = {p.default!r}{extra}{when}")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..sam.pipeline import is_pipeline, parse_pipeline
    from ..techniques import get
    from ..techniques.chain import Chain
    from ..techniques.presets import parse_preset, read_preset_json

    post = ()
    if args.technique.endswith(".json"):
        data = read_preset_json(args.technique)  # read once: a catalog preset or a SAM one
        if is_pipeline(data):
            from .learned import run_sam_pipeline

            return run_sam_pipeline(args, parse_pipeline(data, source=args.technique))
        preset = parse_preset(data, source=args.technique)
        tech, params, post = preset.technique, dict(preset.params), preset.post
    else:
        tech, params = get(args.technique), {}
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        params[name] = tech.param(name.strip()).parse(text.strip(), tech.name)
    params = tech.validate_params(params)
    if tech.output_for(params) != "labels":
        raise ValueError(f"{tech.name} produces an image, not labels; 'run' writes label masks")
    if any(i.required for i in tech.inputs):
        raise ValueError(f"{tech.name} needs seeds from a layer; it runs in the app, not on files")
    chain = Chain([(tech, params), *post])
    if args.tile:
        from ..techniques.tiles import run_tiled

        chain.require_local()  # refuse before any file is read

        def process(image, channel_axis):
            t = time.perf_counter()
            labels = run_tiled(chain, image, channel_axis=channel_axis, tile=args.tile)
            return labels, f"{(time.perf_counter() - t) * 1000:.0f} ms in {args.tile}-pixel tiles", []

        return write_each(args, process)

    def process(image, channel_axis):
        result = chain.run(image, channel_axis=channel_axis)
        return result.data, f"{result.seconds * 1000:.0f} ms", result.notes

    return write_each(args, process)


def evaluate(args: argparse.Namespace) -> int:
    """``evaluate``: scores per image and their mean (a table that fits the terminal, or all of them
    with --csv / --json); BSDS ground truth runs the BSDS benchmark (see :mod:`.evaluate`)."""
    from ..metrics.evaluate import bsds_lines, evaluate_files, format_table
    from ..metrics.score import jsonable

    result = evaluate_files(args.pred, args.gt, kind=args.kind, ignore_index=args.ignore_index, binary=args.binary,
                            tolerance=args.tolerance,
                            failed=lambda name, message: print(f"{name}: FAILED: {message}", file=sys.stderr))
    if not result.rows:
        raise ValueError("no pair could be scored")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(jsonable({"kind": result.kind, "images": result.rows, "aggregate": result.aggregate,
                                   "bsds": result.bsds, "notes": result.notes}), indent=2))
    elif args.csv:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(result.rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.rows + [{"image": "mean", **result.aggregate}])
    else:
        if result.bsds is not None:
            print("\n".join(bsds_lines(result.bsds)))
        print(format_table(result))
    return 1 if result.failures else 0

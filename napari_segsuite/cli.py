"""The ``napari-segsuite`` command: ``gui`` (default), ``techniques``, ``run``, ``evaluate``.

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
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_viewer", "main"]

DEVICE_HELP = "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"


def _at_least(low: int):
    """An argparse type: an integer >= ``low``, refused at parse time with the option's name."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _workers_option(text: str) -> str:
    if text != "auto":
        _at_least(1)(text)
    return text


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="napari-segsuite", description="Interactive image segmentation for napari.")
    sub = ap.add_subparsers(dest="command")
    g = sub.add_parser("gui", help="open napari with the plugin's widgets docked (the default)")
    g.add_argument("images", nargs="*", help="images to open (default: a sample image)")
    g.add_argument("--sample", choices=["cells", "scene"], default="cells", help="sample to open when no image is given")
    t = sub.add_parser("techniques", help="list the technique catalog")
    t.add_argument("--json", action="store_true", help="print JSON instead of a table")
    t.add_argument("--markdown", action="store_true", help="print the README's markdown table")
    t.add_argument("--family", help="only this family")
    r = sub.add_parser("run", help="apply a technique or a preset to image files")
    r.add_argument("technique", help="catalog name (see 'techniques') or a preset .json file")
    r.add_argument("inputs", nargs="+", help="image files, folders or glob patterns (quote them: 'imgs/**/*.tif')")
    r.add_argument("-o", "--output", required=True, help="output folder for the label masks")
    r.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="set a parameter (repeatable)")
    r.add_argument("--format", choices=["png", "tif", "npy"], default="png", help="mask file format (default png)")
    r.add_argument("--channel-axis", default="auto", help="'auto' (RGB if the last axis has 3 or 4 entries), 'none', or an axis number")
    r.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")
    r.add_argument("--tile", type=_at_least(16), default=None, metavar="PIXELS",
                   help="process each image in overlapping tiles of this size (local techniques only; same result, "
                        "far less memory for very large images)")
    r.add_argument("--workers", type=_workers_option, default="1", help="parallel worker processes on this machine (dask), or 'auto' = one per core")
    r.add_argument("--scheduler", metavar="ADDRESS", help="send the work to a dask.distributed scheduler, e.g. tcp://host:8786")
    e = sub.add_parser("evaluate", help="score predicted label masks against ground truth")
    e.add_argument("pred", help="a predicted mask file, or a folder of them")
    e.add_argument("gt", help="a ground-truth file or folder (paired with predictions by file stem): PNG/TIFF/NPY, VOC "
                              "palette PNG, BSDS .mat, or one COCO instances JSON for all images")
    e.add_argument("--kind", choices=["auto", "semantic", "instance", "boundary", "all"], default="auto",
                   help="auto (default): instance metrics when the ground truth holds many object ids and no class "
                        "names, else semantic; semantic: class ids (confusion matrix); instance: object matching, F1, "
                        "AP, PQ; boundary: BF score; all: every one. BSDS .mat ground truth runs the BSDS benchmark")
    e.add_argument("--ignore-index", type=int, default=None, help="ground-truth label to ignore (VOC: 255)")
    e.add_argument("--binary", action="store_true", help="semantic/boundary on foreground vs background")
    e.add_argument("--tolerance", type=_non_negative_float, default=None, help="BF tolerance in pixels (default 0.75%% of the diagonal)")
    e.add_argument("--json", action="store_true", help="print JSON (per image and aggregate)")
    e.add_argument("--csv", action="store_true", help="print every metric as CSV (the terminal table shows the key ones)")
    b = sub.add_parser("benchmark-clicks", help="simulated clicks on a data set: mean IoU after k clicks, NoC@85/90")
    b.add_argument("dataset", help="a folder: images/ + labels/ (DSB2018), rgb/ + figure_ground/ (Weizmann), or COCO "
                                   "(annotations/*.json or a .json at the top, with its images)")
    b.add_argument("--backend", default="classical",
                   help="classical (GrabCut for boxes, seeded watershed for points) or a SAM model name, e.g. vit_b")
    b.add_argument("--checkpoint", help="a SAM checkpoint file (default: the downloaded official one)")
    b.add_argument("--device", default="auto", help=DEVICE_HELP)
    b.add_argument("--max-clicks", type=_at_least(1), default=20, help="clicks per object at most (default 20)")
    b.add_argument("--limit", type=_at_least(1), default=None, help="only the first N images")
    b.add_argument("--max-objects", type=_at_least(1), default=None, help="at most N objects per image (a fixed random draw)")
    b.add_argument("--min-area", type=_at_least(0), default=0, help="skip objects smaller than this many pixels")
    b.add_argument("--json", action="store_true", help="print JSON")
    tr = sub.add_parser("train", help="train a U-Net, SegNet or DeepLab on a folder of images with labels")
    tr.add_argument("dataset", help="a folder: images/ + labels/ (same stems), rgb/ + figure_ground/, or COCO")
    tr.add_argument("-o", "--output", required=True, help="model file to write (NAME.json, with NAME.pt beside it)")
    tr.add_argument("--architecture", choices=["unet", "segnet", "deeplab"], default="unet")
    tr.add_argument("--task", choices=["semantic", "instance"], default="semantic",
                    help="semantic: the label values are classes; instance: objects separated by their boundaries")
    tr.add_argument("--foreground", action="store_true", help="semantic on labels > 0 (instance masks as object vs background)")
    tr.add_argument("--width", type=int, default=16, help="channels of the first level")
    tr.add_argument("--depth", type=int, default=3, help="down-sampling steps (U-Net, SegNet)")
    tr.add_argument("--backbone", choices=["small", "resnet50"], default="small", help="DeepLab backbone")
    recipe = "default: the recipe the dock and benchmarks/learn.py share (learn.train.TrainConfig)"
    tr.add_argument("--patch-size", type=int, default=None, help=recipe)
    tr.add_argument("--batch-size", type=int, default=None, help=recipe)
    tr.add_argument("--epochs", type=int, default=None, help=f"at most this many epochs; {recipe}")
    tr.add_argument("--steps-per-epoch", type=int, default=None, help=recipe)
    tr.add_argument("--lr", type=float, default=None, help=f"learning rate; {recipe}")
    tr.add_argument("--val-fraction", type=float, default=None, help=f"images held out for validation; {recipe}")
    tr.add_argument("--patience", type=int, default=None,
                    help=f"stop after this many epochs without a better validation score; {recipe}")
    tr.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    tr.add_argument("--limit", type=int, default=None, help="only the first N images")
    tr.add_argument("--device", default="auto", help=DEVICE_HELP)
    tr.add_argument("--overwrite", action="store_true")
    tr.add_argument("--register", action="store_true", help="also keep it in the learned-models folder as technique learn.NAME")
    pr = sub.add_parser("predict", help="apply a trained model to image files")
    pr.add_argument("model", help="a model saved by 'train' or the training dock (NAME.json)")
    pr.add_argument("inputs", nargs="+", help="image files or folders")
    pr.add_argument("-o", "--output", required=True, help="output folder for the label masks")
    pr.add_argument("--format", choices=["png", "tif", "npy"], default="png")
    pr.add_argument("--channel-axis", default="auto", help="'auto', 'none', or an axis number")
    pr.add_argument("--min-size", type=_at_least(0), default=None,
                    help="instance models: remove objects smaller than this (pixels; default: the model's, learnt "
                         "from its training objects)")
    pr.add_argument("--tile", type=_at_least(64), default=1024, help="tile side in pixels for large images (at least 64)")
    pr.add_argument("--device", default="auto", help=DEVICE_HELP)
    pr.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")
    em = sub.add_parser("embed", help="precompute SAM embeddings of images into the cache (reopening them skips the encoder)")
    em.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    em.add_argument("--model", default="vit_b", help="registry name: vit_b, vit_l, vit_h")
    em.add_argument("--checkpoint", help="a local checkpoint (default: the downloaded official one)")
    em.add_argument("--device", default="auto", help=DEVICE_HELP)
    em.add_argument("--cache", help="embedding cache folder (default: $NAPARI_SEGSUITE_EMBEDDINGS or the user cache); "
                                    "with --scheduler, one that every worker sees")
    em.add_argument("--scheduler", metavar="ADDRESS", help="spread the files over a dask.distributed cluster "
                                                          "(each worker loads the model once, on its own GPU)")
    m = sub.add_parser("models", help="SAM checkpoints: list, download, path")
    msub = m.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="the registry: name, size, downloaded or not")
    d = msub.add_parser("download", help="download checkpoints (hash-checked) into the models folder")
    d.add_argument("names", nargs="+", help="registry names, e.g. vit_b")
    p = msub.add_parser("path", help="print where a checkpoint is (or will be) stored")
    p.add_argument("name", nargs="?", help="a registry name (default: print the models folder)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    command = args.command or "gui"
    try:
        if command == "gui":
            return _gui(getattr(args, "images", []), getattr(args, "sample", "cells"))
        if command == "techniques":
            return _techniques(args.json, args.family, args.markdown)
        if command == "evaluate":
            return _evaluate(args)
        if command == "models":
            return _models(args)
        if command == "benchmark-clicks":
            return _benchmark_clicks(args)
        if command == "embed":
            return _embed(args)
        if command == "train":
            return _train(args)
        if command == "predict":
            return _predict(args)
        return _run(args)
    except BrokenPipeError:  # `napari-segsuite techniques | head`: the reader has gone, which is no error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as e:  # an optional extra (torch for SAM and training) is not installed
        from .extras import explain

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


def _gui(images: Sequence[str], sample: str) -> int:
    for path in images:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file")
    import napari

    viewer = napari.Viewer(title="napari-segsuite")
    build_viewer(viewer, images, sample)  # the SegSuite dock warms the numba kernels up in the background
    napari.run()
    return 0


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


def _techniques(as_json: bool, family: str | None, markdown: bool = False) -> int:
    from .techniques import CATALOG

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


def _run(args: argparse.Namespace) -> int:
    from .presets import parse_preset, read_preset_json
    from .sam.pipeline import is_pipeline, parse_pipeline
    from .techniques import get
    from .techniques.chain import Chain

    post = ()
    if args.technique.endswith(".json"):
        data = read_preset_json(args.technique)  # read once: a catalog preset or a SAM one
        if is_pipeline(data):
            return _run_sam_pipeline(args, parse_pipeline(data, source=args.technique))
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
        from .tiles import run_tiled

        chain.require_local()  # refuse before any file is read

        def process(image, channel_axis):
            t = time.perf_counter()
            labels = run_tiled(chain, image, channel_axis=channel_axis, tile=args.tile)
            return labels, f"{(time.perf_counter() - t) * 1000:.0f} ms in {args.tile}-pixel tiles", []

        return _write_each(args, process)

    def process(image, channel_axis):
        result = chain.run(image, channel_axis=channel_axis)
        return result.data, f"{result.seconds * 1000:.0f} ms", result.notes

    return _write_each(args, process)


def _write_each(args: argparse.Namespace, process, summary: str = "", *, parallel: bool = True) -> int:
    """Apply ``process(image, channel_axis) -> (labels, what, notes)`` to every input (files, folders,
    globs) through :func:`napari_segsuite.batch.run_files`, with a progress bar; existing outputs are
    skipped unless --overwrite; a failing file is reported and the others go on. Exit code 1 when any
    file failed."""
    from .batch import expand_inputs, run_files

    files = expand_inputs(args.inputs)
    workers = _workers(getattr(args, "workers", "1"), len(files)) if parallel else 1
    scheduler = getattr(args, "scheduler", None) if parallel else None

    def line(outcome):
        if outcome.status == "skipped":
            return f": {outcome.message}, skipped"
        return f" -> {outcome.target} ({outcome.message})"

    t0 = time.perf_counter()
    outcomes = _with_progress_bar(len(files), line, lambda report: run_files(
        process, files, args.output, fmt=args.format, overwrite=args.overwrite, channel_axis=args.channel_axis,
        workers=workers, scheduler=scheduler, progress=report, lazy=bool(getattr(args, "tile", None))))
    counts = {s: sum(o.status == s for o in outcomes) for s in ("written", "skipped", "failed")}
    where = f"on {scheduler}" if scheduler else f"{workers} worker{'s' * (workers > 1)}"
    print(f"{counts['written']} written, {counts['skipped']} skipped, {counts['failed']} failed "
          f"in {time.perf_counter() - t0:.1f} s ({where}){summary}")
    return 1 if counts["failed"] else 0


def _workers(option: str, n_files: int) -> int:
    """The number of worker processes for ``--workers`` (already checked by ``_workers_option``)."""
    if str(option) == "auto":
        return max(1, min(os.cpu_count() or 1, n_files))
    return int(option)


def _with_progress_bar(total: int, line, run):
    """``run(report)`` under a progress bar; ``report(outcome, done, total)`` writes ``[done/total]
    source`` + ``line(outcome)`` above it (failures on stderr, as ``: FAILED: message``)."""
    bar = _progress_bar(total)

    def report(outcome, done, total):
        failed = outcome.status == "failed"
        text = f": FAILED: {outcome.message}" if failed else line(outcome)
        bar.write(f"[{done}/{total}] {outcome.source}{text}", file=sys.stderr if failed else None)
        bar.update(1)

    try:
        return run(report)
    finally:
        bar.close()


def _progress_bar(total: int):
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


def _evaluate(args: argparse.Namespace) -> int:
    """``evaluate``: scores per image and their mean (a table that fits the terminal, or all of them
    with --csv / --json); BSDS ground truth runs the BSDS benchmark (see :mod:`.evaluate`)."""
    from .evaluate import bsds_lines, evaluate_files, format_table
    from .metrics.score import jsonable

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


def _models(args: argparse.Namespace) -> int:
    from .sam import registry

    if args.models_command == "list":
        print(f"models folder: {registry.models_dir()}  (set ${registry.ENV_DIR} to change it)")
        for name, spec in registry.REGISTRY.items():
            path = registry.checkpoint_path(name)
            state = "downloaded" if path.is_file() and path.stat().st_size == spec.size else "not downloaded"
            print(f"{name:7s} {spec.size / 1e6:8.0f} MB  {state:15s} {spec.description}")
        return 0
    if args.models_command == "path":
        print(registry.checkpoint_path(args.name) if args.name else registry.models_dir())
        return 0
    for name in args.names:
        print(f"{name}: {registry.download(name, progress=sys.stderr.isatty())}")
    return 0


def _benchmark_clicks(args: argparse.Namespace) -> int:
    import json

    from .io.datasets import iter_instance_dataset
    from .sam import ClassicalSession, SamSession
    from .sam.clicks import run_benchmark

    if args.backend == "classical":
        session = ClassicalSession()
    else:
        session = SamSession(args.backend, args.checkpoint, device=args.device)

    def progress(name: str, stats: dict) -> None:
        print(f"  {name}: {stats['objects']} objects so far", file=sys.stderr, flush=True)

    report, stats = run_benchmark(session, iter_instance_dataset(args.dataset, limit=args.limit), max_clicks=args.max_clicks,
                                  min_area=args.min_area, max_objects=args.max_objects, progress=progress)
    if not report.curves:
        raise ValueError(f"no object to click on in {args.dataset} (check --min-area)")
    ks = [k for k in (1, 2, 3, 5, 10, 20) if k <= args.max_clicks]
    result = {
        "dataset": str(args.dataset), "backend": session.describe(), "images": stats["images"], "objects": stats["objects"],
        "max_clicks": args.max_clicks, "noc85": report.noc(0.85), "noc90": report.noc(0.90),
        "failures85": report.failures(0.85), "failures90": report.failures(0.90),
        "miou": {k: report.miou(k) for k in ks}, "seconds_per_click": stats["seconds"] / max(stats["clicks"], 1),
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{result['backend']} on {args.dataset}: {stats['images']} images, {stats['objects']} objects, up to {args.max_clicks} clicks")
    print(f"NoC@85 {result['noc85']:.2f}  NoC@90 {result['noc90']:.2f}  (objects never reaching 85 % / 90 %: "
          f"{result['failures85']} / {result['failures90']})")
    print("mean IoU after k clicks: " + "  ".join(f"k={k}: {v:.3f}" for k, v in result["miou"].items()))
    print(f"{result['seconds_per_click'] * 1000:.0f} ms per click (prompting only)")
    return 0


def _run_sam_pipeline(args: argparse.Namespace, pipeline) -> int:
    """``run`` for a hybrid (SAM) preset: the model is loaded once for every file."""
    if args.param:
        raise ValueError("--param applies to catalog techniques; edit the SAM preset's options instead")
    if args.scheduler or args.workers not in ("1", 1):
        raise ValueError("a SAM preset runs in this process with its model loaded once: drop --workers / --scheduler "
                         "(precompute embeddings on a cluster with 'napari-segsuite embed')")
    session = pipeline.session()

    def process(image, channel_axis):
        labels, notes = pipeline.run(image, session, channel_axis=channel_axis)
        return labels, f"{int(labels.max())} objects", notes

    return _write_each(args, process, f" ({session.describe()})", parallel=False)  # one model, loaded once


def _embed(args: argparse.Namespace) -> int:
    """``embed``: SAM embeddings of every image (every slice of a stack) into the disk cache."""
    from .batch import expand_inputs
    from .sam.embed import embed_files

    files = expand_inputs(args.inputs)
    t0 = time.perf_counter()
    outcomes = _with_progress_bar(len(files), lambda outcome: f": {outcome.message}", lambda report: embed_files(
        files, model=args.model, checkpoint=args.checkpoint, device=args.device, cache_dir=args.cache,
        scheduler=args.scheduler, progress=report))
    failed = sum(o.status == "failed" for o in outcomes)
    caches = sorted({o.target for o in outcomes if o.target})
    print(f"{len(outcomes) - failed} embedded, {failed} failed in {time.perf_counter() - t0:.1f} s "
          f"(cache: {', '.join(caches) or args.cache or 'default'})")
    return 1 if failed else 0


def _train(args: argparse.Namespace) -> int:
    """``train``: read a data set folder, train, save (and optionally register) the model."""
    import numpy as np

    from .batch import channel_axis_for
    from .io.datasets import iter_instance_dataset
    from .learn import models, store, train
    from .learn.technique import keep_model

    out = Path(args.output).with_suffix(".json")
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} already exists; pass --overwrite to replace it")
    pairs, axes = [], set()
    for name, image, labels in iter_instance_dataset(args.dataset, limit=args.limit):
        axes.add(channel_axis_for("auto", image.shape))
        pairs.append((image[..., :3] if image.ndim == 3 else image, (labels > 0).astype(np.uint8) if args.foreground else labels))
    if len(axes) > 1:
        raise ValueError(f"{args.dataset} mixes gray and colour images: convert them to one kind first")
    if args.task == "semantic" and not args.foreground and len(np.unique(np.concatenate([np.unique(lab) for _, lab in pairs]))) > 64:
        raise ValueError("these labels hold more than 64 values (instance masks?): use --task instance, or --foreground")
    network = models.NetConfig(architecture=args.architecture, width=args.width, depth=args.depth, backbone=args.backbone)
    given = {"patch_size": args.patch_size, "batch_size": args.batch_size, "max_epochs": args.epochs,
             "steps_per_epoch": args.steps_per_epoch, "learning_rate": args.lr, "val_fraction": args.val_fraction,
             "patience": args.patience}
    config = train.TrainConfig(**{k: v for k, v in given.items() if v is not None}, max_minutes=args.minutes,
                               device=args.device)
    print(f"training a {args.architecture} ({args.task}) on {len(pairs)} images from {args.dataset}")

    def on_epoch(r: dict) -> None:
        f1 = f"  F1@0.5 {r['val_f1']:.4f}" if np.isfinite(r.get("val_f1", np.nan)) else ""
        print(f"epoch {r['epoch']:3d}  loss {r['loss']:.4f}  validation Dice {r['val_dice']:.4f}{f1}  "
              f"({r['seconds']:.1f} s with validation)", flush=True)

    model = train.train(pairs, network=network, config=config, task=args.task, channel_axis=axes.pop(),
                        name=out.stem, on_epoch=on_epoch)
    store.save_model(model, out, overwrite=args.overwrite)
    info = model.info
    f1 = "" if info.get("val_f1") is None else f", F1@0.5 {info['val_f1']:.4f}"
    print(f"saved {out} (+ {out.with_suffix('.pt').name}): best epoch {info['best_epoch']} (by {info['selected_by']}), "
          f"validation Dice {info['val_dice'] if info['val_dice'] is None else round(info['val_dice'], 4)}{f1}, stopped: {info['stopped']}, "
          f"{info['seconds']:.0f} s on {info['device']}")
    warning = train.convergence_warning(info)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if args.register:
        kept, tname = keep_model(model)
        print(f"registered as technique {tname} (in {kept.parent})")
    return 0


def _predict(args: argparse.Namespace) -> int:
    """``predict``: a saved model over files, through the catalog technique it registers."""
    from .device import resolve_device
    from .learn.store import load_model
    from .learn.technique import register_model

    resolve_device(args.device)  # cuda:7 on a one-GPU machine fails here, not once per file
    model = load_model(args.model)
    model.device = args.device
    tech = register_model(model)
    params = {"tile": args.tile} | ({"min_size": args.min_size}
                                    if model.config.task == "instance" and args.min_size is not None else {})
    params = tech.validate_params(params)

    def process(image, channel_axis):
        result = tech.run(image, channel_axis=channel_axis, **params)
        return result.data, f"{result.seconds * 1000:.0f} ms", result.notes

    return _write_each(args, process, f" (model {model.name}: {model.config.architecture}, {model.config.task})",
                       parallel=False)


if __name__ == "__main__":
    sys.exit(main())

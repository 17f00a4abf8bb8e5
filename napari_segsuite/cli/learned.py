"""The Segment Anything and learning commands: ``models`` (checkpoints), ``benchmark-clicks``,
``embed`` (precomputed embeddings), ``train`` and ``predict``, and ``run`` with a SAM preset."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .files import with_progress_bar, write_each

__all__ = ["benchmark_clicks", "embed", "models", "predict", "run_sam_pipeline", "train"]


def models(args: argparse.Namespace) -> int:
    from ..sam import registry

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


def benchmark_clicks(args: argparse.Namespace) -> int:
    import json

    from ..io.datasets import iter_instance_dataset
    from ..sam import ClassicalSession, open_session
    from ..sam.clicks import run_benchmark

    if args.backend == "classical":
        session = ClassicalSession()
    else:
        session = open_session(args.backend, args.checkpoint, device=args.device)

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


def run_sam_pipeline(args: argparse.Namespace, pipeline) -> int:
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

    return write_each(args, process, f" ({session.describe()})", parallel=False)  # one model, loaded once


def embed(args: argparse.Namespace) -> int:
    """``embed``: SAM embeddings of every image (every slice of a stack) into the disk cache."""
    from ..io.batch import expand_inputs
    from ..sam.embed import embed_files

    files = expand_inputs(args.inputs)
    t0 = time.perf_counter()
    outcomes = with_progress_bar(len(files), lambda outcome: f": {outcome.message}", lambda report: embed_files(
        files, model=args.model, checkpoint=args.checkpoint, device=args.device, cache_dir=args.cache,
        scheduler=args.scheduler, progress=report))
    failed = sum(o.status == "failed" for o in outcomes)
    caches = sorted({o.target for o in outcomes if o.target})
    print(f"{len(outcomes) - failed} embedded, {failed} failed in {time.perf_counter() - t0:.1f} s "
          f"(cache: {', '.join(caches) or args.cache or 'default'})")
    return 1 if failed else 0


def train(args: argparse.Namespace) -> int:
    """``train``: read a data set folder, train, save (and optionally register) the model."""
    import numpy as np

    from ..io.batch import channel_axis_for
    from ..io.datasets import iter_instance_dataset
    from ..learn import models, store, train
    from ..learn.technique import keep_model

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


def predict(args: argparse.Namespace) -> int:
    """``predict``: a saved model over files, through the catalog technique it registers."""
    from ..device import resolve_device
    from ..learn.store import load_model
    from ..learn.technique import register_model

    resolve_device(args.device)  # cuda:7 on a one-GPU machine fails here, not once per file
    model = load_model(args.model)
    model.device = args.device
    tech = register_model(model)
    params = {"tile": args.tile, "flips": not args.no_flips} | ({"min_size": args.min_size}
                                    if model.config.task == "instance" and args.min_size is not None else {})
    params = tech.validate_params(params)

    def process(image, channel_axis):
        result = tech.run(image, channel_axis=channel_axis, **params)
        return result.data, f"{result.seconds * 1000:.0f} ms", result.notes

    return write_each(args, process, f" (model {model.name}: {model.config.architecture}, {model.config.task})",
                       parallel=False)

"""The options of every ``napari-segsuite`` command, and the argument types that check them at
parse time (with the option's name in the message)."""

from __future__ import annotations

import argparse
import math

__all__ = ["DEVICE_HELP", "make_parser"]

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


def make_parser() -> argparse.ArgumentParser:
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
    pr.add_argument("--no-flips", action="store_true",
                    help="predict the image only, not also its mirror images (four times faster, a little less accurate)")
    pr.add_argument("--device", default="auto", help=DEVICE_HELP)
    pr.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")
    em = sub.add_parser("embed", help="precompute SAM embeddings of images into the cache (reopening them skips the encoder)")
    em.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    em.add_argument("--model", default="vit_b", help="registry name: vit_b, vit_l, vit_h, or SAM 2.1's sam2.1_t, "
                                                       "sam2.1_s, sam2.1_b+, sam2.1_l (the [sam2] extra)")
    em.add_argument("--checkpoint", help="a local checkpoint (default: the downloaded official one)")
    em.add_argument("--device", default="auto", help=DEVICE_HELP)
    em.add_argument("--cache", help="embedding cache folder (default: $NAPARI_SEGSUITE_EMBEDDINGS or the user cache); "
                                    "with --scheduler, one that every worker sees")
    em.add_argument("--scheduler", metavar="ADDRESS", help="spread the files over a dask.distributed cluster "
                                                          "(each worker loads the model once, on its own GPU)")
    pg = sub.add_parser("propagate", help="carry the objects labelled on one slice of a stack through the stack (z or t)")
    pg.add_argument("stack", help="an image stack: slices along the first axis (colour last, if any)")
    pg.add_argument("--labels", required=True, help="the objects: labels of the start slice, or a labels stack")
    pg.add_argument("--slice", type=_at_least(0), required=True, help="the slice the objects are labelled on")
    pg.add_argument("-o", "--output", required=True, help="the labels stack to write (.tif or .npy)")
    pg.add_argument("--model", default="classical", help="classical (no checkpoint), or a SAM registry name: vit_b, …, or "
                                                           "sam2.1_t, … (SAM 2 tracks with its memory of earlier slices)")
    pg.add_argument("--checkpoint", help="a local SAM checkpoint (default: the downloaded official one)")
    pg.add_argument("--device", default="auto", help=DEVICE_HELP)
    pg.add_argument("--direction", choices=["both", "forward", "backward"], default="both")
    pg.add_argument("--min-overlap", type=float, default=0.5,
                    help="stop an object where its mask overlaps the previous slice's by an IoU below this")
    pg.add_argument("--min-score", type=float, default=0.0, help="SAM: stop where the predicted IoU is below this")
    pg.add_argument("--no-regrowth", action="store_true",
                    help="do not stop objects that widen again after narrowing (a time-lapse whose objects grow)")
    pg.add_argument("--overwrite-labels", action="store_true", help="let propagated objects cover other objects")
    pg.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    m = sub.add_parser("models", help="SAM checkpoints: list, download, path")
    msub = m.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="the registry: name, size, downloaded or not")
    d = msub.add_parser("download", help="download checkpoints (hash-checked) into the models folder")
    d.add_argument("names", nargs="+", help="registry names, e.g. vit_b")
    p = msub.add_parser("path", help="print where a checkpoint is (or will be) stored")
    p.add_argument("name", nargs="?", help="a registry name (default: print the models folder)")
    return ap

"""The README's reliability table: the hostile-file suite (tests/hostile), run and grouped by probe kind.

    python benchmarks/reliability.py              # run every probe, print the table
    python benchmarks/reliability.py --collect    # count the probes only (what the README test checks)

Each probe builds its bad file itself, runs under a 1 GiB traced-memory and time budget, and passes
when the outcome column holds. A failing probe is printed as FAILED in its row.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# probe kind -> (the tests that probe it, what happens)
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "images sharing a stem in a project (`cell.jpg/.png/.tif`)": (
        ("test_images_sharing_a_stem", "test_a_mask_of_an_earlier_version"),
        "each keeps its own mask (named by file name); an old mask that could be any of them is refused, named"),
    "kill between a mask and project.json; project.json damaged or moved away": (
        ("test_a_mask_saved_without", "test_moving_a_damaged", "test_a_tif_project_without"),
        "the masks on disk are the truth: every saved mask is counted and exported"),
    "failed save (disk full), then Open / Next / Export": (
        ("test_open_after_a_failed_save",),
        "nothing switches; the painted labels stay in the layer until a save succeeds"),
    "temporary files left by `kill -9`": (
        ("test_temporary_files_of_killed", "test_a_write_replacing"),
        "removed on the next open/run (a live writer's are kept)"),
    "empty, garbage, truncated, pickled or corrupt images (PNG, JPG, TIFF, NPY) in a batch": (
        ("test_one_bad_file_does_not_stop", "test_run_with_tiles_and_workers", "test_predict_goes_on",
         "test_empty_and_damaged_images"),
        "that file fails with 'empty' / 'damaged' and its name; the batch goes on"),
    "bad ground truth in `evaluate` (PNG bomb, empty and v7.3 .mat, COCO of wrong types)": (
        ("test_evaluate_goes_on", "test_evaluate_against_a_coco", "test_empty_and_v73_mat"),
        "that pair fails with one line; the others are scored"),
    "damaged or forged embedding cache entries (zero bytes, shape, float64, int64, NaN, JSON, sizes)": (
        ("test_a_damaged_cache_entry", "test_embed_goes_on_past"),
        "recomputed and overwritten, never used"),
    "unwritable embedding cache": (("test_embed_into_an_unwritable",), "`embed` reports the file as failed, exit 1"),
    "huge label values (20000, 65535, 2**40) and thousands of ids scored as classes": (
        ("test_a_large_label_value", "test_many_object_ids"),
        "cost follows the pixels (under 2 s, under 1 GiB); too many classes refused with a reason"),
    "decompression bombs (PNG, .mat, COCO RLE and image sizes)": (
        ("test_a_png_bomb", "test_a_mat_decompression_bomb", "test_coco_sizes_are_checked"),
        "refused from the declared size before allocating; `$NAPARI_SEGSUITE_MAX_PIXELS` raises the limit"),
    "a 5000-image COCO file read image by image": (("test_a_coco_file_is_parsed_once",), "parsed once: linear time"),
    "link loops and duplicate links under `**` globs": (("test_globs_survive",), "each real file once, no hang"),
    "`kill -9` of `run --workers 2`": (("test_workers_die_with",), "the workers exit within a second"),
    "two runs into one output folder; a file placed between check and rename": (
        ("test_a_second_run_into", "test_written_means"),
        "the second run is refused, naming the first's process; no run reports another's file as written"),
    "`run --workers 2` of a numba chain from a fresh numba cache": (
        ("test_parallel_numba_chain",), "every file written (was: NUMBA_NUM_THREADS error on every file)"),
    "forged checkpoint hash sidecar; file rewritten with its mtime forged back": (
        ("test_a_forged_hash_record", "test_a_rewritten_file"),
        "hash records live in the plugin's cache, keyed by inode and ctime: the file is hashed again and refused"),
    "`learn.<path>` names in presets and on the CLI": (("test_learned_names",), "refused: names are names"),
    "gray + alpha images; float64 beyond float32": (
        ("test_gray_plus_alpha", "test_floats_beyond"), "read as gray / scaled by 2^k, each with a note"),
    "VOC export of ids 255 and 300": (("test_voc_export_refuses",), "refused before anything is written"),
    "refine with a one-pixel-wide object": (("test_refine_goes_on",), "its box is widened by a pixel, with a note"),
    "umask 022 / 077 / 002 on every file we write": (
        ("test_every_file_we_write",), "the mode a plain open() gives"),
    "hostile JSON (wrong types, deep, non-UTF-8, empty) in presets, project.json, COCO": (
        ("test_hostile_presets", "test_project_files_of_wrong", "test_coco_files_of_wrong", "test_read_json_names",
         "test_a_damaged_project_file_is_a_message", "test_a_damaged_first_image", "test_a_damaged_next_image"),
        "one line naming the file and the field; the dock stays usable"),
    "bad options (hybrid `min_area: \"big\"`, `--tile 0`, `--tolerance nan`, `cuda:7`, ...)": (
        ("test_hybrid_options", "test_auto_options", "test_bad_options", "test_a_gpu_that_is_not"),
        "refused once, before any file"),
    "a 240-character file name; `techniques` piped into `head`": (("test_long_file_names",), "written; no BrokenPipe traceback"),
}


class _Collector:
    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            self.outcomes.setdefault(item.nodeid, "collected")

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            self.outcomes[report.nodeid] = report.outcome


def _kind(nodeid: str) -> str:
    name = nodeid.split("::")[-1]
    for kind, (prefixes, _) in KINDS.items():
        if name.startswith(prefixes):
            return kind
    return "other"


def table(collect_only: bool = False) -> str:
    collector = _Collector()
    args = [str(ROOT / "tests" / "hostile"), "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    with contextlib.redirect_stdout(io.StringIO()) as log:
        code = pytest.main(args + (["--collect-only"] if collect_only else []), plugins=[collector])
    if code not in (0, 1):
        print(log.getvalue()[-3000:], file=sys.stderr)
        raise SystemExit(f"pytest could not run the hostile suite (exit {code})")
    counts: Counter = Counter()
    failed: Counter = Counter()
    for nodeid, outcome in collector.outcomes.items():
        counts[_kind(nodeid)] += 1
        failed[_kind(nodeid)] += outcome in ("failed", "error")
    if counts.get("other"):
        raise SystemExit("a hostile test matches no probe kind: add it to KINDS in benchmarks/reliability.py")
    lines = ["| probe kind | probes | outcome |", "|---|---|---|"]
    for kind, (_, outcome) in KINDS.items():
        verdict = outcome if not failed[kind] else f"FAILED ({failed[kind]} of {counts[kind]}): {outcome}"
        lines.append(f"| {kind} | {counts[kind]} | {verdict} |")
    lines.append(f"| **all** | **{sum(counts.values())}** | {sum(failed.values())} failed |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collect", action="store_true", help="count the probes without running them")
    args = ap.parse_args()
    text = table(collect_only=args.collect)
    print(text)
    return 0 if args.collect or text.endswith("| 0 failed |") else 1


if __name__ == "__main__":
    sys.exit(main())

"""One bad file never stops a batch; batches never hang, race or leave workers behind (issue 22,
items 5, 6, 13-15b, 25, 26)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.io import write_labels
from napari_segsuite.io.atomic import atomic_write
from napari_segsuite.io.batch import expand_inputs, run_files
from napari_segsuite.io.lock import output_lock

REPO = Path(__file__).resolve().parents[2]


def _otsu(image, channel_axis):
    from napari_segsuite.techniques import get

    result = get("threshold.global").run(image, channel_axis=channel_axis)
    return result.data, "ok", result.notes


def _good(folder: Path, name: str = "good.npy", side: int = 32) -> Path:
    img = np.zeros((side, side), np.uint8)
    img[8:20, 8:20] = 200
    np.save(folder / name, img)
    return folder / name


@pytest.fixture
def bad_then_good(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_empty.npy").write_bytes(b"")
    (folder / "b_corrupt.tif").write_bytes(b"II*\x00" + b"\x08\x00\x00\x00" + b"\xff" * 40)
    (folder / "c_empty.png").write_bytes(b"")
    (folder / "d_garbage.jpg").write_bytes(b"not a jpeg at all")
    np.lib.format.write_array_header_1_0(open(folder / "e_truncated.npy", "wb"), {
        "descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})  # 80 GB declared, 0 bytes of data
    _good(folder, "z_good.npy", side=160)
    return folder


@pytest.mark.parametrize("lazy", [False, True])
def test_one_bad_file_does_not_stop_the_batch(bad_then_good, tmp_path, lazy):
    out = run_files(_otsu, expand_inputs([bad_then_good]), tmp_path / "out", lazy=lazy)
    status = {Path(o.source).name: (o.status, o.message) for o in out}
    assert status["z_good.npy"][0] == "written"
    assert "empty (0 bytes)" in status["a_empty.npy"][1] and "empty (0 bytes)" in status["c_empty.png"][1]
    assert "damaged" in status["b_corrupt.tif"][1] and "damaged" in status["d_garbage.jpg"][1]
    assert "truncated" in status["e_truncated.npy"][1]
    assert "backend" not in " ".join(m for _, m in status.values())  # no "pip install imageio[pyav]" advice


def test_run_with_tiles_and_workers_goes_on_after_a_bad_file(bad_then_good, tmp_path, capsys):
    code = main(["run", "threshold.adaptive", str(bad_then_good), "-o", str(tmp_path / "out"), "--tile", "64",
                 "--workers", "2"])
    captured = capsys.readouterr()
    assert code == 1 and (tmp_path / "out" / "z_good.png").is_file()
    assert "Traceback" not in captured.err and captured.err.count("FAILED") == 5


@pytest.mark.no_budget
def test_predict_goes_on_after_a_bad_file(trained_semantic, bad_then_good, tmp_path, capsys):
    from napari_segsuite.learn.store import save_model

    model = save_model(trained_semantic, tmp_path / "m")
    assert main(["predict", str(model), str(bad_then_good), "-o", str(tmp_path / "out")]) == 1
    assert (tmp_path / "out" / "z_good.png").is_file() and "Traceback" not in capsys.readouterr().err


def _png_bomb(path: Path, side: int = 100_000) -> None:
    """A PNG whose header declares side x side pixels (a few dozen bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_evaluate_goes_on_after_bad_ground_truth(tmp_path, capsys):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    lab = np.zeros((16, 16), np.uint8)
    lab[4:9, 4:9] = 1
    for name in ("bomb", "empty", "v73", "ok"):
        write_labels(pred / f"{name}.png", lab)
    gt.mkdir()
    _png_bomb(gt / "bomb.png")
    (gt / "empty.mat").write_bytes(b"")
    (gt / "v73.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(124, b" ") + b"\x00\x02IM" + b"\x00" * 400)
    write_labels(gt / "ok.png", lab)
    assert main(["evaluate", str(pred), str(gt)]) == 1
    out, err = capsys.readouterr()
    assert "ok" in out and "Traceback" not in err
    assert "bomb.png: FAILED" in err and "empty.png: FAILED" in err and "v7.3" in err and "empty (0 bytes)" in err


def test_evaluate_against_a_coco_file_of_wrong_types(tmp_path, capsys):
    lab = np.zeros((8, 8), np.uint8)
    lab[2:5, 2:5] = 1
    write_labels(tmp_path / "pred" / "a.png", lab)
    coco = tmp_path / "gt.json"
    coco.write_text('{"images": {"file_name": "a.png"}, "annotations": 7}')
    assert main(["evaluate", str(tmp_path / "pred"), str(coco), "--kind", "instance"]) == 2
    err = capsys.readouterr().err
    assert "gt.json: 'images' must be a list of objects" in err and "Traceback" not in err


def test_globs_survive_link_loops_and_find_each_file_once(tmp_path):
    root = tmp_path / "data"
    (root / "a" / "b").mkdir(parents=True)
    _good(root / "a", "x.npy")
    _good(root / "a" / "b", "y.npy")
    (root / "a" / "self").symlink_to(".")  # a loop onto itself
    (root / "a" / "b" / "up").symlink_to("..")  # a mutual loop
    (root / "c").symlink_to(root / "a")  # a second path to the same files
    t0 = time.perf_counter()
    files = expand_inputs([f"{root}/**/*.npy"])
    assert time.perf_counter() - t0 < 2
    assert sorted(p.name for p in files) == ["x.npy", "y.npy"]
    out = run_files(_otsu, files, tmp_path / "out")  # no "several inputs would write the same output"
    assert [o.status for o in out] == ["written", "written"]


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with output_lock(out):
        with pytest.raises(ValueError, match=rf"another napari-segsuite run \(process {os.getpid()}\) is writing into"):
            run_files(_otsu, [_good(tmp_path)], out)
    assert [o.status for o in run_files(_otsu, [_good(tmp_path)], out)] == ["written"]
    assert not (out / ".napari-segsuite.lock").exists()


def test_written_means_this_process_result_is_there(tmp_path):
    target = tmp_path / "m.png"

    def write_while_another_process_places_its_file(f):
        f.write(b"mine")
        target.write_bytes(b"theirs")  # the other run's rename lands between our check and ours

    with pytest.raises(FileExistsError, match="already exists"):
        atomic_write(target, write_while_another_process_places_its_file)
    assert target.read_bytes() == b"theirs" and [p.name for p in tmp_path.iterdir()] == ["m.png"]


@pytest.mark.no_budget
def test_workers_die_with_a_killed_run(tmp_path):
    script = tmp_path / "slow_run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        import numpy as np
        sys.path.insert(0, {str(REPO)!r})
        from napari_segsuite.io.batch import run_files

        def slow(image, axis):
            time.sleep(60)
            return image, "slow", []

        files = []
        for i in range(4):
            np.save({str(tmp_path)!r} + f"/in{{i}}.npy", np.zeros((8, 8), np.uint8))
            files.append({str(tmp_path)!r} + f"/in{{i}}.npy")
        run_files(slow, files, {str(tmp_path / "out")!r}, workers=2)
    """))
    proc = subprocess.Popen([sys.executable, str(script)])
    children: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline and len(children) < 2:
        time.sleep(0.2)
        children = _children(proc.pid)
    assert len(children) >= 2, "the workers did not start"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    survivors = [pid for pid in children if _alive(pid)]
    for pid in survivors:  # leave nothing running, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "a worker outlived the killed run"


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(c) for c in task.read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.no_budget
def test_parallel_numba_chain_from_a_fresh_numba_cache(tmp_path):
    """Workers forked from a process that imported numba used to fail every file with "Cannot set
    NUMBA_NUM_THREADS to a different value once the threads have been launched"."""
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        img = (rng.random((48, 48)) * 40).astype(np.uint8)
        img[10:20, 10:20] = img[18:30, 16:30] = 220
        np.save(folder / f"im{i}.npy", img)
    preset = tmp_path / "chain.json"
    preset.write_text('{"format": "napari-segsuite-preset", "version": 1, "steps": ['
                      '{"technique": "threshold.global"}, {"technique": "post.fill_holes"}, '
                      '{"technique": "post.remove_small"}, {"technique": "post.split_touching"}]}')
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    run = subprocess.run([sys.executable, "-m", "napari_segsuite.cli", "run", str(preset), str(folder), "-o",
                          str(tmp_path / "out"), "--workers", "2"], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "4 written, 0 skipped, 0 failed" in run.stdout


@pytest.mark.parametrize("argv, message", [
    (["run", "threshold.global", "x.png", "-o", "o", "--tile", "0"], "--tile: must be at least 16"),
    (["run", "threshold.global", "x.png", "-o", "o", "--workers", "0"], "--workers: must be at least 1"),
    (["predict", "m.json", "x.png", "-o", "o", "--tile", "0"], "--tile: must be at least 64"),
    (["evaluate", "a", "b", "--tolerance", "nan"], "--tolerance: must be a finite number"),
    (["benchmark-clicks", "d", "--max-clicks", "-1"], "--max-clicks: must be at least 1"),
])
def test_bad_options_are_refused_before_any_file(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_gpu_that_is_not_there_is_refused_once(tmp_path, capsys):
    import torch

    from napari_segsuite.device import resolve_device

    with pytest.raises(RuntimeError, match=r"cuda:7|no usable NVIDIA GPU"):
        resolve_device(f"cuda:{torch.cuda.device_count() + 7}")


def test_long_file_names_and_a_closed_pipe(tmp_path):
    name = "n" * 240 + ".npy"
    _good(tmp_path, name)
    out = run_files(_otsu, [tmp_path / name], tmp_path / "out")
    assert out[0].status == "written", out[0].message
    run = subprocess.run(f"{sys.executable} -m napari_segsuite.cli techniques | head -1", shell=True,
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.stdout.strip() and "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr

"""Batch runs: inputs from files, folders and globs; resume; failures reported; dask workers and a
dask.distributed cluster give the same masks as a run in this process."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.cli import main
from napari_segsuite.io import read_image, write_labels
from napari_segsuite.io.batch import expand_inputs, run_files
from napari_segsuite.techniques.chain import Chain


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "in"
    rng = np.random.default_rng(0)
    for i in range(4):
        img = (rng.random((40, 50)) * 60).astype(np.uint8)
        img[10:25, 10 + 5 * i:30 + 5 * i] = 200
        write_labels(folder / f"img{i}.png", img)
    (folder / "sub").mkdir()
    write_labels(folder / "sub" / "deep.png", np.full((10, 10), 3, np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _otsu(image, channel_axis):
    result = Chain([("threshold.global", {"method": "otsu"})]).run(image, channel_axis=channel_axis)
    return result.data, "ok", result.notes


def test_inputs_from_files_folders_and_globs(images):
    assert [p.name for p in expand_inputs([images])] == ["broken.png", "img0.png", "img1.png", "img2.png", "img3.png"]
    assert [p.name for p in expand_inputs([str(images / "img[12].png")])] == ["img1.png", "img2.png"]
    assert "deep.png" in [p.name for p in expand_inputs([str(images / "**" / "*.png")])]
    both = expand_inputs([images / "img0.png", str(images / "img*.png")])
    assert [p.name for p in both] == ["img0.png", "img1.png", "img2.png", "img3.png"], "each file once"
    with pytest.raises(ValueError, match="no images found"):
        expand_inputs([str(images / "*.jpg")])


def test_failures_are_reported_and_a_second_run_resumes(images, tmp_path):
    files = expand_inputs([images])
    seen = []
    out = run_files(_otsu, files, tmp_path / "out", progress=lambda o, d, t: seen.append((o.status, d, t)))
    assert [o.status for o in out] == ["failed", "written", "written", "written", "written"]
    assert "broken.png" in out[0].source and "damaged" in out[0].message
    assert seen[-1][1:] == (5, 5)
    assert not (tmp_path / "out" / "broken.png").exists(), "no partial file for a failed input"
    again = run_files(_otsu, files, tmp_path / "out")
    assert [o.status for o in again] == ["failed", "skipped", "skipped", "skipped", "skipped"]
    with pytest.raises(ValueError, match="same output"):
        run_files(_otsu, [images / "img0.png", images / "img0.png"], tmp_path / "o2")


def test_dask_worker_processes_write_the_same_masks(images, tmp_path):
    files = expand_inputs([str(images / "img*.png")])
    one = run_files(_otsu, files, tmp_path / "one")
    two = run_files(_otsu, files, tmp_path / "two", workers=2)
    assert [o.status for o in two] == ["written"] * 4
    for a, b in zip(one, two):
        np.testing.assert_array_equal(read_image(a.target), read_image(b.target))


def test_run_on_a_dask_local_cluster_end_to_end(images, tmp_path, capsys):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is a test dependency (pip install distributed)")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        code = main(["run", "threshold.global", str(images / "img*.png"), "-o", str(tmp_path / "dist"),
                     "--scheduler", cluster.scheduler_address])
    assert code == 0
    assert "4 written, 0 skipped, 0 failed" in capsys.readouterr().out
    assert main(["run", "threshold.global", str(images / "img*.png"), "-o", str(tmp_path / "local")]) == 0
    for name in ("img0.png", "img3.png"):
        np.testing.assert_array_equal(read_image(tmp_path / "dist" / name), read_image(tmp_path / "local" / name))


def test_unreachable_scheduler_and_bad_workers_are_explained(images, tmp_path, capsys):
    assert main(["run", "threshold.global", str(images / "img0.png"), "-o", str(tmp_path / "x"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the dask scheduler" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # refused while the options are read, before any file
        main(["run", "threshold.global", str(images / "img0.png"), "-o", str(tmp_path / "x"), "--workers", "0"])
    assert exit_.value.code == 2 and "--workers: must be at least 1" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_made_is_refused_before_any_work(images, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should go")
    assert main(["run", "threshold.global", str(images / "img0.png"), "-o", str(blocker / "masks")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err

"""Propagation of objects through a stack: the classical backend follows them and stops where they
end, ids stay put, a SAM session decodes only once the slices are embedded, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.sam import ClassicalSession, SamSession
from napari_segsuite.sam.propagate import prompts_from_mask, propagate
from napari_segsuite.techniques import Cancelled


def _balls(shape=(24, 64, 64), centres=((11, 32, 32),), radius=9.0, seed=0):
    """A noisy stack of bright balls (z radius ``radius`` / 1.5: anisotropic, as microscopes are)
    and their labels (1, 2, … in the order of ``centres``)."""
    zz, yy, xx = np.indices(shape, dtype=float)
    labels = np.zeros(shape, np.uint8)
    for i, (cz, cy, cx) in enumerate(centres, start=1):
        inside = ((zz - cz) * 1.5) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        labels[inside & (labels == 0)] = i
    rng = np.random.default_rng(seed)
    image = np.clip(40 + 150 * (labels > 0) + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)
    return image, labels


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _stacked(result, shape, i=1):
    out = np.zeros(shape, bool)
    for k, lab in result.labels.items():
        out[k] = lab == i
    return out


def test_the_classical_backend_follows_a_ball_to_its_ends():
    image, truth = _balls()
    result = propagate(ClassicalSession(), image, 11, truth[11])
    assert _iou(_stacked(result, truth.shape), truth == 1) > 0.85
    first, last = np.flatnonzero((truth == 1).any(axis=(1, 2)))[[0, -1]]
    assert abs(result.extent[1][0] - first) <= 1 and abs(result.extent[1][1] - last) <= 1
    assert set(result.stopped[1]) == {-1, 1} and all("slice" in why for why in result.stopped[1].values())


def test_a_ball_stacked_on_another_is_not_followed_into_it():
    image, truth = _balls(shape=(40, 64, 64), centres=((10, 32, 32), (21, 33, 31)))
    assert (truth[15] == 1).any() and (truth[16] == 2).any(), "the balls touch in z"
    result = propagate(ClassicalSession(), image, 10, np.where(truth[10] == 1, 1, 0))
    found = _stacked(result, truth.shape)
    assert (found & (truth == 2)).sum() < 0.05 * (truth == 2).sum()
    assert _iou(found, truth == 1) > 0.8


def test_every_object_of_a_slice_travels_with_its_own_id():
    image, truth = _balls(centres=((11, 20, 20), (11, 44, 44)), radius=8.0)
    start = np.where(truth[11] == 2, 7, np.where(truth[11] == 1, 3, 0))  # any ids
    result = propagate(ClassicalSession(), image, 11, start, direction="forward")
    assert min(result.slices()) == 11, "forward only"
    for k in result.slices():
        assert set(np.unique(result.labels[k])) <= {0, 3, 7}
    assert _iou(_stacked(result, truth.shape, 3)[11:], (truth == 1)[11:]) > 0.8
    assert _iou(_stacked(result, truth.shape, 7)[11:], (truth == 2)[11:]) > 0.8
    only = propagate(ClassicalSession(), image, 11, start, objects=[7])
    assert set(np.unique(only.labels[12])) == {0, 7}


def test_progress_reaches_the_total_and_cancel_stops_before_the_next_slice():
    image, truth = _balls()
    seen = []
    propagate(ClassicalSession(), image, 11, truth[11], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (23, 23), "slices never visited after the object ended count as done"
    calls = []
    with pytest.raises(Cancelled):
        propagate(ClassicalSession(), image, 11, truth[11], cancel=lambda: calls.append(1) or len(calls) > 3)


def test_prompts_from_a_mask_are_its_deepest_point_and_a_grown_box():
    mask = np.zeros((50, 60), bool)
    mask[10:30, 20:30] = True
    points, labels, box = prompts_from_mask(mask)
    assert labels.tolist() == [1] and mask[int(points[0, 1]), int(points[0, 0])]
    assert box.tolist() == [18.0, 8.0, 31.0, 31.0]


@pytest.mark.parametrize("stack, start, labels, message", [
    (np.zeros((1, 32, 32), np.uint8), 0, np.ones((32, 32), np.uint8), r"has 1 \(a single 2D image\)"),
    (np.zeros((5, 32, 32), np.uint8), 5, np.ones((32, 32), np.uint8), "slice 5 is outside the stack"),
    (np.zeros((5, 32, 32), np.uint8), 2, np.zeros((32, 32), np.uint8), "holds no object"),
])
def test_bad_input_is_refused_with_what_to_do(stack, start, labels, message):
    with pytest.raises(ValueError, match=message):
        propagate(ClassicalSession(), stack, start, labels)
    image, truth = _balls()
    with pytest.raises(ValueError, match="direction must be one of both, forward, backward"):
        propagate(ClassicalSession(), image, 11, truth[11], direction="up")
    with pytest.raises(ValueError, match=r"object\(s\) \[4\] are not on slice 11"):
        propagate(ClassicalSession(), image, 11, truth[11], objects=[4])


def test_with_every_slice_embedded_sam_propagation_runs_only_the_decoder(tiny_sam, tmp_path):
    image, truth = _balls(shape=(6, 64, 64), centres=((3, 32, 32),), radius=12.0)
    session = SamSession(tiny_sam, device="cpu", cache_dir=tmp_path)
    for k in range(len(image)):
        session.set_image(image[k], k)
    encoded = session.encoder_runs
    result = propagate(session, image, 3, truth[3], min_overlap=0.0, regrowth=False)
    assert session.encoder_runs == encoded, "every slice came from the cache"
    assert result.decoder_runs == session.decoder_runs >= 1


def test_the_command_line_propagates_a_slice_through_a_stack(tmp_path, capsys):
    import tifffile

    from napari_segsuite.cli import main
    from napari_segsuite.io import read_image

    image, truth = _balls(centres=((11, 20, 20), (11, 44, 44)), radius=8.0)
    tifffile.imwrite(tmp_path / "stack.tif", image)
    start = np.where(truth[11] > 0, truth[11] + 4, 0).astype(np.uint16)  # ids 5 and 6
    tifffile.imwrite(tmp_path / "slice11.tif", start)
    out = tmp_path / "labels.tif"
    assert main(["propagate", str(tmp_path / "stack.tif"), "--labels", str(tmp_path / "slice11.tif"), "--slice", "11",
                 "-o", str(out)]) == 0
    labels = read_image(out)
    assert labels.shape == truth.shape and set(np.unique(labels)) == {0, 5, 6}
    assert _iou(labels == 5, truth == 1) > 0.8 and _iou(labels == 6, truth == 2) > 0.8
    assert "object 5: slices" in capsys.readouterr().out
    assert main(["propagate", str(tmp_path / "stack.tif"), "--labels", str(tmp_path / "slice11.tif"), "--slice", "11",
                 "-o", str(out)]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    tifffile.imwrite(tmp_path / "flat.tif", image[0])
    assert main(["propagate", str(tmp_path / "flat.tif"), "--labels", str(tmp_path / "slice11.tif"), "--slice", "0",
                 "-o", str(tmp_path / "x.tif")]) == 2
    assert "propagation needs a stack of 2D slices" in capsys.readouterr().err

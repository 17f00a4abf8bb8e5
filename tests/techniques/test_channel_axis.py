"""Calling a technique on a colour image: the channel axis is guessed as napari guesses it."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.techniques import SegsuiteWarning, get
from napari_segsuite.techniques.chain import Chain


def _rgb(channels: int = 3) -> np.ndarray:
    y, x = np.mgrid[:64, :80]
    disk = (x - 40) ** 2 + (y - 32) ** 2 < 15**2
    img = np.zeros((64, 80, channels), np.uint8)
    img[disk] = 200
    img[..., :3] += 20
    return img


@pytest.mark.parametrize("channels", [3, 4])
def test_a_trailing_axis_of_3_or_4_is_colour_by_default_and_the_call_says_so(channels):
    img = _rgb(channels)
    with pytest.warns(SegsuiteWarning, match=f"last axis \\(size {channels}\\) was taken as colour channels"):
        out = get("threshold.global")(img)
    assert out.shape == img.shape[:2]
    np.testing.assert_array_equal(out, get("threshold.global")(img, channel_axis=-1))
    assert get("threshold.global").run(img, channel_axis=-1).notes == [], "an explicit axis needs no note"


def test_channel_axis_none_keeps_every_axis_spatial():
    img = _rgb()
    out = get("threshold.global")(img, channel_axis=None)
    assert out.shape == img.shape  # 64 slices of 80 x 3 images, as asked


def test_gray_and_label_inputs_are_not_taken_for_colour():
    img = _rgb()
    assert get("threshold.global").run(img[..., 0]).notes == []
    labels = np.zeros((8, 8, 3), np.int32)  # a stack of label images whose last axis happens to be 3
    labels[2:6, 2:6] = 1
    result = get("post.fill_holes").run(labels)
    assert result.data.shape == labels.shape and not any("colour" in n for n in result.notes)


def test_a_chain_guesses_for_its_first_step_only():
    img = _rgb()
    chain = Chain([("threshold.global", {"method": "otsu"}), ("post.fill_holes", {})])
    result = chain.run(img)
    assert result.data.shape == img.shape[:2] and any("colour channels" in n for n in result.notes)

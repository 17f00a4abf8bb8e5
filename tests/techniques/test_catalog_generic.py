"""Every catalog technique on every kind of input: generated from the catalog, not written per technique."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.techniques import CATALOG, SegsuiteWarning

TECHNIQUES = sorted(n for n in CATALOG if CATALOG[n].channels != "labels")  # techniques on images
LABEL_TECHNIQUES = sorted(n for n in CATALOG if CATALOG[n].channels == "labels")  # post-processing


def seeds_for(name, shape):
    """Layer inputs a technique requires: two seed points (y, x) that apply to every slice."""
    h, w = shape[-2:]
    points = np.array([[h // 4, w // 4], [(3 * h) // 4, (3 * w) // 4]], float)
    return {spec.name: points for spec in CATALOG[name].inputs if spec.required}


def _variants(names=None):
    """(technique, params): the defaults, plus each choice that changes the kind of output."""
    out = []
    for name in names or TECHNIQUES:
        tech = CATALOG[name]
        out.append((name, {}))
        base = tech.output_for({})
        for p in tech.params:
            for value in p.choices or ():
                if tech.output_for({p.name: value}) != base:
                    out.append((name, {p.name: value}))
    return out


VARIANTS = _variants()
VARIANT_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items()) or 'defaults'}" for n, p in VARIANTS]
rng = np.random.default_rng(42)
_gray = (rng.random((48, 64)) * 200 + 20).astype(np.uint8)
_gray[10:30, 10:30] += 30  # a bright square so that every method has structure to find


def _nan_image():
    img = _gray.astype(np.float32)
    img[0:5, 0:7] = np.nan
    img[20, 20] = np.inf
    return img


# name -> (image, channel_axis, expected spatial shape)
INPUTS = {
    "gray_uint8": (_gray, None, _gray.shape),
    "gray_uint16": (_gray.astype(np.uint16) * 250, None, _gray.shape),
    "gray_int_negative": (_gray.astype(np.int32) - 128, None, _gray.shape),
    "gray_float64": (_gray / 255.0, None, _gray.shape),
    "rgb_uint8": (np.stack([_gray, 255 - _gray, _gray // 2], -1), -1, _gray.shape),
    "rgba_float32": (np.dstack([_gray, _gray, _gray, np.full_like(_gray, 255)]).astype(np.float32), -1, _gray.shape),
    "channels_first": (np.stack([_gray, _gray // 2, _gray // 3]), 0, _gray.shape),
    "boolean": (_gray > 128, None, _gray.shape),
    "tiny_1x1": (np.array([[7]], np.uint8), None, (1, 1)),
    "thin_1xN": (_gray[:1], None, (1, 64)),
    "stack_3d": (np.stack([_gray, _gray[::-1], _gray[:, ::-1]]), None, (3,) + _gray.shape),
    "stack_5d": (np.broadcast_to(_gray, (2, 1, 2, 48, 64)).copy(), None, (2, 1, 2, 48, 64)),
    "rgb_stack_4d": (np.stack([np.stack([_gray] * 3, -1)] * 2), -1, (2,) + _gray.shape),
}


@pytest.mark.parametrize("input_name", sorted(INPUTS))
@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
def test_runs_on_every_input_kind(name, params, input_name):
    tech = CATALOG[name]
    image, channel_axis, shape = INPUTS[input_name]
    seeds = seeds_for(name, shape)
    result = tech.run(image, channel_axis=channel_axis, **seeds, **params)
    assert result.data.shape == shape
    assert result.output == tech.output_for(params)
    if result.output == "labels":
        assert result.data.dtype.kind in "iu"
        assert result.data.min() >= 0
        assert result.kind == tech.kind_for(params)
    else:
        assert result.kind is None and result.data.dtype.kind in "fiub"
    # deterministic (float maps within float32 rounding: OpenCV's SIMD path follows the buffer's alignment)
    again = tech.run(image, channel_axis=channel_axis, **seeds, **params)
    if result.data.dtype.kind == "f":
        np.testing.assert_allclose(result.data, again.data, rtol=1e-5, atol=1e-5 * float(np.abs(result.data).max() or 1))
    else:
        np.testing.assert_array_equal(result.data, again.data)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
def test_nan_pixels_are_background_and_reported(name, params):
    tech = CATALOG[name]
    image = _nan_image()
    with pytest.warns(SegsuiteWarning, match="non-finite") as record:
        out = tech(image, **seeds_for(name, image.shape), **params)
    bad = ~np.isfinite(image)
    if tech.output_for(params) == "labels":
        assert np.all(out[bad] == 0)
        # finite pixels are still segmented, unless the technique tells the user why nothing was found
        explained = any("vanished" in str(w.message) or "nothing to" in str(w.message) for w in record)
        assert np.any(out[~bad] != 0) or explained, "finite pixels should still be segmented"
    else:
        assert np.all(np.isnan(out[bad]))
        assert np.all(np.isfinite(out[~bad]))


@pytest.mark.parametrize("name", TECHNIQUES)
def test_constant_image_is_reported_not_an_error(name):
    tech = CATALOG[name]
    with pytest.warns(SegsuiteWarning, match="constant"):
        out = tech(np.full((20, 30), 9, np.uint8), **seeds_for(name, (20, 30)))
    assert out.shape == (20, 30)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
def test_all_nan_image_gives_background(name, params):
    tech = CATALOG[name]
    with pytest.warns(SegsuiteWarning) as record:
        out = tech(np.full((10, 10), np.nan, np.float32), **seeds_for(name, (10, 10)), **params)
    messages = [str(w.message) for w in record]
    assert any("no finite pixel" in m for m in messages) and any("100 non-finite" in m for m in messages)
    if tech.output_for(params) == "labels":
        assert not out.any()
    else:
        assert np.isnan(out).all()


@pytest.mark.parametrize("name", TECHNIQUES)
@pytest.mark.parametrize(
    ("image", "channel_axis", "error", "match"),
    [
        (np.zeros((0, 5)), None, ValueError, "empty"),
        (np.zeros(5), None, ValueError, "at least"),
        (np.zeros((4, 4), np.complex64), None, TypeError, "complex"),
        (np.array([["a", "b"]]), None, TypeError, "numeric"),
        (np.zeros((4, 4)), -1, ValueError, "colour image"),
        (np.zeros((4, 4, 3)), 5, ValueError, "out of bounds"),
    ],
    ids=["empty", "1d", "complex", "strings", "channels_on_2d", "bad_channel_axis"],
)
def test_bad_images_get_clear_errors(name, image, channel_axis, error, match):
    with pytest.raises(error, match=match):
        CATALOG[name](image, channel_axis=channel_axis)


@pytest.mark.parametrize("name", TECHNIQUES)
def test_parameter_validation(name):
    tech = CATALOG[name]
    with pytest.raises(ValueError, match="no parameter"):
        tech(_gray, not_a_parameter=1)
    for p in tech.params:
        if p.choices is not None:
            with pytest.raises(ValueError, match="is not one of"):
                tech(_gray, **{p.name: "no-such-choice"})
        elif p.type in (int, float) and p.range is not None and p.range.max is not None:
            with pytest.raises(ValueError, match="out of range"):
                tech(_gray, **{p.name: p.range.max + 1})
        elif p.type is bool:
            with pytest.raises(TypeError, match="true or false"):
                tech(_gray, **{p.name: "yes"})


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
def test_stack_equals_slice_by_slice(name, params):
    tech = CATALOG[name]
    stack = INPUTS["stack_3d"][0]
    params = {**tech.defaults(), **params}
    seeds = seeds_for(name, stack.shape)
    whole = tech(stack, **seeds, **params)
    for i, sl in enumerate(stack):
        single = tech(sl, **seeds, **params)
        if tech.kind_for(params) == "instance":
            # ids are shifted per slice so that they stay unique across the stack
            np.testing.assert_array_equal(whole[i] > 0, single > 0)
        elif single.dtype.kind == "f":
            np.testing.assert_allclose(whole[i], single, rtol=1e-5, atol=1e-5 * float(np.abs(single).max() or 1))
        else:
            np.testing.assert_array_equal(whole[i], single)


@pytest.mark.parametrize("name", TECHNIQUES)
def test_progress_and_cancel(name):
    from napari_segsuite.techniques import Cancelled

    tech = CATALOG[name]
    stack = INPUTS["stack_3d"][0]
    seen = []
    seeds = seeds_for(name, stack.shape)
    tech.run(stack, progress=lambda done, total: seen.append((done, total)), **seeds)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(Cancelled):
        tech.run(stack, cancel=lambda: len(seen) >= 4, progress=lambda d, t: seen.append(d), **seeds)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_parameter_is_documented(name):
    tech = CATALOG[name]
    assert tech.summary, f"{name} needs a one-line summary"
    for p in tech.params:
        assert p.doc, f"{name}: parameter {p.name} has no description in the docstring"
        if p.when is not None:
            assert p.when.param in {q.name for q in tech.params}
    for spec in tech.inputs:
        assert spec.doc, f"{name}: layer input {spec.name} has no description in the docstring"


# -- layer inputs (seeds, initial shapes) -------------------------------------------------------

INPUT_TECHNIQUES = sorted(n for n in CATALOG if CATALOG[n].inputs)


@pytest.mark.parametrize("name", INPUT_TECHNIQUES)
def test_seed_inputs_are_checked(name):
    tech = CATALOG[name]
    spec = tech.inputs[0]
    with pytest.raises(ValueError, match="expected a label image of shape"):
        tech(_gray, **{spec.name: np.zeros((5, 5), np.int32)})
    if spec.required:
        for nothing in (None, np.zeros((0, 2)), np.zeros(_gray.shape, np.int32)):
            with pytest.raises(ValueError, match=f"needs {spec.name}"):
                tech(_gray, **{spec.name: nothing})
    # points outside the image are dropped with a note; the others still count
    points = np.array([[-5, 3], [12, 16], [36, 48], [100, 100]], float)
    result = tech.run(_gray, **{spec.name: points})
    assert "2 seed point(s) outside the image were ignored" in result.notes
    assert result.data.shape == _gray.shape


def test_points_select_their_slice_in_a_stack():
    from napari_segsuite.techniques import get

    stack = INPUTS["stack_3d"][0]
    # one seed on slice 0 only: slices 1 and 2 have no seed, which region growing cannot work without
    with pytest.raises(ValueError, match="at least one seed on this slice"):
        get("region.grow")(stack, seeds=np.array([[0, 12, 16]]))
    out = get("region.grow")(stack, seeds=np.array([[0, 12, 16], [1, 12, 16], [2, 12, 16]]), tolerance=100.0)
    assert (out > 0).all(axis=(1, 2)).all() and len(np.unique(out)) == 3


# -- post-processing: label images in, label images out ------------------------------------------

LABEL_VARIANTS = _variants(LABEL_TECHNIQUES)
LABEL_VARIANT_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items()) or 'defaults'}" for n, p in LABEL_VARIANTS]
_blobs = np.zeros((48, 64), np.int32)
_blobs[5:20, 5:25] = 1
_blobs[8:12, 10:14] = 0  # a hole
_blobs[25:40, 20:35] = 2
_blobs[30:45, 33:50] = 3  # touches 2
_blobs[2:4, 60:62] = 4  # a speck
LABEL_INPUTS = {
    "instance_int32": (_blobs, _blobs.shape),
    "semantic_uint8": ((_blobs > 0).astype(np.uint8) + (_blobs == 3), _blobs.shape),
    "mask_bool": (_blobs > 0, _blobs.shape),
    "whole_float": (_blobs.astype(np.float32), _blobs.shape),
    "big_ids_uint64": (_blobs.astype(np.uint64) * (2**40), _blobs.shape),
    "all_background": (np.zeros((10, 12), np.uint16), (10, 12)),
    "all_one_label": (np.full((10, 12), 7, np.uint16), (10, 12)),
    "tiny_1x1": (np.array([[3]], np.int32), (1, 1)),
    "stack_3d": (np.stack([_blobs, _blobs[::-1], _blobs[:, ::-1]]), (3,) + _blobs.shape),
}


@pytest.mark.parametrize("input_name", sorted(LABEL_INPUTS))
@pytest.mark.parametrize(("name", "params"), LABEL_VARIANTS, ids=LABEL_VARIANT_IDS)
def test_post_processing_runs_on_every_label_input(name, params, input_name):
    tech = CATALOG[name]
    labels, shape = LABEL_INPUTS[input_name]
    result = tech.run(labels, **params)
    assert result.data.shape == shape and result.data.dtype.kind in "iu" and result.data.min() >= 0
    assert result.kind == tech.kind_for(params)
    if not np.any(labels):
        assert not result.data.any()
    np.testing.assert_array_equal(result.data, tech.run(labels, **params).data)


@pytest.mark.parametrize("name", LABEL_TECHNIQUES)
@pytest.mark.parametrize(
    ("labels", "channel_axis", "error", "match"),
    [
        (_gray / 255.0, None, TypeError, "whole numbers"),
        (np.where(_blobs > 0, np.nan, 0.0), None, TypeError, "NaN"),
        (_blobs - 1, None, ValueError, "negative"),
        (np.stack([_blobs] * 3, -1), -1, ValueError, "no channels"),
        (np.zeros((0, 4), np.int32), None, ValueError, "empty"),
    ],
    ids=["fractions", "nan", "negative", "channels", "empty"],
)
def test_post_processing_refuses_what_is_not_labels(name, labels, channel_axis, error, match):
    with pytest.raises(error, match=match):
        CATALOG[name](labels, channel_axis=channel_axis)

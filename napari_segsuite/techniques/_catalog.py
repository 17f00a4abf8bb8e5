"""The technique catalog: one declaration per technique drives widgets, CLI, presets and tests.

A technique is a plain function over one 2D slice, registered with :func:`technique`::

    @technique("threshold.multiotsu", family="Thresholding", output="labels", label_kind="semantic")
    def multiotsu(image, *, classes: Annotated[int, Range(2, 5)] = 3) -> np.ndarray:
        '''Multi-level Otsu: N classes -> class ids 0..N-1.'''

The parameter specs (type, default, range, choices, when they apply, help text) are read from the
signature, its ``Annotated`` metadata and the numpydoc ``Parameters`` section (:mod:`._params`), so
nothing about a technique is written twice. The registered :class:`Technique` validates images and parameters,
converts colour to gray, loops over the leading axes of nD data and reports progress.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..io.labels import LabelKind
from ._blas import one_blas_thread
from ._functions import public_function
from ._image import ImageInfo, check_image, check_input, guess_channel_axis, iter_slices, prepare_slice, slice_input
from ._params import Input, InputSpec, MissingInput, Param, Range, When, params_from_signature
from .cancel import Cancelled, cancellable

__all__ = [
    "CATALOG",
    "Cancelled",
    "Input",
    "Param",
    "Range",
    "Result",
    "Technique",
    "When",
    "technique",
]

Output = Literal["labels", "image"]
ChannelAxis = int | None | Literal["auto"]


@dataclass
class Result:
    """What a run returns: the array plus facts a widget can show.

    ``info`` holds per-technique values (e.g. ``{"thresholds": [...]}`` for the 2D slice, or one
    dict per slice under ``"slices"`` for nD runs); ``notes`` are user-facing remarks such as
    "NaN pixels were set to background"; ``kind`` is the label kind of a labels output.
    """

    data: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kind: LabelKind | None = None
    seconds: float = 0.0
    output: Output = "labels"


@dataclass(frozen=True)
class Technique:
    """A registered technique. Call it as ``technique(image, channel_axis="auto", **params)``.

    ``channel_axis="auto"`` (the default) reads a last axis of 3 or 4 as RGB(A) channels, as napari
    does, and says so in a note; pass ``None`` to treat every axis as spatial, or the axis's index.
    """

    name: str
    family: str
    output: Output | Callable[[Mapping[str, Any]], Output]
    func: Callable[..., Any]
    params: tuple[Param, ...]
    label_kind: LabelKind | Callable[[Mapping[str, Any]], LabelKind] | None
    channels: Literal["gray", "color", "labels"] = "gray"
    nan_policy: Literal["fill", "propagate"] = "fill"
    histogram: bool = False
    summary: str = ""
    doc: str = ""
    wants_info: bool = False
    inputs: tuple[InputSpec, ...] = ()
    overlap: int | Callable[[Mapping[str, Any]], int | None] | None = None

    # -- parameters ---------------------------------------------------------------------------
    @property
    def title(self) -> str:
        """Human-readable name shown in the technique selector (the summary up to its colon)."""
        head = self.summary.split(":")[0].strip()
        return head if head and len(head) <= 40 else self.func.__name__.replace("_", " ").capitalize()

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}; it has {[p.name for p in self.params]}")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Fill in defaults and validate every value; unknown names are an error."""
        known = {p.name for p in self.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {unknown}; its parameters are {sorted(known)}")
        out = self.defaults()
        out.update(params)
        return {p.name: p.validate(out[p.name], self.name) for p in self.params}

    def output_for(self, params: Mapping[str, Any]) -> Output:
        """``"labels"`` or ``"image"``: what the technique produces with these parameters."""
        return self._output_of(self.validate_params(params))

    def kind_for(self, params: Mapping[str, Any]) -> LabelKind | None:
        """The label kind produced with these parameters (None for image outputs)."""
        return self._kind_of(self.validate_params(params))

    def overlap_for(self, params: Mapping[str, Any]) -> int | None:
        """Pixels of context each output pixel depends on, or None when the result depends on the
        whole image (then it cannot run in tiles). Declared with ``technique(overlap=...)``."""
        if self.overlap is None or self.inputs:
            return None
        return self.overlap(self.validate_params(params)) if callable(self.overlap) else int(self.overlap)

    def _output_of(self, valid: Mapping[str, Any]) -> Output:
        return self.output(valid) if callable(self.output) else self.output

    def _kind_of(self, valid: Mapping[str, Any]) -> LabelKind | None:
        if self._output_of(valid) != "labels":
            return None
        return self.label_kind(valid) if callable(self.label_kind) else self.label_kind

    # -- running ------------------------------------------------------------------------------
    def __call__(self, image: Any, *, channel_axis: ChannelAxis = "auto", **params: Any) -> np.ndarray:
        """Run on ``image`` (2D, or nD processed per 2D slice) and return the output array."""
        result = self.run(image, channel_axis=channel_axis, **params)
        if result.notes:
            import warnings

            for note in result.notes:
                warnings.warn(f"{self.name}: {note}", SegsuiteWarning, stacklevel=2)
        return result.data

    def run(self, image: Any, *, channel_axis: ChannelAxis = "auto", **kwargs: Any) -> Result:
        """Like calling the technique, but return a :class:`Result` with info and notes.

        Accepts ``progress(done, total)`` and ``cancel() -> bool`` callbacks (the latter is also
        asked within each slice by the iterative techniques).
        """
        gen = self.iter_run(image, channel_axis=channel_axis, **kwargs)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value

    def iter_run(
        self,
        image: Any,
        *,
        channel_axis: ChannelAxis = "auto",
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        **params: Any,
    ) -> Iterator[tuple[int, int]]:
        """Generator form of :meth:`run`: yields ``(done, total)`` after each slice, returns a Result."""
        t0 = time.perf_counter()
        layer_inputs = {spec.name: params.pop(spec.name, None) for spec in self.inputs}
        params = self.validate_params(params)
        channel_axis, assumed = self._channel_axis(image, channel_axis)
        image = check_image(image, channel_axis=channel_axis)
        spatial = tuple(image.shape[:-1] if channel_axis is not None else image.shape)
        layer_inputs = {k: check_input(v, spatial, k) for k, v in layer_inputs.items()}
        slices = list(iter_slices(image.shape, has_channels=channel_axis is not None))
        total = len(slices)
        out: np.ndarray | None = None
        infos: list[dict[str, Any]] = []
        notes: dict[str, int] = {}
        offset = 0
        kind = self._kind_of(params)
        output = self._output_of(params)
        for i, index in enumerate(slices):
            if cancel is not None and cancel():
                raise Cancelled(f"{self.name} cancelled after {i} of {total} slices")
            prepared, info = prepare_slice(image[index], has_channels=channel_axis is not None, mode=self.channels)
            sliced = {k: slice_input(v, index, spatial[-2:]) for k, v in layer_inputs.items()}
            res = self.run_prepared(prepared, info, params, sliced, cancel=cancel)
            data = res.data
            if kind == "instance" and offset:
                data = np.where(data > 0, data + offset, 0).astype(data.dtype, copy=False)
            if out is None:
                out = np.zeros(image.shape[: len(index)] + data.shape, dtype=_stack_dtype(data.dtype, kind, total))
            out[index] = data
            if kind == "instance" and data.size:
                offset = max(offset, int(data.max()))
            infos.append(res.info)
            for note in res.notes:
                notes[note] = notes.get(note, 0) + 1
            if progress is not None:
                progress(i + 1, total)
            yield i + 1, total
        assert out is not None
        info = infos[0] if total == 1 else {"slices": infos}
        note_list = [n if total == 1 else f"{n} ({c} of {total} slices)" for n, c in notes.items()]
        note_list = ([assumed] if assumed else []) + note_list
        return Result(out, info, note_list, kind, time.perf_counter() - t0, output)

    def _channel_axis(self, image: Any, channel_axis: ChannelAxis) -> tuple[int | None, str | None]:
        """``channel_axis`` with "auto" resolved, and the note saying what was assumed (or None)."""
        if channel_axis != "auto":
            return channel_axis, None
        shape = tuple(np.shape(image))  # reads .shape first: a dask or zarr array is not loaded
        axis = None if self.channels == "labels" else guess_channel_axis(shape)
        if axis is None:
            return None, None
        return axis, (f"the last axis (size {shape[-1]}) was taken as colour channels, as napari does; "
                      f"pass channel_axis=None to treat it as a spatial axis")

    def run_prepared(
        self, image: np.ndarray, info: ImageInfo, params: Mapping[str, Any], inputs: Mapping[str, Any] | None = None,
        *, cancel: Callable[[], bool] | None = None,
    ) -> Result:
        """Run on one prepared slice (float32 2D gray, or HxWxC) with already validated params.

        This is the fast path of live previews: the widget prepares the displayed slice once and
        calls this on every parameter change. ``inputs`` holds the layer inputs already cut to this
        slice (see :func:`slice_input`): ``(markers, notes)`` pairs or None. ``cancel() -> bool``
        stops the iterative techniques within an iteration (:class:`Cancelled` is raised).
        """
        t0 = time.perf_counter()
        notes = list(info.notes)
        kwargs = dict(params)
        for spec in self.inputs:
            markers, input_notes = (inputs or {}).get(spec.name) or (None, [])
            notes.extend(input_notes)
            if markers is None and spec.required:
                raise MissingInput(
                    f"{self.name} needs {spec.name} ({spec.doc or 'seeds'}): pick a "
                    f"{' or '.join(spec.layers)} layer with at least one seed on this slice"
                )
            kwargs[spec.name] = markers
        nonfinite = info.nonfinite_mask(image) if info.n_nonfinite else None
        if nonfinite is not None and self.nan_policy == "fill":
            mask = nonfinite if image.ndim == 2 else nonfinite[..., None]
            image = np.where(mask | ~np.isfinite(image), np.float32(info.fill_value), image)
        if info.is_constant and image.size > info.n_nonfinite and self.channels != "labels":
            notes.append(f"the image is constant (value {info.vmin:g})")
        if self.wants_info:
            kwargs["info"] = info
        with one_blas_thread(), cancellable(cancel):  # _blas.py: solvers are many times faster with one BLAS thread
            out = self.func(image, **kwargs)
        res_info: dict[str, Any] = {}
        if isinstance(out, tuple):
            out, res_info = out
            notes.extend(res_info.pop("notes", []))
        out = np.asarray(out)
        output = self._output_of(params)  # params are validated: no second validation per preview
        if nonfinite is not None:
            if output == "labels":
                out = out.copy() if not out.flags.writeable else out
                out[nonfinite] = 0
            else:
                out = out.astype(np.float32)  # a copy that can hold NaN
                out[nonfinite] = np.nan
        return Result(out, res_info, notes, self._kind_of(params), time.perf_counter() - t0, output)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description of the technique."""
        kinds = self.label_kind
        if callable(kinds):
            kinds = (inspect.getdoc(kinds) or "depends on the parameters").strip()
        output = self.output
        if callable(output):
            output = (inspect.getdoc(output) or "depends on the parameters").strip()
        return {
            "name": self.name,
            "family": self.family,
            "output": output,
            "label_kind": kinds,
            "channels": self.channels,
            "inputs": [{"name": i.name, "layers": list(i.layers), "required": i.required, "doc": i.doc} for i in self.inputs],
            "summary": self.summary,
            "params": [p.to_dict() for p in self.params],
        }


class SegsuiteWarning(UserWarning):
    """A remark about the input or the result that the user should see (NaNs, constant images...)."""


def _stack_dtype(dtype: np.dtype, kind: LabelKind | None, n_slices: int) -> np.dtype:
    # instance ids are offset per slice so that they stay unique across a stack
    if kind == "instance" and n_slices > 1:
        return np.dtype(np.int64) if np.dtype(dtype).itemsize > 4 else np.dtype(np.int32)
    return np.dtype(dtype)


CATALOG: dict[str, Technique] = {}


def technique(
    name: str,
    *,
    family: str,
    output: Output | Callable[[Mapping[str, Any]], Output] = "labels",
    label_kind: LabelKind | Callable[[Mapping[str, Any]], LabelKind] | None = None,
    channels: Literal["gray", "color", "labels"] = "gray",
    nan_policy: Literal["fill", "propagate"] = "fill",
    histogram: bool = False,
    overlap: int | Callable[[Mapping[str, Any]], int | None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a catalog technique.

    The function takes the prepared 2D slice as its first argument (float32 gray, HxWxC when
    ``channels="color"``, or int32/int64 label ids when ``channels="labels"``: post-processing),
    keyword-only parameters annotated with ``Annotated[type, Range(...)]``,
    ``Literal[...]`` choices and optionally :class:`When`, and returns an array or
    ``(array, info_dict)``. A keyword ``info`` (no default) receives the slice's :class:`ImageInfo`.
    ``nan_policy="fill"`` replaces non-finite pixels by the mean before the call; ``"propagate"``
    passes them through. In both cases they are background (labels) or NaN (images) in the output.
    ``overlap`` declares a local technique: how many pixels of context each output pixel needs (an
    int, or a function of the validated parameters returning one, or None for settings that make
    the result depend on the whole image). Local techniques can run in overlapping tiles
    (:mod:`napari_segsuite.techniques.tiles`) with the same result as on the whole image.

    The decorated name becomes the technique's public function (:mod:`._functions`): the slice
    function itself is ``CATALOG[name].func``.
    """
    if not callable(output) and output not in ("labels", "image"):
        raise ValueError(f"output must be 'labels', 'image' or a function of the parameters, got {output!r}")
    if (callable(output) or output == "labels") and label_kind is None:
        raise ValueError(f"{name}: a labels technique must declare its label_kind")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in CATALOG:
            raise ValueError(f"technique {name!r} is registered twice")
        params, wants_info, inputs = params_from_signature(func)
        doc = inspect.getdoc(func) or ""
        CATALOG[name] = Technique(
            name=name,
            family=family,
            output=output,
            func=func,
            params=params,
            label_kind=label_kind,
            channels=channels,
            nan_policy=nan_policy,
            histogram=histogram,
            summary=doc.split("\n\n")[0].replace("\n", " ").strip(),
            doc=doc,
            wants_info=wants_info,
            inputs=inputs,
            overlap=overlap,
        )
        return public_function(CATALOG[name])  # the module's name becomes a function a user can call

    return register

"""The technique catalog: one declaration per technique drives widgets, CLI, presets and tests.

A technique is a plain function over one 2D slice, registered with :func:`technique`::

    @technique("threshold.multiotsu", family="Thresholding", output="labels", label_kind="semantic")
    def multiotsu(image, *, classes: Annotated[int, Range(2, 5)] = 3) -> np.ndarray:
        '''Multi-level Otsu: N classes -> class ids 0..N-1.'''

The parameter specs (type, default, range, choices, when they apply, help text) are read from the
signature, its ``Annotated`` metadata and the numpydoc ``Parameters`` section, so nothing about a
technique is written twice. The registered :class:`Technique` validates images and parameters,
converts colour to gray, loops over the leading axes of nD data and reports progress.
"""

from __future__ import annotations

import inspect
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import numpy as np

from ..io.labels import LabelKind
from ._blas import one_blas_thread
from ._functions import public_function
from ._image import ImageInfo, check_image, check_input, guess_channel_axis, iter_slices, prepare_slice, slice_input
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


class MissingInput(ValueError):
    """A required layer input (seeds, an initial shape) is absent: a hint to give it, not a fault."""


@dataclass(frozen=True)
class Range:
    """Numeric limits of a parameter (inclusive).

    ``odd`` requires odd integers (window sizes). ``from_data`` tells widgets to take their slider
    limits from the input instead of ``min``/``max``: ``"values"`` spans the image's [min, max]
    (a manual threshold), ``"span"`` spans plus or minus its (max - min) (an offset).
    """

    min: float | None = None
    max: float | None = None
    step: float | None = None
    odd: bool = False
    from_data: Literal["values", "span"] | None = None


@dataclass(frozen=True)
class When:
    """A parameter only matters when parameter ``param`` has one of ``values``."""

    param: str
    values: tuple

    def __init__(self, param: str, *values: Any) -> None:
        object.__setattr__(self, "param", param)
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class Input:
    """Marks a keyword parameter that takes its value from a napari layer instead of a widget.

    The function receives a 2D ``int32`` marker image of the slice (0 = no seed) or ``None``.
    Callers pass either a label/mask array with the image's spatial shape (Labels layer, or a
    Shapes layer rasterised), or point coordinates ``(N, ndim)`` (Points layer; each point becomes
    its own seed id 1..N). ``layers`` lists the napari layer types a widget offers.
    """

    layers: tuple[str, ...] = ("points", "labels")
    required: bool = False

    def __init__(self, *layers: str, required: bool = False) -> None:
        object.__setattr__(self, "layers", tuple(layers) or ("points", "labels"))
        object.__setattr__(self, "required", required)


@dataclass(frozen=True)
class InputSpec:
    """A technique's layer input: its name, accepted layer types, whether required, its help."""

    name: str
    layers: tuple[str, ...]
    required: bool
    doc: str = ""


@dataclass(frozen=True)
class Param:
    """Specification of one keyword parameter of a technique."""

    name: str
    type: type
    default: Any
    doc: str = ""
    range: Range | None = None
    choices: tuple | None = None
    when: When | None = None

    def validate(self, value: Any, technique_name: str = "") -> Any:
        """Return ``value`` coerced to this parameter's type, or raise ``ValueError``/``TypeError``."""
        where = f"{technique_name}: parameter {self.name!r}" if technique_name else f"parameter {self.name!r}"
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"{where} = {value!r} is not one of {list(self.choices)}")
            return value
        if self.type is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise TypeError(f"{where} must be true or false, got {value!r}")
        if self.type in (int, float):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"{where} must be a number, got {type(value).__name__} {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"{where} must be finite, got {value!r}")
            if self.type is int:
                if float(value) != int(value):
                    raise ValueError(f"{where} must be a whole number, got {value!r}")
                value = int(value)
            else:
                value = float(value)
            r = self.range
            if r is not None:
                lo = -math.inf if r.min is None else r.min
                hi = math.inf if r.max is None else r.max
                if not lo <= value <= hi:
                    raise ValueError(f"{where} = {value!r} is out of range [{r.min}, {r.max}]")
                if r.odd and value % 2 == 0:
                    raise ValueError(f"{where} must be odd, got {value!r} (try {value + 1})")
            return value
        if not isinstance(value, self.type):
            raise TypeError(f"{where} must be {self.type.__name__}, got {type(value).__name__}")
        return value

    def parse(self, text: str, technique_name: str = "") -> Any:
        """Parse a command-line string (``"31"``, ``"true"``, ``"sauvola"``) and validate it."""
        value: Any = text
        if self.type is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"parameter {self.name!r} must be true or false, got {text!r}")
            value = lowered in ("true", "1", "yes", "on")
        elif self.type in (int, float) and self.choices is None:
            try:
                value = float(text) if self.type is float else int(text)
            except ValueError:
                raise ValueError(f"parameter {self.name!r} must be {'an integer' if self.type is int else 'a number'}, got {text!r}") from None
        elif self.choices is not None and self.type is not str:
            value = self.type(text)
        return self.validate(value, technique_name)

    def applies(self, params: Mapping[str, Any]) -> bool:
        """Whether this parameter matters given the other parameters' values."""
        return self.when is None or params.get(self.when.param) in self.when.values

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (used by ``napari-segsuite techniques --json``)."""
        d: dict[str, Any] = {"name": self.name, "type": self.type.__name__, "default": self.default}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.range is not None:
            d["range"] = {k: v for k, v in vars(self.range).items() if v is not None and v is not False}
        if self.when is not None:
            d["when"] = {self.when.param: list(self.when.values)}
        if self.doc:
            d["doc"] = self.doc
        return d


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
        params, wants_info, inputs = _params_from_signature(func)
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


def _params_from_signature(func: Callable[..., Any]) -> tuple[tuple[Param, ...], bool, tuple[InputSpec, ...]]:
    hints = get_type_hints(func, include_extras=True)
    docs = _numpydoc_params(inspect.getdoc(func) or "")
    params = []
    inputs = []
    wants_info = False
    for i, (pname, p) in enumerate(inspect.signature(func).parameters.items()):
        if i == 0:
            continue  # the image
        if pname == "info":
            wants_info = True
            continue
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.default is inspect.Parameter.empty:
            raise TypeError(f"{func.__name__}: parameter {pname!r} must be keyword-only with a default")
        hint = hints.get(pname, type(p.default))
        rng = when = None
        if get_origin(hint) is Annotated:
            hint, *meta = get_args(hint)
            layer = next((m for m in meta if isinstance(m, Input)), None)
            if layer is not None:
                inputs.append(InputSpec(pname, layer.layers, layer.required, docs.get(pname, "")))
                continue
            rng = next((m for m in meta if isinstance(m, Range)), None)
            when = next((m for m in meta if isinstance(m, When)), None)
        choices = None
        if get_origin(hint) is Literal:
            choices = get_args(hint)
            hint = type(choices[0])
        params.append(Param(pname, hint, p.default, docs.get(pname, ""), rng, choices, when))
        params[-1].validate(p.default, func.__name__)  # a bad default is a programming error
    return tuple(params), wants_info, tuple(inputs)


def _numpydoc_params(doc: str) -> dict[str, str]:
    """Parameter descriptions from a numpydoc ``Parameters`` section."""
    m = re.search(r"^Parameters\n-+\n(.*?)(?:\n\n[A-Z][a-z]+\n-+\n|\Z)", doc, flags=re.S | re.M)
    if not m:
        return {}
    out: dict[str, str] = {}
    current = None
    for line in m.group(1).splitlines():
        if line and not line.startswith(" "):
            current = line.split(":")[0].strip()
            out[current] = ""
        elif current is not None and line.strip():
            out[current] = (out[current] + " " + line.strip()).strip()
    return out

"""What a technique's signature declares: its parameters (:class:`Param`, with a :class:`Range`, the
choices of a ``Literal`` and a :class:`When` condition) and its layer inputs (:class:`Input`),
read from the signature, its ``Annotated`` metadata and the numpydoc ``Parameters`` section by
:func:`params_from_signature`.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import numpy as np

__all__ = ["Input", "InputSpec", "MissingInput", "Param", "Range", "When", "params_from_signature"]


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


def params_from_signature(func: Callable[..., Any]) -> tuple[tuple[Param, ...], bool, tuple[InputSpec, ...]]:
    """The parameters, whether the function takes ``info``, and the layer inputs of a technique's
    function (its first argument is the image; the others keyword-only with defaults)."""
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

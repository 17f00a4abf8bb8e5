"""Each catalog technique as a plain function a scientist can call, like ``skimage.segmentation``'s.

``@technique`` registers the slice function in the catalog and puts, in its place in the family
module, the function made here: the technique's own keyword parameters with their defaults and
choices, ``image`` first and ``channel_axis`` after it (not for label techniques), and a numpydoc docstring (the technique's,
plus ``image``, ``channel_axis``, Returns and an Examples section that runs as a doctest)::

    from napari_segsuite.techniques import felzenszwalb
    labels = felzenszwalb(image, scale=100)

Calling it is calling ``CATALOG[name]``: the same validation, colour handling, nD loop and notes
(as warnings). ``function.technique`` is the catalog entry, for ``run`` (info, notes, progress and
cancel callbacks) and the parameter specs.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

Technique = Any  # the catalog's Technique (._catalog imports this module, not the other way round)

__all__ = ["FUNCTIONS", "public_function"]

FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {}  # function name -> function, in registration order

_IMAGE_DOC = {
    "gray": "A 2D image, gray or colour (converted to gray), or a stack processed per 2D slice.",
    "color": "A 2D image, gray or colour, or a stack processed per 2D slice.",
    "labels": "Labels (integer ids, 0 = background) or a mask, 2D or a stack processed per 2D slice.",
}
_CHANNEL_AXIS_DOC = ('The colour axis; ``"auto"`` (default) takes a last axis of 3 or 4 as RGB(A), as napari '
                     "does, and says so in a warning; None: every axis is spatial.")
_EXAMPLE_INPUT = {
    "gray": ">>> from skimage.data import coins\n>>> image = coins()[20:84, 20:116]",
    "color": ">>> from skimage.data import astronaut\n>>> image = astronaut()[:64, :96]",
    "labels": ">>> from skimage.data import coins\n>>> image = (coins()[20:84, 20:116] > 100).astype(np.uint8)",
}


def public_function(tech: Technique) -> Callable[..., np.ndarray]:
    """A function with ``tech``'s real signature and documentation that calls ``tech``."""

    def function(image: Any, /, *, channel_axis: Any = "auto", **params: Any) -> np.ndarray:
        return tech(image, channel_axis=channel_axis, **params)

    name = tech.func.__name__
    function.__name__ = function.__qualname__ = name
    function.__module__ = tech.func.__module__
    function.__signature__ = _signature(tech)  # type: ignore[attr-defined]
    function.__doc__ = _docstring(tech, name)
    function.technique = tech  # type: ignore[attr-defined]
    FUNCTIONS[name] = function
    return function


def _signature(tech: Technique) -> inspect.Signature:
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("image", inspect.Parameter.POSITIONAL_ONLY, annotation=np.ndarray)]
    if tech.channels != "labels":  # labels have no colour axis
        params.append(inspect.Parameter("channel_axis", keyword, default="auto", annotation=int | None | Literal["auto"]))
    params += [inspect.Parameter(i.name, keyword, default=None, annotation=np.ndarray | None) for i in tech.inputs]
    params += [inspect.Parameter(p.name, keyword, default=p.default,
                                 annotation=Literal[p.choices] if p.choices else p.type) for p in tech.params]
    return inspect.Signature(params, return_annotation=np.ndarray)


def _docstring(tech: Technique, name: str) -> str:
    head, sep, rest = tech.doc.partition("Parameters\n----------\n")
    entries = [_entry("image : array_like", _IMAGE_DOC[tech.channels])]
    if tech.channels != "labels":
        entries.append(_entry("channel_axis : int, None or 'auto'", _CHANNEL_AXIS_DOC))
    for spec in tech.inputs:
        need = "required" if spec.required else "optional"
        entries.append(_entry(f"{spec.name} : array_like, {need}", f"{spec.doc} A label image of the image's spatial "
                              "shape, or point coordinates (N, ndim), one seed id per point."))
    params = "\n".join(entries) + ("\n" + rest.strip("\n") if sep else "")
    return (f"{head.rstrip()}\n\nParameters\n----------\n{params}\n\nReturns\n-------\n{_returns(tech)}\n\n"
            f"Examples\n--------\n{_example(tech, name)}\n\nSee Also\n--------\n"
            f"napari_segsuite.techniques.CATALOG : ``CATALOG[{tech.name!r}].run`` also returns notes and info.\n")


def _entry(head: str, text: str) -> str:
    return head + "\n" + textwrap.fill(text, 96, initial_indent="    ", subsequent_indent="    ")


def _returns(tech: Technique) -> str:
    if tech.output == "image":
        return _entry("out : numpy.ndarray", "A float32 image with the input's spatial shape (non-finite input pixels "
                                             "are NaN).")
    kind = ("semantic (classes) or instance (objects), as the parameters say" if callable(tech.label_kind)
            else f"{tech.label_kind} labels")
    more = " Some parameters give an image instead." if callable(tech.output) else ""
    return _entry("labels : numpy.ndarray", "Integer labels with the input's spatial shape (a colour axis is gone), "
                                            f"0 = background; {kind}.{more}")


def _example(tech: Technique, name: str) -> str:
    lines = [">>> import numpy as np", f">>> from napari_segsuite.techniques import {name}", _EXAMPLE_INPUT[tech.channels]]
    args = ["image"] + (["channel_axis=-1"] if tech.channels == "color" else [])
    required = [spec.name for spec in tech.inputs if spec.required]
    if required:
        lines += [">>> seeds = np.zeros((64, 96), np.int32)", ">>> seeds[8, 8], seeds[40, 60] = 1, 2"]
        args.append(f"{required[0]}=seeds")
    call = f"{name}({', '.join(args)})"
    lines += [f">>> out = {call}", ">>> out.shape", "(64, 96)"]
    if tech.output == "labels":
        lines += [">>> bool(out.max() > 0)", "True"]
    return "\n".join(lines)

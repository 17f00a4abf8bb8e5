"""Chains: a technique followed by post-processing steps, run as one.

``Chain([("threshold.global", {"method": "otsu"}), ("post.fill_holes", {}), ("post.split_touching", {})])``
runs the first technique on the image and each following step on the labels the previous one
produced. Only the first step may take an image; the others must be post-processing (labels in,
labels out). A post-processing step with a ``kind`` parameter receives the kind of the labels it
is given (instance or semantic), so that a chain after a semantic classifier keeps class ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._catalog import ChannelAxis, Result, Technique
from ._image import ImageInfo, prepare_slice

__all__ = ["Chain", "Step"]


@dataclass(frozen=True)
class Step:
    """One validated step: a technique and its full parameter dict."""

    technique: Technique
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"technique": self.technique.name, "params": self.params}


class Chain:
    """A technique then post-processing steps; call :meth:`run` like a technique's ``run``."""

    def __init__(self, steps: Iterable[tuple[str | Technique, Mapping[str, Any]] | Step]) -> None:
        from . import get

        built = []
        for i, step in enumerate(steps):
            if not isinstance(step, Step):
                tech, params = step
                tech = tech if isinstance(tech, Technique) else get(tech)
                step = Step(tech, tech.validate_params(dict(params)))
            if i > 0 and step.technique.channels != "labels":
                raise ValueError(
                    f"step {i + 1} ({step.technique.name}) takes an image: only the first step of a chain may; "
                    "the others must be post-processing (post.*)"
                )
            built.append(step)
        if not built:
            raise ValueError("a chain needs at least one step")
        if len(built) > 1 and built[0].technique.output_for(built[0].params) != "labels":
            raise ValueError(f"{built[0].technique.name} outputs an image with these parameters: post-processing needs labels")
        self.steps: tuple[Step, ...] = tuple(built)

    @property
    def first(self) -> Step:
        return self.steps[0]

    def _step_overlaps(self) -> Iterator[tuple[Step, int | None]]:
        """Each step with the context it needs, given the parameters it will run with."""
        kind = self.first.technique.kind_for(self.first.params)
        for i, step in enumerate(self.steps):
            params = step.params if i == 0 else self._post_params(step, kind)
            yield step, step.technique.overlap_for(params)
            kind = step.technique.kind_for(params) or kind

    @property
    def overlap(self) -> int | None:
        """Context in pixels the whole chain needs (the sum of its steps'), or None when a step's
        result depends on the whole image (see ``Technique.overlap_for``)."""
        depths = [depth for _, depth in self._step_overlaps()]
        return None if None in depths else sum(depths)

    def require_local(self) -> int:
        """:attr:`overlap`, or a ``ValueError`` naming the first step that cannot run in tiles."""
        for step, depth in self._step_overlaps():
            if depth is None:
                raise ValueError(f"{step.technique.name} is not local (its result depends on the whole image), so this "
                                 f"chain cannot run in tiles: run it without --tile, or use local steps only")
        return self.overlap

    def __repr__(self) -> str:
        return " -> ".join(s.technique.name for s in self.steps)

    def _post_params(self, step: Step, kind: str | None) -> dict[str, Any]:
        params = dict(step.params)
        if "kind" in params and kind in ("instance", "semantic"):
            params["kind"] = kind
        return params

    def run(
        self,
        image: Any,
        *,
        channel_axis: ChannelAxis = "auto",
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        **inputs: Any,
    ) -> Result:
        """Run every step on the whole image (nD per slice); layer inputs go to the first step."""
        gen = self.iter_run(image, channel_axis=channel_axis, progress=progress, cancel=cancel, **inputs)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value

    def iter_run(self, image: Any, *, channel_axis: ChannelAxis = "auto", progress=None, cancel=None, **inputs: Any):
        """Generator form of :meth:`run` (yields the first step's progress, then runs the others);
        ``channel_axis`` is the first step's (see :class:`Technique`)."""
        t0 = time.perf_counter()
        result = yield from self.first.technique.iter_run(
            image, channel_axis=channel_axis, progress=progress, cancel=cancel, **inputs, **self.first.params
        )
        notes, first_info = list(result.notes), result.info
        for step in self.steps[1:]:
            result = step.technique.run(result.data, channel_axis=None, cancel=cancel, **self._post_params(step, result.kind))
            notes.extend(result.notes)
        result.notes = notes
        result.info = {**first_info, **result.info}
        result.seconds = time.perf_counter() - t0
        return result

    def run_prepared(self, image: np.ndarray, info: ImageInfo, inputs: Mapping[str, Any] | None = None, *,
                     cancel: Callable[[], bool] | None = None) -> Result:
        """One prepared slice through every step (the live-preview path); ``cancel`` as in
        :meth:`Technique.run_prepared`."""
        t0 = time.perf_counter()
        result = self.first.technique.run_prepared(image, info, self.first.params, inputs, cancel=cancel)
        notes, first_info = list(result.notes), result.info
        for step in self.steps[1:]:
            labels, linfo = prepare_slice(result.data, has_channels=False, mode="labels")
            result = step.technique.run_prepared(labels, linfo, self._post_params(step, result.kind), cancel=cancel)
            notes.extend(result.notes)
        result.notes = notes
        result.info = {**first_info, **result.info}  # e.g. the thresholds the histogram shows
        result.seconds = time.perf_counter() - t0
        return result

"""JSON presets: a technique's name and its parameters, saved from a widget and applied anywhere.

A preset file looks like::

    {"format": "napari-segsuite-preset", "version": 1,
     "technique": "threshold.adaptive", "params": {"method": "sauvola", "block_size": 31}}

A chain (a technique then post-processing steps) is saved as ``"steps": [{"technique": ...,
"params": {...}}, ...]`` instead of ``technique``/``params``.

Presets are plain JSON (never pickles); loading validates the technique name and every parameter
against the catalog, so a bad file fails with a message naming the problem, and nothing in a file
is ever executed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_write
from ..io.limits import read_json
from . import Technique, get
from .chain import Chain, Step

__all__ = ["FORMAT", "Preset", "load_preset", "parse_preset", "parse_step", "read_preset_json", "save_preset"]

FORMAT = "napari-segsuite-preset"
VERSION = 1


@dataclass(frozen=True)
class Preset:
    """A validated technique + parameters pair, optionally followed by post-processing steps."""

    technique: Technique
    params: dict[str, Any]
    post: tuple[Step, ...] = ()

    @property
    def chain(self) -> Chain:
        """The technique and its post-processing as one runnable :class:`Chain`."""
        return Chain([Step(self.technique, self.params), *self.post])

    def to_dict(self) -> dict[str, Any]:
        if self.post:
            return {"format": FORMAT, "version": VERSION, "steps": [s.to_dict() for s in self.chain.steps]}
        return {"format": FORMAT, "version": VERSION, "technique": self.technique.name, "params": self.params}

    def __call__(self, image: Any, **kwargs: Any) -> Any:
        """Apply the preset to an image (keyword arguments: channel_axis and layer inputs such as seeds)."""
        return self.chain.run(image, **kwargs).data


def parse_preset(data: Any, *, source: str = "preset") -> Preset:
    """Validate a decoded preset (a dict) against the catalog."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a preset is a JSON object, got {type(data).__name__}")
    if data.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{source}: not a napari-segsuite preset (format {data.get('format')!r})")
    version = data.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{source}: 'version' must be an integer, got {version!r}")
    if version > VERSION:
        raise ValueError(f"{source}: preset version {data['version']} is newer than this napari-segsuite reads ({VERSION}); upgrade napari-segsuite")
    if "steps" in data:
        steps = data["steps"]
        if not isinstance(steps, list) or not steps:
            raise ValueError(f"{source}: 'steps' must be a non-empty list of {{technique, params}} objects")
        parsed = [parse_step(s, f"{source}: step {i + 1}") for i, s in enumerate(steps)]
        try:
            chain = Chain(parsed)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None
        return Preset(chain.first.technique, chain.first.params, chain.steps[1:])
    tech, params = parse_step(data, source)
    return Preset(tech, params)


def parse_step(data: Any, source: str) -> tuple[Technique, dict[str, Any]]:
    """One validated ``{technique, params}`` object; errors name ``source``."""
    if not isinstance(data, dict) or "technique" not in data:
        raise ValueError(f"{source}: the preset names no 'technique'")
    if not isinstance(data["technique"], str):
        raise ValueError(f"{source}: 'technique' must be a technique's name (text), got {data['technique']!r}")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"{source}: 'params' must be a JSON object")
    try:
        tech = get(data["technique"])
        return tech, tech.validate_params(params)
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{source}: {e.args[0] if e.args else e}") from None


def read_preset_json(path: str | os.PathLike) -> Any:
    """The decoded JSON of a preset file, with errors that name the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such preset file")
    return read_json(path, "preset")


def load_preset(path: str | os.PathLike) -> Preset:
    """Read and validate a preset file."""
    return parse_preset(read_preset_json(path), source=str(path))


def save_preset(
    path: str | os.PathLike,
    technique: str | Technique,
    params: dict[str, Any],
    *,
    post: list[tuple[str | Technique, dict[str, Any]]] | None = None,
    overwrite: bool = False,
) -> Path:
    """Validate and write a preset file atomically (refuses to replace a file unless ``overwrite``).

    ``post`` lists post-processing steps ``(technique, params)`` saved with it as one chain.
    """
    tech = technique if isinstance(technique, Technique) else get(technique)
    chain = Chain([(tech, params), *(post or [])])
    preset = Preset(tech, chain.first.params, chain.steps[1:])
    text = json.dumps(preset.to_dict(), indent=2) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), overwrite=overwrite)

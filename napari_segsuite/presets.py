"""JSON presets: a technique's name and its parameters, saved from a widget and applied anywhere.

A preset file looks like::

    {"format": "napari-segsuite-preset", "version": 1,
     "technique": "threshold.adaptive", "params": {"method": "sauvola", "block_size": 31}}

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

from .io.atomic import atomic_write
from .techniques import Technique, get

__all__ = ["FORMAT", "Preset", "load_preset", "parse_preset", "save_preset"]

FORMAT = "napari-segsuite-preset"
VERSION = 1


@dataclass(frozen=True)
class Preset:
    """A validated technique + parameters pair."""

    technique: Technique
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "technique": self.technique.name, "params": self.params}

    def __call__(self, image: Any, **kwargs: Any) -> Any:
        """Apply the preset to an image (keyword arguments as for the technique, e.g. channel_axis)."""
        return self.technique(image, **{**self.params, **kwargs})


def parse_preset(data: Any, *, source: str = "preset") -> Preset:
    """Validate a decoded preset (a dict) against the catalog."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a preset is a JSON object, got {type(data).__name__}")
    if data.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{source}: not a napari-segsuite preset (format {data.get('format')!r})")
    if int(data.get("version", VERSION)) > VERSION:
        raise ValueError(f"{source}: preset version {data['version']} is newer than this napari-segsuite reads ({VERSION}); upgrade napari-segsuite")
    if "technique" not in data:
        raise ValueError(f"{source}: the preset names no 'technique'")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"{source}: 'params' must be a JSON object")
    try:
        tech = get(data["technique"])
        params = tech.validate_params(params)
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{source}: {e.args[0] if e.args else e}") from None
    return Preset(tech, params)


def load_preset(path: str | os.PathLike) -> Preset:
    """Read and validate a preset file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such preset file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    return parse_preset(data, source=str(path))


def save_preset(path: str | os.PathLike, technique: str | Technique, params: dict[str, Any], *, overwrite: bool = False) -> Path:
    """Validate and write a preset file atomically (refuses to replace a file unless ``overwrite``)."""
    tech = technique if isinstance(technique, Technique) else get(technique)
    preset = Preset(tech, tech.validate_params(params))
    text = json.dumps(preset.to_dict(), indent=2) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), overwrite=overwrite)

"""Saving and loading trained models: ``NAME.pt`` (a plain state_dict) beside ``NAME.json``.

The JSON holds the network's :class:`NetConfig`, the training record and the SHA-256 of the
``.pt`` file. Loading checks the hash before ``torch.load(weights_only=True)`` (tensors only: nothing
in the file can run code), then checks that every tensor fits the configured network.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..io.atomic import atomic_write
from .learned import LearnedModel
from .models import NetConfig, build_network

__all__ = ["FORMAT", "ModelFileError", "load_model", "save_model"]

FORMAT = "napari-segsuite.learned-model"
VERSION = 1


class ModelFileError(ValueError):
    """A saved model that cannot be used: missing, damaged, altered or for another network."""


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".json", ".pt"):
        p = p.with_suffix("")
    return p.with_suffix(".json"), p.with_suffix(".pt")


def save_model(model: LearnedModel, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``path.pt`` and ``path.json`` (atomically, weights first); returns the JSON path."""
    meta_path, weights_path = _paths(path)
    if not overwrite:
        for p in (meta_path, weights_path):
            if p.exists():
                raise FileExistsError(f"{p} already exists; pass overwrite=True (or choose another name) to replace it")
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.network.state_dict().items()}
    torch.save(state, buffer)
    data = buffer.getvalue()
    atomic_write(weights_path, lambda f: f.write(data), overwrite=True)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "name": model.name,
        "weights": weights_path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "network": model.config.to_json(),
        "history": model.history,
        "info": model.info,
    }
    text = json.dumps(meta, indent=2, default=_jsonable)
    return atomic_write(meta_path, lambda f: f.write(text.encode()), overwrite=True)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot save {type(value).__name__} in a model's JSON")


def load_model(path: str | os.PathLike) -> LearnedModel:
    """Load a model saved by :func:`save_model` (give the .json, the .pt or the common stem)."""
    meta_path, _ = _paths(path)
    if not meta_path.is_file():
        raise ModelFileError(f"{meta_path}: no such model file (a model is NAME.json + NAME.pt, written by 'Save model')")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{meta_path} is not a readable model description: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{meta_path} is not a napari-segsuite model (its 'format' is not {FORMAT!r})")
    if int(meta.get("version", 0)) > VERSION:
        raise ModelFileError(f"{meta_path} was written by a newer napari-segsuite (version {meta.get('version')}); update it")
    try:
        config = NetConfig.from_json(meta["network"])
        weights_name, expected = str(meta["weights"]), str(meta["sha256"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{meta_path}: the network description is incomplete or invalid ({e})") from e
    weights_path = meta_path.parent / Path(weights_name).name  # never outside the model's folder
    if not weights_path.is_file():
        raise ModelFileError(f"{weights_path}: the weights file of {meta_path.name} is missing; keep NAME.pt beside NAME.json")
    data = weights_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ModelFileError(f"{weights_path} does not match the SHA-256 recorded in {meta_path.name} (file damaged or "
                             f"replaced: expected {expected[:12]}..., got {digest[:12]}...); retrain or restore the file")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a damaged or foreign file
        raise ModelFileError(f"{weights_path} cannot be read as plain tensors: {e}") from e
    net = build_network(config)
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ModelFileError(f"{weights_path} does not fit a {config.architecture} network with these settings "
                             f"({config.to_json()}): {str(e).splitlines()[0]}") from e
    return LearnedModel(config, net.eval(), list(meta.get("history", [])), dict(meta.get("info", {})),
                        name=str(meta.get("name") or meta_path.stem))

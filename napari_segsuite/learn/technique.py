"""Trained models as catalog techniques, so that presets, the CLI, tuning and scoring use them like
any other technique.

``register_model(model)`` adds ``learn.<name>``. Models saved into the learned-models folder
(``$NAPARI_SEGSUITE_LEARNED``, default: the user data folder) are found again by name in a later
session: ``techniques.get("learn.nuclei")`` loads ``nuclei.json`` from there on first use, so a
preset that names a learned model keeps working.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..techniques import CATALOG, Param, Range, Technique
from .learned import LearnedModel

__all__ = ["PREFIX", "keep_model", "learned_models_dir", "load_registered", "register_model", "technique_name"]

PREFIX = "learn."
FAMILY = "Learned"


def learned_models_dir() -> Path:
    """Where trained models are kept for re-use (``$NAPARI_SEGSUITE_LEARNED`` overrides it)."""
    env = os.environ.get("NAPARI_SEGSUITE_LEARNED")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("napari-segsuite")) / "learned"


def technique_name(name: str) -> str:
    """``learn.<slug>`` for a model name (lower case, letters, digits and underscores)."""
    slug = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    if not slug:
        raise ValueError(f"a model needs a name made of letters or digits, got {name!r}")
    return PREFIX + slug


def register_model(model: LearnedModel, *, name: str | None = None) -> Technique:
    """Add (or replace) the catalog technique that applies ``model``; returns it."""
    tname = technique_name(name or model.name)
    config = model.config

    learnt_min_size = min(model.min_object_size, 10000)  # within the parameter's range

    def apply(image: np.ndarray, *, min_size: int = learnt_min_size, tile: int = 1024, flips: bool = True) -> np.ndarray:
        channel_axis = None if image.ndim == 2 else -1
        return model.predict(image, channel_axis, min_size=min_size, tile=tile, flips=flips)

    params = (
        Param("min_size", int, learnt_min_size,
              "instances smaller than this many pixels are removed (default: learnt from the training objects)",
              Range(0, 10000)),
        Param("tile", int, 1024, "tile side in pixels for large images (smaller uses less memory)", Range(64, 4096, 64)),
        Param("flips", bool, True, "average with the predictions of the image's mirror images: steadier outlines, "
              "four times the work (untick for speed)"),
    )
    if config.task != "instance":
        params = params[1:]
    classes = ", ".join(config.class_names.get(str(c), str(c)) for c in config.class_ids)
    summary = (f"{config.architecture} trained on your annotations: "
               + ("instances (interior + boundary, watershed)" if config.task == "instance" else f"classes {classes}"))
    tech = Technique(
        name=tname,
        family=FAMILY,
        output="labels",
        func=apply,
        params=params,
        label_kind="instance" if config.task == "instance" else "semantic",
        channels="gray" if config.in_channels == 1 else "color",
        nan_policy="fill",
        summary=summary,
        doc=summary,
    )
    CATALOG[tname] = tech
    return tech


def keep_model(model: LearnedModel) -> tuple[Path, str]:
    """Save ``model`` into :func:`learned_models_dir` as ``<slug>.json`` + ``<slug>.pt``, where
    ``get("learn.<slug>")`` finds it in later sessions; returns the JSON path and that name."""
    from .store import save_model

    tname = technique_name(model.name)
    return save_model(model, learned_models_dir() / tname[len(PREFIX):], overwrite=True), tname


def load_registered(name: str) -> Technique | None:
    """The technique ``learn.<slug>`` from a model saved in :func:`learned_models_dir`, or None."""
    from .store import load_model

    if not name.startswith(PREFIX):
        return None
    slug = name[len(PREFIX):]
    if not re.fullmatch(r"[a-z0-9_]+", slug):
        raise KeyError(f"{name!r} is not a learned model's name: names after 'learn.' are lower-case letters, digits "
                       f"and underscores, found in {learned_models_dir()} (a model elsewhere is loaded by its path: "
                       f"napari-segsuite predict PATH/NAME.json)")
    path = learned_models_dir() / f"{name[len(PREFIX):]}.json"
    if not path.is_file():
        return None
    model = load_model(path)
    return register_model(model, name=name[len(PREFIX):])

"""SAM model registry: names, official checkpoint URLs, sizes and SHA-256, downloads and loading.

Checkpoints are fetched with pooch into the user cache directory (``platformdirs``), which the
``NAPARI_SEGSUITE_MODELS`` environment variable or :func:`set_models_dir` overrides, or given as a
local path. Loading always uses ``torch.load(..., weights_only=True)`` (no pickled code runs) and
checks the file's SHA-256 against the registry before any byte is unpickled.

SAM 2.1 (Hiera tiny/small/base+/large, the ``sam2`` package: the ``[sam2]`` extra) is registered
beside SAM 1 with ``family="sam2"``; :func:`.sessions.open_session` gives each family its session.
Encoders from other SAM-compatible packages (e.g. MobileSAM's ``vit_t``) are registered when their
package is importable, through :func:`register`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "REGISTRY", "CheckpointError", "ModelSpec", "build_model", "checkpoint_path", "download", "family_of", "spec",
    "verify", "file_sha256", "load_model", "models_dir", "register", "set_models_dir",
]

ENV_DIR = "NAPARI_SEGSUITE_MODELS"
_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
_BASE2 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupt or made for another model."""


@dataclass(frozen=True)
class ModelSpec:
    """One downloadable model: where it lives, how big it is, and its SHA-256."""

    name: str
    url: str
    sha256: str
    size: int
    builder: Callable[[], Any] = field(compare=False, repr=False)
    description: str = ""
    family: str = "sam"  # "sam" (segment-anything) or "sam2" (the sam2 package)

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _sam_builder(kind: str) -> Callable[[], Any]:
    def build() -> Any:
        from .._no_triton import import_segment_anything

        return import_segment_anything().sam_model_registry[kind](checkpoint=None)

    return build


REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> None:
    """Add (or replace) a model in the registry."""
    REGISTRY[spec.name] = spec


register(ModelSpec("vit_b", _BASE + "sam_vit_b_01ec64.pth",
                   "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375_042_383,
                   _sam_builder("vit_b"), "SAM ViT-B: fastest of the official models, good on a CPU"))
register(ModelSpec("vit_l", _BASE + "sam_vit_l_0b3195.pth",
                   "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1_249_524_607,
                   _sam_builder("vit_l"), "SAM ViT-L"))
register(ModelSpec("vit_h", _BASE + "sam_vit_h_4b8939.pth",
                   "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2_564_550_879,
                   _sam_builder("vit_h"), "SAM ViT-H: best masks, wants a GPU"))


def _sam2_builder(config: str) -> Callable[[], Any]:
    def build() -> Any:
        from .._no_triton import triton_hidden
        from ..extras import require

        require("sam2")
        with triton_hidden():
            from sam2.build_sam import build_sam2_video_predictor

            # the video predictor is a SAM2Base: one model serves clicks and propagation
            return build_sam2_video_predictor(config, None, device="cpu")

    return build


for _name, _file, _config, _sha, _size, _what in (
    ("sam2.1_t", "sam2.1_hiera_tiny.pt", "sam2.1_hiera_t", "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
     156_008_466, "SAM 2.1 Hiera-T: fastest SAM 2; propagates through z and time with memory"),
    ("sam2.1_s", "sam2.1_hiera_small.pt", "sam2.1_hiera_s", "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
     184_416_285, "SAM 2.1 Hiera-S"),
    ("sam2.1_b+", "sam2.1_hiera_base_plus.pt", "sam2.1_hiera_b+", "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
     323_606_802, "SAM 2.1 Hiera-B+"),
    ("sam2.1_l", "sam2.1_hiera_large.pt", "sam2.1_hiera_l", "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
     898_083_611, "SAM 2.1 Hiera-L: best SAM 2 masks, wants a GPU"),
):
    register(ModelSpec(_name, _BASE2 + _file, _sha, _size, _sam2_builder(f"configs/sam2.1/{_config}.yaml"), _what, "sam2"))


def _register_mobile_sam() -> None:
    import importlib.util

    if importlib.util.find_spec("mobile_sam") is None:
        return

    def build() -> Any:
        from mobile_sam import sam_model_registry as mobile_registry  # type: ignore[import-not-found]

        return mobile_registry["vit_t"](checkpoint=None)

    register(ModelSpec("vit_t", "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
                       "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f", 40_728_226,
                       build, "MobileSAM ViT-T (mobile_sam package)"))


_register_mobile_sam()

_models_dir_override: Path | None = None


def set_models_dir(path: str | os.PathLike | None) -> None:
    """Use ``path`` for downloaded checkpoints (a setting; ``None`` restores the default)."""
    global _models_dir_override
    _models_dir_override = Path(path) if path is not None else None


def models_dir() -> Path:
    """Where checkpoints are downloaded: the setting, then ``$NAPARI_SEGSUITE_MODELS``, then the
    user cache directory."""
    if _models_dir_override is not None:
        return _models_dir_override
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-segsuite")) / "models"


def spec(name: str) -> ModelSpec:
    """The registry entry for ``name``, with a helpful error for unknown names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown SAM model {name!r}; known models: {', '.join(REGISTRY)}") from None


def checkpoint_path(name: str) -> Path:
    """Where the checkpoint of ``name`` is (or will be) stored."""
    return models_dir() / spec(name).filename


ENV_VERIFIED = "NAPARI_SEGSUITE_VERIFIED"


def verified_dir() -> Path:
    """Where the plugin remembers the hashes it computed (``$NAPARI_SEGSUITE_VERIFIED`` or the user
    cache): never beside the user's files, so no file a user copies or receives vouches for itself."""
    if os.environ.get(ENV_VERIFIED):
        return Path(os.environ[ENV_VERIFIED])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("napari-segsuite")) / "verified"


def _record_path(path: Path, st: os.stat_result) -> Path:
    """The record of one file's content: keyed by its real path, device, inode, size, mtime and
    ctime. ctime cannot be set by a user, so a file replaced or rewritten since (even with its mtime
    and size forged back) misses the record and is hashed again."""
    key = f"{os.path.realpath(path)}\0{st.st_dev}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}"
    return verified_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, remembered in the plugin's own cache (:func:`verified_dir`) so that a
    2.5 GB checkpoint is hashed once while it is unchanged."""
    path = Path(path)
    st = path.stat()
    record = _record_path(path, st)
    try:
        cached = json.loads(record.read_text())
        if isinstance(cached, dict) and re.fullmatch(r"[0-9a-f]{64}", str(cached.get("sha256"))):
            return str(cached["sha256"])
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    try:
        from ..io.atomic import atomic_write

        text = json.dumps({"path": str(path), "size": st.st_size, "sha256": digest}).encode()
        atomic_write(record, lambda f: f.write(text), overwrite=True)
    except OSError:
        pass  # an unwritable cache: hash again next time
    return digest


def verify(path: str | os.PathLike, expected: ModelSpec | str) -> str:
    """Check a checkpoint file against a registry entry or a SHA-256; return its SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; download it with "
                              f"`napari-segsuite models download NAME` or choose another file")
    sha = expected.sha256 if isinstance(expected, ModelSpec) else expected.lower()
    digest = file_sha256(path)
    if digest == sha:
        return digest
    size = path.stat().st_size
    hint = ""
    if isinstance(expected, ModelSpec) and size < expected.size:
        hint = f" It has {size:,} of {expected.size:,} bytes: the download was cut short."
    raise CheckpointError(
        f"checkpoint {path} has SHA-256 {digest}, expected {sha}.{hint} The file is corrupt or is "
        f"not the official checkpoint; delete it and download it again (`napari-segsuite models download "
        f"{expected.name if isinstance(expected, ModelSpec) else 'NAME'}`), or pass its own sha256."
    )


def download(name: str, *, progress: bool = False, url: str | None = None) -> Path:
    """Fetch the checkpoint of ``name`` with pooch (hash-checked; nothing re-downloaded when the
    file is there and intact). ``url`` overrides the registry's (a mirror)."""
    import pooch

    s = spec(name)
    target = models_dir()
    target.mkdir(parents=True, exist_ok=True)
    try:
        path = pooch.retrieve(url or s.url, known_hash=f"sha256:{s.sha256}", fname=s.filename,
                              path=target, progressbar=progress)
    except ValueError as e:  # pooch's hash mismatch
        raise CheckpointError(f"the download of {name} from {url or s.url} is corrupt ({e}); try again, "
                              f"or fetch {s.filename} yourself and give its path") from e
    except Exception as e:  # network errors of any kind
        raise CheckpointError(f"could not download {name} from {url or s.url}: {e}. Without internet, copy "
                              f"{s.filename} into {target} or give a local checkpoint path") from e
    return Path(path)


def build_model(name: str) -> Any:
    """An untrained model of the registry's architecture ``name`` (random weights)."""
    return spec(name).builder()


def load_model(name: str, checkpoint: str | os.PathLike | None = None, *, sha256: str | None = None) -> Any:
    """Build ``name`` and load its weights safely.

    ``checkpoint`` defaults to the downloaded registry file. The file is hash-checked first: against
    ``sha256`` when given, else against the registry entry when the file has the official name
    (a renamed or fine-tuned checkpoint is accepted without a registry hash but still loads with
    ``weights_only=True``). A checkpoint of another architecture gets an error naming both.
    """
    import torch

    s = spec(name)
    path = Path(checkpoint) if checkpoint is not None else checkpoint_path(name)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint for {name} at {path}; run `napari-segsuite models download {name}` "
            f"(needs internet) or give the path of a {s.filename} you have"
        )
    if sha256 is not None:
        verify(path, sha256)
    elif path.name == s.filename:
        verify(path, s)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"could not read checkpoint {path} ({type(e).__name__}: {e}); the file is "
                              f"corrupt or not a PyTorch state dict. Download it again.") from e
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict of weights")
    family = family_of(state)
    if family is not None and family != s.family:  # before building: a clear word, no wasted model
        guess = _guess_architecture(state)
        kinds = {"sam": "SAM 1 (segment-anything)", "sam2": "SAM 2"}
        raise CheckpointError(f"checkpoint {path} is a {kinds[family]} checkpoint, and model {name} is {kinds[s.family]}; "
                              f"choose {('model ' + guess) if guess else 'a ' + kinds[family] + ' model'} for it, "
                              f"or the {s.filename} of {name}")
    model = s.builder()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        guess = _guess_architecture(state)
        which = f" It looks like a {guess} checkpoint; choose model {guess}." if guess and guess != name else ""
        raise CheckpointError(f"checkpoint {path} does not fit model {name}.{which} ({str(e).splitlines()[0]})") from e
    return model.eval()


def _guess_architecture(state: dict) -> str | None:
    """The registry name whose encoder matches ``state``: SAM 1 by its patch embedding's width and
    depth, SAM 2 by its Hiera trunk's width and depth."""
    w = state.get("image_encoder.patch_embed.proj.weight")
    if w is not None:
        depth = len({k.split(".")[2] for k in state if k.startswith("image_encoder.blocks.")})
        return {(768, 12): "vit_b", (1024, 24): "vit_l", (1280, 32): "vit_h"}.get((int(w.shape[0]), depth))
    w = state.get("image_encoder.trunk.patch_embed.proj.weight")
    if w is None:
        return None
    depth = len({k.split(".")[3] for k in state if k.startswith("image_encoder.trunk.blocks.")})
    return {(96, 12): "sam2.1_t", (96, 16): "sam2.1_s", (112, 24): "sam2.1_b+", (144, 48): "sam2.1_l"}.get((int(w.shape[0]), depth))


def family_of(state: dict) -> str | None:
    """Which family a state dict is from: "sam", "sam2" or None (neither)."""
    if any(k.startswith("image_encoder.trunk.") or k.startswith("memory_attention.") for k in state):
        return "sam2"
    if any(k.startswith("image_encoder.blocks.") for k in state):
        return "sam"
    return None

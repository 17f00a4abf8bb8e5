"""SamSession: one SAM model on one device; the image embedding computed once, clicks decode only.

    session = SamSession("vit_b")                 # or an already built segment-anything ``Sam``
    session.set_image(rgb)                        # encoder runs once per image (and slice, and model)
    pred = session.predict(points=[[x, y]], labels=[1])
    pred.mask()                                   # the best mask at full size; pred.scores, pred.logits

Coordinates follow segment-anything: points are (x, y) pixels, boxes (x0, y0, x1, y1).
Embeddings live in an in-memory LRU (on the device) and, when ``cache_dir`` is set (the default
is the user cache), on disk keyed by image hash + model hash (:mod:`.embedding_cache`), so a
reopened image skips the encoder; the disk cache is kept under ``cache_limit_gb``.
Images much larger than the encoder's input are tiled at full resolution (:mod:`.tiled`).
``encoder_runs`` and ``decoder_runs`` count what ran. One lock serialises embedding and decoding,
so a background ``set_image`` and clicks from the UI cannot interleave.

``fast=True`` (the default) uses the fast decoder (:mod:`.decoder`), routes the encoder's attention
through fused SDPA with SAM's relative-position bias folded into the dot product (:mod:`.accelerate`;
equal to stock to 1e-6 in fp32, 1.3x faster on a 2-core CPU), and on CUDA runs the encoder under
bf16 autocast, captured once as a CUDA graph and replayed (``cuda_graph``, on with ``fast``):
5.2x (vit_b) and 5.7x (vit_h) faster than stock fp32 on an H100, 3.3x and 5.3x without the graph
(benchmarks/sam_encoder.py). ``sdpa`` overrides the attention choice alone. A model passed in is
used in place, not copied: its attention is switched only while the session runs the encoder and
is left as it was.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..device import resolve_device
from . import decoder as _dec
from . import embedding_cache
from .embedding_cache import DiskCache, default_embedding_dir
from .image import LazyRGB, image_hash, is_lazy, resize_longest_side, resized_shape, to_sam_rgb
from .prompts import Prediction, check_prompts, mask_logits
from .registry import checkpoint_path, file_sha256, load_model, spec
from .tiled import HALO, TILE_ABOVE, TiledImage, is_tiled, predict_tiled, tile_windows

__all__ = ["Embedding", "Prediction", "SamSession"]

@dataclass
class Embedding:
    """One image's encoder output on the session's device, with what the decoder reuses."""

    image_hash: str
    key: Hashable
    features: torch.Tensor
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    source: str  # "encoder", "memory" or "disk"
    state: _dec.DecoderState | None = field(default=None, repr=False)


class SamSession:
    """See the module docstring."""

    backend = "sam"
    family = "sam"  # the registry family this session runs (:class:`.sam2_session.Sam2Session`: "sam2")

    def __init__(
        self,
        model: str | torch.nn.Module = "vit_b",
        checkpoint: str | Path | None = None,
        device: str = "auto",
        *,
        sha256: str | None = None,
        cache_dir: str | Path | None | bool = None,
        memory_slots: int = 8,
        fast: bool = True,
        sdpa: bool | None = None,
        cuda_graph: bool | None = None,
        cache_limit_gb: float | None = None,
        notify: Callable[[str], None] | None = None,
        tile_above: float | None = TILE_ABOVE,
        tile: int | None = None,
        halo: int = HALO,
    ) -> None:
        self.device = resolve_device(device)
        if isinstance(model, str):
            if spec(model).family != self.family:
                raise ValueError(f"{model} is a {spec(model).family.upper()} model; open it with "
                                 "napari_segsuite.sam.open_session (it picks the session for each family)")
            self.model_name = model
            self.model = load_model(model, checkpoint, sha256=sha256)
            self._checkpoint: Path | None = Path(checkpoint) if checkpoint is not None else checkpoint_path(model)
        else:
            self.model_name = type(model).__name__
            self.model = model.eval()
            self._checkpoint = None
        self._model_hash: str | None = None
        self.model.to(self.device)
        self._bind_model()
        self.tile = self.img_size if tile is None else int(tile)
        if self.tile < self.img_size:
            raise ValueError(f"a tile of {self.tile} px is smaller than the encoder's input ({self.img_size} px): "
                             "tiles would be upscaled for nothing; use at least the encoder's input")
        self.halo = int(halo)
        tile_windows((self.tile + 1, self.tile + 1), self.tile, self.halo)  # a bad halo says so now, not at a click
        self.tile_above = tile_above  # tile images longer than this x the encoder's input (None: never)
        if cache_dir is None or cache_dir is True:
            cache_dir = default_embedding_dir()
        self.notify = notify or (lambda message: None)
        limit = embedding_cache.cache_limit_gb() if cache_limit_gb is None else float(cache_limit_gb)
        self.disk = DiskCache(Path(cache_dir), self.model_name, lambda: self.model_hash, limit_gb=limit,
                              notify=lambda message: self.notify(message)) if cache_dir else None
        self.memory_slots = max(1, int(memory_slots))
        self.fast = fast
        self.cuda_graph = fast if cuda_graph is None else cuda_graph
        self._graphed = None  # GraphedEncoder, captured on the first CUDA encode
        self._graph_failed = False
        self.encoder_runs = 0
        self.decoder_runs = 0
        self.current: Embedding | None = None
        self._memory: OrderedDict[str, Embedding] = OrderedDict()  # image hash -> embedding (one model per session)
        self._lock = threading.RLock()
        self.sdpa = fast if sdpa is None else bool(sdpa)  # the attention of this session's encoder runs
        self.fast_decoder = fast  # the reordered decoder (.decoder), unless this model's internals differ
        self._decoder_checked = not fast  # checked with the first embedding, in its worker (_check_decoder)

    def _bind_model(self) -> None:
        """Read the model's input size and make its prompt transform (a subclass binds its own)."""
        from .._no_triton import import_segment_anything

        self.img_size = int(self.model.image_encoder.img_size)
        self.transform = import_segment_anything().utils.transforms.ResizeLongestSide(self.img_size)

    # -- identity ---------------------------------------------------------------------------------

    @property
    def model_hash(self) -> str:
        """SHA-256 of the checkpoint file, or a hash of the weights of a module given directly;
        computed when the disk cache first needs it (remembered beside the file)."""
        if self._model_hash is None and self._checkpoint is not None:
            self._model_hash = file_sha256(self._checkpoint)
        if self._model_hash is None:
            h = hashlib.sha256()
            for name, t in sorted(self.model.state_dict().items()):
                h.update(name.encode())
                h.update(t.detach().to("cpu").contiguous().numpy().tobytes())
            self._model_hash = h.hexdigest()
        return self._model_hash

    def describe(self) -> str:
        return f"SAM {self.model_name} on {self.device.type}"

    @property
    def cache_dir(self) -> Path | None:
        """The disk cache's folder, or None without one."""
        return self.disk.folder if self.disk is not None else None

    @property
    def cache_limit_gb(self) -> float | None:
        """The disk cache's size limit, or None without one."""
        return self.disk.limit_gb if self.disk is not None else None

    @property
    def cache_error(self) -> str | None:
        """Why the last write to the disk cache failed, if it did."""
        return self.disk.error if self.disk is not None else None

    @cache_error.setter
    def cache_error(self, value: str | None) -> None:
        if self.disk is not None:
            self.disk.error = value

    # -- embeddings -------------------------------------------------------------------------------

    def set_image(self, image: np.ndarray, key: Hashable = None, *, channel_axis: int | None = None,
                  tiled: bool | None = None) -> Embedding | TiledImage:
        """Make ``image`` (a 2D gray/colour slice, see :mod:`.image`) the current one.

        The encoder runs only when neither the memory LRU nor the disk cache holds its embedding
        (keyed by content, so equal slices share one). ``key`` names the slice (e.g. its index)
        and is kept on the returned :class:`Embedding`. An image longer than ``tile_above`` x the
        encoder's input is tiled instead (:mod:`.tiled`): a :class:`.tiled.TiledImage` comes back at
        once and each tile is embedded when a prompt first needs it; ``tiled`` forces either way
        (automatic masks embed the whole image). A large image that is not in memory (a dask or
        zarr array, a memory map) is never read whole: each tile reads its own pixels.
        """
        if is_lazy(image) and tiled is not False:  # not in memory: tiled without reading it whole, if large
            lazy = LazyRGB(image, channel_axis)
            if tiled or self.tiles(lazy.shape):
                with self._lock:
                    self.current = TiledImage(lazy, lazy.identity, key, tile_windows(lazy.shape, self.tile, self.halo),
                                              self.tile, self.halo)
                    return self.current
        rgb = to_sam_rgb(image, channel_axis)
        digest = image_hash(rgb)
        with self._lock:
            if tiled is None:
                tiled = self.tiles(rgb.shape[:2])
            if tiled:
                windows = tile_windows(rgb.shape[:2], self.tile, self.halo)
                self.current = TiledImage(rgb, digest, key, windows, self.tile, self.halo)
            else:
                self.current = self.embedding_of(rgb, digest, key)
            return self.current

    def embedding_of(self, rgb: np.ndarray, digest: str, key: Hashable = None) -> Embedding:
        """The embedding of ``rgb`` (SAM's RGB uint8, :func:`.image.to_sam_rgb`) whose
        :func:`.image.image_hash` is ``digest``: from memory, disk or the encoder (then kept in both)."""
        with self._lock:
            emb = self._memory.get(digest)  # equal content, equal embedding, whatever slice it came from
            if emb is not None:
                self._memory.move_to_end(digest)
                emb.source = "memory"
                emb.key = key
            else:
                emb = self._load_disk(digest, key, rgb.shape[:2])
                if emb is None:
                    emb = self._encode(rgb, digest, key)
                    if self.disk is not None:
                        features = emb.features.detach().to("cpu").numpy()
                        self.disk.save(digest, features, emb.input_size, emb.original_size)
                self._memory[digest] = emb
                while len(self._memory) > self.memory_slots:
                    self._memory.popitem(last=False)
            return emb

    def has_embedding(self, image: np.ndarray, key: Hashable = None, *, channel_axis: int | None = None) -> bool:
        """Whether ``set_image`` would skip the encoder for this image (memory or disk; a tiled
        image never runs it there)."""
        rgb = to_sam_rgb(image, channel_axis)
        if self.tiles(rgb.shape[:2]):
            return True
        digest = image_hash(rgb)
        return digest in self._memory or (self.disk is not None and self.disk.has(digest))

    def tiles(self, shape: tuple[int, ...]) -> bool:
        """Whether an image of ``shape`` (H, W, ...) is tiled rather than embedded whole."""
        return is_tiled(shape, self.img_size, self.tile_above)

    def reset_image(self) -> None:
        with self._lock:
            self.current = None

    def _model_input(self, rgb: np.ndarray) -> np.ndarray:
        """What the encoder is given for ``rgb``: resized so its long side is the encoder's input."""
        return resize_longest_side(rgb, self.img_size)

    def _input_size(self, original_size: tuple[int, int]) -> tuple[int, int]:
        """The part of the encoder's square input an image of ``original_size`` covers."""
        return tuple(resized_shape(tuple(original_size), self.img_size))

    def _encode(self, rgb: np.ndarray, digest: str, key: Hashable) -> Embedding:
        resized = self._model_input(rgb)
        try:
            features = self._run_encoder(resized)
        except torch.cuda.OutOfMemoryError:
            self._graphed = None  # its memory pool goes too
            torch.cuda.empty_cache()
            self.device = torch.device("cpu")
            self.model.to(self.device)
            self.notify("the GPU ran out of memory while encoding; SAM continues on the CPU (slower). "
                        "Close other GPU programs or pick a smaller model to use the GPU again.")
            features = self._run_encoder(resized)
        self.encoder_runs += 1
        return self._embedding(digest, key, features, self._input_size(rgb.shape[:2]), tuple(rgb.shape[:2]), "encoder")

    @torch.inference_mode()
    def _run_encoder(self, resized: np.ndarray) -> torch.Tensor:
        from .accelerate import sdpa_attention

        x = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
        x = self.model.preprocess(x)
        # only while it runs: a model passed in is used in place and must come back unchanged
        with sdpa_attention(self.model.image_encoder, "folded" if self.sdpa else None):
            return self._encoder_output(x)

    def _encoder_output(self, x: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda" and self.fast:
            graphed = self._captured_encoder()
            if graphed is not None:
                return graphed(x)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return self.model.image_encoder(x).float()
        return self.model.image_encoder(x)

    def _captured_encoder(self):
        """The encoder captured as a CUDA graph (captured on first use), or None when
        ``cuda_graph`` is off or capture failed (then it runs kernel by kernel: same result)."""
        if not self.cuda_graph or self._graph_failed:
            return None
        if self._graphed is None:  # dropped with the device: the out-of-memory fallback clears it
            from .accelerate import GraphedEncoder

            try:
                self._graphed = GraphedEncoder(self.model.image_encoder, self.img_size, self.device)
            except torch.cuda.OutOfMemoryError:
                raise
            except RuntimeError as exc:
                self._graph_failed = True
                self.notify(f"the SAM encoder could not be captured as a CUDA graph ({str(exc).splitlines()[0][:120]}); "
                            "it runs kernel by kernel instead (same result, a little slower)")
                return None
        return self._graphed

    def _embedding(self, digest, key, features, input_size, original_size, source) -> Embedding:
        emb = Embedding(digest, key, features, input_size, original_size, source)
        self._check_decoder()
        emb.state = _dec.prepare(self.model, features) if self.fast_decoder else None
        return emb

    def _check_decoder(self) -> None:
        """Once, before the first embedding is prepared (off the UI thread, and never for a session
        that embeds nothing): whether the fast decoder computes what this model's own decoder does
        (:func:`.decoder.fits`); if not, clicks use the stock decoder, said once."""
        if self._decoder_checked:
            return
        self._decoder_checked = True
        why = _dec.fits(self.model)
        if why is not None:
            self.fast_decoder = False
            self.notify(f"the fast SAM decoder does not fit this model ({why}; checked with segment-anything "
                        f"{_dec.CHECKED_WITH}): clicks use segment-anything's own decoder (same masks, slower)")

    def _load_disk(self, digest: str, key: Hashable, original_size: tuple[int, int]) -> Embedding | None:
        """The embedding the disk cache holds for this image, moved to the device, or None."""
        if self.disk is None:
            return None
        input_size = self._input_size(original_size)
        arr = self.disk.load(digest, tuple(original_size), tuple(input_size), self._feature_shape)
        if arr is None:
            return None
        features = torch.from_numpy(arr).to(self.device)
        return self._embedding(digest, key, features, tuple(input_size), tuple(original_size), "disk")

    @property
    def _feature_shape(self) -> tuple[int, ...] | None:
        """The encoder's output shape, from the prompt encoder's geometry (None if it has none)."""
        prompt = getattr(self.model, "prompt_encoder", None)
        try:
            return (1, int(prompt.embed_dim), *(int(v) for v in prompt.image_embedding_size))
        except (AttributeError, TypeError):
            return None

    # -- prompts ----------------------------------------------------------------------------------

    def predict(
        self,
        points: Sequence[Sequence[float]] | np.ndarray | None = None,
        labels: Sequence[int] | np.ndarray | None = None,
        box: Sequence[float] | np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask: bool = True,
        *,
        embedding: Embedding | None = None,
    ) -> Prediction:
        """Masks for prompts on an image: points (N, 2) as (x, y) with labels 1 (object) or 0
        (background), a box (x0, y0, x1, y1), and/or the low-resolution logits of an earlier
        prediction (256 x 256) to refine. The image is ``embedding`` (what ``set_image`` returned
        for it), else the one set last: a caller that embeds several images (slices, a
        background precompute) passes the embedding of the image the prompts are on."""
        with self._lock:
            emb = embedding if embedding is not None else self.current
            if emb is None:
                raise RuntimeError("no image is set: call set_image(image) before predict (the widget does this "
                                   "when an image layer is chosen)")
            if isinstance(emb, TiledImage):
                return predict_tiled(self, emb, points, labels, box, mask_input, multimask)
            pts, lbs, bx, notes = check_prompts(points, labels, box, emb.original_size)
            sparse, dense = self._encode_prompts(emb, pts, lbs, bx, mask_input)
            logits, iou = self._decode(emb, sparse, dense, multimask)
            self.decoder_runs += 1
            return self._prediction(emb, logits[0], iou[0], notes)

    def _prediction(self, emb: Embedding, logits: torch.Tensor, iou: torch.Tensor, notes: list[str]) -> Prediction:
        """One prompt set's answer: its (k, 256, 256) logits and (k,) IoUs as a :class:`Prediction`."""
        h, w = emb.original_size
        # on a GPU, images larger than the encoder's input are upsampled there (as stock does):
        # the CPU's upsampling of a large 2048² mask costs more than the decoder
        on_device = logits if self.device.type == "cuda" and h * w > self.img_size**2 else None
        return Prediction(iou.float().cpu().numpy(), logits.float().cpu().numpy(), emb.input_size, emb.original_size,
                          notes, device_logits=on_device)

    def predict_points(self, points: np.ndarray, *, multimask: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """One positive point per prompt, a batch of them at once: ``points`` (B, 2) as (x, y) ->
        low-resolution logits (B, k, 256, 256) and predicted IoUs (B, k). For point grids
        (automatic masks); the points are not checked against the image."""
        pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
        return self.predict_batch(points=pts, labels=np.ones(pts.shape[:2], int), multimask=multimask)

    def predict_batch(self, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                      boxes: np.ndarray | None = None, *, multimask: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """B prompt sets through the decoder together: ``points`` (B, k, 2) as (x, y) with ``labels``
        (B, k), and/or ``boxes`` (B, 4). Returns low-resolution logits (B, m, 256, 256) and predicted
        IoUs (B, m). Prompts are not checked (callers build them from the image)."""
        with self._lock:
            emb = self.current
            if emb is None or isinstance(emb, TiledImage):
                raise RuntimeError("no whole-image embedding is set: call set_image(image, tiled=False) before "
                                   "predicting a batch")
            if points is None and boxes is None:
                raise ValueError("no prompt: give points and/or boxes")
            sparse = self._batch_prompts(emb, points, labels, boxes)
            logits, iou = self._decode(emb, sparse, None, multimask)
            self.decoder_runs += sparse.shape[0]
            return logits.float().cpu().numpy(), iou.float().cpu().numpy()

    @torch.inference_mode()
    def _batch_prompts(self, emb: Embedding, points, labels, boxes) -> torch.Tensor:
        """The sparse prompt embeddings of B prompt sets (see :meth:`predict_batch`)."""
        point_arg = box_arg = None
        if points is not None:
            pts = np.asarray(points, np.float64)
            coords = self.transform.apply_coords(pts.reshape(-1, 2), emb.original_size).reshape(pts.shape)
            point_arg = (torch.as_tensor(coords, dtype=torch.float, device=self.device),
                         torch.as_tensor(np.asarray(labels), dtype=torch.int, device=self.device))
        if boxes is not None:
            bx = np.asarray(boxes, np.float64).reshape(-1, 4)
            box_arg = torch.as_tensor(self.transform.apply_boxes(bx, emb.original_size), dtype=torch.float, device=self.device)
        return self.model.prompt_encoder(points=point_arg, boxes=box_arg, masks=None)[0]

    @torch.inference_mode()
    def _decode(self, emb: Embedding, sparse: torch.Tensor, dense: torch.Tensor | None, multimask: bool):
        """Low-resolution logits and IoUs of B prompt sets: the fast decoder, or the stock one."""
        if self.fast_decoder:
            return _dec.decode(self.model, emb.state, sparse, dense, multimask)
        if dense is None:
            dense = self.model.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                sparse.shape[0], -1, *emb.features.shape[-2:])
        return self.model.mask_decoder(emb.features, self.model.prompt_encoder.get_dense_pe(), sparse, dense, multimask)

    @torch.inference_mode()
    def _encode_prompts(self, emb: Embedding, pts, lbs, bx, mask_input):
        dev = self.device
        point_arg = box_arg = mask_arg = None
        if pts is not None:
            coords = self.transform.apply_coords(pts.astype(np.float64), emb.original_size)
            point_arg = (torch.as_tensor(coords, dtype=torch.float, device=dev)[None],
                         torch.as_tensor(lbs, dtype=torch.int, device=dev)[None])
        if bx is not None:
            box_arg = torch.as_tensor(self.transform.apply_boxes(bx[None].astype(np.float64), emb.original_size),
                                      dtype=torch.float, device=dev)
        if mask_input is not None:
            mask_arg = torch.as_tensor(mask_logits(mask_input), device=dev)[None, None]
        sparse, dense = self.model.prompt_encoder(points=point_arg, boxes=box_arg, masks=mask_arg)
        return sparse, (dense if mask_arg is not None else None)

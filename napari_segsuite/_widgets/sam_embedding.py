"""The embedding side of the Segment Anything dock: the displayed slice is embedded in a worker.

Reading, converting and hashing the slice happen in the worker too. One embedding runs at a time;
when it ends, the slice displayed then is embedded if it changed meanwhile. *Precompute all slices*
embeds a stack in the background. A mixin of :class:`.sam_widget.SamWidget`, which provides the
session, the image picker, the status line and the prompt handling it calls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_error, show_info

from ..sam.tiled import TiledImage, tile_embedding
from .jobs import describe_error, start_worker
from .layers import displayed_index, slice_view

__all__ = ["EmbedsSlices"]


class EmbedsSlices:
    """Embedding of the displayed slice and of whole stacks for a SamWidget (see the module docstring)."""

    def displayed(self) -> tuple[Image, tuple[int, ...]] | None:
        """The chosen image layer and the index of its displayed slice (no pixel is read)."""
        image = self.image.value
        if image is None or image not in self.viewer.layers:
            return None
        try:
            return image, displayed_index(self.viewer, image)
        except ValueError as e:  # a 3D view or transposed axes: said in the status, not as an error
            self.status.setText(str(e))
            return None

    def _image_changed(self) -> None:
        cur = self.displayed()
        if cur is None:
            self._show_status()
            return
        if not self._tab_hidden and self.parentWidget() is not None:  # prompt layers appear when the dock is
            self._ensure_prompt_layers(cur[0])  # placed and raised, not while it is made or behind another tab
        self._embed(*cur)

    def _slice_changed(self, *_: Any) -> None:
        image = self.image.value
        if image is not None and image.ndim > 2:
            self._image_changed()
            self._prompts_changed()

    def _embed(self, image: Image, index: tuple[int, ...]) -> None:
        """Embed the slice ``index`` of ``image`` in a worker (reading, converting and hashing it
        there too); a cached embedding comes back in milliseconds."""
        key = (id(image), index)
        if self.ready_key == key:
            return
        self.ready_key = None
        self.embedding = None
        self._logits = None
        self._show_status("computing")
        if self.worker is not None:  # one embedding at a time; when it ends, the displayed slice is embedded
            return
        session = self.session
        rgb = bool(image.rgb)

        def embed():
            return session.set_image(slice_view(image, index), index, channel_axis=-1 if rgb else None)

        worker = start_worker(embed, what="the SAM image embedding", on_error=self._embedding_failed,
                              _progress={"desc": "SAM image embedding"})
        worker.returned.connect(lambda emb: self._embedded(key, emb, session))
        worker.finished.connect(self._worker_done)
        self.worker = worker
        worker.start()

    def _embedding_failed(self, error: BaseException) -> None:
        show_error(describe_error("the image embedding", error))
        self._show_status()

    def _worker_done(self) -> None:
        self.worker = None
        cur = self.displayed()
        if cur is not None and (id(cur[0]), cur[1]) != self.ready_key:
            self._embed(*cur)  # the slice changed while encoding

    def _embedded(self, key: tuple, embedding: Any, session: Any) -> None:
        cur = self.displayed()
        if session is not self.session or cur is None or (id(cur[0]), cur[1]) != key:
            return  # another backend, image or slice since: _worker_done embeds the displayed one
        self.embedding = embedding
        self.ready_key = key
        self._show_status()
        if self.pending or self._has_prompts():
            self.pending = False
            self._prompts_changed()

    @property
    def embedding_ready(self) -> bool:
        cur = self.displayed()
        return cur is not None and self.ready_key == (id(cur[0]), cur[1])

    def precompute_all(self) -> None:
        """Embed every slice of the image in the background, and every tile of a slice large
        enough to be tiled (progress bar; *Cancel* stops it after the slice or tile being embedded)."""
        image = self.image.value
        if image is None:
            return
        shape = image.data.shape[-3:-1] if image.rgb else image.data.shape[-2:]
        tiles = getattr(self.session, "tiles", lambda _: False)(shape)  # the classical backend tiles nothing
        if image.ndim <= 2 and not tiles:
            show_info("the image has a single slice; its embedding is computed when it is chosen")
            return
        indices = list(np.ndindex(*image.data.shape[: image.ndim - 2]))
        session = self.session
        rgb = bool(image.rgb)

        def run():
            for i, index in enumerate(indices):
                emb = session.set_image(slice_view(image, index), index, channel_axis=-1 if rgb else None)
                for window in emb.windows if isinstance(emb, TiledImage) else ():
                    tile_embedding(session, emb, window)
                    yield i
                yield i

        worker = start_worker(run, what="precomputing the slice embeddings",
                              _progress={"total": len(indices), "desc": "SAM embeddings of all slices"})
        worker.returned.connect(lambda _: show_info(f"{len(indices)} slice embeddings are cached"))
        worker.finished.connect(self._image_changed)
        self._precompute_worker = self.precompute_job.start(
            worker, cancelled="precomputing stopped; the slices embedded so far stay cached")

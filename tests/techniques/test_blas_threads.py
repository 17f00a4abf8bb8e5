"""Techniques run with one BLAS thread (the solvers are many times faster so), and only while they run."""

from __future__ import annotations

import dataclasses

import numpy as np
from threadpoolctl import threadpool_info

from napari_segsuite.techniques import get
from napari_segsuite.techniques._blas import one_blas_thread


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_the_limit_holds_inside_and_is_undone_after():
    before = _blas_threads()
    with one_blas_thread():
        assert _blas_threads() == {1}
    assert _blas_threads() == before


def test_a_technique_runs_under_the_limit():
    seen = []
    tech = get("threshold.global")

    def probe(image, **kwargs):
        seen.append(_blas_threads())
        return tech.func(image, **kwargs)

    dataclasses.replace(tech, func=probe).run(np.arange(64, dtype=np.uint8).reshape(8, 8))
    assert seen == [{1}]

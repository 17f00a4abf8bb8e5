"""One BLAS thread while a technique runs.

The solvers the techniques call (scikit-image's conjugate-gradient random walker, ARPACK in
normalized cuts) run many BLAS operations on vectors of a few hundred thousand entries. With
OpenBLAS's default of one thread per core, each of those operations wakes and synchronises every
thread, which costs more than it saves, and far more on a loaded machine or beside the viewer's and
numba's own threads: a random walker on a 481 x 321 photo took 5.2 s with the default threads and
3.1 s with one on a quiet 2-core machine, 21 s against 6.9 s beside two busy processes
(``benchmarks/first_use.py``). The limit holds only while a technique runs (threadpoolctl), so other
code in the process keeps its settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["one_blas_thread"]

_controller = None


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit the BLAS libraries numpy and scipy loaded to one thread for the block."""
    global _controller
    if _controller is None:
        try:
            import scipy.linalg  # noqa: F401  (load scipy's BLAS before listing the libraries)
            import scipy.sparse.linalg  # noqa: F401
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-image's stack
            yield
            return
        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield

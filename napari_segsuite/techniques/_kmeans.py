"""k-means kernels shared by the clustering techniques and the texture features: nearest-centre
assignment by one matrix product, greedy k-means++ seeding and Lloyd iterations, all on features
laid out as ``(d, N)`` float32 columns."""

from __future__ import annotations

import numpy as np

from .cancel import checkpoint

__all__ = ["assign", "lloyd", "plus_plus"]


def assign(xt: np.ndarray, centres: np.ndarray, x_sq: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Nearest centre of each column of ``xt`` (d, N) via one matrix product (||x||^2 is not
    needed to compare); with ``x_sq`` also the squared distances."""
    scores = centres @ xt  # (k, N)
    scores *= -2
    scores += (centres * centres).sum(1)[:, None]
    # argmin over a short first axis, one row at a time: several times faster than argmin(0)
    best = scores[0].copy()
    labels = np.zeros(xt.shape[1], np.uint8)
    for j in range(1, len(centres)):
        labels[scores[j] < best] = j
        np.minimum(best, scores[j], out=best)
    if x_sq is None:
        return labels, None
    return labels, np.maximum(best + x_sq, 0)


def plus_plus(xt: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ (as scikit-learn): the best of 2 + log(k) candidates at each step."""
    x = xt.T
    n_trials = 2 + int(np.log(k))
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:
            centres.append(x[rng.integers(len(x))])
            continue
        cand = rng.choice(len(x), n_trials, p=d2 / total)
        cand_d2 = np.minimum(d2[None, :], ((x[None, :, :] - x[cand][:, None, :]) ** 2).sum(2))
        best = int(cand_d2.sum(1).argmin())
        centres.append(x[cand[best]])
        d2 = cand_d2[best]
    return np.array(centres, dtype=np.float32)


def lloyd(xt: np.ndarray, centres: np.ndarray, iterations: int, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd iterations on features ``xt`` (d, N) from ``centres`` (k, d); returns (centres,
    labels, inertia). Empty clusters keep their centre."""
    centres = centres.copy()
    k = len(centres)
    ids = np.arange(k, dtype=np.uint8)[:, None]
    for _ in range(iterations):
        checkpoint()
        labels, _ = assign(xt, centres)
        onehot = (labels[None, :] == ids).astype(np.float32)  # (k, N)
        counts = onehot.sum(1, dtype=np.float64)
        sums = (xt @ onehot.T).T  # (k, d)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres).astype(np.float32)
        shift = float(((new - centres) ** 2).sum())
        centres = new
        if shift <= tol:
            break
    labels, d2 = assign(xt, centres, (xt * xt).sum(0))
    return centres, labels, float(d2.sum(dtype=np.float64))

"""NumPy references shared by the gradient tests, written independently of the library."""

from __future__ import annotations

import numpy as np


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Autograd's reduction of a broadcast gradient to `shape`."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def per_sample_var(t: np.ndarray, ns: int, shape: tuple[int, ...]) -> np.ndarray:
    """np.var(ddof=1) over the ns sample axes of the per-sample estimates t (sample_shape +
    batch_shape, float64), each sample's estimate first summed down to the argument's `shape`."""
    sample = t.shape[:ns]
    flat = t.reshape((-1, *t.shape[ns:]))
    e = np.stack([sum_to(row, shape) for row in flat]) if flat.shape[0] else np.zeros((0, *shape))
    return np.var(e.reshape(sample + shape), ddof=1, axis=tuple(range(ns)))

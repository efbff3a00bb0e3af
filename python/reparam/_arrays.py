"""Array helpers shared by the distributions and the estimators (a leaf module: NumPy only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def _sum_to(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum a broadcast gradient back down to `shape`, as autograd does."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead > 0 else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _frozen(a: Array, dtype: np.dtype[Any]) -> Array:
    """A read-only copy of a converted input (a Python number or sequence) in `dtype`."""
    c = np.array(a, dtype, copy=True)
    c.setflags(write=False)
    return c


def _read_only(a: Array) -> Array:
    v: Array = a.view()
    v.setflags(write=False)
    return v


def _usable(a: Array, shape: tuple[int, ...], dtype: np.dtype[Any]) -> bool:
    """Whether the kernels can read `a` in place as a batch array."""
    return bool(a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned)


def _c_aligned(a: Array, dtype: np.dtype[Any] | None = None) -> Array:
    """`a` itself when the kernels can read it in place (C-contiguous, aligned, of
    `dtype` when given), else a converted copy: ``np.require(a, dtype, ("C", "A"))``
    without its cost for the common case."""
    fl = a.flags
    if fl.c_contiguous and fl.aligned and (dtype is None or a.dtype == dtype):
        return a
    out: Array = np.require(a, dtype, ("C", "A"))
    return out


def _negative(values: Array) -> Array:
    """Where a scale or variance is negative: the sign bit set, -0.0 included, as NumPy's
    ``normal`` refuses it; NaN is not negative (it propagates). The one rule for every
    entry point (Generator.normal, Normal, reparam.dask, reparam.torch)."""
    neg: Array = np.signbit(values) & ~np.isnan(values)
    return neg


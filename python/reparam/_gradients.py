"""Gradient estimators of E_q[f(z)] for the reparameterized Normal.

pathwise (reparameterization): d/dloc = E[f'(z)], d/dsigma = E[f'(z) eps];
score function:                d/dloc = E[(f - b) eps] / sigma,
                               d/dsigma = E[(f - b) (eps**2 - 1)] / sigma.
Both are one fused pass in the core that regenerates eps from a `Noise` handle (or
reads an eps array) and adds up per-column sums in float64, rows in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _core

if TYPE_CHECKING:
    from ._normal import Noise, Normal

__all__ = ["estimate_grad", "pathwise_grad", "score_grad"]

Array = npt.NDArray[Any]
_MASK64 = (1 << 64) - 1


def _noise_source(q: Normal, noise: Any, shape: tuple[int, ...]) -> Any:
    """The kernel's noise argument: a stream position tuple, or a checked eps array."""
    from ._normal import Noise

    if isinstance(noise, Noise):
        if noise.shape != shape:
            raise ValueError(
                f"noise has shape {noise.shape} but the samples have shape {shape}"
            )
        if noise.dtype != q.dtype:
            raise ValueError(
                f"noise has dtype {noise.dtype} but the distribution has dtype {q.dtype}"
            )
        mirror = noise.size // 2 if noise.antithetic else 0
        return (noise.key, noise.counter & _MASK64, noise.counter >> 64, noise.start, mirror)
    eps = np.asarray(noise)
    if eps.dtype.kind != "f":
        raise TypeError(f"noise must be a Noise handle or a float array, got dtype {eps.dtype}")
    if eps.shape != shape:
        raise ValueError(f"noise has shape {eps.shape} but the samples have shape {shape}")
    if eps.dtype != q.dtype:
        raise ValueError(f"noise has dtype {eps.dtype} but the distribution has dtype {q.dtype}")
    return np.require(eps, requirements=("C", "A"))


def _real_array(x: Any, name: str) -> Array:
    try:
        a = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} must be array_like of numbers: {exc}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    return a


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def _sample_shape(q: Normal, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    nb = len(q.batch_shape)
    if len(shape) < nb or shape[len(shape) - nb:] != q.batch_shape:
        raise ValueError(
            f"{what} must have shape sample_shape + batch_shape {q.batch_shape}, got {shape}"
        )
    return shape[: len(shape) - nb]


def _dsigma(kind: int, param: Array) -> Array:
    """dsigma/dparam in float64 for the parameterization `kind`, computed by the core."""
    p = np.require(param, requirements=("C", "A"))
    if p.dtype != np.float32:
        p = np.require(p, np.float64, ("C", "A"))
    out = np.empty(p.shape, np.float64)
    _core.dsigma(p, kind, out)
    return out


def _finish(q: Normal, rows: int, reduce: str, d_loc: Array, d_sigma: Array,
            variances: Callable[[], tuple[Array, Array]] | None) -> Any:
    """Chain rule, reduction scale and the shapes of the arguments; optional variances.

    The arithmetic is that of the core's fused pathwise kernel (``_core.pathwise_grad``):
    ``d_loc * scale`` and ``d_sigma * (dsigma/dparam * scale)`` in float64, rounded once.
    """
    from ._normal import _sum_to

    _, par_b = q._batch_arrays()
    chain = _dsigma(q._kind, par_b.reshape(-1))
    scale = _scale(rows, reduce)
    bshape = q.batch_shape
    with np.errstate(all="ignore"):
        grads = {
            "loc": _sum_to((d_loc * scale).reshape(bshape), q.loc.shape).astype(q.dtype),
            q.param_name: _sum_to((d_sigma * (chain * scale)).reshape(bshape),
                                  q.param.shape).astype(q.dtype),
        }
        if variances is None:
            return grads
        var_loc, var_sigma = variances()
        stats = {
            "loc": var_loc.reshape(bshape).astype(q.dtype),
            q.param_name: (var_sigma * chain * chain).reshape(bshape).astype(q.dtype),
        }
    return grads, stats


def _scale(rows: int, reduce: str) -> float:
    """The factor of the sums: 1/rows for a mean (NaN for the mean of nothing), else 1."""
    return (1.0 / rows if rows else math.nan) if reduce == "mean" else 1.0


def _kind(q: Normal) -> int:
    return q._kind


def _sample_var(s1: Array, s2: Array, n: int) -> Array:
    """Unbiased sample variance from the sum and the sum of squares."""
    if n < 2:
        return np.full(s1.shape, np.nan)
    with np.errstate(all="ignore"):
        return np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1)


def _check_reduce(reduce: str) -> None:
    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")


def pathwise_grad(q: Normal, grad_z: Any, noise: Noise | Array, *, reduce: str = "mean",
                  return_stats: bool = False) -> Any:
    """pathwise_grad(q, grad_z, noise, *, reduce="mean", return_stats=False)

    See `Normal.pathwise_grad`.
    """
    _check_reduce(reduce)
    _check_bool(return_stats, "return_stats")
    g = _real_array(grad_z, "grad_z")
    sample = _sample_shape(q, g.shape, "grad_z")
    src = _noise_source(q, noise, g.shape)
    rows, batch = math.prod(sample), math.prod(q.batch_shape)
    if (not return_stats and rows and batch and q.loc.shape == q.batch_shape
            and q.param.shape == q.batch_shape):
        # one pass: sums per column tile and the chain rule, no (4, batch) float64 array
        _, par_b = q._batch_arrays()
        ns = len(sample)
        if rows > 1 and not any(g.strides[:ns]):
            # every sample row is the same row (a broadcast grad_z, as z.sum() gives):
            # the kernel reads that one row for each, nothing of sample size is copied
            g = np.require(g[(0,) * ns], q.dtype, ("C", "A"))
        else:
            g = np.require(g, q.dtype, ("C", "A"))
        # one block for both results: a pair of large arrays alive together costs the
        # allocator fresh pages (page faults) on every call, one block is reused
        both = np.empty((2, *q.batch_shape), q.dtype)
        d_loc, d_param = both[0, ...], both[1, ...]  # arrays, also for a batch shape ()
        _core.pathwise_grad(src, g, rows, batch, par_b, q._kind, _scale(rows, reduce), d_loc, d_param)
        return {"loc": d_loc, q.param_name: d_param}
    g = np.require(g, q.dtype, ("C", "A"))
    sums = _core.reduce_estimator(0, return_stats, src, g, rows, batch, 1, 1)

    def variances() -> tuple[Array, Array]:
        return _sample_var(sums[0], sums[1], rows), _sample_var(sums[2], sums[3], rows)

    return _finish(q, rows, reduce, sums[0], sums[2], variances if return_stats else None)


def score_grad(q: Normal, f_values: Any, noise: Noise | Array, *, baseline: Any = None,
               reduce: str = "mean", return_stats: bool = False) -> Any:
    """score_grad(q, f_values, noise, *, baseline=None, reduce="mean", return_stats=False)

    See `Normal.score_grad`.
    """
    _check_reduce(reduce)
    _check_bool(return_stats, "return_stats")
    from ._normal import Noise

    shape = noise.shape if isinstance(noise, Noise) else np.shape(noise)
    sample = _sample_shape(q, tuple(shape), "noise")
    f = _real_array(f_values, "f_values")
    ns = len(sample)
    prefix = f.shape[ns:]
    if f.shape[:ns] != sample or prefix != q.batch_shape[: len(prefix)]:
        raise ValueError(
            f"f_values must have shape sample_shape {sample} plus a prefix of batch_shape "
            f"{q.batch_shape}, got {f.shape}"
        )
    src = _noise_source(q, noise, tuple(shape))
    rows = math.prod(sample)
    f64: Array = f.astype(np.float64).reshape(rows, -1) if rows else f.astype(np.float64).reshape(0, 1)
    if isinstance(baseline, str) and rows == 0:
        if baseline not in ("mean", "loo"):
            raise ValueError(f"baseline must be None, a number, an array, 'mean' or 'loo', got {baseline!r}")
        w = f64  # no samples: nothing to centre
    elif isinstance(baseline, str):
        if baseline == "mean":
            w = f64 - f64.mean(axis=0, keepdims=True)
        elif baseline == "loo":
            if rows < 2:
                raise ValueError("baseline='loo' needs at least two samples")
            total = f64.sum(axis=0, keepdims=True)
            w = (rows * f64 - total) / (rows - 1)
        else:
            raise ValueError(f"baseline must be None, a number, an array, 'mean' or 'loo', "
                             f"got {baseline!r}")
    elif baseline is None:
        w = f64
    else:
        try:
            b = np.asarray(baseline, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)("baseline must be None, a number, an array, 'mean' or 'loo', got "
                            f"{type(baseline).__name__} ({exc})") from None
        try:
            w = (f64.reshape(f.shape) - b).reshape(f64.shape)
        except ValueError:
            raise ValueError(f"baseline of shape {b.shape} does not broadcast to f_values "
                             f"{f.shape}") from None
    batch = math.prod(q.batch_shape)
    wcols = math.prod(prefix)
    w = np.require(w, q.dtype, ("C", "A"))
    if batch == 0:  # nothing to reduce (and no valid column split for the core)
        sums = np.zeros((4, 0))
    else:
        sums = _core.reduce_estimator(1, return_stats, src, w, rows, batch, wcols,
                                      batch // wcols if wcols else 1)
    _, par_b = q._batch_arrays()
    sigma = np.empty(batch, np.float64)
    _core.sigma(np.require(par_b.reshape(-1), np.float64, ("C", "A")), q._kind, sigma)
    with np.errstate(all="ignore"):
        inv = 1.0 / sigma

    def variances() -> tuple[Array, Array]:
        with np.errstate(all="ignore"):
            return (_sample_var(sums[0], sums[1], rows) * inv * inv,
                    _sample_var(sums[2], sums[3], rows) * inv * inv)

    with np.errstate(all="ignore"):
        d_loc, d_sigma = sums[0] * inv, sums[2] * inv
    return _finish(q, rows, reduce, d_loc, d_sigma, variances if return_stats else None)


def estimate_grad(fn: Callable[[Array], Any], q: Normal, n: int, *, method: str = "pathwise",
                  baseline: Any = None, antithetic: bool = False, rng: Any = None,
                  return_stats: bool = False) -> Any:
    """estimate_grad(fn, q, n, *, method="pathwise", baseline=None, antithetic=False, rng=None, return_stats=False)

    Monte Carlo gradient of ``E_q[f(z)]`` with respect to q's loc and raw parameter.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with z of shape ``(n,) + q.batch_shape``. For ``method="score"``
        it returns the values f(z) (shape ``(n,)`` plus a prefix of batch_shape); for
        ``method="pathwise"`` the pair ``(values, df/dz)``, df/dz shaped like z.
    q : Normal
    n : int
        Number of samples (even when `antithetic`).
    method : {"pathwise", "score"}
    baseline : None, number, array, "mean" or "loo"
        Score function only (see `Normal.score_grad`).
    antithetic : bool
        Use eps and -eps pairs.
    rng : Generator, seed or None
    return_stats : bool
        Also return the per-element sample variance of the per-sample estimates.

    Returns
    -------
    dict
        ``{"loc": ..., <param_name>: ...}`` (and the stats dict with `return_stats`).
    """
    from ._normal import Normal

    # every argument is checked before a sample is drawn (the stream does not move)
    if not isinstance(q, Normal):
        raise TypeError(f"q must be a reparam.Normal, got {type(q).__name__}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if method not in ("pathwise", "score"):
        raise ValueError(f"method must be 'pathwise' or 'score', got {method!r}")
    if method == "pathwise" and baseline is not None:
        raise ValueError("baseline applies to method='score' only")
    if isinstance(baseline, str) and baseline not in ("mean", "loo"):
        raise ValueError(f"baseline must be None, a number, an array, 'mean' or 'loo', got {baseline!r}")
    if isinstance(baseline, str) and baseline == "loo" and n < 2:
        raise ValueError("baseline='loo' needs n >= 2 samples")
    z, noise = q.rsample(n, rng=rng, antithetic=antithetic, return_noise=True)
    if method == "pathwise":
        if baseline is not None:
            raise ValueError("baseline applies to method='score' only")
        out = fn(z)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("for method='pathwise', fn(z) must return (values, df/dz)")
        return pathwise_grad(q, out[1], noise, return_stats=return_stats)
    if method == "score":
        values = fn(z)
        if isinstance(values, tuple):
            values = values[0]
        return score_grad(q, values, noise, baseline=baseline, return_stats=return_stats)
    raise ValueError(f"method must be 'pathwise' or 'score', got {method!r}")

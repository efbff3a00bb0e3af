"""Gradient estimators of E_q[f(z)] for the reparameterized Normal.

pathwise (reparameterization): d/dloc = E[f'(z)], d/dsigma = E[f'(z) eps];
score function:                d/dloc = E[(f - b) eps] / sigma,
                               d/dsigma = E[(f - b) (eps**2 - 1)] / sigma.
Both are one fused pass in the core that regenerates eps from a `Noise` handle (or
reads an eps array) and adds up per-column sums in float64, rows in order. With
`return_stats`, the variances of the per-sample estimates come from that pass's sums of
squares for an argument of the full batch shape, and from a second pass over chunks of
sample rows for an argument broadcast over the batch (`_spread_variances`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from . import _core
from ._arrays import _c_aligned, _check_bool, _sum_to, _usable
from ._shapes import empty_pair
from ._stream import Noise

Array = npt.NDArray[Any]


class Normal(Protocol):
    """What the estimators read of a `reparam.Normal` (a protocol, so that this module
    does not import the one that calls it)."""

    _batch_shape: tuple[int, ...]
    _dtype: np.dtype[Any]
    _kind: int
    _name: str
    _loc_src: Array
    _par_src: Array

    @property
    def batch_shape(self) -> tuple[int, ...]: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def loc(self) -> Array: ...
    @property
    def param(self) -> Array: ...
    @property
    def param_name(self) -> str: ...
    def _batch_arrays(self) -> tuple[Array, Array]: ...

__all__ = ["pathwise_grad", "score_grad"]



def _noise_source(q: Normal, noise: Any, shape: tuple[int, ...]) -> Any:
    """The kernel's noise argument: a stream position tuple, or a checked eps array."""
    if isinstance(noise, Noise):
        if noise.shape != shape:
            raise ValueError(
                f"noise has shape {noise.shape} but the samples have shape {shape}"
            )
        if noise.dtype != q.dtype:
            raise ValueError(
                f"noise has dtype {noise.dtype} but the distribution has dtype {q.dtype}"
            )
        return _handle_source(noise)
    eps = np.asarray(noise)
    if eps.dtype.kind != "f":
        raise TypeError(f"noise must be a Noise handle or a float array, got dtype {eps.dtype}")
    if eps.shape != shape:
        raise ValueError(f"noise has shape {eps.shape} but the samples have shape {shape}")
    if eps.dtype != q.dtype:
        raise ValueError(f"noise has dtype {eps.dtype} but the distribution has dtype {q.dtype}")
    return _c_aligned(eps)


def _handle_source(noise: Noise) -> Any:
    """The kernels' noise argument for a Noise handle: (its stream position, mirror)."""
    return (noise._pos, noise.size // 2 if noise.antithetic else 0)


def _real_array(x: Any, name: str) -> Array:
    try:
        a = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} must be array_like of numbers: {exc}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    return a


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


def _finish(q: Normal, rows: int, reduce: str, sums: Array, score: bool,
            variances: Callable[[], tuple[Array, Array]] | None,
            spread: Callable[[list[str], Array], dict[str, Array]] | None = None) -> Any:
    """Chain rule, reduction scale and the shapes of the arguments; optional variances.

    The chain rule is the core's (``_core.grad_finish``, the one the fused estimators
    run): from the column sums `sums` (4, batch) of ``_core.reduce_estimator``, in
    float64, here not rounded, so that an argument broadcast over the batch gets its
    gradient summed in float64 and rounded once.

    `variances` gives the core's per batch element variances of the terms (before the
    chain rule), used for an argument of the full batch shape. `spread` gets the keys
    of the arguments broadcast over the batch and dsigma/dparam per batch element
    (float64) and returns their variances on the arguments' own shapes (see
    `_spread_variances`).
    """

    _, par_b = q._batch_arrays()
    par = par_b.reshape(-1)
    d_loc, d_param = np.empty(par.size, np.float64), np.empty(par.size, np.float64)
    _core.grad_finish(int(score), sums, par, q._kind, _scale(rows, reduce), d_loc, d_param)
    bshape = q.batch_shape
    with np.errstate(all="ignore"):  # (rounding to float32 may overflow to inf)
        grads = {
            "loc": _sum_to(d_loc.reshape(bshape), q.loc.shape).astype(q.dtype),
            q.param_name: _sum_to(d_param.reshape(bshape), q.param.shape).astype(q.dtype),
        }
        if variances is None:
            return grads
        chain = _dsigma(q._kind, par)
        stats: dict[str, Array] = {}
        if q.loc.shape == bshape or q.param.shape == bshape:
            var_loc, var_sigma = variances()
            if q.loc.shape == bshape:
                stats["loc"] = var_loc.reshape(bshape).astype(q.dtype)
            if q.param.shape == bshape:
                stats[q.param_name] = (var_sigma * chain * chain).reshape(bshape).astype(q.dtype)
        todo = [k for k, a in (("loc", q.loc), (q.param_name, q.param)) if a.shape != bshape]
        if todo:
            assert spread is not None
            stats.update({k: v.astype(q.dtype) for k, v in spread(todo, chain).items()})
    return grads, {"loc": stats["loc"], q.param_name: stats[q.param_name]}


# eps materialized at a time for the variances of a broadcast argument: rows of this many bytes
_CHUNK_BYTES = 4 << 20


def _eps_rows(src: Any, dtype: np.dtype[Any], rows: int, batch: int, r0: int, r1: int) -> Array:
    """eps of the sample rows r0..r1 as a (r1 - r0, batch) array of `dtype`.

    `src` is what `_noise_source` returned: an eps array is sliced (a view); for a Noise
    handle the rows are regenerated from their stream position, as ``np.asarray(noise)``
    would give them (the antithetic second half, from row ``rows // 2``, is minus the
    first: the mirror ``size // 2`` is a row boundary, the first sample axis being even).
    """
    if isinstance(src, np.ndarray):
        eps: Array = src.reshape(rows, batch)[r0:r1]
        return eps
    pos, mirror = src
    out = np.empty((r1 - r0, batch), dtype)
    half = mirror // batch if mirror else rows

    def fill(first: int, dst: Array) -> None:
        if dst.size:
            pos.at(first * batch).fill("normal", dst.reshape(-1))

    mid = min(max(half, r0), r1)  # rows r0..mid are eps, mid..r1 are -eps
    fill(r0, out[: mid - r0])
    if mid < r1:
        neg = out[mid - r0:]
        fill(mid - half, neg)
        np.negative(neg, out=neg)
    return out


def _rows_sum_to(t: Array, bshape: tuple[int, ...], shape: tuple[int, ...]) -> Array:
    """t (c, batch), in C order over `bshape`, summed down to (c, prod(shape)) over the
    batch axes broadcast onto `shape` (as `_sum_to`).

    The batch axes are first merged into runs of summed and of kept axes (axes of size 1
    dropped): the sums are the same, and no intermediate has more dimensions than an
    array can (a batch of 64 dimensions plus the rows axis would have 65)."""
    lead = len(bshape) - len(shape)
    runs: list[list[Any]] = []  # [size, summed]
    for i, n in enumerate(bshape):
        if n == 1:
            continue
        summed = i < lead or shape[i - lead] == 1
        if runs and runs[-1][1] == summed:
            runs[-1][0] *= n
        else:
            runs.append([n, summed])
    c = t.shape[0]
    r = t.reshape((c, *(n for n, _ in runs)))
    axes = tuple(1 + j for j, (_, summed) in enumerate(runs) if summed)
    out: Array = r.sum(axis=axes) if axes else r
    return out.reshape(c, -1)


def _spread_variances(q: Normal, src: Any, x: Array, rows: int,
                      terms: dict[str, tuple[int, Array | None, tuple[int, ...]]]) -> dict[str, Array]:
    """Sample variances of the per-sample estimates of arguments broadcast over the batch.

    `x` (rows, wcols) is grad_z (pathwise) or the score weights ``f - b`` (wcols a prefix
    of the batch, broadcast over the rest); ``terms[key] = (h, factor, shape)`` defines the
    per-sample, per batch element estimate ``t[s, i] = x[s, i] * h(eps[s, i]) * factor[i]``
    with h = 1, eps or eps**2 - 1 (h = 0, 1, 2) and `factor` float64 of batch size (None: 1).
    The per-sample estimate of element j of the argument is ``e[s, j] = sum of t[s, i]``
    over the batch elements i broadcast onto j; the result is ``var(e[:, j], ddof=1)``
    (NaN with fewer than two samples).

    The rows are taken in chunks of about `_CHUNK_BYTES` of eps (regenerated per chunk from
    a Noise handle, sliced from an eps array); each chunk's estimates, float64 of shape
    (chunk,) + shape, give a mean and a sum of squared deviations from it (two passes over
    the chunk), merged into the running ones with Chan et al.'s pairwise update
    (``M2 += M2_c + delta**2 n n_c / (n + n_c)``): no cancellation of a large mean.
    """
    bshape = q.batch_shape
    batch = math.prod(bshape)
    if rows < 2:
        return {k: np.full(shape, np.nan) for k, (_, _, shape) in terms.items()}
    if batch == 0:  # every estimate is an empty sum: 0 for every sample
        return {k: np.zeros(shape) for k, (_, _, shape) in terms.items()}
    wcols = x.shape[1]
    inner = batch // wcols
    widest = max([batch] + [math.prod(shape) for _, _, shape in terms.values()])
    step = max(1, _CHUNK_BYTES // (q.dtype.itemsize * widest))
    need_eps = any(h for h, _, _ in terms.values())
    factors = {k: None if f is None else f.reshape(wcols, inner) for k, (_, f, _) in terms.items()}
    n = 0
    mean: dict[str, Array] = {}
    m2: dict[str, Array] = {}
    with np.errstate(all="ignore"):
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            c = r1 - r0
            xc = x[r0:r1].astype(np.float64).reshape(c, wcols, 1)
            eps = (_eps_rows(src, q.dtype, rows, batch, r0, r1).astype(np.float64).reshape(c, wcols, inner)
                   if need_eps else None)
            for k, (h, _, shape) in terms.items():
                if h == 0:
                    t = np.broadcast_to(xc, (c, wcols, inner))
                else:
                    assert eps is not None
                    t = xc * (eps if h == 1 else eps * eps - 1.0)
                f = factors[k]
                if f is not None:
                    t = t * f
                e = _rows_sum_to(np.ascontiguousarray(t).reshape(c, batch), bshape, shape)
                m_c = e.mean(axis=0)
                d = e - m_c
                m2_c = (d * d).sum(axis=0)
                if n == 0:
                    mean[k], m2[k] = m_c, m2_c
                else:
                    delta = m_c - mean[k]
                    mean[k] = mean[k] + delta * (c / (n + c))
                    m2[k] = m2[k] + m2_c + delta * delta * (n * c / (n + c))
            n += c
        return {k: (m2[k] / (n - 1)).reshape(shape) for k, (_, _, shape) in terms.items()}


def _scale(rows: int, reduce: str) -> float:
    """The factor of the sums: 1/rows for a mean (NaN for the mean of nothing), else 1."""
    return (1.0 / rows if rows else math.nan) if reduce == "mean" else 1.0


def _any_full(q: Normal) -> bool:
    """Whether loc or the parameter has the full batch shape (its variances come from the core)."""
    return bool(q.loc.shape == q.batch_shape or q.param.shape == q.batch_shape)


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
    if return_stats is False and type(grad_z) is np.ndarray and (reduce == "mean" or reduce == "sum"):
        fast = _pathwise_in_place(q, grad_z, noise, reduce)
        if fast is not None:
            return fast
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
        d_loc, d_param = empty_pair(q.batch_shape, q.dtype)  # arrays, also for a batch shape ()
        _core.pathwise_grad(src, g, rows, batch, par_b, q._kind, _scale(rows, reduce), d_loc, d_param)
        return {"loc": d_loc, q.param_name: d_param}
    ns = len(sample)
    if rows > 1 and batch and not any(g.strides[:ns]):  # broadcast over the samples: one row
        g_row = np.require(g[(0,) * ns], q.dtype, ("C", "A")).reshape(batch)
        g_arg, g_rows = g_row, np.broadcast_to(g_row, (rows, batch))
    else:
        g_arg = np.require(g, q.dtype, ("C", "A"))
        g_rows = g_arg.reshape(rows, batch)
    # the squares' sums serve the arguments of the full batch shape only
    sums = _core.reduce_estimator(0, return_stats and _any_full(q), src, g_arg, rows, batch, 1, 1)

    def variances() -> tuple[Array, Array]:
        return _sample_var(sums[0], sums[1], rows), _sample_var(sums[2], sums[3], rows)

    def spread(keys: list[str], chain: Array) -> dict[str, Array]:
        # per sample and batch element: grad_z for loc, grad_z * eps * dsigma/dparam
        terms: dict[str, tuple[int, Array | None, tuple[int, ...]]] = {
            "loc": (0, None, q.loc.shape), q.param_name: (1, chain, q.param.shape)}
        return _spread_variances(q, src, g_rows, rows, {k: terms[k] for k in keys})

    return _finish(q, rows, reduce, sums, False, variances if return_stats else None, spread)


def _pathwise_in_place(q: Normal, g: Array, noise: Any, reduce: str) -> dict[str, Array] | None:
    """The common call with nothing to convert: one core pass, or None for the general path.

    That is grad_z and noise (a handle, or a C-contiguous eps array) of the samples' shape
    and dtype, loc and the parameter of the full batch shape, the parameter read in place,
    at least one sample and one batch element. The arithmetic is the general path's.
    """
    dt, bshape = q._dtype, q._batch_shape
    par = q._par_src
    ns = g.ndim - len(bshape)
    if (g.dtype != dt or ns < 0 or g.shape[ns:] != bshape or q._loc_src.shape != bshape
            or not _usable(par, bshape, dt)):
        return None
    if type(noise) is Noise:
        if noise.shape != g.shape or noise.dtype != dt:
            return None
        src: Any = _handle_source(noise)
    elif type(noise) is np.ndarray:
        if noise.shape != g.shape or noise.dtype != dt or not (noise.flags.c_contiguous and noise.flags.aligned):
            return None
        src = noise
    else:
        return None
    batch = par.size
    rows = g.size // batch if batch else 0
    if rows == 0:
        return None
    if rows > 1 and not any(g.strides[:ns]):  # broadcast over the samples: the kernel reads one row
        g = np.ascontiguousarray(g[(0,) * ns])
    elif not (g.flags.c_contiguous and g.flags.aligned):
        return None
    d_loc, d_param = empty_pair(bshape, dt)
    _core.pathwise_grad(src, g, rows, batch, par, q._kind, 1.0 / rows if reduce == "mean" else 1.0, d_loc, d_param)
    return {"loc": d_loc, q._name: d_param}


_BASELINE_KINDS = "baseline must be None, a number, an array, 'mean' or 'loo'"


def _centred_weights(f: Array, rows: int, baseline: Any) -> Array:
    """w = f - baseline as a (rows, wcols) float64 array (the reference the kernel's
    centring reproduces bit for bit, see `_centring`)."""
    f64: Array = f.astype(np.float64).reshape(rows, -1) if rows else f.astype(np.float64).reshape(0, 1)
    if baseline is None or (isinstance(baseline, str) and rows == 0):
        return f64  # (no samples: nothing to centre)
    if isinstance(baseline, str):
        if baseline == "mean":
            w: Array = f64 - f64.mean(axis=0, keepdims=True)
            return w
        total = f64.sum(axis=0, keepdims=True)
        w = (rows * f64 - total) / (rows - 1)
        return w
    b = np.asarray(baseline, dtype=np.float64)
    w = (f64.reshape(f.shape) - b).reshape(f64.shape)
    return w


def _column_sums(f2: Array) -> Array:
    """Sums over the rows of f2 (rows, wcols) in float64, as ``f2.astype(float64).sum(0)``
    gives them (one column: that copy is of the sample shape only, and NumPy's pairwise
    summation of a column differs from its sum of a cast buffer)."""
    s: Array = f2.astype(np.float64).sum(axis=0) if f2.shape[1] == 1 else f2.sum(axis=0, dtype=np.float64)
    return s


def _centring(f: Array, rows: int, ns: int, baseline: Any,
              dtype: Any) -> tuple[Array | None, float, float] | None:
    """The kernel's centring (b per weight column, a, c: w = (f * a - b) / c in float64)
    for `baseline`, after checking it; None when the weights must be formed here: f of
    another dtype than the samples' (its values would be rounded before centring), a
    baseline array that varies over the sample axes, or no samples."""
    if isinstance(baseline, str) and baseline not in ("mean", "loo"):
        raise ValueError(f"{_BASELINE_KINDS}, got {baseline!r}")
    if isinstance(baseline, str) and baseline == "loo" and 0 < rows < 2:
        raise ValueError("baseline='loo' needs at least two samples")
    b_arr: Array | None = None
    if baseline is not None and not isinstance(baseline, str):
        try:
            b_arr = np.asarray(baseline, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{_BASELINE_KINDS}, got {type(baseline).__name__} ({exc})") from None
        try:
            b_view = np.broadcast_to(b_arr, f.shape)
        except ValueError:
            raise ValueError(f"baseline of shape {b_arr.shape} does not broadcast to f_values "
                             f"{f.shape}") from None
        if any(b_view.strides[:ns]) and rows > 1:
            return None
        b_arr = b_view
    if rows == 0 or f.dtype != dtype:
        return None
    wcols = math.prod(f.shape[ns:])
    if baseline is None:
        return None, 1.0, 1.0
    if b_arr is not None:
        return np.ascontiguousarray(b_arr[(0,) * ns]).reshape(wcols), 1.0, 1.0
    total = _column_sums(f.reshape(rows, wcols))
    if baseline == "mean":
        return total / rows, 1.0, 1.0  # as NumPy's mean: the sum, then one division
    return total, float(rows), float(rows - 1)


def score_grad(q: Normal, f_values: Any, noise: Noise | Array, *, baseline: Any = None,
               reduce: str = "mean", return_stats: bool = False) -> Any:
    """score_grad(q, f_values, noise, *, baseline=None, reduce="mean", return_stats=False)

    See `Normal.score_grad`.
    """
    _check_reduce(reduce)
    _check_bool(return_stats, "return_stats")
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
    batch = math.prod(q.batch_shape)
    wcols = math.prod(prefix)
    centring = _centring(f, rows, ns, baseline, q.dtype)
    w: Array | None = None
    if centring is None:  # centred here (a baseline that varies over the samples, or a cast)
        w = np.require(_centred_weights(f, rows, baseline), q.dtype, ("C", "A"))
        g_arg, cb, ca, cc = w, None, 1.0, 1.0
    else:  # the kernel centres each weight as it reads it: nothing of sample size here
        g_arg = _c_aligned(f, q.dtype)
        cb, ca, cc = centring
    inner = batch // wcols if wcols else 1
    _, par_b = q._batch_arrays()  # (C-contiguous, of the batch shape and dtype)
    bshape = q.batch_shape
    if not return_stats and rows and batch and q._loc_src.shape == bshape and q._par_src.shape == bshape:
        # sums and chain rule in one pass of the core (the same operations as below)
        d_loc_t, d_param_t = empty_pair(bshape, q.dtype)
        _core.score_grad(src, g_arg, rows, batch, wcols, inner, cb, ca, cc, par_b, q._kind, _scale(rows, reduce),
                         d_loc_t, d_param_t)
        return {"loc": d_loc_t, q.param_name: d_param_t}
    if batch == 0:  # nothing to reduce (and no valid column split for the core)
        sums = np.zeros((4, 0))
    else:
        sums = _core.reduce_estimator(1, return_stats and _any_full(q), src, g_arg, rows, batch, wcols, inner,
                                      cb, ca, cc)
    def inv_sigma() -> Array:  # 1 / sigma in float64, for the variances only
        sigma = np.empty(batch, np.float64)
        _core.sigma(np.require(par_b.reshape(-1), np.float64, ("C", "A")), q._kind, sigma)
        with np.errstate(all="ignore"):
            inv: Array = 1.0 / sigma
        return inv

    def variances() -> tuple[Array, Array]:
        inv = inv_sigma()
        with np.errstate(all="ignore"):
            return (_sample_var(sums[0], sums[1], rows) * inv * inv,
                    _sample_var(sums[2], sums[3], rows) * inv * inv)

    def spread(keys: list[str], chain: Array) -> dict[str, Array]:
        # per sample and batch element: w eps / sigma for loc, w (eps**2 - 1) / sigma *
        # dsigma/dparam for the parameter
        inv = inv_sigma()
        with np.errstate(all="ignore"):
            terms: dict[str, tuple[int, Array | None, tuple[int, ...]]] = {
                "loc": (1, inv, q.loc.shape), q.param_name: (2, chain * inv, q.param.shape)}
        weights = w if w is not None else np.require(_centred_weights(f, rows, baseline), q.dtype, ("C", "A"))
        return _spread_variances(q, src, weights, rows, {k: terms[k] for k in keys})

    return _finish(q, rows, reduce, sums, True, variances if return_stats else None, spread)

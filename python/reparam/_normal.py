"""The reparameterized diagonal Normal distribution."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _backends, _core, _gradients
from ._arrays import _check_bool, _frozen, _negative, _read_only, _sum_to, _usable
from ._generator import Generator, default_rng
from ._params import KIND as _KIND
from ._params import param_kind
from ._philox import _normalize_size
from ._shapes import broadcast_shapes, empty, empty_pair
from ._stream import Noise

__all__ = ["Noise", "Normal", "reparameterize"]


Array = npt.NDArray[Any]
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _float_array(x: Any, name: str) -> Array:
    """x as an array whose dtype decides the distribution's (ints give float64)."""
    if type(x) is np.ndarray:  # the common case, without asarray's call
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be real numbers, got an array of dtype {x.dtype}")
        return x
    try:
        a = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be array_like of numbers: {exc}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got an array of dtype {a.dtype}")
    return a


def _result_dtype(loc: Any, loc_a: Array, value: Any, val_a: Array) -> np.dtype[Any]:
    """float32 if every array input is float32 or narrower (Python scalars are weak);
    float64 otherwise, integers included."""
    if type(loc) is np.ndarray and type(value) is np.ndarray:
        if loc.dtype == value.dtype == _F32 or (loc.dtype.kind == value.dtype.kind == "f"
                                                and max(loc.dtype.itemsize, value.dtype.itemsize) <= 4):
            return _F32
        return _F64
    arrays = [a for x, a in ((loc, loc_a), (value, val_a)) if isinstance(x, np.ndarray | np.generic) or _is_dask(x)]
    if arrays and all(a.dtype.kind == "f" and a.dtype.itemsize <= 4 for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _is_dask(x: Any) -> bool:
    """True for a dask.array.Array (without importing Dask when it is not loaded)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(x, da.Array)


def _one_param(**params: Any) -> tuple[str, Any]:
    """The one scale parameter given, as (name, value); a ValueError naming the choices else."""
    given = {k: v for k, v in params.items() if v is not None}
    if len(given) != 1:
        raise ValueError(
            "Normal needs exactly one of scale=, var=, logvar=, logstd=, softplus=; got "
            + (", ".join(f"{k}=" for k in given) if given else "none")
        )
    ((name, value),) = given.items()
    return name, value


def _check_nonnegative(name: str, values: Array) -> None:
    """scale and var must be non-negative, -0.0 included (`_negative`); NaN passes."""
    if name in ("scale", "var"):
        neg = _negative(values)
        if neg.any():
            raise ValueError(f"{name} must be non-negative, {_first_bad(neg, values)}")


def _first_bad(mask: Array, values: Array) -> str:
    idx = np.unravel_index(int(np.flatnonzero(mask)[0]), mask.shape)
    where = idx[0] if len(idx) == 1 else tuple(int(i) for i in idx)
    return f"got {float(values[idx])!r} at index {where}"


class _NormalDescription:
    """The descriptive properties shared by reparam.Normal and reparam.dask.Normal."""

    _batch_shape: tuple[int, ...]
    _dtype: np.dtype[Any]
    _loc: Any
    _param: Any
    _name: str

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Broadcast shape of loc and the parameter."""
        return self._batch_shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """float32 or float64: the dtype of samples and closed forms."""
        return self._dtype

    @property
    def loc(self) -> Any:
        """The mean, as given (converted to `dtype`)."""
        return self._loc

    @property
    def param_name(self) -> str:
        """Which parameterization was given: 'scale', 'var', 'logvar', 'logstd' or 'softplus'."""
        return self._name

    @property
    def param(self) -> Any:
        """The raw parameter, as given (converted to `dtype`)."""
        return self._param


class Normal(_NormalDescription):
    """Normal(loc, *, scale=None, var=None, logvar=None, logstd=None, softplus=None)

    Diagonal Normal distribution N(loc, sigma**2) with sigma given in exactly one
    parameterization:

    ========  =====================  ==========================
    name      sigma                  d sigma / d param
    ========  =====================  ==========================
    scale     s                      1
    var       sqrt(v)                1 / (2 sigma)
    logvar    exp(s / 2)             sigma / 2
    logstd    exp(s)                 sigma
    softplus  log(1 + exp(s))        1 / (1 + exp(-s))
    ========  =====================  ==========================

    Parameters
    ----------
    loc : array_like
        Mean.
    scale, var, logvar, logstd, softplus : array_like
        Exactly one of them. `scale` and `var` must be non-negative (NaN allowed,
        it propagates).

    Notes
    -----
    `loc` and the parameter broadcast with NumPy rules to `batch_shape`. float32
    inputs give float32 samples, float64 inputs float64; integers and Python
    scalars count as float64 (Python scalars do not widen a float32 array).

    NumPy arrays are read live, as torch.distributions reads its tensors: every
    method (samples, gradients, closed forms, `scale`, `loc`) uses the values the
    arrays hold when it is called, so an update in place (``mu -= lr * g``) is seen
    by the next call. The batch shape and dtype are fixed at construction, and so is
    the check that `scale` or `var` is non-negative. An array of `dtype`, of the
    full batch shape and C order is read in place; any other (broadcast, cast or
    strided) is converted on each call. Python numbers and sequences are values:
    they are converted once. `loc` and `param` return read-only views.
    """

    def __new__(cls, loc: Any = None, **params: Any) -> Normal:
        # Dask inputs stay lazy: reparam.dask.Normal has the same constructor and methods.
        if (cls is Normal and "dask.array" in sys.modules
                and (_is_dask(loc) or any(_is_dask(v) for v in params.values()))):
            dask_normal: Any = _backends.dask_entry("Normal")
            return dask_normal(loc, **params)  # type: ignore[no-any-return]
        return super().__new__(cls)

    def __init__(self, loc: Any, *, scale: Any = None, var: Any = None, logvar: Any = None,
                 logstd: Any = None, softplus: Any = None) -> None:
        if logvar is not None and scale is None and var is None and logstd is None and softplus is None:
            name, value = "logvar", logvar  # the VAE's call, without building a dict
        else:
            name, value = _one_param(scale=scale, var=var, logvar=logvar, logstd=logstd, softplus=softplus)
        loc_a = _float_array(loc, "loc")
        val_a = _float_array(value, name)
        dtype = self._dtype = _result_dtype(loc, loc_a, value, val_a)
        if loc_a.shape == val_a.shape:
            self._batch_shape = loc_a.shape
        else:
            try:
                self._batch_shape = broadcast_shapes(loc_a.shape, val_a.shape)
            except ValueError:
                raise ValueError(
                    f"loc and {name} must broadcast together, got shapes {loc_a.shape} and "
                    f"{val_a.shape}"
                ) from None
        # Arrays are read live (see the class notes); anything else is a value, kept once.
        self._loc_src = loc_a if loc_a is loc else _frozen(loc_a, dtype)
        self._par_src = val_a if val_a is value else _frozen(val_a, dtype)
        _check_nonnegative(name, val_a if val_a.dtype == dtype else val_a.astype(dtype))
        self._name = name
        self._kind = _KIND[name]

    @property
    def _loc(self) -> Array:
        """loc now, in `dtype`, on its own shape (the caller's array itself when it has that dtype)."""
        a = self._loc_src
        return a if a.dtype == self._dtype else a.astype(self._dtype)

    @property
    def _param(self) -> Array:
        """The parameter now, as `_loc`."""
        a = self._par_src
        return a if a.dtype == self._dtype else a.astype(self._dtype)

    @property
    def loc(self) -> Array:
        """The mean as it is now, in `dtype` (a read-only view of an array given in that dtype)."""
        return _read_only(self._loc)

    @property
    def param(self) -> Array:
        """The raw parameter as it is now, in `dtype` (a read-only view, as `loc`)."""
        return _read_only(self._param)

    def _batch_arrays(self) -> tuple[Array, Array]:
        """loc and the parameter now, C-contiguous in `dtype` and of `batch_shape`: the
        caller's arrays themselves when they are so already, else converted copies."""
        shape, dt = self._batch_shape, self._dtype
        loc, par = self._loc_src, self._par_src
        loc_ok, par_ok = _usable(loc, shape, dt), _usable(par, shape, dt)
        if loc_ok and par_ok:
            return loc, par
        if not (loc_ok or par_ok):
            loc_c, par_c = empty_pair(shape, dt)  # one block for the two copies
            loc_c[...] = loc
            par_c[...] = par
            return loc_c, par_c
        copy = np.empty(shape, dt)
        copy[...] = par if loc_ok else loc
        return (loc, copy) if loc_ok else (copy, par)

    def _sigma(self) -> Array:
        """sigma on the parameter's own shape, computed by the sampling kernels."""
        p = np.require(self._param, requirements=("C", "A"))
        out = np.empty(p.shape, self._dtype)
        _core.sigma(p, self._kind, out)
        return out

    def _sigma64(self) -> Array:
        """sigma in float64 (not rounded to a float32 dtype), on the parameter's shape."""
        p = np.require(self._param, np.float64, ("C", "A"))
        out = np.empty(p.shape, np.float64)
        _core.sigma(p, self._kind, out)
        return out

    def _log_sigma(self) -> Array:
        p, name = self._param, self._name
        with np.errstate(divide="ignore"):
            if name == "scale":
                return np.log(p)
            if name == "var":
                return 0.5 * np.log(p)
            if name == "logvar":
                return 0.5 * p
            if name == "logstd":
                return np.array(p, copy=True)
            sp = self._sigma()
            # for x << 0, softplus(x) = exp(x) (1 - exp(x)/2 + ...): log = x - exp(x)/2
            tail = p - 0.5 * np.exp(np.minimum(p, -30))
            return np.where(p < -30, tail, np.log(sp)).astype(self._dtype, copy=False)

    @property
    def scale(self) -> Array:
        """sigma, the standard deviation."""
        return self._sigma()

    @property
    def var(self) -> Array:
        """sigma**2: inf where it overflows the dtype (without an overflow warning)."""
        if self._name == "var":
            return np.array(self._param, copy=True)
        with np.errstate(over="ignore"):  # sigma**2 beyond the dtype is inf, as intended
            if self._name == "logvar":
                return np.exp(self._param)
            if self._name == "logstd":
                v: Array = np.exp(2 * self._param)
                return v
            s = self._sigma()
            sq: Array = s * s
            return sq

    @property
    def logvar(self) -> Array:
        """log(sigma**2): inf where it overflows the dtype (without an overflow warning)."""
        with np.errstate(over="ignore"):
            lv: Array = 2 * self._log_sigma()
            return lv

    @property
    def logstd(self) -> Array:
        """log(sigma)."""
        return self._log_sigma()

    @property
    def softplus(self) -> Array:
        """The softplus pre-activation x with softplus(x) = sigma: sigma + log(-expm1(-sigma))."""
        if self._name == "softplus":
            return np.array(self._param, copy=True)
        s = self._sigma64()
        ls = np.asarray(self._log_sigma(), np.float64)
        with np.errstate(divide="ignore"):
            # log(expm1(s)) = log(s) + s/2 + O(s**2) for tiny s: from log(sigma), which
            # stays finite where sigma itself underflows (logstd = -1000)
            x = np.where(s < 1e-8, ls + 0.5 * s, s + np.log(-np.expm1(-s)))
        return x.astype(self._dtype)

    def __repr__(self) -> str:
        return (f"Normal(batch_shape={self._batch_shape}, dtype={self._dtype.name}, "
                f"param={self._name!r})")

    # -- sampling ----------------------------------------------------------------
    def rsample(self, size: int | tuple[int, ...] | None = None, *, rng: Any = None,
                antithetic: bool = False, return_noise: bool = False,
                out: Array | None = None, chunks: Any = None) -> Any:
        """rsample(size=None, *, rng=None, antithetic=False, return_noise=False, out=None, chunks=None)

        Reparameterized samples ``z = loc + sigma(param) * eps`` in one fused pass.

        Parameters
        ----------
        size : int or tuple of ints, optional
            Sample dimensions; the result has shape ``size + batch_shape``.
        rng : Generator, Philox, int or SeedSequence, optional
            Where eps comes from: ``eps`` is exactly what ``rng.standard_normal(
            size + batch_shape, dtype)`` would return. None uses fresh entropy.
        antithetic : bool, optional
            Draw half the noise and use ``eps`` and ``-eps`` for the two halves of
            the first sample axis (its length must be even).
        return_noise : bool, optional
            Also return a `Noise` handle that regenerates eps.
        out : ndarray, optional
            C-contiguous, writable array of shape ``size + batch_shape`` and `dtype`.
        chunks : Dask chunk specification, optional
            Return a Dask array with these chunks ("auto" lets Dask choose), computed
            chunk by chunk and equal bit for bit to the in-memory result (see
            `reparam.dask.rsample`; needs the ``dask`` extra).

        Returns
        -------
        z : ndarray (dask.array.Array with `chunks`)
        noise : Noise
            Only with ``return_noise=True``.
        """
        if chunks is not None:
            if out is not None:
                raise ValueError("out cannot be combined with chunks")
            return _backends.dask_entry("rsample")(self, size, chunks=chunks, rng=rng, antithetic=antithetic,
                                return_noise=return_noise)
        gen = rng if type(rng) is Generator else default_rng(rng)
        sample_shape = () if size is None else _normalize_size(size)
        shape = sample_shape + self._batch_shape
        if antithetic and (not sample_shape or sample_shape[0] % 2):
            raise ValueError(
                "antithetic=True needs an even first sample dimension, got size "
                f"{sample_shape}"
            )
        if out is None:
            out = empty(shape, self._dtype, "rsample")
        else:
            _check_out(out, shape, self._dtype)
        loc_b, par_b = self._batch_arrays()
        pos = _core.affine_normal(gen._state, loc_b, par_b, self._kind, bool(antithetic), out)
        if return_noise:
            return out, Noise._from_core(pos, shape, self._dtype, bool(antithetic))
        return out

    # -- gradient estimators ---------------------------------------------------------
    def pathwise_grad(self, grad_z: Any, noise: Any, *, reduce: str = "mean",
                      return_stats: bool = False) -> Any:
        """pathwise_grad(grad_z, noise, *, reduce="mean", return_stats=False)

        Pathwise (reparameterization) gradient: with ``z = loc + sigma * eps``,
        ``dL/dloc = sum grad_z`` and ``dL/dparam = sum grad_z * eps * dsigma/dparam``
        over the sample axes, in one fused pass.

        Parameters
        ----------
        grad_z : array_like
            dL/dz, shape ``sample_shape + batch_shape``.
        noise : Noise or ndarray
            The handle from ``rsample(return_noise=True)`` (eps is regenerated in
            the kernel, never stored) or the eps array itself.
        reduce : {"mean", "sum"}
            Average or sum over the sample axes.
        return_stats : bool
            Also return, per element of loc and of the parameter, the unbiased sample
            variance (ddof=1, over the samples) of the per-sample estimates of its
            gradient. A sample's estimate for an element is its term before the
            reduction (``grad_z`` and ``grad_z * eps * dsigma/dparam`` here), summed,
            for an argument broadcast over the batch, over the batch elements that
            broadcast onto that element, just as the gradient is (so their
            covariances count). The scale is that of one sample's estimate, whatever
            `reduce` is: the variance of the returned gradient is about
            ``stats / n`` for ``reduce="mean"`` and ``n * stats`` for ``"sum"`` (n
            samples; for independent samples only, so not for antithetic noise).

        Returns
        -------
        dict
            ``{"loc": ..., <param_name>: ...}``, each summed down to the shape of that
            argument (as autograd does for broadcast inputs); with `return_stats`
            the pair ``(grads, variances)``, the variances shaped like the gradients
            (NaN with fewer than two samples).

        Notes
        -----
        The variances of an argument of the full batch shape come from float64 sums
        and sums of squares added up in the same pass as the gradient. Those of a
        broadcast argument take a second pass over the samples in chunks of rows
        (about 4 MiB of eps at a time, regenerated from a `Noise` handle or sliced
        from the eps array): each chunk's per-sample estimates, summed down to the
        argument's shape in float64, are merged into running means and sums of
        squared deviations (Chan et al.'s pairwise update, no cancellation).
        """
        if return_stats is False and type(grad_z) is np.ndarray and (reduce == "mean" or reduce == "sum"):
            fast = _gradients._pathwise_in_place(self, grad_z, noise, reduce)
            if fast is not None:
                return fast
        if _is_dask(grad_z) or _is_dask(noise):  # a Dask reduction (reparam.dask.pathwise_grad)
            return _backends.dask_entry("pathwise_grad")(self, grad_z, noise, reduce=reduce, return_stats=return_stats)

        return _gradients.pathwise_grad(self, grad_z, noise, reduce=reduce, return_stats=return_stats)

    def score_grad(self, f_values: Any, noise: Any, *, baseline: Any = None,
                   reduce: str = "mean", return_stats: bool = False) -> Any:
        """score_grad(f_values, noise, *, baseline=None, reduce="mean", return_stats=False)

        Score-function (REINFORCE) gradient ``(f - b) * dlog q(z)/dparam`` averaged
        over the samples: ``dlog q/dloc = eps / sigma``, ``dlog q/dsigma =
        (eps**2 - 1) / sigma``.

        Parameters
        ----------
        f_values : array_like
            f(z), shape ``sample_shape`` (one value per sample) or ``sample_shape``
            plus a prefix of ``batch_shape``.
        noise : Noise or ndarray
            As in `pathwise_grad`.
        baseline : None, number, array, "mean" or "loo"
            Subtracted from f. "mean" uses the mean of f over the samples, which
            makes the estimator biased (by a factor ``(n - 1) / n``); "loo" uses the
            mean of the other samples (leave-one-out) and is unbiased.
        reduce, return_stats
            As in `pathwise_grad`; a sample's terms are ``(f - b) * eps / sigma``
            (loc) and ``(f - b) * (eps**2 - 1) / sigma * dsigma/dparam``.

        Returns
        -------
        dict
            As in `pathwise_grad` (the variances too).
        """
        if _is_dask(f_values) or _is_dask(noise) or _is_dask(baseline):  # reparam.dask.score_grad
            return _backends.dask_entry("score_grad")(self, f_values, noise, baseline=baseline, reduce=reduce,
                                   return_stats=return_stats)

        return _gradients.score_grad(self, f_values, noise, baseline=baseline, reduce=reduce,
                          return_stats=return_stats)

    # -- closed forms (computed in the core, in float64) ---------------------------------
    def _closed_form(self, form: int, grad: bool, x: Any = None,
                     other: Normal | None = None) -> Any:
        if grad is True or grad is False:
            # the common call, inputs of one shape and dtype: one call into the core
            r = _core.closed_form_same(form, self._kind, self._loc_src, self._par_src, x,
                                       None if other is None else other._par_src,
                                       0 if other is None else other._kind, grad)
            if r is not None:
                return (r[0], {"loc": r[1], self._name: r[2]}) if grad else r
        _check_bool(grad, "grad")
        loc, par = self._loc, self._param
        arrays = [loc, par]
        if x is not None:
            arrays.append(x)
        if other is not None:
            arrays.append(other._param)
        shape = loc.shape
        if any(a.shape != shape for a in arrays):
            shape = broadcast_shapes(*(a.shape for a in arrays))
        # The core computes in float64 from float32 or float64 inputs of one dtype: float32
        # when every input is (results rounded once to float32 there, so no cast copies
        # either way), else float64 with the results cast below.
        dt = self._dtype if all(a.dtype == self._dtype for a in arrays) else np.dtype(np.float64)
        flat = [a.reshape(-1) if a.shape == shape and a.flags.c_contiguous
                else np.require(np.broadcast_to(a, shape), dt, ("C", "A")).ravel()
                for a in (a if a.dtype == dt else a.astype(dt) for a in arrays)]
        # float32 gradients summed over broadcast axes: summed in float64, then rounded
        wide = grad and dt != np.float64 and (loc.shape != shape or par.shape != shape)
        value, d_loc, d_param = _core.closed_form(
            form, self._kind, flat[0], flat[1], flat[2] if x is not None else None,
            flat[3] if other is not None else None,
            other._kind if other is not None else 0, grad, wide)
        if value.dtype == self._dtype:  # the core's results as they are
            v = value.reshape(shape)
            if not grad:
                return v
            return v, {"loc": _sum_to(d_loc.reshape(shape), loc.shape),
                       self._name: _sum_to(d_param.reshape(shape), par.shape)}
        with np.errstate(all="ignore"):  # rounding to float32 may overflow to inf
            v = value.reshape(shape).astype(self._dtype)
            if not grad:
                return v
            return v, {
                "loc": _sum_to(d_loc.reshape(shape), loc.shape).astype(self._dtype),
                self._name: _sum_to(d_param.reshape(shape), par.shape).astype(self._dtype),
            }

    def log_prob(self, z: Any, *, grad: bool = False) -> Any:
        """log_prob(z, *, grad=False)

        Log density ``-(z - loc)**2 / (2 sigma**2) - log(sigma) - log(2 pi) / 2``,
        broadcast over z, loc and the parameter.

        With ``grad=True`` returns ``(value, {"loc": ..., <param>: ...})``: the
        gradients of ``value.sum()`` with respect to loc and the raw parameter,
        shaped like them (broadcast axes summed, as autograd does).
        """
        z_a = _float_array(z, "z")
        if z_a.shape == self._batch_shape:
            return self._closed_form(0, grad, x=z_a)
        try:
            broadcast_shapes(z_a.shape, self._batch_shape)
        except ValueError:
            raise ValueError(f"z of shape {z_a.shape} does not broadcast with batch_shape "
                             f"{self._batch_shape}") from None
        return self._closed_form(0, grad, x=z_a)

    def entropy(self, *, grad: bool = False) -> Any:
        """entropy(*, grad=False)

        Differential entropy ``log(sigma) + (1 + log(2 pi)) / 2``, of `batch_shape`.
        """
        return self._closed_form(1, grad)

    def kl(self, other: Normal, *, grad: bool = False) -> Any:
        """kl(other, *, grad=False)

        KL(self || other) for diagonal Normals, elementwise:
        ``log(s_o / s) + (s**2 + (loc - loc_o)**2) / (2 s_o**2) - 1/2``.
        Gradients (``grad=True``) are with respect to self's loc and parameter.
        """
        if not isinstance(other, Normal):
            raise TypeError(f"other must be a reparam.Normal, got {type(other).__name__}")
        try:
            shape = broadcast_shapes(self._batch_shape, other._batch_shape)
        except ValueError:
            raise ValueError(f"other has batch_shape {other._batch_shape}, which does not broadcast "
                             f"with {self._batch_shape}") from None
        other_loc = np.broadcast_to(other._loc, shape)
        return self._closed_form(2, grad, x=other_loc, other=other)

    def kl_standard_normal(self, *, grad: bool = False) -> Any:
        """kl_standard_normal(*, grad=False)

        KL(self || N(0, 1)) ``= (sigma**2 + loc**2 - 1) / 2 - log(sigma)``, the VAE
        regularizer. Computed as ``loc**2 / 2 + (sigma**2 - 1 - log(sigma**2)) / 2``
        with the second term free of cancellation near sigma = 1 (from log(sigma**2)
        taken accurately from the raw parameter): never negative, and within a few ulps
        in float64 for every parameterization.
        """
        return self._closed_form(3, grad)


def _check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype}, got {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape} (size + batch_shape), got {out.shape}")
    if not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
        raise ValueError("out must be C-contiguous, writable and aligned")


def reparameterize(loc: Any, value: Any, param: str = "logvar",
                   size: int | tuple[int, ...] | None = None, *, rng: Any = None,
                   out: Array | None = None) -> Array:
    """reparameterize(loc, value, param="logvar", size=None, *, rng=None, out=None)

    ``loc + sigma(value) * eps`` for raw encoder outputs, in one fused pass:
    ``Normal(loc, **{param: value}).rsample(size, rng=rng, out=out)``.

    Parameters
    ----------
    loc : array_like
        Mean.
    value : array_like
        The scale parameter in the form named by `param`.
    param : {"logvar", "scale", "var", "logstd", "softplus"}
        How `value` encodes sigma.
    size : int or tuple of ints, optional
        Sample dimensions in front of the broadcast shape.
    rng, out
        As in `Normal.rsample`.
    """
    param_kind(param, "param")  # checks the name
    z: Array = Normal(loc, **{param: value}).rsample(size, rng=rng, out=out)
    return z

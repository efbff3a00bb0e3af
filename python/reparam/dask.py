"""Chunk-invariant Dask arrays from the reparam stream (optional extra ``dask``).

Every value of a reparam stream is a function of the key and its position, so a chunk
of a Dask array computes its own slice of the stream from its offset: nothing is
shared between chunks, no state travels with the graph, and the result is bit for bit
the in-memory result with the same seed, for every chunking (ragged chunks and chunks
along the sample axes included) and on every worker.

Element ``i`` (flat C-order index) of a draw uses stream position ``i``: word ``i`` for
float32, 64-bit slot ``i`` for float64, counted from where the draw starts. A chunk
is cut into the runs of consecutive positions it holds (along its last axes), and each
run is filled by one call of the core.

- :func:`standard_normal` and :func:`normal`: ``reparam.default_rng(seed).standard_normal``
  and ``.normal`` as Dask arrays.
- :class:`Normal`: the reparameterized Normal with loc and the parameter kept lazy
  (Dask arrays, or NumPy arrays); :func:`rsample` draws from it, or from an in-memory
  :class:`reparam.Normal`, equal bit for bit to ``reparam.Normal.rsample``.
- :func:`pathwise_grad` and :func:`score_grad`: the fused gradient reductions as Dask
  reductions (per-chunk float64 partial sums, then a tree sum), equal to the in-memory
  results within the summation error (see :func:`pathwise_grad`).
"""

# Dask's public functions carry no annotations:
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
from dask.array.core import normalize_chunks
from dask.base import tokenize

from . import _backends, _core
from ._arrays import _negative
from ._generator import Generator, _check_scale, _normal_shape
from ._gradients import _dsigma, _sample_var
from ._normal import Noise, _check_nonnegative, _float_array, _NormalDescription, _one_param, _result_dtype
from ._normal import Normal as _MemNormal
from ._params import KIND as _KIND
from ._philox import Philox, _normalize_size

__all__ = ["Normal", "normal", "pathwise_grad", "rsample", "score_grad", "standard_normal"]

Array = npt.NDArray[Any]
Chunks = tuple[tuple[int, ...], ...]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


# -- stream positions ----------------------------------------------------------------
# Where a draw starts: position 0 is `start` units (32-bit words for float32, 64-bit slots
# for float64) past the block with counter `counter`; the core's StreamPos maps offsets
# to positions (`at`), fills from a position and pickles to workers.
_Stream = _core.StreamPos


def _canon(dt: np.dtype[Any]) -> np.dtype[Any]:
    """NumPy's own instance of dt: the core checks dtypes by identity, and a dtype that
    came through pickle (to a Dask worker) is an equal but distinct object."""
    canon: np.dtype[Any] = np.dtype(dt.str)
    return canon


def _c(x: Any, dt: np.dtype[Any]) -> Array:
    """x as a C-contiguous, aligned array whose dtype is `dt` itself (see `_canon`); no copy
    when it can be a view (blocks received from other workers may be unaligned views of a frame)."""
    a = np.require(x, dtype=dt, requirements=["C", "A"])
    return a if a.dtype is dt else a.view(dt)


def _unit(dtype: np.dtype[Any]) -> int:
    return 2 if dtype.itemsize == 8 else 1


def _reserve(seed: Any, n: int, unit: int) -> _Stream:
    """Reserve `n` positions of `unit` words, as one in-memory draw of n values would.

    A Generator or Philox is advanced (under its lock) past the reserved positions;
    anything else seeds a new Philox, whose first draw starts at block 1, word 0.
    """
    if isinstance(seed, Generator):
        bg = seed.bit_generator
    elif isinstance(seed, Philox):
        bg = seed
    elif isinstance(seed, np.random.Generator | np.random.BitGenerator):
        raise TypeError(
            "seed must be None, an int, a SeedSequence, a reparam.Generator or a reparam.Philox, got "
            f"{type(seed).__name__}"
        )
    else:
        bg = Philox(seed)
    return _core.stream_reserve(bg._state, n, unit)


def _runs(shape: tuple[int, ...], location: Sequence[tuple[int, int]]) -> tuple[int, int, list[int]]:
    """The runs of consecutive flat positions held by the block at `location`.

    Returns ``(d, length, offsets)``: axes after `d` are whole in the block (d = -1 when
    the block is the whole array), every run spans the block's extent along `d` and
    everything after it, and ``offsets`` are the flat C-order positions of the runs'
    first elements, in the block's own C order (so run j is row j of
    ``block.reshape(-1, length)``).
    """
    nd = len(shape)
    d = nd - 1
    while d >= 0 and tuple(location[d]) == (0, shape[d]):
        d -= 1
    if d < 0:
        return -1, math.prod(shape), [0]
    strides = [math.prod(shape[i + 1:]) for i in range(nd)]
    a, b = location[d]
    length = (b - a) * strides[d]
    offs = np.array([a * strides[d]], dtype=np.int64)
    for i in reversed(range(d)):
        lo, hi = location[i]
        lead = np.arange(lo, hi, dtype=np.int64) * strides[i]
        offs = (lead[:, None] + offs[None, :]).ravel()
    return d, length, offs.tolist()


def _location(block_info: dict[Any, Any] | None, which: Any) -> list[tuple[int, int]]:
    if block_info is None:  # only when dask calls the function on meta
        raise RuntimeError("reparam.dask block functions need block_info")
    return [(int(a), int(b)) for a, b in block_info[which]["array-location"]]


# -- standard normal -----------------------------------------------------------------
def _fill_block(block_info: dict[Any, Any] | None = None, *, kind: str, stream: _Stream,
                shape: tuple[int, ...], dt: np.dtype[Any]) -> Array:
    loc = _location(block_info, None)
    out = np.empty(tuple(b - a for a, b in loc), _canon(dt))
    if out.size == 0:
        return out
    _, length, offs = _runs(shape, loc)
    rows = out.reshape(-1, length)
    for j, off in enumerate(offs):
        stream.at(off).fill(kind, rows[j])
    return out


def _float_dtype(dtype: Any, method: str) -> np.dtype[Any]:
    dt: np.dtype[Any] = np.dtype(dtype)
    if dt not in (_F32, _F64) or not dt.isnative:
        raise TypeError(f"Unsupported dtype {dt!r} for {method}")
    return dt


def _shape(size: Any) -> tuple[int, ...]:
    return () if size is None else _normalize_size(size)


def standard_normal(size: int | tuple[int, ...] | None, *, chunks: Any = "auto", dtype: Any = np.float64,
                    seed: Any = None) -> da.Array:
    """standard_normal(size, *, chunks="auto", dtype=np.float64, seed=None)

    Standard normal values as a Dask array, equal bit for bit to
    ``reparam.default_rng(seed).standard_normal(size, dtype)`` for every chunking.

    Parameters
    ----------
    size : int or tuple of ints
        Shape (None gives a 0-d array).
    chunks : int, tuple, "auto", ...
        Any chunk specification ``dask.array`` accepts (ragged chunks too).
    dtype : np.float64 or np.float32
    seed : None, int, SeedSequence, Generator or Philox
        An int, a SeedSequence or None (fresh entropy) seeds a new stream exactly as
        ``reparam.default_rng(seed)`` does. A :class:`reparam.Generator` (or Philox) is
        advanced, under its lock and when this function is called, past the positions
        the array uses, as an in-memory draw of the same size would advance it: a
        following draw from it continues after them, and the array's values are those
        the in-memory draw would have given.

    Returns
    -------
    dask.array.Array
        Each chunk fills its own positions of the stream when computed; the graph
        holds only the key and counter (its name is a hash of them, the shape, the
        chunks and the dtype, so it is deterministic).
    """
    dt = _float_dtype(dtype, "standard_normal")
    shape = _shape(size)
    chunks_n: Chunks = normalize_chunks(chunks, shape, dtype=dt)
    stream = _reserve(seed, math.prod(shape), _unit(dt))
    return _stream_array("normal", stream, shape, chunks_n, dt)


def _stream_array(kind: str, stream: _Stream, shape: tuple[int, ...], chunks: Chunks,
                  dt: np.dtype[Any]) -> da.Array:
    name = f"reparam-{kind}-" + tokenize(stream, shape, chunks, dt.str)
    arr: da.Array = da.map_blocks(
        _fill_block, chunks=chunks, dtype=dt, meta=np.empty((0,) * len(shape), dt), name=name,
        kind=kind, stream=stream, shape=shape, dt=dt,
    )
    return arr


# -- normal(loc, scale) ----------------------------------------------------------------
def _is_dask(x: Any) -> bool:
    return isinstance(x, da.Array)


def _as_float64_lazy(x: Any, name: str) -> Any:
    """A Dask array (kept lazy) or a float64 NumPy array, cast as Generator.normal casts."""
    if _is_dask(x):
        if not np.can_cast(x.dtype, _F64, casting="safe"):
            raise TypeError(
                f"Cannot cast {name} array data from {x.dtype!r} to dtype('float64') according to the rule 'safe'"
            )
        _check_known_shape(x, name)
        return x.astype(_F64)
    if isinstance(x, np.ndarray):
        if not np.can_cast(x.dtype, _F64, casting="safe"):
            raise TypeError(
                f"Cannot cast {name} array data from {x.dtype!r} to dtype('float64') according to the rule 'safe'"
            )
        return x.astype(_F64, copy=False)
    if x is None or isinstance(x, str | bytes | bytearray):
        raise TypeError(f"{name} must be real number, not {type(x).__name__}")
    with np.errstate(all="ignore"):
        return np.asarray(x, dtype=_F64)


def _check_known_shape(x: da.Array, name: str) -> None:
    if any(isinstance(s, float) and math.isnan(s) for s in x.shape):
        raise ValueError(f"{name} has unknown dimensions {x.shape}: call compute_chunk_sizes() first")


def _affine_block(eps: Array, scale: Array, loc: Array, *, check: bool) -> Array:
    """eps * scale + loc in eps's dtype, as Generator.normal computes it."""
    if check:
        negative = _negative(scale)
        if negative.any():
            raise ValueError(f"scale < 0: scale must be non-negative, got {scale[negative].ravel()[0]}")
    with np.errstate(all="ignore"):
        out: Array = np.multiply(eps, scale.astype(eps.dtype, copy=False))
        np.add(out, loc.astype(eps.dtype, copy=False), out=out)
    return out


def normal(loc: Any = 0.0, scale: Any = 1.0, size: int | tuple[int, ...] | None = None, *, chunks: Any = "auto",
           dtype: Any = np.float64, seed: Any = None) -> da.Array:
    """normal(loc=0.0, scale=1.0, size=None, *, chunks="auto", dtype=np.float64, seed=None)

    ``loc + scale * eps`` as a Dask array, equal bit for bit to
    ``reparam.default_rng(seed).normal(loc, scale, size, dtype=dtype)``.

    `loc` and `scale` may be Dask arrays (their chunks are aligned with the result's);
    a negative `scale` raises ValueError at once for NumPy input and when the chunk
    holding it is computed for Dask input. `seed` and `chunks` are as in
    :func:`standard_normal`; a 0-d Dask array stands for NumPy's Python float.
    """
    dt = _float_dtype(dtype, "normal")
    loc_a = _as_float64_lazy(loc, "loc")
    scale_a = _as_float64_lazy(scale, "scale")
    if not _is_dask(scale_a):
        _check_scale(scale_a)
    shape = _normal_shape(loc_a.shape, scale_a.shape, size)
    chunks_n = _out_chunks(chunks, shape, 0, dt, (loc_a, scale_a))
    eps = standard_normal(shape, chunks=chunks_n, dtype=dt, seed=seed)
    scale_b = _broadcast_chunked(scale_a, shape, chunks_n)
    loc_b = _broadcast_chunked(loc_a, shape, chunks_n)
    out: da.Array = da.map_blocks(_affine_block, eps, scale_b, loc_b, dtype=dt, meta=np.empty((0,) * len(shape), dt),
                                  check=_is_dask(scale_a))
    return out


# -- chunk alignment -----------------------------------------------------------------------
def _out_chunks(chunks: Any, shape: tuple[int, ...], ns: int, dt: np.dtype[Any], inputs: Sequence[Any]) -> Chunks:
    """Normalized chunks of a result of `shape` whose last dims broadcast `inputs`.

    With chunks "auto" (or None), dims where a Dask input has its full size follow that
    input's chunks; the others (the sample dims among them) are chosen by Dask.
    """
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        spec: list[Any] = ["auto"] * len(shape)
        for j in range(ns, len(shape)):
            for x in inputs:
                if _is_dask(x):
                    i = j - (len(shape) - x.ndim)
                    if i >= 0 and x.shape[i] == shape[j]:
                        spec[j] = x.chunks[i]
                        break
        result: Chunks = normalize_chunks(tuple(spec), shape, dtype=dt)
        return result
    result = normalize_chunks(chunks, shape, dtype=dt)
    return result


def _broadcast_chunked(x: Any, shape: tuple[int, ...], chunks: Chunks) -> da.Array:
    """x (Dask or NumPy) broadcast to `shape` with `chunks` (no copy in the blocks)."""
    if not _is_dask(x):
        x = da.from_array(np.asarray(x), chunks=-1)
    off = len(shape) - x.ndim
    own = tuple(chunks[off + i] if x.shape[i] == shape[off + i] else (x.shape[i],) for i in range(x.ndim))
    if tuple(x.chunks) != own:
        x = x.rechunk(own)
    out: da.Array = da.broadcast_to(x, shape, chunks=chunks)
    return out


# -- the reparameterized Normal ------------------------------------------------------------
def _lazy_array(x: Any, name: str) -> Any:
    if _is_dask(x):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be real numbers, got an array of dtype {x.dtype}")
        _check_known_shape(x, name)
        return x
    return _float_array(x, name)


class Normal(_NormalDescription):
    """Normal(loc, *, scale=None, var=None, logvar=None, logstd=None, softplus=None)

    The reparameterized diagonal Normal of :class:`reparam.Normal` with `loc` and the
    parameter kept lazy: either may be a Dask array (or anything NumPy accepts). The
    dtype rule, the parameterizations and the methods are those of
    :class:`reparam.Normal`; results are Dask arrays.

    ``scale`` and ``var`` must be non-negative: checked at once for NumPy input, and by
    each chunk of :meth:`rsample` when it is computed for Dask input.
    """

    def __init__(self, loc: Any, *, scale: Any = None, var: Any = None, logvar: Any = None, logstd: Any = None,
                 softplus: Any = None) -> None:
        name, value = _one_param(scale=scale, var=var, logvar=logvar, logstd=logstd, softplus=softplus)
        loc_a = _lazy_array(loc, "loc")
        val_a = _lazy_array(value, name)
        self._dtype: np.dtype[Any] = _result_dtype(loc, loc_a, value, val_a)
        try:
            self._batch_shape: tuple[int, ...] = tuple(np.broadcast_shapes(loc_a.shape, val_a.shape))
        except ValueError:
            raise ValueError(
                f"loc and {name} must broadcast together, got shapes {loc_a.shape} and {val_a.shape}"
            ) from None
        self._loc = loc_a.astype(self._dtype) if _is_dask(loc_a) else loc_a.astype(self._dtype, copy=False)
        self._param = val_a.astype(self._dtype) if _is_dask(val_a) else val_a.astype(self._dtype, copy=False)
        if not _is_dask(self._param):
            _check_nonnegative(name, self._param)
        self._name = name

    def compute(self, **kwargs: Any) -> _MemNormal:
        """The in-memory :class:`reparam.Normal` (computes Dask inputs)."""
        from dask.base import compute

        loc, param = compute(self._loc, self._param, **kwargs)
        return _MemNormal(loc, **{self._name: param})

    def __repr__(self) -> str:
        return f"reparam.dask.Normal(batch_shape={self._batch_shape}, dtype={self._dtype.name}, param={self._name!r})"

    def rsample(self, size: int | tuple[int, ...] | None = None, *, chunks: Any = "auto", rng: Any = None,
                antithetic: bool = False, return_noise: bool = False) -> Any:
        """rsample(size=None, *, chunks="auto", rng=None, antithetic=False, return_noise=False)

        See :func:`rsample`.
        """
        return rsample(self, size, chunks=chunks, rng=rng, antithetic=antithetic, return_noise=return_noise)

    def pathwise_grad(self, grad_z: Any, noise: Any, *, reduce: str = "mean", return_stats: bool = False) -> Any:
        """pathwise_grad(grad_z, noise, *, reduce="mean", return_stats=False)

        See :func:`pathwise_grad`.
        """
        return pathwise_grad(self, grad_z, noise, reduce=reduce, return_stats=return_stats)

    def score_grad(self, f_values: Any, noise: Any, *, baseline: Any = None, reduce: str = "mean",
                   return_stats: bool = False) -> Any:
        """score_grad(f_values, noise, *, baseline=None, reduce="mean", return_stats=False)

        See :func:`score_grad`.
        """
        return score_grad(self, f_values, noise, baseline=baseline, reduce=reduce, return_stats=return_stats)


@dataclass(frozen=True)
class _Dist:
    loc: Any
    param: Any
    name: str
    kind: int
    dtype: np.dtype[Any]
    batch_shape: tuple[int, ...]


def _dist(q: Any) -> _Dist:
    if isinstance(q, Normal | _MemNormal):
        return _Dist(q.loc, q.param, q.param_name, _KIND[q.param_name], q.dtype, tuple(q.batch_shape))
    raise TypeError(f"q must be a reparam.Normal or a reparam.dask.Normal, got {type(q).__name__}")


# -- rsample -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _AffineSpec:
    stream: _Stream
    shape: tuple[int, ...]
    ns: int
    kind: int
    name: str
    dt: np.dtype[Any]
    mirror: int  # flat index where the antithetic half starts; 0 without antithetic
    check: bool  # check scale/var for negative values


def _affine_run(spec: _AffineSpec, loc: Array, par: Array, off: int, out: Array) -> None:
    """out (rows, width), flat positions off.. of the sample, = loc + sigma(par) * eps."""
    width = out.shape[1]
    m = spec.mirror
    if m and off < m < off + out.size:  # straddles the antithetic mirror: split at its row
        r = (m - off) // width
        _affine_run(spec, loc, par, off, out[:r])
        _affine_run(spec, loc, par, m, out[r:])
        return
    if m and off >= m:
        # the kernel's antithetic second half: loc - sigma * eps(off - m), bit for bit
        tmp = np.empty((2 * out.shape[0], width), out.dtype)
        _core.affine_normal(spec.stream.at(off - m).state(), loc, par, spec.kind, True, tmp)
        out[...] = tmp[out.shape[0]:]
        return
    _core.affine_normal(spec.stream.at(off).state(), loc, par, spec.kind, False, out)


def _rsample_block(loc_blk: Array, par_blk: Array, block_info: dict[Any, Any] | None = None, *,
                   spec: _AffineSpec) -> Array:
    loc = _location(block_info, None)
    cshape = tuple(b - a for a, b in loc)
    dt = _canon(spec.dt)
    out = np.empty(cshape, dt)
    if out.size == 0:
        return out
    ns = spec.ns
    lb = _c(loc_blk[(0,) * ns], dt)  # the block's batch part
    pb = _c(par_blk[(0,) * ns], dt)
    if spec.check:
        neg = _negative(pb)
        if neg.any():
            raise ValueError(f"{spec.name} must be non-negative, got {float(pb[neg].ravel()[0])!r}")
    d, length, offs = _runs(spec.shape, loc)
    rows = out.reshape(-1, length)
    if d < ns:  # every run is whole rows of the batch
        batch = math.prod(spec.shape[ns:])
        lflat, pflat = lb.reshape(-1), pb.reshape(-1)
        for j, off in enumerate(offs):
            _affine_run(spec, lflat, pflat, off, rows[j].reshape(-1, batch))
    else:  # every run is part of one batch row
        nbl = math.prod(cshape[ns:d])
        l2, p2 = lb.reshape(nbl, length), pb.reshape(nbl, length)
        for j, off in enumerate(offs):
            _affine_run(spec, l2[j % nbl], p2[j % nbl], off, rows[j].reshape(1, length))
    return out


def rsample(q: Normal | _MemNormal, size: int | tuple[int, ...] | None = None, *, chunks: Any = "auto",
            rng: Any = None, antithetic: bool = False, return_noise: bool = False) -> Any:
    """rsample(q, size=None, *, chunks="auto", rng=None, antithetic=False, return_noise=False)

    Reparameterized samples ``z = loc + sigma(param) * eps`` of `q` as a Dask array,
    equal bit for bit to ``q.rsample(size, rng=rng, antithetic=antithetic)`` of the
    in-memory :class:`reparam.Normal` for every chunking.

    Parameters
    ----------
    q : reparam.Normal or reparam.dask.Normal
    size : int or tuple of ints, optional
        Sample dimensions; the result has shape ``size + batch_shape``.
    chunks : "auto" or a Dask chunk specification
        With "auto", the batch dims follow the chunks of Dask inputs and the sample
        dims are chosen by Dask.
    rng : None, int, SeedSequence, Generator or Philox
        As `seed` in :func:`standard_normal`: a Generator is advanced now past the noise
        positions, exactly as the in-memory ``rsample`` would advance it.
    antithetic : bool
        eps and -eps for the two halves of the first sample axis (its length even).
    return_noise : bool
        Also return the :class:`reparam.Noise` handle, the one the in-memory call returns.

    Returns
    -------
    z : dask.array.Array
    noise : reparam.Noise
        Only with ``return_noise=True``.
    """
    dist = _dist(q)
    dt = dist.dtype
    sample_shape = _shape(size)
    shape = sample_shape + dist.batch_shape
    ns = len(sample_shape)
    if antithetic and (not sample_shape or sample_shape[0] % 2):
        raise ValueError(f"antithetic=True needs an even first sample dimension, got size {sample_shape}")
    chunks_n = _out_chunks(chunks, shape, ns, dt, (dist.loc, dist.param))
    total = math.prod(shape)
    stream = _reserve(rng, total // 2 if antithetic else total, _unit(dt))
    loc_b = _broadcast_chunked(dist.loc, shape, chunks_n)
    par_b = _broadcast_chunked(dist.param, shape, chunks_n)
    spec = _AffineSpec(stream, shape, ns, dist.kind, dist.name, dt, total // 2 if antithetic else 0,
                       dist.name in ("scale", "var") and _is_dask(dist.param))
    name = "reparam-rsample-" + tokenize(spec, chunks_n, loc_b.name, par_b.name)
    z: da.Array = da.map_blocks(_rsample_block, loc_b, par_b, dtype=dt, chunks=chunks_n,
                                meta=np.empty((0,) * len(shape), dt), name=name, spec=spec)
    if return_noise:
        return z, Noise._from_core(stream, shape, dt, antithetic)
    return z


# -- gradient reductions -------------------------------------------------------------------
@dataclass(frozen=True)
class _ReduceSpec:
    score: int
    stats: bool
    stream: _Stream | None  # None: eps is the second input
    mirror: int
    shape: tuple[int, ...]
    ns: int
    dt: np.dtype[Any]


def _reduce_block(*blocks: Array, block_info: dict[Any, Any] | None = None, spec: _ReduceSpec) -> Array:
    """Partial sums (1,) * ns + (4,) + block batch shape of one block: x, x^2, y, y^2."""
    ns = spec.ns
    x = blocks[0]
    cshape = x.shape
    rows, batch = math.prod(cshape[:ns]), math.prod(cshape[ns:])
    out = np.zeros((1,) * ns + (4,) + cshape[ns:], np.float64)
    if rows == 0 or batch == 0:
        return out
    acc = out.reshape(4, batch)
    wcols = batch if spec.score else 1
    dt = _canon(spec.dt)
    xg = _c(x, dt).reshape(rows, batch)
    if spec.stream is None:  # eps given as an array
        eps = _c(blocks[1], dt).reshape(rows, batch)
        acc[...] = _core.reduce_estimator(spec.score, spec.stats, eps, xg, rows, batch, wcols, 1)
        return out
    loc = _location(block_info, 0)
    d, length, offs = _runs(spec.shape, loc)
    m, stream = spec.mirror, spec.stream
    if d < ns:  # runs of whole batch rows: the kernel regenerates eps, run by run
        xr = xg.reshape(len(offs), length // batch, batch)
        for j, off in enumerate(offs):
            pieces = [(off, xr[j])]
            if m and off < m < off + length:
                r = (m - off) // batch
                pieces = [(off, xr[j][:r]), (m, xr[j][r:])]
            for p, xp in pieces:
                neg = bool(m) and p >= m
                sums = _core.reduce_estimator(spec.score, spec.stats, (stream.at(p - m if neg else p), 0), xp,
                                              xp.shape[0], batch, wcols, 1)
                if neg:  # -eps: the sums of x*eps change sign (pathwise y, score x)
                    sums[0 if spec.score else 2] *= -1.0
                acc += sums
        return out
    # runs inside batch rows: regenerate this block's eps run by run, then reduce once
    eps = np.empty(cshape, dt)
    er = eps.reshape(-1, length)
    for j, off in enumerate(offs):
        neg = bool(m) and off >= m
        stream.at(off - m if neg else off).fill("normal", er[j])
        if neg:
            np.negative(er[j], out=er[j])
    acc[...] = _core.reduce_estimator(spec.score, spec.stats, eps.reshape(rows, batch), xg, rows, batch, wcols, 1)
    return out


def _block_eps(stream: _Stream, mirror: int, shape: tuple[int, ...], location: list[tuple[int, int]],
               dt: np.dtype[Any]) -> Array:
    """The eps of the block at `location` of a draw of `shape`, regenerated run by run
    (minus the stream's values from the antithetic `mirror` on; a run across it is split)."""
    cshape = tuple(b - a for a, b in location)
    eps = np.empty(cshape, dt)
    if eps.size == 0:
        return eps
    _, length, offs = _runs(shape, location)
    er = eps.reshape(-1, length)
    for j, off in enumerate(offs):
        cut = mirror - off if mirror and off < mirror < off + length else 0
        for a, b in ((0, cut), (cut, length)) if cut else ((0, length),):
            p = off + a
            neg = bool(mirror) and p >= mirror
            stream.at(p - mirror if neg else p).fill("normal", er[j, a:b])
            if neg:
                np.negative(er[j, a:b], out=er[j, a:b])
    return eps


@dataclass(frozen=True)
class _SpreadSpec:
    score: bool
    which: int  # 0: loc, 1: the parameter
    stream: _Stream | None  # None: eps is the second input
    mirror: int
    shape: tuple[int, ...]
    ns: int
    axes: tuple[int, ...]  # batch axes summed down to the argument's shape (keepdims)
    kind: int
    dt: np.dtype[Any]


def _spread_block(*blocks: Array, block_info: dict[Any, Any] | None = None, spec: _SpreadSpec) -> Array:
    """The per-sample estimates of one block, float64, summed over its `spec.axes` (keepdims).

    Per sample and batch element: pathwise grad_z (loc) and grad_z eps dsigma/dparam; score
    w eps / sigma (loc) and w (eps**2 - 1) / sigma dsigma/dparam (as the in-memory
    estimators, `reparam._gradients._spread_variances`).
    """
    x, par = blocks[0], blocks[-1]
    out_shape = tuple(1 if i in spec.axes else n for i, n in enumerate(x.shape))
    if x.size == 0:
        return np.zeros(out_shape)
    dt = _canon(spec.dt)
    t = np.asarray(x, np.float64)
    if spec.score or spec.which:
        if spec.stream is None:
            eps = np.asarray(blocks[1], np.float64)
        else:
            eps = _block_eps(spec.stream, spec.mirror, spec.shape, _location(block_info, 0), dt).astype(np.float64)
        t = t * (eps * eps - 1.0 if spec.score and spec.which else eps)
    p = _c(par, dt)
    with np.errstate(all="ignore"):
        factor = _dsigma(spec.kind, p.reshape(-1)).reshape(p.shape) if spec.which else np.ones(p.shape)
        if spec.score:
            sigma64 = np.empty(p.size, np.float64)
            _core.sigma(_c(p, _F64).reshape(-1), spec.kind, sigma64)
            factor = factor / sigma64.reshape(p.shape)
        if spec.score or spec.which:
            t = t * factor
    out: Array = t.sum(axis=spec.axes, keepdims=True) if spec.axes else np.array(t, copy=True)
    return out


def _spread(score: bool, which: int, x: da.Array, dist: _Dist, noise: Any, ns: int) -> da.Array:
    """The sample variance (ddof=1) of the per-sample estimates of loc (which=0) or the
    parameter (1), each summed down to that argument's shape: the block estimates are
    summed over the broadcast batch axes, then across blocks, then `da.var` over the
    sample axes (per-chunk means and squared deviations, merged pairwise)."""
    bshape = dist.batch_shape
    arg = tuple(np.shape(dist.param if which else dist.loc))
    shape = tuple(x.shape)
    if math.prod(shape[:ns]) < 2:
        nan: da.Array = da.full(arg, np.nan, dtype=np.float64)
        return nan
    nb, lead = len(bshape), len(bshape) - len(arg)
    axes = tuple(ns + k for k in range(nb) if k < lead or (arg[k - lead] == 1 and bshape[k] != 1))
    stream, mirror, eps = _noise_spec(dist, noise, shape)
    arrays = [x]
    if eps is not None:
        arrays.append(eps.rechunk(x.chunks))
    arrays.append(_broadcast_chunked(dist.param, bshape, tuple(x.chunks[ns:])))
    spec = _SpreadSpec(score, which, stream, mirror, shape, ns, axes, dist.kind, dist.dtype)
    out_chunks = tuple((1,) * len(c) if i in axes else c for i, c in enumerate(x.chunks))
    name = "reparam-spread-" + tokenize(spec, *(a.name for a in arrays))
    parts: da.Array = da.map_blocks(_spread_block, *arrays, chunks=out_chunks, dtype=np.float64,
                                    meta=np.empty((0,) * len(shape), np.float64), name=name, spec=spec)
    e = parts.sum(axis=axes, keepdims=True, dtype=np.float64) if axes else parts
    e = e[(slice(None),) * ns + (0,) * lead]
    var: da.Array = da.var(e, axis=tuple(range(ns)), ddof=1)
    return var


def _check_reduce(reduce: str) -> None:
    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")


def _sample_shape(batch_shape: tuple[int, ...], shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    nb = len(batch_shape)
    if len(shape) < nb or shape[len(shape) - nb:] != batch_shape:
        raise ValueError(f"{what} must have shape sample_shape + batch_shape {batch_shape}, got {shape}")
    return shape[: len(shape) - nb]


def _as_dask(x: Any, name: str) -> da.Array:
    if isinstance(x, da.Array):
        _check_known_shape(x, name)
        return x
    arr: da.Array = da.asarray(np.asarray(x))
    return arr


def _noise_spec(dist: _Dist, noise: Any, shape: tuple[int, ...]) -> tuple[_Stream | None, int, da.Array | None]:
    """(stream, mirror, None) for a Noise handle, (None, 0, eps) for an eps array."""
    if isinstance(noise, Noise):
        if noise.shape != shape:
            raise ValueError(f"noise has shape {noise.shape} but the samples have shape {shape}")
        if noise.dtype != dist.dtype:
            raise ValueError(f"noise has dtype {noise.dtype} but the distribution has dtype {dist.dtype}")
        stream = noise._pos
        return stream, (noise.size // 2 if noise.antithetic else 0), None
    eps = _as_dask(noise, "noise")
    if tuple(eps.shape) != shape:
        raise ValueError(f"noise has shape {tuple(eps.shape)} but the samples have shape {shape}")
    if eps.dtype.kind != "f":
        raise TypeError(f"noise must be a Noise handle or a float array, got dtype {eps.dtype}")
    return None, 0, eps.astype(dist.dtype)


def _reduce(score: int, stats: bool, x: da.Array, dist: _Dist, noise: Any, ns: int) -> da.Array:
    """Sums (4,) + batch_shape over the sample axes: per-block partial sums, then a tree sum."""
    shape = tuple(x.shape)
    stream, mirror, eps = _noise_spec(dist, noise, shape)
    arrays = [x]
    if eps is not None:
        arrays.append(eps.rechunk(x.chunks))
    spec = _ReduceSpec(score, stats, stream, mirror, shape, ns, dist.dtype)
    out_chunks = (*((1,) * len(c) for c in x.chunks[:ns]), (4,), *x.chunks[ns:])
    name = "reparam-reduce-" + tokenize(spec, *(a.name for a in arrays))
    parts: da.Array = da.map_blocks(_reduce_block, *arrays, chunks=out_chunks, new_axis=[ns], dtype=np.float64,
                                    meta=np.empty((0,) * (len(shape) + 1), np.float64), name=name, spec=spec)
    if ns == 0:
        return parts
    sums: da.Array = parts.sum(axis=tuple(range(ns)), dtype=np.float64)
    return sums


@dataclass(frozen=True)
class _FinishSpec:
    score: bool
    stats: bool
    rows: int
    reduce: str
    name: str
    kind: int
    dt: np.dtype[Any]


def _finish_block(sums: Array, param: Array, *, spec: _FinishSpec) -> Array:
    """(4,) + block batch shape: the loc and param terms before summing down, and the variances.

    The arithmetic is that of the in-memory estimators (chain rule and scaling).
    """
    s = _c(sums.reshape(4, -1), _F64)
    dt = _canon(spec.dt)
    p = _c(param, dt).reshape(-1)
    out = np.full((4, p.size), np.nan)
    scale = 1.0 / spec.rows if spec.reduce == "mean" else 1.0
    # the chain rule of the in-memory estimators (the core's), in float64: the terms are
    # summed down to the arguments' shapes before they are rounded
    _core.grad_finish(int(spec.score), s, p, spec.kind, scale, out[0], out[1])
    with np.errstate(all="ignore"):
        if spec.stats:
            chain = _dsigma(spec.kind, p)
            if spec.score:
                sigma64 = np.empty(p.size, np.float64)
                _core.sigma(_c(p, _F64), spec.kind, sigma64)
                inv = 1.0 / sigma64
            var_loc, var_sigma = _sample_var(s[0], s[1], spec.rows), _sample_var(s[2], s[3], spec.rows)
            if spec.score:
                var_loc, var_sigma = var_loc * inv * inv, var_sigma * inv * inv
            out[2] = var_loc
            out[3] = var_sigma * chain * chain
    return out.reshape(sums.shape)


def _sum_to(g: da.Array, shape: tuple[int, ...]) -> da.Array:
    """Sum a broadcast gradient back down to `shape`, as autograd does."""
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    out: da.Array = g.reshape(shape)
    return out


def _full(dist: _Dist) -> tuple[bool, bool]:
    """Whether loc and the parameter have the full batch shape."""
    return tuple(np.shape(dist.loc)) == dist.batch_shape, tuple(np.shape(dist.param)) == dist.batch_shape


def _finish(dist: _Dist, sums: da.Array, rows: int, reduce: str, score: bool, stats: bool,
            x: da.Array | None = None, noise: Any = None, ns: int = 0) -> Any:
    """Gradients summed down to the arguments' shapes; with `stats` the variances: from the
    sums' squares for an argument of the full batch shape, else from `_spread` over the
    per-sample estimates of `x` (grad_z or the score weights) and `noise`."""
    bshape = dist.batch_shape
    par_b = _broadcast_chunked(dist.param, bshape, tuple(sums.chunks[1:]))
    spec = _FinishSpec(score, stats, rows, reduce, dist.name, dist.kind, dist.dtype)
    fin: da.Array = da.map_blocks(_finish_block, sums, par_b, dtype=np.float64, meta=np.empty((0,) * sums.ndim),
                                  spec=spec)
    dt = dist.dtype
    grads = {
        "loc": _sum_to(fin[0], tuple(np.shape(dist.loc))).astype(dt),
        dist.name: _sum_to(fin[1], tuple(np.shape(dist.param))).astype(dt),
    }
    if not stats:
        return grads
    assert x is not None
    out = {}
    for which, (key, full) in enumerate(zip(("loc", dist.name), _full(dist), strict=True)):
        out[key] = (fin[2 + which] if full else _spread(score, which, x, dist, noise, ns)).astype(dt)
    return grads, out


def pathwise_grad(q: Normal | _MemNormal, grad_z: Any, noise: Any, *, reduce: str = "mean",
                  return_stats: bool = False) -> Any:
    """pathwise_grad(q, grad_z, noise, *, reduce="mean", return_stats=False)

    :meth:`reparam.Normal.pathwise_grad` as a Dask reduction: each chunk of `grad_z`
    adds up its rows in float64 with the fused kernel (regenerating its own eps from
    the `noise` handle, or reading the matching chunk of an eps array), and the partial
    sums are added by a tree reduction.

    Parameters
    ----------
    q : reparam.Normal or reparam.dask.Normal
    grad_z : dask or NumPy array, shape ``sample_shape + batch_shape``
        Its chunks decide the blocks.
    noise : Noise or array
        The handle from :func:`rsample` or ``Normal.rsample`` (return_noise=True), or eps.
    reduce, return_stats
        As in :meth:`reparam.Normal.pathwise_grad`.

    Returns
    -------
    dict of dask.array.Array
        ``{"loc": ..., <param_name>: ...}`` shaped like loc and the parameter; with
        `return_stats` the pair ``(grads, variances)``, the variances shaped the same
        (those of :meth:`reparam.Normal.pathwise_grad`: per argument element, of the
        per-sample estimates summed down to that argument's shape).

    Notes
    -----
    The per-element terms are the in-memory ones; only the order in which they are
    added differs (per chunk, then a tree). Both are float64 sums of ``n`` terms, so
    the float64 results differ by at most ``2 n u sum|term|`` to first order
    (``u = 2**-53``; n the number of terms added into the value: the sample rows times
    the batch elements that broadcast onto it), before the final rounding to the
    distribution's dtype.
    The variances of an argument broadcast over the batch come from a second graph:
    each block's per-sample estimates summed over its broadcast axes, those partial
    sums added across blocks, then ``dask.array.var(ddof=1)`` over the sample axes.
    """
    _check_reduce(reduce)
    dist = _dist(q)
    g = _as_dask(grad_z, "grad_z")
    if g.dtype.kind not in "biuf":
        raise TypeError(f"grad_z must be real numbers, got dtype {g.dtype}")
    shape = tuple(g.shape)
    sample = _sample_shape(dist.batch_shape, shape, "grad_z")
    g = g.astype(dist.dtype)
    sums = _reduce(0, return_stats and any(_full(dist)), g, dist, noise, len(sample))
    return _finish(dist, sums, math.prod(sample), reduce, False, return_stats, g, noise, len(sample))


def score_grad(q: Normal | _MemNormal, f_values: Any, noise: Any, *, baseline: Any = None, reduce: str = "mean",
               return_stats: bool = False, chunks: Any = "auto") -> Any:
    """score_grad(q, f_values, noise, *, baseline=None, reduce="mean", return_stats=False, chunks="auto")

    :meth:`reparam.Normal.score_grad` as a Dask reduction (see :func:`pathwise_grad`).

    `f_values` (shape ``sample_shape`` plus a prefix of ``batch_shape``) may be a Dask
    array; the baselines "mean" and "loo" are Dask reductions over the samples. The
    blocks follow the chunks of an eps array given as `noise`; with a Noise handle they
    follow `f_values`' chunks on its own dims and `chunks` ("auto": q's Dask chunks, or
    Dask's choice) on the remaining batch dims. Each block broadcasts its weights
    ``f - baseline`` over those dims. Equal to the in-memory result within the error
    bound of :func:`pathwise_grad` (the "mean" and "loo" baselines add the error of a
    float64 mean).
    """
    _check_reduce(reduce)
    dist = _dist(q)
    shape = noise.shape if isinstance(noise, Noise) else tuple(np.shape(noise))
    sample = _sample_shape(dist.batch_shape, tuple(shape), "noise")
    ns = len(sample)
    f = _as_dask(f_values, "f_values")
    if f.dtype.kind not in "biuf":
        raise TypeError(f"f_values must be real numbers, got dtype {f.dtype}")
    prefix = tuple(f.shape[ns:])
    if tuple(f.shape[:ns]) != sample or prefix != dist.batch_shape[: len(prefix)]:
        raise ValueError(
            f"f_values must have shape sample_shape {sample} plus a prefix of batch_shape "
            f"{dist.batch_shape}, got {tuple(f.shape)}"
        )
    rows = math.prod(sample)
    f64 = f.astype(np.float64)
    axes = tuple(range(ns))
    if isinstance(baseline, str):
        if baseline == "mean":
            w = f64 - f64.mean(axis=axes, keepdims=True)
        elif baseline == "loo":
            if rows < 2:
                raise ValueError("baseline='loo' needs at least two samples")
            w = (rows * f64 - f64.sum(axis=axes, keepdims=True)) / (rows - 1)
        else:
            raise ValueError(f"baseline must be None, a number, an array, 'mean' or 'loo', got {baseline!r}")
    elif baseline is None:
        w = f64
    else:
        b = baseline.astype(np.float64) if _is_dask(baseline) else np.asarray(baseline, dtype=np.float64)
        try:
            ok = np.broadcast_shapes(tuple(f.shape), tuple(b.shape)) == tuple(f.shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"baseline of shape {tuple(b.shape)} does not broadcast to f_values {tuple(f.shape)}")
        w = f64 - b
    w = w.astype(dist.dtype)
    if isinstance(noise, Noise):
        grid = _out_chunks("auto" if chunks is None else chunks, shape, len(w.shape), dist.dtype,
                           (dist.loc, dist.param))
        grid = tuple(w.chunks) + grid[len(w.shape):]
    else:
        grid = tuple(_as_dask(noise, "noise").chunks)
    w_full = _broadcast_chunked(w.reshape(tuple(w.shape) + (1,) * (len(shape) - w.ndim)), tuple(shape), grid)
    sums = _reduce(1, return_stats and any(_full(dist)), w_full, dist, noise, ns)
    return _finish(dist, sums, rows, reduce, True, return_stats, w_full, noise, ns)


_backends.register_dask(Normal=Normal, rsample=rsample, pathwise_grad=pathwise_grad, score_grad=score_grad)

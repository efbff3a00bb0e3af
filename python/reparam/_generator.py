"""The NumPy-compatible Generator."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from . import _core
from ._arrays import _negative
from ._philox import Philox, _normalize_size
from ._shapes import broadcast_shapes, empty

__all__ = ["Generator", "default_rng"]

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy.typing as npt

    # For the overloads of standard_normal and random: one value (a Python float) when
    # size and out are None, else an array typed by its dtype. mypy reports the float64
    # and float32 overloads as overlapping (a class deriving from both np.float64 and
    # np.float32 could exist; NumPy's own stubs silence the same report), but calls
    # resolve as intended; "unused-ignore" keeps --strict quiet where a NumPy or mypy
    # version does not report it.
    _Size: TypeAlias = int | tuple[int, ...]
    _DTypeF32: TypeAlias = (
        type[np.float32] | np.dtype[np.float32] | Literal["float32", "f4", "f", "single"]
    )
    _DTypeF64: TypeAlias = (
        type[float] | type[np.float64] | np.dtype[np.float64]
        | Literal["float64", "f8", "d", "double", "float"] | None
    )
    _Array32: TypeAlias = npt.NDArray[np.float32]
    _Array64: TypeAlias = npt.NDArray[np.float64]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)


# The common spellings, looked up before np.dtype() to keep small draws cheap.
_DTYPE_CACHE: dict[Any, np.dtype[Any]] = {
    spelling: np.dtype(spelling)
    for spelling in (np.float64, np.float32, float, "f8", "f4", "d", "f", "float64",
                     "float32", np.dtype(np.float64), np.dtype(np.float32))
}


def _float_dtype(dtype: Any, method: str) -> np.dtype[Any]:
    try:
        return _DTYPE_CACHE[dtype]
    except (KeyError, TypeError):
        pass
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Unsupported dtype {dtype!r} for {method} ({exc})") from None
    if dt not in _FLOAT_DTYPES or not dt.isnative:
        raise TypeError(f"Unsupported dtype {dt!r} for {method}")
    return dt


def _is_single(dtype: Any, method: str) -> bool:
    """For the compiled fast calls: whether `dtype` is float32 (else float64), or raise."""
    return _float_dtype(dtype, method).itemsize == 4


def _as_float64(x: Any, name: str) -> np.ndarray[Any, Any]:
    """x as float64, accepting and rejecting what numpy.random's `normal` does.

    Arrays must cast safely to float64; other objects are converted like
    ``np.asarray(x, float64)``, and a lone Python scalar must be a real number.
    """
    if isinstance(x, np.ndarray):
        if not np.can_cast(x.dtype, _F64, casting="safe"):
            raise TypeError(
                f"Cannot cast {name} array data from {x.dtype!r} to dtype('float64') "
                "according to the rule 'safe'"
            )
        return x.astype(_F64, copy=False)
    try:
        with np.errstate(all="ignore"):
            return np.asarray(x, dtype=_F64)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} must be real numbers: {exc}") from None


def _check_scale(scale: np.ndarray[Any, Any], name: str = "scale") -> None:
    """Refuse negative scales, -0.0 included (as NumPy); NaN passes and propagates."""
    negative = _negative(scale)
    if negative.any():
        bad = int(np.flatnonzero(negative.ravel())[0])
        raise ValueError(
            f"{name} < 0: {name} must be non-negative, got {scale.ravel()[bad]} at flat index {bad}"
        )


def _param_shape(size: Any, **shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape of a draw whose array parameters have `shapes` (by name): `size`
    if given (every parameter must broadcast to it), else their broadcast shape."""
    bshape = _broadcast_or_none(*shapes.values())
    if bshape is None:
        raise ValueError("shape mismatch: objects cannot be broadcast to a single shape: "
                         + " and ".join(f"{name} {shape}" for name, shape in shapes.items()))
    if size is None:
        return bshape
    shape = _normalize_size(size)
    if _broadcast_or_none(bshape, shape) != shape:
        raise ValueError("shape mismatch: objects cannot be broadcast to a single shape: "
                         + ", ".join(f"{name} {s}" for name, s in shapes.items()) + f", size {shape}")
    return shape


def _normal_shape(loc_shape: tuple[int, ...], scale_shape: tuple[int, ...], size: Any) -> tuple[int, ...]:
    """The output shape of normal(): `size` if given (loc and scale must broadcast to it)."""
    return _param_shape(size, loc=loc_shape, scale=scale_shape)


def _plain_float(value: Any) -> float | None:
    """A Python int or float as a float, for the draws' short paths; None for anything else
    (arrays, NumPy scalars, bools) or an int beyond float64, left to the general paths."""
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _check_range(range_a: np.ndarray[Any, Any]) -> None:
    """uniform's high - low: finite (OverflowError), then non-negative (ValueError), in NumPy's order."""
    for bad, exc, what in ((~np.isfinite(range_a), OverflowError, "finite"),
                           (range_a < 0, ValueError, "non-negative")):
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            where = f" at flat index {i}" if range_a.ndim else ""
            raise exc(f"high - low must be {what}, got {float(range_a.ravel()[i])}{where}")


def _check_real_scalar(x: Any, name: str) -> None:
    """NumPy reads a lone scalar argument as a real number: None and str are refused."""
    if x is None or isinstance(x, str | bytes | bytearray):
        raise TypeError(f"{name} must be real number, not {type(x).__name__}")


def _check_out(out: Any, dt: np.dtype[Any], size: Any) -> np.ndarray[Any, Any]:
    """Validate `out` as numpy.random.Generator does, before anything is written."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    f = out.flags
    if not ((f.c_contiguous or f.f_contiguous) and f.writeable and f.aligned
            and out.dtype.isnative):
        raise ValueError(
            "Supplied output array must be contiguous, writable, aligned, and in "
            "machine byte-order."
        )
    if out.dtype != dt:
        raise TypeError(
            f"Supplied output array has the wrong type. Expected {dt}, got {out.dtype}"
        )
    if size is not None and _normalize_size(size) != out.shape:
        raise ValueError("size must match out.shape when used together")
    return out


class Generator(np.random.Generator):
    """Generator(bit_generator)

    A ``numpy.random.Generator`` on a :class:`Philox` stream: every NumPy method, with
    NumPy's signatures, broadcasting, return types and exceptions. `standard_normal`,
    `normal`, `random`, `uniform`, `lognormal`, `standard_exponential` and `exponential`
    run on reparam's SIMD, multi-threaded kernels; the
    other methods are NumPy's own, drawing from the same stream through its bit
    generator interface (their word usage is NumPy's).

    Every value of the SIMD methods is a function of the key and its position in the
    stream alone: drawing ``n`` then ``m`` values of one dtype gives the values of one
    draw of ``n + m``, on every SIMD path and thread count (see README, "The stream
    contract"). `random` and `uniform` give exactly the values NumPy's own methods draw
    from the same Philox state.

    Parameters
    ----------
    bit_generator : Philox
        The stream to draw from (an instance); it is shared, not copied.
    """

    def __init__(self, bit_generator: Philox) -> None:
        if isinstance(bit_generator, type):
            raise ValueError(
                f"bit_generator must be an instance, got the class {bit_generator.__name__}: "
                "pass Philox(seed), not Philox"
            )
        if not isinstance(bit_generator, Philox):
            raise TypeError(
                "bit_generator must be a reparam.Philox, got "
                f"{type(bit_generator).__name__} (numpy.random.Generator takes other bit generators)"
            )
        super().__init__(bit_generator)
        self._philox = bit_generator
        self._state = bit_generator._state
        # The common calls, compiled and bound to the state (small draws are dominated
        # by call overhead). They defer to _is_single and _normalize_size for every
        # dtype and size spelling they do not read themselves; normal and the _out calls
        # return NotImplemented for the cases left to the general path below, and all of
        # them when they cannot allocate their result (the path below raises reparam's
        # MemoryError).
        self._standard_normal: Callable[[Any, Any], Any]
        self._random: Callable[[Any, Any], Any]
        self._normal: Callable[[Any, Any, Any, Any], Any]
        self._standard_normal_out: Callable[[Any, Any], Any]
        self._random_out: Callable[[Any, Any], Any]
        (self._standard_normal, self._random, self._normal, self._standard_normal_out,
         self._random_out) = _core.bind_fast_calls(self._state, _is_single, _normalize_size)

    @property
    def bit_generator(self) -> Philox:
        """The Philox bit generator this Generator draws from."""
        return self._philox

    def spawn(self, n_children: int) -> list[Generator]:  # type: ignore[override]
        """spawn(n_children)

        Independent child Generators, from the bit generator's SeedSequence.
        """
        return [Generator(b) for b in self._philox.spawn(n_children)]

    def __repr__(self) -> str:
        return f"Generator(Philox) at {id(self):#x}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Generator, (self._philox,))

    # -------------------------------------------------------------------------------
    @overload  # type: ignore[override]  # typed by dtype; NumPy has no dtype here
    def standard_normal(
        self, size: None = None, dtype: _DTypeF32 | _DTypeF64 = ..., out: None = None
    ) -> float: ...
    @overload
    def standard_normal(  # type: ignore[overload-overlap, unused-ignore]
        self, size: _Size, dtype: _DTypeF64 = ..., out: _Array64 | None = None
    ) -> _Array64: ...
    @overload
    def standard_normal(  # type: ignore[overload-overlap, unused-ignore]
        self, size: _Size | None = None, dtype: _DTypeF64 = ..., *, out: _Array64
    ) -> _Array64: ...
    @overload
    def standard_normal(
        self, size: _Size, dtype: _DTypeF32, out: _Array32 | None = None
    ) -> _Array32: ...
    @overload
    def standard_normal(
        self, size: _Size | None = None, dtype: _DTypeF32 = ..., *, out: _Array32
    ) -> _Array32: ...
    @overload
    def standard_normal(
        self,
        size: _Size | None = None,
        dtype: Any = ...,
        out: np.ndarray[Any, Any] | None = None,
    ) -> Any: ...
    def standard_normal(
        self,
        size: int | tuple[int, ...] | None = None,
        dtype: Any = np.float64,
        out: np.ndarray[Any, Any] | None = None,
    ) -> Any:
        """standard_normal(size=None, dtype=np.float64, out=None)

        Draw samples from the standard normal distribution N(0, 1).

        Parameters
        ----------
        size : int or tuple of ints, optional
            Output shape. None (the default) returns a single value, unless `out`
            is given.
        dtype : dtype, optional
            np.float64 (default) or np.float32.
        out : ndarray, optional
            Contiguous, writable, native-order array of `dtype` to fill; its shape
            must equal `size` when both are given.

        Returns
        -------
        float or ndarray
            A Python float when `size` and `out` are None, else the array.

        Notes
        -----
        Box-Muller on Philox words: float32 reaches |z| = 6.66, float64 9.42; no
        value is NaN or infinite. The exact transform is in README.
        """
        if out is None:  # the common path, compiled: small draws are dominated by it
            res = self._standard_normal(size, dtype)
            if res is not NotImplemented:
                return res
            return self._fill_new(_core.fill_normal, size, dtype, "standard_normal")
        if size is None:  # a valid out of a known dtype spelling, compiled
            res = self._standard_normal_out(out, dtype)
            if res is not NotImplemented:
                return res
        dt = _float_dtype(dtype, "standard_normal")
        _check_out(out, dt, size)
        _core.fill_normal(self._state, out)
        return out

    def _fill_new(self, fill: Callable[[Any, Any], Any], size: Any, dtype: Any, method: str) -> Any:
        """A new array filled by `fill`, where the compiled call could not allocate it:
        allocated here, with reparam's errors, before any stream position is reserved."""
        res = empty(_normalize_size(size), _float_dtype(dtype, method), method)
        fill(self._state, res)
        return res

    @overload  # type: ignore[override]  # typed by dtype
    def random(
        self, size: None = None, dtype: _DTypeF32 | _DTypeF64 = ..., out: None = None
    ) -> float: ...
    @overload
    def random(  # type: ignore[overload-overlap, unused-ignore]
        self, size: _Size, dtype: _DTypeF64 = ..., out: _Array64 | None = None
    ) -> _Array64: ...
    @overload
    def random(  # type: ignore[overload-overlap, unused-ignore]
        self, size: _Size | None = None, dtype: _DTypeF64 = ..., *, out: _Array64
    ) -> _Array64: ...
    @overload
    def random(
        self, size: _Size, dtype: _DTypeF32, out: _Array32 | None = None
    ) -> _Array32: ...
    @overload
    def random(
        self, size: _Size | None = None, dtype: _DTypeF32 = ..., *, out: _Array32
    ) -> _Array32: ...
    @overload
    def random(
        self,
        size: _Size | None = None,
        dtype: Any = ...,
        out: np.ndarray[Any, Any] | None = None,
    ) -> Any: ...
    def random(
        self,
        size: int | tuple[int, ...] | None = None,
        dtype: Any = np.float64,
        out: np.ndarray[Any, Any] | None = None,
    ) -> Any:
        """random(size=None, dtype=np.float64, out=None)

        Return random floats in the half-open interval [0.0, 1.0).

        float64 values are ``(hi * 2**21 + (lo >> 11)) / 2**53`` from two words
        (``lo`` first); float32 values ``(w >> 8) / 2**24`` from one word.

        Parameters
        ----------
        size : int or tuple of ints, optional
            Output shape; None returns a single Python float.
        dtype : dtype, optional
            np.float64 (default) or np.float32.
        out : ndarray, optional
            Array to fill, as in `standard_normal`.

        Returns
        -------
        float or ndarray
        """
        if out is None:
            res = self._random(size, dtype)
            if res is not NotImplemented:
                return res
            return self._fill_new(_core.fill_uniform, size, dtype, "random")
        if size is None:
            res = self._random_out(out, dtype)
            if res is not NotImplemented:
                return res
        dt = _float_dtype(dtype, "random")
        _check_out(out, dt, size)
        _core.fill_uniform(self._state, out)
        return out

    def normal(  # type: ignore[override]  # adds dtype and out to NumPy's arguments
        self,
        loc: Any = 0.0,
        scale: Any = 1.0,
        size: int | tuple[int, ...] | None = None,
        *,
        dtype: Any = np.float64,
        out: np.ndarray[Any, Any] | None = None,
    ) -> Any:
        """normal(loc=0.0, scale=1.0, size=None, *, dtype=np.float64, out=None)

        Draw samples from the normal distribution N(loc, scale**2).

        ``z = loc + scale * eps`` with ``eps`` the values `standard_normal` would
        have returned for the same shape and dtype.

        Parameters
        ----------
        loc : float or array_like of floats
            Mean.
        scale : float or array_like of floats
            Standard deviation; must be non-negative.
        size : int or tuple of ints, optional
            Output shape. If None, the broadcast shape of `loc` and `scale`.
        dtype : dtype, optional, keyword-only
            np.float64 (default) or np.float32 (computed in float32).
        out : ndarray, optional, keyword-only
            Array to fill, as in `standard_normal`.

        Returns
        -------
        float or ndarray
            A Python float when `loc` and `scale` are scalars and `size` and `out`
            are None.

        Raises
        ------
        ValueError
            If `scale` has a negative element, or the shapes do not broadcast to
            `size`.
        """
        if out is None:  # scalar loc and scale, compiled; NotImplemented for anything else
            res = self._normal(loc, scale, size, dtype)
            if res is not NotImplemented:
                return res
        dt = _float_dtype(dtype, "normal")
        if (out is None and size is None and type(loc) is np.ndarray and type(scale) is np.ndarray
                and loc.dtype == dt and scale.dtype == dt and loc.shape == scale.shape and loc.ndim):
            # arrays already in the output dtype and shape (the common call): no casts, the
            # same arithmetic as below
            if np.signbit(scale).any():
                _check_scale(scale)
            res = empty(loc.shape, dt, "normal")
            _core.fill_normal(self._state, res)
            with np.errstate(all="ignore"):
                np.multiply(res, scale, out=res)
                np.add(res, loc, out=res)
            return res
        if out is not None and not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        loc_a = _as_float64(loc, "loc")
        scale_a = _as_float64(scale, "scale")
        if loc_a.ndim == 0 and scale_a.ndim == 0:
            _check_real_scalar(loc, "loc")
            _check_real_scalar(scale, "scale")
        _check_scale(scale_a)
        bshape = _normal_shape(loc_a.shape, scale_a.shape, None)
        if size is not None:
            shape = _normal_shape(loc_a.shape, scale_a.shape, size)
        elif out is not None:
            shape = out.shape
            if _broadcast_or_none(bshape, shape) != shape:
                raise ValueError(
                    f"out has shape {shape}; loc {loc_a.shape} and scale "
                    f"{scale_a.shape} must broadcast to it"
                )
        else:
            shape = bshape
        if out is None:
            res = empty(shape, dt, "normal")
        else:
            res = _check_out(out, dt, size)
            # out is written before loc and scale are read: never let it be one of them
            if np.may_share_memory(res, loc_a):
                loc_a = loc_a.copy()
            if np.may_share_memory(res, scale_a):
                scale_a = scale_a.copy()
        # every allocation (the casts too) before the fill reserves stream positions: a
        # call that fails leaves the stream where it was
        with np.errstate(all="ignore"):  # inf and nan propagate silently, as in NumPy
            scale_t = scale_a.astype(dt, copy=False)
            loc_t = loc_a.astype(dt, copy=False)
        _core.fill_normal(self._state, res)
        with np.errstate(all="ignore"):
            np.multiply(res, scale_t, out=res)
            np.add(res, loc_t, out=res)
        if size is None and out is None and res.ndim == 0:
            return float(res)
        return res


    def standard_exponential(  # type: ignore[override]  # typed by dtype in one signature
        self,
        size: int | tuple[int, ...] | None = None,
        dtype: Any = np.float64,
        method: str = "zig",
        out: np.ndarray[Any, Any] | None = None,
    ) -> Any:
        """standard_exponential(size=None, dtype=np.float64, method='zig', out=None)

        Draw samples from the standard exponential distribution (mean 1).

        By inversion, ``-log(u1)`` with the uniform ``u1`` and the exact logarithm of the
        normals' radius (README, "The stream contract"): float32 values use one 32-bit
        word each, float64 values one 64-bit slot each, like `random`; values lie in
        ``(0, 22.2]`` (float32) and ``(0, 44.4]`` (float64) and are never 0, inf or NaN.
        Bit-identical on every SIMD path, thread count and call split.

        Parameters
        ----------
        size : int or tuple of ints, optional
            Output shape. None (the default) returns a single value, unless `out` is given.
        dtype : dtype, optional
            np.float64 (default) or np.float32.
        method : {'zig', 'inv'}, optional
            Accepted for NumPy's signature; both give reparam's inversion sampler above
            (NumPy's ziggurat is not used, so values differ from NumPy's own).
        out : ndarray, optional
            Contiguous, writable, native-order array of `dtype` to fill; its shape must
            equal `size` when both are given.

        Returns
        -------
        float or ndarray
            A Python float when `size` and `out` are None, else the array.
        """
        if method not in ("zig", "inv"):
            raise ValueError(f"method must be 'zig' or 'inv', got {method!r}")
        dt = _float_dtype(dtype, "standard_exponential")
        if out is not None:
            _check_out(out, dt, size)
            _core.fill_exponential(self._state, out)
            return out
        res = empty(() if size is None else _normalize_size(size), dt, "standard_exponential")
        _core.fill_exponential(self._state, res)
        return float(res) if size is None else res

    def exponential(  # type: ignore[override]  # NumPy's arguments, one signature
        self, scale: Any = 1.0, size: int | tuple[int, ...] | None = None
    ) -> Any:
        """exponential(scale=1.0, size=None)

        Draw samples from the exponential distribution of mean `scale`.

        ``scale * e`` with ``e`` the float64 values `standard_exponential` would have
        returned for the same shape.

        Parameters
        ----------
        scale : float or array_like of floats
            Mean (the inverse of the rate); must be non-negative.
        size : int or tuple of ints, optional
            Output shape. If None, the shape of `scale`.

        Returns
        -------
        float or ndarray
            A Python float when `scale` is a scalar and `size` is None.

        Raises
        ------
        ValueError
            If `scale` has a negative element, or its shape does not broadcast to `size`.
        """
        sc = None if size is None else _plain_float(scale)
        if sc is not None and math.copysign(1.0, sc) > 0.0:  # the common call, short
            res = empty(_normalize_size(size), _F64, "exponential")
            _core.fill_exponential(self._state, res)
            with np.errstate(all="ignore"):
                np.multiply(res, sc, out=res)
            return res
        scale_a = _as_float64(scale, "scale")
        if scale_a.ndim == 0:
            _check_real_scalar(scale, "scale")
        _check_scale(scale_a)
        res = empty(_param_shape(size, scale=scale_a.shape), _F64, "exponential")
        _core.fill_exponential(self._state, res)
        with np.errstate(all="ignore"):  # inf scales give inf, as in NumPy
            np.multiply(res, scale_a, out=res)
        if size is None and res.ndim == 0:
            return float(res)
        return res

    def lognormal(  # type: ignore[override]  # NumPy's arguments, one signature
        self, mean: Any = 0.0, sigma: Any = 1.0, size: int | tuple[int, ...] | None = None
    ) -> Any:
        """lognormal(mean=0.0, sigma=1.0, size=None)

        Draw samples from the log-normal distribution: ``exp(mean + sigma * eps)``.

        ``eps`` are the float64 values `standard_normal` would have returned for the same
        shape, ``mean + sigma * eps`` is rounded as in `normal`, and exp is reparam's
        float64 exp (the closed forms' own, the same bits on every SIMD path).

        Parameters
        ----------
        mean : float or array_like of floats
            Mean of the underlying normal.
        sigma : float or array_like of floats
            Standard deviation of the underlying normal; must be non-negative.
        size : int or tuple of ints, optional
            Output shape. If None, the broadcast shape of `mean` and `sigma`.

        Returns
        -------
        float or ndarray
            A Python float when `mean` and `sigma` are scalars and `size` is None.

        Raises
        ------
        ValueError
            If `sigma` has a negative element, or the shapes do not broadcast to `size`.
        """
        m = None if size is None else _plain_float(mean)
        sd = None if m is None else _plain_float(sigma)
        # the common call, short; a negative sigma (-0.0 included) takes the general path's error
        if m is not None and sd is not None and math.copysign(1.0, sd) > 0.0:
            res = empty(_normalize_size(size), _F64, "lognormal")
            _core.fill_normal(self._state, res)
            with np.errstate(all="ignore"):
                np.multiply(res, sd, out=res)
                np.add(res, m, out=res)
            _core.exp_inplace(res)
            return res
        mean_a = _as_float64(mean, "mean")
        sigma_a = _as_float64(sigma, "sigma")
        if mean_a.ndim == 0 and sigma_a.ndim == 0:
            _check_real_scalar(mean, "mean")
            _check_real_scalar(sigma, "sigma")
        _check_scale(sigma_a, "sigma")
        res = empty(_param_shape(size, mean=mean_a.shape, sigma=sigma_a.shape), _F64, "lognormal")
        _core.fill_normal(self._state, res)
        with np.errstate(all="ignore"):
            np.multiply(res, sigma_a, out=res)
            np.add(res, mean_a, out=res)
        _core.exp_inplace(res)
        if size is None and res.ndim == 0:
            return float(res)
        return res

    def uniform(  # type: ignore[override]  # NumPy's arguments, one signature
        self, low: Any = 0.0, high: Any = 1.0, size: int | tuple[int, ...] | None = None
    ) -> Any:
        """uniform(low=0.0, high=1.0, size=None)

        Draw samples from the uniform distribution on ``[low, high)``.

        ``low + (high - low) * u`` with ``u`` the float64 values `random` would have
        returned for the same shape: the values NumPy's ``uniform`` draws from the same
        Philox state, computed by the SIMD kernels.

        Parameters
        ----------
        low, high : float or array_like of floats
            Bounds; ``high - low`` must be finite and non-negative (as NumPy 2 requires).
        size : int or tuple of ints, optional
            Output shape. If None, the broadcast shape of `low` and `high`.

        Returns
        -------
        float or ndarray
            A Python float when `low` and `high` are scalars and `size` is None.

        Raises
        ------
        OverflowError
            If ``high - low`` is not finite.
        ValueError
            If ``high < low`` somewhere, or the shapes of `low` and `high` do not broadcast to `size`.
        """
        lo = None if size is None else _plain_float(low)
        hi = None if lo is None else _plain_float(high)
        if lo is not None and hi is not None:  # the common call, short
            span = hi - lo
            if math.isfinite(span) and span >= 0.0:
                res = empty(_normalize_size(size), _F64, "uniform")
                _core.fill_uniform(self._state, res)
                np.multiply(res, span, out=res)
                np.add(res, lo, out=res)
                return res
        low_a = _as_float64(low, "low")
        high_a = _as_float64(high, "high")
        if low_a.ndim == 0 and high_a.ndim == 0:
            _check_real_scalar(low, "low")
            _check_real_scalar(high, "high")
        _param_shape(None, low=low_a.shape, high=high_a.shape)  # before NumPy's own broadcast error
        with np.errstate(all="ignore"):
            range_a = np.subtract(high_a, low_a)
        _check_range(range_a)  # NumPy's order: the range, then the size
        res = empty(_param_shape(size, low=low_a.shape, high=high_a.shape), _F64, "uniform")
        _core.fill_uniform(self._state, res)
        # NumPy's random_uniform: low + range * u, one rounding each (no FMA in NumPy's loops)
        np.multiply(res, range_a, out=res)
        np.add(res, low_a, out=res)
        if size is None and res.ndim == 0:
            return float(res)
        return res


def _broadcast_or_none(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return broadcast_shapes(*shapes)
    except ValueError:
        return None


def default_rng(seed: Any = None) -> Generator:
    """default_rng(seed=None)

    A Generator on a new :class:`Philox` stream.

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence, Philox or Generator, optional
        Passed to ``Philox(seed)``; a Philox is wrapped, and a Generator is
        returned unchanged (as ``numpy.random.default_rng`` does).

    Returns
    -------
    Generator
    """
    if isinstance(seed, Generator):
        return seed
    if isinstance(seed, Philox):
        return Generator(seed)
    return Generator(Philox(seed))

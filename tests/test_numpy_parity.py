"""Parity of reparam.Generator with numpy.random.Generator over a grid of inputs.

Every case calls the same method with the same arguments on ``np.random.default_rng(0)``
and on ``reparam.default_rng(0)`` and requires the same outcome: both raise the same
exception type, or both succeed with the same result type (a Python float or an
ndarray), shape and dtype; with ``out`` both return ``out`` itself.

NumPy's ``normal`` has no ``dtype`` or ``out``: for those, reparam's ``normal`` is
held to what NumPy's ``standard_normal`` does with the same ``dtype``/``out``/``size``.

Values are not compared (the streams differ); see test_generator_api.py.

Every case must match exactly. Legitimate, intended differences are asserted
explicitly and commented where they occur.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import reparam

# -- helpers ---------------------------------------------------------------------------


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call did, in a form that can be compared between the two libraries."""
    try:
        res = call()
    except Exception as exc:
        return ("raises", type(exc).__name__)
    if isinstance(res, np.ndarray):
        return ("array", type(res).__name__, res.shape, res.dtype.str)
    return ("scalar", type(res).__name__)


def _both(method: str, make_args: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
          rp_method: str | None = None) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Run `method` on NumPy and `rp_method` (default: the same) on reparam.

    `make_args` is called once per library so that each gets its own `out` array.
    Returns (numpy outcome, reparam outcome); for successful calls with ``out`` the
    outcome also records whether ``out`` itself was returned.
    """
    results = []
    for gen, name in ((np.random.default_rng(0), method),
                      (reparam.default_rng(0), rp_method or method)):
        args, kwargs = make_args()
        box: list[Any] = []

        def call(gen: Any = gen, name: str = name, args: Any = args, kwargs: Any = kwargs,
                 box: list[Any] = box) -> Any:
            res = getattr(gen, name)(*args, **kwargs)
            box.append(res)
            return res

        outcome = _outcome(call)
        if box and kwargs.get("out") is not None:
            outcome = (*outcome, "returns out" if box[0] is kwargs["out"] else "new object")
        results.append(outcome)
    return results[0], results[1]


def _check(expected: tuple[Any, ...], got: tuple[Any, ...]) -> None:
    assert got == expected, f"numpy: {expected}, reparam: {got}"


def _p(value: Any, id: str) -> Any:
    return pytest.param(value, id=id)


# -- grids -----------------------------------------------------------------------------

SIZES = [
    _p(None, "None"),
    _p(0, "0"),
    _p(1, "1"),
    _p(5, "5"),
    _p((), "()"),
    _p((2, 3), "(2,3)"),
    _p((0,), "(0,)"),
    _p((2, 0, 3), "(2,0,3)"),
    _p([2, 3], "[2,3]"),
    _p(np.int64(4), "np.int64(4)"),
    _p((np.int32(2), 3), "(np.int32(2),3)"),
    _p(np.array([2, 3]), "np.array([2,3])"),
    _p(-1, "-1"),
    _p((2, -1), "(2,-1)"),
    _p(2.5, "2.5"),
    _p(4.0, "4.0"),
    _p("3", "'3'"),
    _p((2.0,), "(2.0,)"),
    _p([[2]], "[[2]]"),
    _p(True, "True"),
    _p(2**62, "2**62"),
    _p(2**64, "2**64"),
]

DTYPES = [
    _p(np.float64, "np.float64"),
    _p(np.float32, "np.float32"),
    _p("f8", "'f8'"),
    _p("f4", "'f4'"),
    _p("float32", "'float32'"),
    _p("float64", "'float64'"),
    _p("float", "'float'"),
    _p("d", "'d'"),
    _p("f", "'f'"),
    _p("=f8", "'=f8'"),
    _p(float, "float"),
    _p(np.double, "np.double"),
    _p(None, "None"),
    _p(np.dtype("float32"), "np.dtype('float32')"),
    _p(np.dtype("float64"), "np.dtype('float64')"),
    _p(">f8" if sys.byteorder == "little" else "<f8", "non-native f8"),
    _p(">f4" if sys.byteorder == "little" else "<f4", "non-native f4"),
    _p(np.int32, "np.int32"),
    _p("i8", "'i8'"),
    _p(int, "int"),
    _p(np.complex128, "np.complex128"),
    _p(np.float16, "np.float16"),
    _p(np.longdouble, "np.longdouble"),
    _p(object, "object"),
    _p("foo", "'foo'"),
]

# A few of each to cross with the other axis (bad sizes x bad dtypes fixes which check
# comes first).
FEW_SIZES = [_p(None, "None"), _p((2, 3), "(2,3)"), _p(-1, "-1"), _p(2.5, "2.5")]
FEW_DTYPES = [_p(np.float64, "np.float64"), _p(np.float32, "np.float32"),
              _p(">f8" if sys.byteorder == "little" else "<f8", "non-native f8"),
              _p(np.int32, "np.int32")]

METHODS = ["standard_normal", "random"]


# -- standard_normal / random: size x dtype --------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", FEW_DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_size_grid(method: str, size: Any, dtype: Any) -> None:
    expected, got = _both(method, lambda: ((), {"size": size, "dtype": dtype}))
    _check(expected, got)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", FEW_SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_grid(method: str, size: Any, dtype: Any) -> None:
    expected, got = _both(method, lambda: ((), {"size": size, "dtype": dtype}))
    _check(expected, got)


@pytest.mark.parametrize("method", METHODS)
def test_positional_arguments(method: str) -> None:
    # size and dtype are positional in both (and out is the third).
    expected, got = _both(method, lambda: (((2, 3), np.float32), {}))
    assert got == expected
    expected, got = _both(method, lambda: ((None, np.float64, np.empty(3)), {}))
    assert got == expected


# -- out -------------------------------------------------------------------------------


def _swapped(dt: np.dtype[Any]) -> np.ndarray[Any, Any]:
    return np.empty(5, dt.newbyteorder())


def _misaligned(dt: np.dtype[Any]) -> np.ndarray[Any, Any]:
    raw = np.empty(5 * dt.itemsize + 1, np.uint8)
    arr = raw[1:].view(dt)
    assert not arr.flags.aligned
    return arr


def _readonly(dt: np.dtype[Any]) -> np.ndarray[Any, Any]:
    arr = np.empty(5, dt)
    arr.flags.writeable = False
    return arr


def _other(dt: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype(np.float32 if dt == np.float64 else np.float64)


# name -> factory(dtype) building a fresh `out`.
OUTS: dict[str, Callable[[np.dtype[Any]], Any]] = {
    "c1d": lambda dt: np.empty(5, dt),
    "c2d": lambda dt: np.empty((2, 3), dt),
    "fortran": lambda dt: np.empty((2, 3), dt, order="F"),
    "0d": lambda dt: np.empty((), dt),
    "empty": lambda dt: np.empty((0,), dt),
    "empty3d": lambda dt: np.empty((2, 0, 3), dt),
    "wrong_dtype": lambda dt: np.empty(5, _other(dt)),
    "int_dtype": lambda dt: np.empty(5, np.int64),
    "strided": lambda dt: np.empty(10, dt)[::2],
    "strided2d": lambda dt: np.empty((4, 6), dt)[::2, ::2],
    "transposed_view": lambda dt: np.empty((3, 2), dt).T,
    "strided_wrong_dtype": lambda dt: np.empty(10, _other(dt))[::2],
    "readonly": _readonly,
    "byteswapped": _swapped,
    "misaligned": _misaligned,
    "masked_subclass": lambda dt: np.ma.MaskedArray(np.empty(5, dt)),
}

OUT_SIZES: dict[str, list[Any]] = {
    "c1d": [None, 5, (5,), [5], np.int64(5), 6, (5, 1), (1, 5), (), -1, 2.5, "5"],
    "c2d": [None, (2, 3), [2, 3], (3, 2), 6, (2, 3, 1)],
    "fortran": [None, (2, 3), (3, 2)],
    "0d": [None, (), 1, (1,)],
    "empty": [None, 0, (0,), 1],
    "empty3d": [None, (2, 0, 3), 0],
    "transposed_view": [None, (2, 3)],
}

def _check_out_case(expected: tuple[Any, ...], got: tuple[Any, ...], size: Any) -> None:
    if isinstance(size, float | str):
        # Legitimate difference: with `out`, NumPy never interprets `size`, it only
        # compares tuple(size) with out.shape, so a float or str size that does not
        # compare equal gives ValueError ("size must match out.shape"). reparam validates
        # `size` as a shape first and raises TypeError, as NumPy itself does for the same
        # size without `out` (see also test_float_size_with_matching_out).
        assert expected == ("raises", "ValueError")
        assert got == ("raises", "TypeError")
        return
    _check(expected, got)


OUT_CASES = [
    pytest.param(name, size, id=f"{name}-size={size!r}")
    for name in OUTS
    for size in OUT_SIZES.get(name, [None, 5])
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f8", "f4"])
@pytest.mark.parametrize(("out_kind", "size"), OUT_CASES)
@pytest.mark.parametrize("method", METHODS)
def test_out_grid(method: str, out_kind: str, size: Any, dtype: Any) -> None:
    dt = np.dtype(dtype)
    expected, got = _both(
        method, lambda: ((), {"size": size, "dtype": dtype, "out": OUTS[out_kind](dt)})
    )
    _check_out_case(expected, got, size)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("out", [[0.0] * 5, (0.0,), 3.0], ids=["list", "tuple", "float"])
def test_out_not_an_ndarray(method: str, out: Any) -> None:
    # Legitimate difference: NumPy casts `out` to ndarray without a type check
    # (`<np.ndarray>out` in numpy/random/_common.pyx check_output) and then reads the
    # flags of whatever object it got; for a list that happens to give ValueError, but it
    # is undefined behaviour. reparam checks the type and raises TypeError.
    gen = reparam.default_rng(0)
    with pytest.raises(TypeError, match="out"):
        getattr(gen, method)(out=out)
    with pytest.raises(TypeError, match="out"):
        getattr(gen, method)(5, out=out)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [4.0, [4.0], np.float64(4)], ids=["4.0", "[4.0]", "f8(4)"])
def test_float_size_with_matching_out(method: str, size: Any) -> None:
    # Legitimate difference: NumPy compares tuple(size) with out.shape without converting
    # to ints, so a float size that compares equal to out.shape is accepted when (and only
    # when) `out` is given (NumPy rejects size=4.0 with TypeError without `out`). reparam
    # rejects a float size consistently.
    np_res = getattr(np.random.default_rng(0), method)(size, out=np.empty(4))
    assert np_res.shape == (4,)
    with pytest.raises(TypeError):
        getattr(np.random.default_rng(0), method)(size)
    gen = reparam.default_rng(0)
    with pytest.raises(TypeError):
        getattr(gen, method)(size, out=np.empty(4))
    with pytest.raises(TypeError):
        getattr(gen, method)(size)


# -- normal: loc / scale / size (NumPy's own signature) --------------------------------

LOCS = [
    _p(0.0, "0.0"),
    _p(1.5, "1.5"),
    _p(-3, "int"),
    _p(True, "True"),
    _p(np.float32(2.0), "np.float32"),
    _p(np.array(2.0), "0d-array"),
    _p([1.0, 2.0, 3.0], "list3"),
    _p(np.zeros(3), "(3,)"),
    _p(np.zeros((3, 1)), "(3,1)"),
    _p(np.zeros((2, 3)), "(2,3)"),
    _p([[1.0], [2.0]], "nested-list(2,1)"),
    _p(np.arange(3, dtype=np.int64), "int-array"),
    _p(np.nan, "nan"),
    _p([np.nan, 0.0, 1.0], "[nan,0,1]"),
    _p(np.inf, "inf"),
    _p("a", "'a'"),
    _p(["a"], "['a']"),
    _p({}, "dict"),
    _p(None, "None"),
    _p("1.5", "'1.5'"),
    _p(np.complex128(1j), "np.complex128"),
    _p(np.array([1j, 2j, 3j]), "complex-array"),
    _p(np.array([1.0, 2.0, 3.0], dtype=object), "object-array"),
    _p(np.ones(3, np.longdouble), "longdouble-array"),
    _p(10**400, "huge-int"),
    _p(1e308, "1e308"),
]

SCALES = [
    _p(1.0, "1.0"),
    _p(0.0, "0.0"),
    _p(2, "int"),
    _p(-1.0, "-1.0"),
    _p(-0.0, "-0.0"),
    _p(np.nan, "nan"),
    _p(np.inf, "inf"),
    _p(-np.inf, "-inf"),
    _p([1.0, -1.0, 2.0], "[1,-1,2]"),
    _p([1.0, np.nan, 2.0], "[1,nan,2]"),
    _p([-0.0, 1.0, 2.0], "[-0.0,1,2]"),
    _p(np.ones(3), "(3,)"),
    _p(np.ones((4, 1)), "(4,1)"),
    _p(np.ones((2, 3)), "(2,3)"),
    _p(-np.ones((2, 3)), "negative(2,3)"),
    _p("a", "'a'"),
    _p(None, "None"),
    _p("2", "'2'"),
    _p(np.array([1j, 1j, 1j]), "complex-array"),
    _p(1e308, "1e308"),
]

# loc x scale crossed only over the shapes and signs that interact (broadcasting, which
# check comes first, the array path taken by NumPy when either is an array).
LOC_SHAPES = [
    _p(0.0, "0.0"),
    _p(np.array(2.0), "0d-array"),
    _p([1.0, 2.0, 3.0], "list3"),
    _p(np.zeros(3), "(3,)"),
    _p(np.zeros((3, 1)), "(3,1)"),
    _p(np.zeros((2, 3)), "(2,3)"),
    _p(np.zeros((2, 1, 1)), "(2,1,1)"),
    _p([np.nan, 0.0, 1.0], "[nan,0,1]"),
    _p(np.inf, "inf"),
    _p(None, "None"),
    _p("a", "'a'"),
]
SCALE_SHAPES = [
    _p(1.0, "1.0"),
    _p(-1.0, "-1.0"),
    _p(-0.0, "-0.0"),
    _p(np.nan, "nan"),
    _p(np.inf, "inf"),
    _p([1.0, -1.0, 2.0], "[1,-1,2]"),
    _p(np.ones(3), "(3,)"),
    _p(np.ones((4, 1)), "(4,1)"),
    _p(np.ones((2, 3)), "(2,3)"),
    _p(-np.ones((2, 3)), "negative(2,3)"),
    _p(None, "None"),
]

NORMAL_SIZES = [
    _p(None, "None"),
    _p(3, "3"),
    _p((2, 3), "(2,3)"),
    _p((3, 3), "(3,3)"),
    _p((4, 3), "(4,3)"),
    _p((3, 1), "(3,1)"),
    _p((0, 3), "(0,3)"),
    _p((), "()"),
    _p([2, 3], "[2,3]"),
    _p(-1, "-1"),
    _p(2.5, "2.5"),
    _p("3", "'3'"),
    _p(True, "True"),
]


def _check_normal(expected: tuple[Any, ...], got: tuple[Any, ...], loc: Any, scale: Any,
                  size: Any) -> None:
    _check(expected, got)


@pytest.mark.parametrize("size", NORMAL_SIZES)
@pytest.mark.parametrize("loc", LOCS)
def test_normal_loc_size(loc: Any, size: Any) -> None:
    expected, got = _both("normal", lambda: ((loc,), {"size": size}))
    _check_normal(expected, got, loc, 1.0, size)


@pytest.mark.parametrize("size", NORMAL_SIZES)
@pytest.mark.parametrize("scale", SCALES)
def test_normal_scale_size(scale: Any, size: Any) -> None:
    expected, got = _both("normal", lambda: ((), {"scale": scale, "size": size}))
    _check_normal(expected, got, 0.0, scale, size)


@pytest.mark.parametrize("size", [_p(None, "None"), _p((2, 3), "(2,3)")])
@pytest.mark.parametrize("scale", SCALE_SHAPES)
@pytest.mark.parametrize("loc", LOC_SHAPES)
def test_normal_loc_scale(loc: Any, scale: Any, size: Any) -> None:
    expected, got = _both("normal", lambda: ((loc, scale, size), {}))
    _check_normal(expected, got, loc, scale, size)


def test_normal_keywords_and_positional() -> None:
    for make in (lambda: ((1.0, 2.0, (2, 3)), {}),
                 lambda: ((), {"loc": 1.0, "scale": 2.0, "size": 3}),
                 lambda: ((), {})):
        expected, got = _both("normal", make)
        assert got == expected
    # NumPy's normal takes no fourth positional argument; reparam's dtype and out are
    # keyword-only so that the positional signature is the same.
    with pytest.raises(TypeError):
        np.random.default_rng(0).normal(0.0, 1.0, 3, np.float32)
    with pytest.raises(TypeError):
        reparam.default_rng(0).normal(0.0, 1.0, 3, np.float32)


# -- normal: dtype and out, held to NumPy's standard_normal ----------------------------


@pytest.mark.parametrize("size", FEW_SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_dtype_like_standard_normal(dtype: Any, size: Any) -> None:
    # NumPy's normal has no dtype: reparam's must accept and reject what NumPy's
    # standard_normal does (TypeError for an unsupported dtype).
    expected, got = _both("standard_normal", lambda: ((), {"size": size, "dtype": dtype}),
                          rp_method="normal")
    _check(expected, got)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f8", "f4"])
@pytest.mark.parametrize(("out_kind", "size"), OUT_CASES)
def test_normal_out_like_standard_normal(out_kind: str, size: Any, dtype: Any) -> None:
    dt = np.dtype(dtype)
    expected, got = _both(
        "standard_normal",
        lambda: ((), {"size": size, "dtype": dtype, "out": OUTS[out_kind](dt)}),
        rp_method="normal",
    )
    _check_out_case(expected, got, size)


@pytest.mark.parametrize("size", [None, 5], ids=["size=None", "size=5"])
@pytest.mark.parametrize("out", [[0.0] * 5, (0.0,), 3.0], ids=["list", "tuple", "float"])
def test_normal_out_not_an_ndarray(out: Any, size: Any) -> None:
    # As for standard_normal (see test_out_not_an_ndarray): reparam raises TypeError.
    try:
        reparam.default_rng(0).normal(size=size, out=out)
    except TypeError:
        return
    pytest.fail("no exception for a non-ndarray out")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f8", "f4"])
def test_normal_out_and_broadcasting(dtype: Any) -> None:
    gen = reparam.default_rng(0)
    # out's shape plays the role of size: loc/scale must broadcast to it.
    out = np.empty((2, 3), dtype)
    assert gen.normal(np.zeros(3), np.ones((2, 1)), out=out, dtype=dtype) is out
    with pytest.raises(ValueError):
        gen.normal(np.zeros(4), 1.0, out=np.empty((2, 3), dtype), dtype=dtype)
    with pytest.raises(ValueError):  # would need a bigger output than out
        gen.normal(np.zeros((3, 3)), 1.0, out=np.empty(3, dtype), dtype=dtype)
    # size and out together must agree, as in standard_normal.
    with pytest.raises(ValueError):
        gen.normal(0.0, 1.0, size=(3, 2), out=np.empty((2, 3), dtype), dtype=dtype)
    # dtype and out's dtype must agree.
    with pytest.raises(TypeError):
        gen.normal(0.0, 1.0, out=np.empty(3, np.float64 if dtype == np.float32 else np.float32),
                   dtype=dtype)
    # A negative scale is rejected before anything is written into out.
    out = np.full(3, 7.0, dtype)
    with pytest.raises(ValueError, match="scale"):
        gen.normal(0.0, [1.0, -1.0, 1.0], out=out, dtype=dtype)
    assert np.all(out == 7.0)


def test_errors_leave_the_stream_untouched() -> None:
    # A call that raises must not consume stream positions (NumPy validates everything
    # before drawing; so must reparam).
    gen = reparam.default_rng(0)
    before = gen.bit_generator.state
    bad_calls: list[Callable[[], Any]] = [
        lambda: gen.standard_normal(-1),
        lambda: gen.standard_normal(3, dtype=np.int32),
        lambda: gen.standard_normal(out=np.empty(10)[::2]),
        lambda: gen.standard_normal(4, out=np.empty(5)),
        lambda: gen.random(2.5),
        lambda: gen.random(out=np.empty(3, np.float32)),
        lambda: gen.normal(0.0, -1.0),
        lambda: gen.normal(0.0, [1.0, -1.0], size=4),
        lambda: gen.normal(np.zeros(3), 1.0, size=4),
        lambda: gen.normal(0.0, 1.0, 3, dtype=np.float16),
    ]
    for call in bad_calls:
        with pytest.raises((ValueError, TypeError)):
            call()
        assert gen.bit_generator.state == before

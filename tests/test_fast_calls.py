"""Generator's compiled fast calls (csrc/bindings/fast_calls.cpp) against its general
Python path: the same values bit for bit, the same exceptions, the same stream
positions. The general path is forced by making the bound calls return NotImplemented.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import reparam
from reparam._generator import _float_dtype
from reparam._philox import _normalize_size


def _outcome(f: Callable[[], Any]) -> str:
    try:
        v = f()
    except Exception as exc:
        return f"raises {type(exc).__name__}: {exc}"
    if isinstance(v, np.ndarray):
        digest = hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest()
        return f"{type(v).__name__} {v.dtype} {v.shape} {v.flags.c_contiguous} {digest}"
    return f"{type(v).__name__} {v!r}"


def _general_path(g: reparam.Generator) -> None:
    """Send every call of `g` through the Python code the fast calls stand in for."""
    for method in ("_normal", "_standard_normal_out", "_random_out"):
        setattr(g, method, lambda *args: NotImplemented)


def _outs() -> Iterator[tuple[str, Any]]:
    yield "c64", np.zeros(6)
    yield "c32", np.zeros(6, np.float32)
    yield "fortran", np.zeros((3, 4), order="F")
    yield "strided", np.zeros(12)[::2]
    readonly = np.zeros(4)
    readonly.flags.writeable = False
    yield "readonly", readonly
    yield "big-endian", np.zeros(4, ">f8")
    yield "int64", np.zeros(4, np.int64)
    yield "0-d", np.zeros(())
    yield "empty", np.zeros((0, 3))
    yield "list", [0.0, 0.0]
    yield "subclass", np.zeros(5).view(np.recarray)
    yield "unaligned", np.frombuffer(bytearray(8 * 5 + 1), dtype=np.uint8)[1:].view(np.float64)
    yield "metadata", np.zeros(3, dtype=np.dtype(np.float64, metadata={"a": 1}))


_DTYPES = [np.float64, np.float32, float, "f8", "f4", np.dtype(np.float64), np.dtype(np.float32), None, "i4",
           np.dtype(">f8")]


def _on_both_paths(seed: int, calls: Callable[[reparam.Generator], list[str]]) -> None:
    """calls(g) on a Generator of `seed` through the fast calls and through the general
    path: the same transcript (results or exceptions, then the stream state) from both."""
    results = []
    for general in (False, True):
        g = reparam.default_rng(seed)
        if general:
            _general_path(g)
        results.append([*calls(g), str(g.bit_generator.state)])
    assert results[0] == results[1]


@pytest.mark.parametrize("method", ["standard_normal", "random"])
def test_out_matches_general_path(method: str) -> None:
    def calls(g: reparam.Generator) -> list[str]:
        lines = []
        for (name, out), dt, size in itertools.product(list(_outs()), _DTYPES, [None, 6, (3, 4), 0]):
            got = _outcome(lambda size=size, dt=dt, out=out: getattr(g, method)(size, dt, out=out))
            written = _outcome(lambda out=out: np.array(out, copy=True))
            lines.append(f"{name} {dt!r} {size!r}: {got} / {written}")
        return lines

    _on_both_paths(11, calls)


_SCALARS = [0.0, 1.0, 2, -1.0, -0.0, float("nan"), -float("nan"), float("inf"), -float("inf"), 1e308, 1e39,
            3.4e38, 2**53, 2**53 + 1, -(2**53), 10**400, True, np.float64(2.0), None, "1", np.array(2.0),
            [1.0, 2.0], 3 + 0j, 5e-324]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, "f4", np.dtype(np.float32), float])
def test_normal_matches_general_path(dtype: Any) -> None:
    def calls(g: reparam.Generator) -> list[str]:
        lines = []
        for loc, scale in itertools.product(_SCALARS, _SCALARS):
            for size in (None, 1, 3, (2, 2), (), -1, "x", 2**61, [2], (2**31, 2**31)):
                got = _outcome(lambda loc=loc, scale=scale, size=size: g.normal(loc, scale, size, dtype=dtype))
                lines.append(f"{loc!r} {scale!r} {size!r}: {got}")
        return lines

    _on_both_paths(12, calls)


@pytest.mark.parametrize("method", ["standard_normal", "random"])
@pytest.mark.parametrize(
    "size",
    [None, 0, 1, 7, (), (0,), (2, 3), [2, 3], (1,) * 20, (1,) * 70, -1, (2, -1), True, 1.5, "3", np.int64(3),
     (np.int64(2), 3), np.array([2, 3]), 2**63, (2**40, 2**40), (0, 2**62, 2**62)],
    ids=repr,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, "f4", None, np.int64, np.dtype(">f8")], ids=repr)
def test_sizes_and_dtypes_as_python_reads_them(method: str, size: Any, dtype: Any) -> None:
    """The compiled size/dtype reading agrees with _float_dtype and _normalize_size; a
    size they accept but NumPy cannot allocate fails with NumPy's ValueError."""
    g = reparam.default_rng(13)
    try:
        dt = _float_dtype(dtype, method)
        shape = None if size is None else _normalize_size(size)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc), match="^" + re.escape(str(exc)) + "$"):
            getattr(g, method)(size, dtype)
        return
    if shape is None:
        assert type(getattr(g, method)(size, dtype)) is float
        return
    try:
        np.empty(shape, dt)
    except ValueError:
        with pytest.raises(ValueError):
            getattr(g, method)(size, dtype)
        return
    got = getattr(g, method)(size, dtype)
    assert got.shape == shape and got.dtype == dt and got.flags.c_contiguous


def test_bound_calls_keep_the_state_alive() -> None:
    g = reparam.default_rng(14)
    expected = reparam.default_rng(14).standard_normal(3)
    call = g._standard_normal
    del g
    np.testing.assert_array_equal(call(3, np.float64), expected)

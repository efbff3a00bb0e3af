"""The public API of reparam: return values, the stream conventions of the methods,
construction, spawning, pickling, and the runtime controls (SIMD path, threads, and
the REPARAM_CPU / REPARAM_NUM_THREADS environment variables, checked in subprocesses).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import reparam
from reparam import _core

DTYPES = [pytest.param(np.float64, id="f8"), pytest.param(np.float32, id="f4")]


def _bits(a: Any) -> np.ndarray[Any, Any]:
    """A bitwise view, so that comparisons tell -0.0 from 0.0 and compare NaN payloads."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


def assert_bit_equal(a: Any, b: Any) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    np.testing.assert_array_equal(_bits(a), _bits(b))


@pytest.fixture
def restore_threads() -> Iterator[int]:
    n = reparam.get_num_threads()
    yield n
    reparam.set_num_threads(n)


# -- return values ---------------------------------------------------------------------


def test_scalar_returns_are_python_floats() -> None:
    gen = reparam.default_rng(1)
    for value in (
        gen.standard_normal(),
        gen.standard_normal(dtype=np.float32),
        gen.standard_normal(dtype="f4"),
        gen.random(),
        gen.random(dtype=np.float32),
        gen.normal(),
        gen.normal(1.0, 2.0),
        gen.normal(np.float32(1.0), np.array(2.0)),
        gen.normal(dtype=np.float32),
    ):
        assert type(value) is float


def test_float32_scalar_is_a_float32_value() -> None:
    # A float32 draw returned as a Python float is still exactly a float32 value, the one
    # an array draw of the same position gives.
    a = reparam.default_rng(2)
    b = reparam.default_rng(2)
    scalars = [a.standard_normal(dtype=np.float32) for _ in range(5)]
    arr = b.standard_normal(5, dtype=np.float32)
    assert_bit_equal(np.array(scalars, np.float32), arr)
    assert all(float(np.float32(s)) == s for s in scalars)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["standard_normal", "random", "normal"])
def test_array_returns(method: str, dtype: Any) -> None:
    gen = reparam.default_rng(3)
    res = getattr(gen, method)(size=3, dtype=dtype)
    assert type(res) is np.ndarray
    assert res.dtype == dtype
    assert res.shape == (3,)
    assert res.flags.c_contiguous and res.flags.writeable and res.flags.owndata
    res = getattr(gen, method)(size=(), dtype=dtype)
    assert type(res) is np.ndarray and res.shape == ()


def test_default_dtype_is_float64() -> None:
    gen = reparam.default_rng(4)
    assert gen.standard_normal(3).dtype == np.float64
    assert gen.random(3).dtype == np.float64
    assert gen.normal(size=3).dtype == np.float64
    assert gen.normal(np.zeros(3, np.float32), np.ones(3, np.float32)).dtype == np.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["standard_normal", "random", "normal"])
def test_out_is_returned_and_filled(method: str, dtype: Any) -> None:
    out = np.full((4, 5), np.nan, dtype)
    res = getattr(reparam.default_rng(5), method)(size=(4, 5), dtype=dtype, out=out)
    assert res is out
    ref = getattr(reparam.default_rng(5), method)(size=(4, 5), dtype=dtype)
    assert_bit_equal(out, ref)

    # size=None: the shape is out's
    out = np.full(7, np.nan, dtype)
    assert getattr(reparam.default_rng(5), method)(dtype=dtype, out=out) is out
    assert_bit_equal(out, getattr(reparam.default_rng(5), method)(size=7, dtype=dtype))

    # a 0-d out gets one value and is returned as an array
    out0 = np.full((), np.nan, dtype)
    assert getattr(reparam.default_rng(5), method)(dtype=dtype, out=out0) is out0
    first = getattr(reparam.default_rng(5), method)(dtype=dtype)
    assert float(out0) == first


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["standard_normal", "random", "normal"])
def test_fortran_out_is_filled_in_memory_order(method: str, dtype: Any) -> None:
    # Convention (as numpy.random.Generator, which fills the raw buffer): an `out` that is
    # contiguous in Fortran order receives the stream in *memory* order, i.e.
    # out[i, j] is stream value i + j * nrows. Values therefore depend on out's layout,
    # not only its shape.
    shape = (3, 4)
    out = np.empty(shape, dtype, order="F")
    assert not out.flags.c_contiguous
    assert getattr(reparam.default_rng(6), method)(dtype=dtype, out=out) is out
    flat = getattr(reparam.default_rng(6), method)(size=12, dtype=dtype)
    assert_bit_equal(out.ravel(order="K"), flat)
    assert_bit_equal(out, flat.reshape(shape, order="F"))
    assert_bit_equal(out.T, flat.reshape(shape[::-1]))


# -- normal = loc + scale * standard_normal --------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_is_loc_plus_scale_times_standard_normal(dtype: Any) -> None:
    loc = np.array([[-1.5], [0.25], [3.0]])  # (3, 1)
    scale = np.array([0.5, 1.0, 2.0, 1e-3])  # (4,)
    dt = np.dtype(dtype)
    for size in (None, (3, 4), (2, 3, 4)):
        shape = (3, 4) if size is None else size
        got = reparam.default_rng(7).normal(loc, scale, size, dtype=dtype)
        eps = reparam.default_rng(7).standard_normal(shape, dtype=dtype)
        expected = loc.astype(dt) + scale.astype(dt) * eps  # computed in the output dtype
        assert expected.dtype == dt
        assert_bit_equal(got, expected)
    # scalars
    got = reparam.default_rng(7).normal(2.5, 3.0, 1000, dtype=dtype)
    eps = reparam.default_rng(7).standard_normal(1000, dtype=dtype)
    assert_bit_equal(got, dt.type(2.5) + dt.type(3.0) * eps)
    # size=None with scalars: a Python float, the first value of the same stream
    val = reparam.default_rng(7).normal(2.5, 3.0, dtype=dtype)
    assert val == float(got[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_consumes_the_stream_like_standard_normal(dtype: Any) -> None:
    a = reparam.default_rng(8)
    b = reparam.default_rng(8)
    a.normal(1.0, 2.0, (5, 3), dtype=dtype)
    b.standard_normal((5, 3), dtype=dtype)
    assert a.bit_generator.state == b.bit_generator.state
    assert_bit_equal(a.standard_normal(9, dtype=dtype), b.standard_normal(9, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_scale_zero_returns_loc(dtype: Any) -> None:
    dt = np.dtype(dtype)
    loc = np.array([1.5, -2.25, 1e30, 3.0, 0.1, -7.0], dt)
    res = reparam.default_rng(9).normal(loc, 0.0, dtype=dtype)
    np.testing.assert_array_equal(res, loc)
    res = reparam.default_rng(9).normal(loc, np.zeros(6), (4, 6), dtype=dtype)
    np.testing.assert_array_equal(res, np.broadcast_to(loc, (4, 6)))
    assert reparam.default_rng(9).normal(1.25, 0.0, dtype=dtype) == 1.25


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_nan_propagates_to_affected_elements_only(dtype: Any) -> None:
    loc = np.array([0.0, np.nan, 0.0, 0.0, 5.0])
    scale = np.array([1.0, 1.0, np.nan, 1.0, 2.0])
    res = reparam.default_rng(10).normal(loc, scale, dtype=dtype)
    np.testing.assert_array_equal(np.isnan(res), [False, True, True, False, False])
    eps = reparam.default_rng(10).standard_normal(5, dtype=dtype)
    ok = ~np.isnan(res)
    dt = np.dtype(dtype)
    assert_bit_equal(res[ok], (loc.astype(dt) + scale.astype(dt) * eps)[ok])
    # broadcast: a NaN loc in one row of (2, 1) affects only that row
    res = reparam.default_rng(10).normal(np.array([[np.nan], [0.0]]), 1.0, (2, 3), dtype=dtype)
    assert np.isnan(res[0]).all() and not np.isnan(res[1]).any()
    # scalars: a NaN scale is allowed (as in NumPy) and gives NaN
    assert np.isnan(reparam.default_rng(10).normal(0.0, np.nan, dtype=dtype))


@pytest.mark.parametrize(
    "scale", [-1.0, -1e-300, -np.inf, [1.0, -2.0], np.array([[1.0], [-0.5]])],
    ids=["-1", "tiny", "-inf", "list", "array"],
)
def test_negative_scale_message_mentions_scale(scale: Any) -> None:
    gen = reparam.default_rng(11)
    before = gen.bit_generator.state
    with pytest.raises(ValueError, match="scale"):
        gen.normal(0.0, scale)
    with pytest.raises(ValueError, match="scale"):
        gen.normal(0.0, scale, size=(2, 2), dtype=np.float32)
    assert gen.bit_generator.state == before


def test_normal_does_not_emit_floating_point_warnings() -> None:
    # NumPy's normal never warns: inf - inf and overflow simply give nan / inf.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.random.default_rng(12).normal(np.inf, np.inf, 1000)
        np.random.default_rng(12).normal(1e308, 1e308, 1000)
    cases = [
        lambda: reparam.default_rng(12).normal(np.inf, np.inf, 1000),
        lambda: reparam.default_rng(12).normal(1e308, 1e308, 1000),
        lambda: reparam.default_rng(12).normal(0.0, 1e300, 10, dtype=np.float32),
        lambda: reparam.default_rng(12).normal(3e38, 3e38, 1000, dtype=np.float32),
    ]
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            case()  # NumPy's normal never warns on inf, nan or overflow: neither may we


# -- construction ----------------------------------------------------------------------


def test_default_rng_accepts_generator_and_philox() -> None:
    gen = reparam.default_rng(13)
    assert reparam.default_rng(gen) is gen
    bg = reparam.Philox(13)
    wrapped = reparam.default_rng(bg)
    assert isinstance(wrapped, reparam.Generator)
    assert wrapped.bit_generator is bg
    # the same stream as a Generator built directly, and as default_rng(seed)
    assert_bit_equal(wrapped.standard_normal(5), reparam.Generator(reparam.Philox(13))
                     .standard_normal(5))
    assert_bit_equal(reparam.default_rng(13).standard_normal(5),
                     reparam.Generator(reparam.Philox(13)).standard_normal(5))
    seq = np.random.SeedSequence(13)
    assert_bit_equal(reparam.default_rng(seq).standard_normal(5),
                     reparam.default_rng(13).standard_normal(5))


@pytest.mark.parametrize(
    "bit_generator",
    [np.random.PCG64(0), np.random.Philox(0), None, 0, "philox"],
    ids=["PCG64", "numpy-Philox", "None", "int", "str"],
)
def test_generator_requires_reparam_philox(bit_generator: Any) -> None:
    with pytest.raises(TypeError):
        reparam.Generator(bit_generator)


def test_default_rng_rejects_numpy_bit_generators() -> None:
    # numpy's default_rng wraps any BitGenerator; reparam's can only wrap its own Philox.
    with pytest.raises(TypeError):
        reparam.default_rng(np.random.PCG64(0))
    with pytest.raises(TypeError):
        reparam.default_rng(np.random.default_rng(0))


def test_bit_generator_is_shared_not_copied() -> None:
    bg = reparam.Philox(14)
    a = reparam.Generator(bg)
    b = reparam.Generator(bg)
    x = a.standard_normal(3)
    y = b.standard_normal(3)
    assert_bit_equal(np.concatenate([x, y]), reparam.default_rng(14).standard_normal(6))


def test_numpy_generator_over_reparam_philox() -> None:
    # reparam.Philox implements NumPy's bit generator interface.
    bg = reparam.Philox(key=15)
    gen = np.random.Generator(bg)
    words = gen.integers(0, 2**32, size=8, dtype=np.uint32)
    ref = np.empty(8, np.uint32)
    _core.stream_fill("raw", 15, 1, 0, 0, ref)
    np.testing.assert_array_equal(words, ref)
    assert np.isfinite(gen.standard_normal(100)).all()


# -- spawn -----------------------------------------------------------------------------


def test_spawn_gives_independent_reproducible_streams() -> None:
    parent = reparam.default_rng(16)
    children = parent.spawn(3)
    assert len(children) == 3
    assert all(isinstance(c, reparam.Generator) for c in children)
    assert len({id(c.bit_generator) for c in children}) == 3
    draws = [c.standard_normal(64) for c in children]
    parent_draw = parent.standard_normal(64)
    for i, d in enumerate(draws):
        assert not np.array_equal(d, parent_draw)
        for e in draws[i + 1:]:
            assert not np.array_equal(d, e)
            assert not np.isin(d, e).any()

    # reproducible: the same seed spawns the same children
    again = [c.standard_normal(64) for c in reparam.default_rng(16).spawn(3)]
    for d, e in zip(draws, again, strict=True):
        assert_bit_equal(d, e)

    # the keys come from SeedSequence.spawn, as in NumPy
    seqs = np.random.SeedSequence(16).spawn(3)
    for d, s in zip(draws, seqs, strict=True):
        assert_bit_equal(d, reparam.default_rng(s).standard_normal(64))

    # spawning again gives new children (the SeedSequence counts its children)
    more = reparam.default_rng(16)
    more.spawn(3)
    fourth = more.spawn(1)[0].standard_normal(64)
    for d in draws:
        assert not np.array_equal(fourth, d)


def test_spawn_from_key_raises() -> None:
    gen = reparam.Generator(reparam.Philox(key=17))
    with pytest.raises(TypeError):
        gen.spawn(2)


# -- pickling --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_pickle_round_trip_continues_identically(protocol: int) -> None:
    gen = reparam.default_rng(18)
    gen.standard_normal(5)
    gen.standard_normal(3, dtype=np.float32)  # leave the stream at an odd word
    copy = pickle.loads(pickle.dumps(gen, protocol=protocol))
    assert isinstance(copy, reparam.Generator)
    assert copy.bit_generator is not gen.bit_generator
    assert copy.bit_generator.state == gen.bit_generator.state
    # the copy continues exactly where the original is, through every method and dtype
    for draw in (
        lambda g: g.standard_normal(7),  # skips the odd word for the 64-bit slots
        lambda g: g.standard_normal(3, dtype=np.float32),
        lambda g: g.random(70_001),
        lambda g: np.array(g.standard_normal()),
        lambda g: g.normal(1.0, [1.0, 2.0], dtype=np.float32),
        lambda g: np.array(g.random(dtype=np.float32)),
    ):
        assert_bit_equal(draw(copy), draw(gen))
    # and is independent of it
    copy.standard_normal(10)
    assert copy.bit_generator.state != gen.bit_generator.state
    # the SeedSequence comes along: both spawn the same children
    assert_bit_equal(copy.spawn(1)[0].standard_normal(4), gen.spawn(1)[0].standard_normal(4))


def test_pickle_philox_with_key() -> None:
    bg = reparam.Philox(key=2**64 - 1, counter=2**128 - 2)
    bg.random_raw(3)
    copy = pickle.loads(pickle.dumps(bg))
    assert copy.state == bg.state
    assert copy.seed_seq is None
    np.testing.assert_array_equal(copy.random_raw(9), bg.random_raw(9))


# -- SIMD paths and threads ------------------------------------------------------------


def test_simd_info() -> None:
    info = reparam.simd_info()
    assert set(info) >= {"compiled", "supported", "selected"}
    assert isinstance(info["selected"], str)
    assert info["supported"], "at least the scalar path is supported"
    assert "scalar" in info["compiled"] and "scalar" in info["supported"]
    assert set(info["supported"]) <= set(info["compiled"])
    assert info["selected"] in info["supported"]
    # supported keeps the order of compiled (lowest first)
    assert info["supported"] == [t for t in info["compiled"] if t in info["supported"]]
    if os.environ.get("REPARAM_CPU"):
        pytest.skip("REPARAM_CPU is set: the selected path is the requested one")
    assert info["selected"] == info["supported"][-1] == _core.best_target()


def test_show_config(capsys: pytest.CaptureFixture[str]) -> None:
    reparam.show_config()
    out = capsys.readouterr().out
    assert reparam.__version__ in out
    info = reparam.simd_info()
    for name in info["compiled"]:
        assert name in out
    assert info["selected"] in out
    threads_line = [line for line in out.splitlines() if "threads" in line.lower()]
    assert threads_line and str(reparam.get_num_threads()) in threads_line[0]


@pytest.mark.parametrize(
    ("value", "exc"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError),
     (False, TypeError), ("2", TypeError), (None, TypeError), (2.0, TypeError)],
    ids=["0", "-1", "1.5", "True", "False", "'2'", "None", "2.0"],
)
def test_set_num_threads_validation(value: Any, exc: type[Exception],
                                    restore_threads: int) -> None:
    before = reparam.get_num_threads()
    with pytest.raises(exc):
        reparam.set_num_threads(value)
    assert reparam.get_num_threads() == before


def test_set_num_threads_round_trip(restore_threads: int) -> None:
    ref = reparam.default_rng(19).standard_normal(200_000, dtype=np.float32)
    for n in (1, 2, 3, 2, restore_threads):
        reparam.set_num_threads(n)
        assert reparam.get_num_threads() == n
        assert type(reparam.get_num_threads()) is int
        # results do not depend on the thread count
        assert_bit_equal(reparam.default_rng(19).standard_normal(200_000, dtype=np.float32),
                         ref)
    assert reparam.get_num_threads() == restore_threads


# -- environment variables, in subprocesses --------------------------------------------

_PROBE = textwrap.dedent(
    """
    import hashlib, json, warnings
    import numpy as np
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import reparam
    info = reparam.simd_info()
    digest = hashlib.sha256()
    g = reparam.default_rng(20240601)
    for n, dt in ((1, np.float64), (7, np.float32), (1000, np.float64),
                  (70001, np.float32), (70001, np.float64), (33, np.float32)):
        digest.update(g.standard_normal(n, dtype=dt).tobytes())
        digest.update(g.random(n, dtype=dt).tobytes())
        digest.update(g.normal(0.5, 2.0, n, dtype=dt).tobytes())
    digest.update(np.float64(g.standard_normal()).tobytes())
    print(json.dumps({
        "selected": info["selected"],
        "supported": info["supported"],
        "best": reparam._core.best_target(),
        "threads": reparam.get_num_threads(),
        "cores": reparam._core.available_cores(),
        "warnings": [[w.category.__name__, str(w.message)] for w in caught],
        "digest": digest.hexdigest(),
    }))
    """
)


def _probe(**env: str) -> dict[str, Any]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("REPARAM_")}
    full.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], env=full, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def default_probe() -> dict[str, Any]:
    return _probe()


def test_env_default(default_probe: dict[str, Any]) -> None:
    assert default_probe["warnings"] == []
    assert default_probe["selected"] == default_probe["best"] == default_probe["supported"][-1]
    assert default_probe["threads"] == default_probe["cores"]


def test_env_default_matches_this_process(default_probe: dict[str, Any]) -> None:
    # The stream does not depend on the process either: hash the same draws here.
    digest = hashlib.sha256()
    g = reparam.default_rng(20240601)
    for n, dt in ((1, np.float64), (7, np.float32), (1000, np.float64),
                  (70001, np.float32), (70001, np.float64), (33, np.float32)):
        digest.update(g.standard_normal(n, dtype=dt).tobytes())
        digest.update(g.random(n, dtype=dt).tobytes())
        digest.update(g.normal(0.5, 2.0, n, dtype=dt).tobytes())
    digest.update(np.float64(g.standard_normal()).tobytes())
    assert digest.hexdigest() == default_probe["digest"]


@pytest.mark.parametrize("spelling", ["scalar", " Scalar "])
def test_env_cpu_scalar(spelling: str, default_probe: dict[str, Any]) -> None:
    res = _probe(REPARAM_CPU=spelling)
    assert res["warnings"] == []
    assert res["selected"] == "scalar"
    # bit-identical to the default (best) path
    assert res["digest"] == default_probe["digest"]


def test_env_cpu_every_supported_path_is_bit_identical(default_probe: dict[str, Any]) -> None:
    for target in default_probe["supported"]:
        res = _probe(REPARAM_CPU=target, REPARAM_NUM_THREADS="2")
        assert res["selected"] == target
        assert res["warnings"] == []
        assert res["digest"] == default_probe["digest"], target


def _unsupported_target() -> str:
    supported = set(_core.supported_targets())
    for name in ("neon", "avx512", "avx2", "sse2"):
        if name not in supported:
            return name
    return "sve"  # not a target of this library at all


@pytest.mark.parametrize("name", [_unsupported_target(), "bogus"])
def test_env_cpu_unsupported_warns_and_keeps_best(name: str,
                                                  default_probe: dict[str, Any]) -> None:
    res = _probe(REPARAM_CPU=name)
    categories = [c for c, _ in res["warnings"]]
    assert categories == ["RuntimeWarning"]
    assert "REPARAM_CPU" in res["warnings"][0][1]
    assert res["selected"] == res["best"] == default_probe["selected"]
    assert res["digest"] == default_probe["digest"]


@pytest.mark.parametrize("n", [1, 3])
def test_env_num_threads(n: int, default_probe: dict[str, Any]) -> None:
    res = _probe(REPARAM_NUM_THREADS=str(n))
    assert res["warnings"] == []
    assert res["threads"] == n
    assert res["digest"] == default_probe["digest"]


@pytest.mark.parametrize("value", ["0", "abc"])
def test_env_num_threads_invalid_warns(value: str, default_probe: dict[str, Any]) -> None:
    res = _probe(REPARAM_NUM_THREADS=value)
    assert [c for c, _ in res["warnings"]] == ["RuntimeWarning"]
    assert "REPARAM_NUM_THREADS" in res["warnings"][0][1]
    assert res["threads"] == default_probe["threads"]

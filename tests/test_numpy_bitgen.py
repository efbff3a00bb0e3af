"""reparam.Philox as a numpy.random.BitGenerator, and reparam.Generator as a
numpy.random.Generator.

Written from NumPy's documented bit generator interface (numpy.random.BitGenerator:
random_raw, state, seed_seq, spawn, lock, ctypes, cffi, capsule, pickling) in the manner of
NumPy's own generic checks (test_direct.py) and its reproducibility smoke checks
(test_smoke.py); none of NumPy's files are copied. The stream values come from the
pure-Python Philox reference of test_philox.py, written from the published definition.
"""

from __future__ import annotations

import copy
import ctypes
import multiprocessing
import pickle
from typing import Any

import numpy as np
import pytest
from test_philox import ref_stream

import reparam

KEY, CTR = 0x243F6A8885A308D3, 2**64 + 0x13198A2E03707344


def _words64(words: np.ndarray) -> np.ndarray:
    """next_uint64: two consecutive words, the first as the low half."""
    w = words.astype(np.uint64)
    return w[0::2] | (w[1::2] << np.uint64(32))


def _doubles(words: np.ndarray) -> np.ndarray:
    """next_double: the top 53 bits of next_uint64 times 2**-53."""
    return (_words64(words) >> np.uint64(11)).astype(np.float64) * 2.0**-53


# ------------------------------------------------------------------ the type itself
def test_is_a_numpy_bit_generator() -> None:
    p = reparam.Philox(0)
    assert isinstance(p, np.random.BitGenerator)
    g = reparam.default_rng(0)
    assert isinstance(g, np.random.Generator)
    assert isinstance(g.bit_generator, np.random.BitGenerator)
    assert g.bit_generator.lock is g.bit_generator.lock
    # NumPy's Generator takes reparam.Philox's lock, the one reparam's own calls take
    assert np.random.Generator(p).bit_generator.lock is p.lock


# ----------------------------------------------------------------- raw (known answers)
def test_raw_known_answers() -> None:
    p = reparam.Philox(key=KEY, counter=CTR)
    np.testing.assert_array_equal(p.random_raw(1000), ref_stream(KEY, CTR, 1000))
    assert p.random_raw() == int(ref_stream(KEY, CTR, 1, skip=1000)[0])
    assert p.random_raw(7, output=False) is None
    np.testing.assert_array_equal(p.random_raw(3), ref_stream(KEY, CTR, 3, skip=1008))


def test_numpy_draws_known_answers() -> None:
    words = ref_stream(KEY, CTR, 2 * 64)
    np.testing.assert_array_equal(
        np.random.Generator(reparam.Philox(key=KEY, counter=CTR)).random(64), _doubles(words)
    )
    np.testing.assert_array_equal(
        reparam.Generator(reparam.Philox(key=KEY, counter=CTR)).random(64), _doubles(words)
    )


# --------------------------------------------------------------------------- pickle
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_bit_generator(protocol: int) -> None:
    p = reparam.Philox(1234)
    p.random_raw(5)
    q = pickle.loads(pickle.dumps(p, protocol=protocol))
    assert type(q) is reparam.Philox
    assert q.state == p.state
    assert q.seed_seq is not None and q.seed_seq.entropy == 1234
    np.testing.assert_array_equal(q.random_raw(11), p.random_raw(11))


@pytest.mark.parametrize("make", [np.random.Generator, reparam.Generator], ids=["numpy", "reparam"])
@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_pickle_and_copy_generators(make: Any, how: str) -> None:
    g = make(reparam.Philox(1))
    g.random(3)
    if how == "pickle":
        h = pickle.loads(pickle.dumps(g))
    elif how == "copy":
        h = copy.copy(g)
    else:
        h = copy.deepcopy(g)
    assert type(h) is type(g) and type(h.bit_generator) is reparam.Philox
    if how == "copy":  # NumPy's shallow copy shares the bit generator
        assert h.bit_generator is g.bit_generator
        return
    assert h.bit_generator is not g.bit_generator
    assert h.bit_generator.state == g.bit_generator.state
    np.testing.assert_array_equal(h.random(9), g.random(9))
    np.testing.assert_array_equal(h.standard_normal(9), g.standard_normal(9))
    np.testing.assert_array_equal(h.integers(0, 1000, 9), g.integers(0, 1000, 9))


def _draw_in_worker(blob: bytes) -> list[float]:
    g = pickle.loads(blob)
    return [float(x) for x in g.random(5)] + [float(x) for x in g.standard_normal(3)]


def test_pickle_reaches_a_spawn_worker() -> None:
    """A pickled np.random.Generator(reparam.Philox(1)) continues its stream in a
    multiprocessing worker started with 'spawn' (a fresh interpreter)."""
    g = np.random.Generator(reparam.Philox(1))
    g.random(2)
    blob = pickle.dumps(g)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_draw_in_worker, (blob,)).get(timeout=120)
    assert got == [float(x) for x in g.random(5)] + [float(x) for x in g.standard_normal(3)]


# ---------------------------------------------------------------------------- state
def test_state_round_trip_and_restore_draws() -> None:
    p = reparam.Philox(7)
    st = p.state
    assert st["bit_generator"] == "Philox"
    a = p.random_raw(9)
    p.state = st
    np.testing.assert_array_equal(p.random_raw(9), a)
    # a state moves between instances
    q = reparam.Philox(8)
    q.state = st
    np.testing.assert_array_equal(q.random_raw(9), a)


@pytest.mark.parametrize(
    ("state", "exc"),
    [
        ([1, 2], TypeError),
        ({"bit_generator": "PCG64", "state": {"key": 0, "counter": 0}}, ValueError),
        ({"bit_generator": "Philox"}, ValueError),
        ({"bit_generator": "Philox", "state": {"key": -1, "counter": 0}}, ValueError),
        ({"bit_generator": "Philox", "state": {"key": 0.5, "counter": 0}}, TypeError),
    ],
)
def test_invalid_state(state: object, exc: type[Exception]) -> None:
    p = reparam.Philox(0)
    before = p.state
    with pytest.raises(exc):
        p.state = state  # type: ignore[assignment]
    assert p.state == before


# --------------------------------------------------------------------- invalid init
@pytest.mark.parametrize("seed", [0.5, "1", [0.5], np.array([1.5]), object()])
def test_invalid_init_type(seed: object) -> None:
    with pytest.raises(TypeError):
        reparam.Philox(seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, [-1], np.array([-2]), [1, -5]])
def test_invalid_init_values(seed: object) -> None:
    with pytest.raises(ValueError):
        reparam.Philox(seed)  # type: ignore[arg-type]


def test_generator_refuses_a_class_and_other_bit_generators() -> None:
    with pytest.raises(ValueError, match="instance"):
        reparam.Generator(reparam.Philox)  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # as NumPy does
        np.random.Generator(reparam.Philox)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"reparam\.Philox"):
        reparam.Generator(np.random.PCG64(0))  # type: ignore[arg-type]


# --------------------------------------------------------------------- seed sequence
def test_seed_sequence() -> None:
    ss = np.random.SeedSequence(98765)
    p = reparam.Philox(ss)
    assert p.seed_seq is ss
    assert p.state == reparam.Philox(98765).state
    words = ss.generate_state(2, np.uint32)
    assert p.state["state"]["key"] == int(words[0]) | (int(words[1]) << 32)
    assert reparam.Philox(key=3).seed_seq is None
    # spawn: children keyed from seed_seq.spawn, as NumPy's bit generators spawn
    kids = reparam.Philox(np.random.SeedSequence(5)).spawn(3)
    expected = [reparam.Philox(s) for s in np.random.SeedSequence(5).spawn(3)]
    assert [k.state for k in kids] == [e.state for e in expected]
    gkids = reparam.default_rng(5).spawn(2)
    assert all(type(k) is reparam.Generator for k in gkids)
    # NumPy's own spawn helper on a Generator of ours
    assert [type(k.bit_generator) for k in np.random.Generator(reparam.Philox(5)).spawn(2)] == [
        reparam.Philox, reparam.Philox]


# ------------------------------------------------------------------ ctypes and cffi
def test_ctypes_interface() -> None:
    p = reparam.Philox(key=KEY, counter=CTR)
    iface = p.ctypes
    assert iface is p.ctypes  # built once, as NumPy's
    assert iface.state_address == iface.state.value
    words = ref_stream(KEY, CTR, 12)
    assert iface.next_uint32(iface.state) == int(words[0])
    assert iface.next_uint32(iface.state) == int(words[1])
    assert iface.next_uint64(iface.state) == int(_words64(words[2:4])[0])
    assert iface.next_double(iface.state) == float(_doubles(words[4:6])[0])
    # the functions advanced the object's own stream
    np.testing.assert_array_equal(p.random_raw(6), words[6:12])
    assert ctypes.cast(iface.bit_generator, ctypes.c_void_p).value is not None


def test_cffi_interface() -> None:
    pytest.importorskip("cffi")
    p = reparam.Philox(key=KEY, counter=CTR)
    iface = p.cffi
    assert iface is p.cffi
    words = ref_stream(KEY, CTR, 10)
    assert iface.next_uint32(iface.state) == int(words[0])
    assert iface.next_uint64(iface.state) == int(_words64(words[1:3])[0])
    assert iface.next_double(iface.state) == float(_doubles(words[3:5])[0])
    np.testing.assert_array_equal(p.random_raw(5), words[5:10])


def test_capsule_is_the_objects_bitgen() -> None:
    """NumPy's Generator reads the capsule; draws through it advance the same stream."""
    p = reparam.Philox(key=KEY, counter=CTR)
    np.random.Generator(p).integers(0, 2**32, size=4, dtype=np.uint32)
    np.testing.assert_array_equal(p.random_raw(4), ref_stream(KEY, CTR, 4, skip=4))


@pytest.mark.parametrize("method", ["uint64", "double"])
def test_benchmark_helper_runs(method: str) -> None:
    reparam.Philox(0)._benchmark(100, method)


# -------------------------------------------------------------- reparam.Generator: every method
def _methods_of_numpy_generator() -> set[str]:
    return {n for n in dir(np.random.Generator) if not n.startswith("_")}


# One call of every public method of numpy.random.Generator, with NumPy's signatures.
CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "beta": ((2.0, 3.0, 5), {}),
    "binomial": ((10, 0.3, 5), {}),
    "bytes": ((7,), {}),
    "chisquare": ((3.0, 5), {}),
    "choice": ((10, 4), {"replace": False}),
    "dirichlet": (([1.0, 2.0, 3.0], 2), {}),
    "exponential": ((2.0, 5), {}),
    "f": ((3.0, 4.0, 5), {}),
    "gamma": ((2.0, 1.5, 5), {}),
    "geometric": ((0.3, 5), {}),
    "gumbel": ((0.0, 1.0, 5), {}),
    "hypergeometric": ((10, 5, 4, 5), {}),
    "integers": ((0, 100, 5), {}),
    "laplace": ((0.0, 1.0, 5), {}),
    "logistic": ((0.0, 1.0, 5), {}),
    "lognormal": ((0.0, 1.0, 5), {}),
    "logseries": ((0.5, 5), {}),
    "multinomial": ((10, [0.2, 0.3, 0.5], 2), {}),
    "multivariate_hypergeometric": (([4, 5, 6], 5, 2), {}),
    "multivariate_normal": (([0.0, 1.0], [[1.0, 0.5], [0.5, 2.0]], 3), {}),
    "negative_binomial": ((5, 0.5, 5), {}),
    "noncentral_chisquare": ((3.0, 1.0, 5), {}),
    "noncentral_f": ((3.0, 4.0, 1.0, 5), {}),
    "normal": ((1.0, 2.0, 5), {}),
    "pareto": ((3.0, 5), {}),
    "permutation": ((10,), {}),
    "permuted": ((np.arange(12).reshape(3, 4),), {"axis": 1}),
    "poisson": ((3.0, 5), {}),
    "power": ((3.0, 5), {}),
    "random": ((5,), {}),
    "rayleigh": ((1.0, 5), {}),
    "shuffle": ((np.arange(10),), {}),
    "standard_cauchy": ((5,), {}),
    "standard_exponential": ((5,), {}),
    "standard_gamma": ((2.0, 5), {}),
    "standard_normal": ((5,), {}),
    "standard_t": ((3.0, 5), {}),
    "triangular": ((0.0, 0.5, 1.0, 5), {}),
    "uniform": ((-1.0, 2.0, 5), {}),
    "vonmises": ((0.0, 4.0, 5), {}),
    "wald": ((1.0, 2.0, 5), {}),
    "weibull": ((2.0, 5), {}),
    "zipf": ((2.0, 5), {}),
    "spawn": ((2,), {}),
}
NOT_DRAWS = {"bit_generator"}  # a property, checked above
# reparam's own methods (SIMD kernels); every other method is NumPy's code on the stream
REPARAM_METHODS = {"standard_normal", "normal", "random", "uniform", "lognormal", "standard_exponential",
                   "exponential"}
# reparam's methods that give NumPy's values for the same state
SAME_AS_NUMPY = {"random", "uniform"}
# NumPy's code that draws its normals through self.standard_normal, so through reparam's
USES_STANDARD_NORMAL = {"multivariate_normal"}


def test_every_numpy_method_is_called() -> None:
    assert set(CALLS) | NOT_DRAWS == _methods_of_numpy_generator(), (
        "a method of numpy.random.Generator is not called here (or no longer exists)"
    )


def _call(g: np.random.Generator, name: str) -> Any:
    args, kwargs = CALLS[name]
    args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    res = getattr(g, name)(*args, **kwargs)
    if name == "shuffle":  # in place
        return args[0]
    if name == "spawn":
        return [c.bit_generator.state for c in res]
    return res


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_numpy_method_works_and_reproduces(name: str) -> None:
    """Each method runs on reparam.default_rng(0), gives the same result from the same seed,
    and (for NumPy's own methods) exactly what numpy.random.Generator draws from the same
    Philox stream, leaving the stream at the same position."""
    g, h = reparam.default_rng(0), reparam.default_rng(0)
    a = _call(g, name)
    b = _call(h, name)
    np.testing.assert_equal(a, b)
    n = np.random.Generator(reparam.Philox(0))
    c = _call(n, name)
    if name in REPARAM_METHODS - SAME_AS_NUMPY or name in USES_STANDARD_NORMAL:
        return  # reparam's Box-Muller normals and inversion exponentials, not NumPy's ziggurats
    np.testing.assert_equal(a, c)
    assert g.bit_generator.state == n.bit_generator.state


# ------------------------------------------------------------------- smoke: reset and replay
@pytest.mark.parametrize(
    "name",
    ["random", "standard_normal", "normal", "uniform", "integers", "standard_exponential",
     "standard_gamma", "choice", "permutation", "bytes", "binomial", "multinomial"],
)
def test_reset_state_replays(name: str) -> None:
    """test_smoke.py's pattern: save the state, draw, restore it, draw again: equal."""
    g = reparam.default_rng(np.random.SeedSequence(2026))
    _call(g, "random")  # somewhere mid-stream
    g.bit_generator.random_raw()  # and mid-block
    st = g.bit_generator.state
    a = _call(g, name)
    g.bit_generator.state = st
    np.testing.assert_equal(_call(g, name), a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smoke_float_outputs(dtype: Any) -> None:
    g = reparam.default_rng(3)
    for name in ("random", "standard_normal", "standard_exponential", "standard_gamma"):
        args = (2.0,) if name == "standard_gamma" else ()
        out = np.empty(6, dtype)
        res = getattr(g, name)(*args, size=6, dtype=dtype, out=out) if name != "random" else g.random(
            6, dtype=dtype, out=out)
        assert res is out and out.dtype == dtype and np.isfinite(out).all()


def test_uniform_matches_numpy_everywhere() -> None:
    """uniform runs on reparam's kernels but gives NumPy's values for the same state,
    for scalar and broadcast bounds, high < low included."""
    cases: list[tuple[Any, Any, Any]] = [
        (0.0, 1.0, None), (-3.0, 2.0, 1000), (1.5, 1.5, 3), (np.arange(4.0), 10.0, (3, 4)),
        ([[1.0], [2.0]], np.array([5.0, 6.0, 7.0]), None), (1, 2, (2, 0)), (-1e300, 1e300, 7),
        (0, 2**70, 5), (np.float64(-1.0), 2.0, 4), (True, 2.0, 3), (0.5, 0.5, 2),
    ]
    for low, high, size in cases:
        a = reparam.default_rng(11).uniform(low, high, size)
        b = np.random.Generator(reparam.Philox(11)).uniform(low, high, size)
        assert type(a) is type(b)
        np.testing.assert_array_equal(a, b)


def test_uniform_call_splits() -> None:
    g, h = reparam.default_rng(4), reparam.default_rng(4)
    whole = g.uniform(-2.0, 3.0, 1000)
    parts = np.concatenate([h.uniform(-2.0, 3.0, 1), h.uniform(-2.0, 3.0, 399), h.uniform(-2.0, 3.0, 600)])
    np.testing.assert_array_equal(whole, parts)


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((0.0, np.inf), OverflowError, "high - low must be finite"),
        ((-1e308, 1e308), OverflowError, "high - low must be finite"),
        ((np.zeros(2), [1.0, np.nan]), OverflowError, "at flat index 1"),
        ((2.0, 1.0), ValueError, "high - low must be non-negative, got -1.0"),
        ((2.0, 1.0, 5), ValueError, "high - low must be non-negative, got -1.0"),
        ((0.0, float("nan"), 5), OverflowError, "high - low must be finite, got nan"),
        ((np.zeros(3), [1.0, 1.0, -1.0]), ValueError, "non-negative, got -1.0 at flat index 2"),
        ((np.zeros(2), np.ones(3)), ValueError, r"^shape mismatch: .*low \(2,\) and high \(3,\)$"),
        ((np.zeros(2), 1.0, 3), ValueError, "low \\(2,\\)"),
        (("a", 1.0), ValueError, "low must be real numbers"),
        ((None, 1.0), TypeError, "low must be real number"),
    ],
)
def test_uniform_errors(args: tuple[Any, ...], exc: type[Exception], match: str) -> None:
    g = reparam.default_rng(0)
    st = g.bit_generator.state
    with pytest.raises(exc, match=match):
        g.uniform(*args)
    with pytest.raises(exc):  # NumPy raises the same type
        np.random.Generator(reparam.Philox(0)).uniform(*args)
    assert g.bit_generator.state == st  # nothing drawn

"""API behaviour of `reparam.Normal`, `Normal.rsample`, `Noise` and `reparameterize`.

The sampling identity checked here: ``rsample`` gives ``loc + sigma * eps`` where ``eps``
is the Generator's own ``standard_normal`` stream of the same shape in C order. For
float32 output it is checked bit for bit against the float64 evaluation rounded once to
float32 (with the library's own float64 sigma, ``Normal(0.0, <kind>=param as
float64).scale``), which pins the noise, its order and the arithmetic; for float64 output
against an extended-precision reference within ULPS_F64 ulp of max(|loc|, |sigma eps|)
(the 2-ulp contract itself is tested in test_normal_numerics.py, which is not repeated
here so that a failure there does not show up as an API failure).
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reparam
from reparam import Noise, Normal, reparameterize

PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
SEED = 20240611


def params_for(kind: str, shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    """Moderate parameter values of `kind` (sigma roughly in [0.05, 20])."""
    r = np.random.default_rng(seed)
    if kind == "scale":
        p = np.exp(r.uniform(-3, 3, shape))
    elif kind == "var":
        p = np.exp(r.uniform(-6, 6, shape))
    elif kind == "logvar":
        p = r.uniform(-6, 6, shape)
    elif kind == "logstd":
        p = r.uniform(-3, 3, shape)
    else:
        p = r.uniform(-3, 20, shape)
    return np.asarray(p, dtype)


def sigma64(kind: str, param: np.ndarray) -> np.ndarray:
    """The library's own float64 sigma of `param` (exact float32 -> float64 widening first)."""
    p = np.asarray(param, np.float64)
    # (reshaped: the shape of the scale property itself is tested in test_property_shapes)
    return np.asarray(Normal(np.zeros(p.shape), **{kind: p}).scale, np.float64).reshape(p.shape)


def emulate(loc: Any, kind: str, param: Any, eps: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """loc + sigma * eps in float64 (mul, then add), rounded once to `dtype`."""
    z = np.asarray(loc, np.float64) + sigma64(kind, np.asarray(param)) * np.asarray(eps, np.float64)
    return z.astype(dtype)


EXTENDED_LD = np.finfo(np.longdouble).nmant >= 63
ULPS_F64 = 4.0 if EXTENDED_LD else 6.0


def assert_is_loc_plus_sigma_eps(z: np.ndarray, loc: Any, kind: str, param: Any,
                                 eps: np.ndarray) -> None:
    """float32: bit for bit the float64 evaluation rounded once; float64: within ULPS_F64
    ulp of max(|loc|, |sigma eps|) of loc + sigma * eps with the exact sigma (long double)."""
    z, eps = np.asarray(z), np.asarray(eps)
    assert eps.shape == z.shape and eps.dtype == z.dtype
    if z.dtype == F32:
        assert_same_bits(z, emulate(loc, kind, param, eps, F32))
        return
    assert z.dtype == F64
    sig = np.broadcast_to(sigma_reference(kind, np.asarray(param, np.float64), F64), z.shape)
    t = sig.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        se = sig * eps.astype(t)
        zref = np.broadcast_to(np.asarray(loc, np.float64), z.shape).astype(t) + se
        m = np.maximum(np.abs(zref - se), np.abs(se)).astype(np.float64)
        err = np.abs(z.astype(t) - zref).astype(np.float64)
    finite = np.isfinite(zref.astype(np.float64))
    np.testing.assert_array_equal(z[~finite], zref[~finite].astype(np.float64))
    tol = ULPS_F64 * ulp(m, F64)
    bad = np.flatnonzero(~(err[finite] <= tol[finite]))
    assert bad.size == 0, (f"{bad.size} of {z.size} beyond {ULPS_F64} ulp; first z="
                           f"{z[finite][bad[0]]!r}, exact {float(zref[finite][bad[0]])!r}")


def assert_same_bits(a: Any, b: Any) -> None:
    """Equal shape, dtype and bytes (NaNs with the same payload compare equal)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    ua = np.ascontiguousarray(a).reshape(-1).view(f"u{a.itemsize}")
    ub = np.ascontiguousarray(b).reshape(-1).view(f"u{b.itemsize}")
    bad = np.flatnonzero(ua != ub)
    if bad.size:
        i = bad[0]
        raise AssertionError(f"{bad.size} of {a.size} elements differ, first at flat index "
                             f"{i}: {a.reshape(-1)[i]!r} != {b.reshape(-1)[i]!r}")


def shape_of(size: Any) -> tuple[int, ...]:
    """The sample shape that `size` (None, int or tuple) asks for."""
    if size is None:
        return ()
    if isinstance(size, int | np.integer):
        return (int(size),)
    return tuple(int(n) for n in size)


def ulp(m: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """The ulp of the non-negative values `m` in `dtype` (inf for m = inf)."""
    fi = np.finfo(dtype)
    m = np.asarray(m, np.float64)
    with np.errstate(invalid="ignore"):
        _, e = np.frexp(m)
        u = np.ldexp(1.0, e - 1 - fi.nmant)
    u = np.where(m == 0, 0.0, u)
    u = np.maximum(u, float(fi.smallest_subnormal))
    return np.where(np.isinf(m), np.inf, u)


def next_draws(rng: reparam.Generator) -> np.ndarray:
    """A fingerprint of the generator's position: its next few float32 and float64 normals."""
    return np.concatenate([rng.standard_normal(3, dtype=np.float32).astype(np.float64),
                           rng.standard_normal(3)])


# --------------------------------------------------------------------- construction
def test_exactly_one_parameter_required() -> None:
    with pytest.raises(ValueError, match="exactly one") as info:
        Normal(0.0)
    for name in PARAMS:
        assert f"{name}=" in str(info.value)
    assert "none" in str(info.value)


@pytest.mark.parametrize("pair", [("scale", "var"), ("logvar", "logstd"), ("var", "softplus")])
def test_two_parameters_rejected_naming_both(pair: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one") as info:
        Normal(0.0, **{pair[0]: 1.0, pair[1]: 1.0})
    msg = str(info.value)
    for name in PARAMS:
        assert f"{name}=" in msg  # the choices
    assert msg.rsplit("got", 1)[1].count("=") == 2  # and the two that were given


def test_all_five_rejected() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Normal(0.0, scale=1.0, var=1.0, logvar=0.0, logstd=0.0, softplus=0.0)


@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("shape", [(), (1,), (2, 3)])
def test_property_shapes(kind: str, shape: tuple[int, ...]) -> None:
    """scale, var, logvar, logstd and softplus are shaped like the parameter, 0-d included."""
    q = Normal(0.0, **{kind: params_for(kind, shape, np.float64)})
    for prop in PARAMS:
        assert np.shape(getattr(q, prop)) == shape, prop


@pytest.mark.parametrize("kind", PARAMS)
def test_param_name_and_param(kind: str) -> None:
    p = params_for(kind, (3,), np.float64)
    q = Normal(np.zeros(3), **{kind: p})
    assert q.param_name == kind
    np.testing.assert_array_equal(q.param, p)
    assert kind in repr(q)


class Weak:
    """Marks a Python scalar in the dtype table."""


DTYPE_TABLE = [
    # (loc, param, expected dtype)
    (np.zeros(3, np.float32), np.ones(3, np.float32), F32),
    (np.zeros(3, np.float64), np.ones(3, np.float64), F64),
    (np.zeros(3, np.float32), np.ones(3, np.float64), F64),
    (np.zeros(3, np.float64), np.ones(3, np.float32), F64),
    (np.zeros(3, np.float32), 1.0, F32),  # Python float is weak
    (0.5, np.ones(3, np.float32), F32),
    (np.zeros(3, np.float32), 2, F32),  # Python int is weak
    (0, np.ones(3, np.float32), F32),
    (0.5, 1.0, F64),
    (0, 1, F64),
    (np.zeros(3, np.int64), np.ones(3, np.int64), F64),
    (np.zeros(3, np.int32), 1.0, F64),
    (np.zeros(3, np.int64), np.ones(3, np.float64), F64),
    (np.float32(0.5), 1.0, F32),
    (np.float32(0.5), np.float32(1.0), F32),
    (np.float64(0.5), np.ones(3, np.float32), F64),
    (np.zeros(3, np.float32), np.float64(1.0), F64),
]


@pytest.mark.parametrize("loc, param, expected", DTYPE_TABLE,
                         ids=[f"{type(a).__name__}:{getattr(a, 'dtype', '')}-"
                              f"{type(b).__name__}:{getattr(b, 'dtype', '')}"
                              for a, b, _ in DTYPE_TABLE])
@pytest.mark.parametrize("kind", ["scale", "logvar"])
def test_dtype_rules(loc: Any, param: Any, expected: np.dtype[Any], kind: str) -> None:
    q = Normal(loc, **{kind: param})
    assert q.dtype == expected
    assert q.loc.dtype == expected and q.param.dtype == expected
    z = q.rsample(2, rng=SEED)
    assert z.dtype == expected
    for prop in PARAMS:
        assert np.asarray(getattr(q, prop)).dtype == expected, prop
    assert reparameterize(loc, param, kind, rng=SEED).dtype == expected


def test_integer_array_counts_as_float64() -> None:
    """Integers count as float64 (strong, like NumPy's result_type): an int64 array with a
    float32 array gives float64, as ``np.result_type(np.int64, np.float32)`` does. Only
    Python scalars are weak."""
    assert np.result_type(np.int64, np.float32) == F64
    q = Normal(np.arange(3, dtype=np.int64), scale=np.ones(3, np.float32))
    assert q.dtype == F64
    q = Normal(np.zeros(3, np.float32), var=np.ones(3, np.int64))
    assert q.dtype == F64


@pytest.mark.parametrize("bad", [["a", "b"], np.array([1 + 2j]), np.array(["x"])])
def test_non_real_input_rejected(bad: Any) -> None:
    with pytest.raises(TypeError):
        Normal(bad, scale=1.0)
    with pytest.raises(TypeError):
        Normal(0.0, logvar=bad)


BROADCAST = [
    ((), (), ()),
    ((3,), (), (3,)),
    ((), (4,), (4,)),
    ((3, 1), (4,), (3, 4)),
    ((2, 1, 5), (3, 1), (2, 3, 5)),
    ((0,), (1,), (0,)),
    ((2, 0), (2, 1), (2, 0)),
    ((1, 1, 1), (7,), (1, 1, 7)),
]


@pytest.mark.parametrize("loc_shape, par_shape, batch", BROADCAST)
def test_broadcasting_and_batch_shape(loc_shape: tuple[int, ...], par_shape: tuple[int, ...],
                                      batch: tuple[int, ...]) -> None:
    loc = np.arange(math.prod(loc_shape), dtype=np.float64).reshape(loc_shape)
    par = np.full(par_shape, 0.5)
    q = Normal(loc, logstd=par)
    assert q.batch_shape == batch
    assert q.loc.shape == loc_shape and q.param.shape == par_shape
    assert q.rsample(rng=SEED).shape == batch
    assert q.rsample((2, 3), rng=SEED).shape == (2, 3, *batch)


@pytest.mark.parametrize("loc_shape, par_shape", [((3,), (4,)), ((2, 3), (3, 2)), ((5, 1), (2, 4))])
@pytest.mark.parametrize("kind", ["scale", "softplus"])
def test_shape_error_names_both_shapes(loc_shape: tuple[int, ...], par_shape: tuple[int, ...],
                                       kind: str) -> None:
    with pytest.raises(ValueError) as info:
        Normal(np.zeros(loc_shape), **{kind: np.ones(par_shape)})
    msg = str(info.value)
    assert str(loc_shape) in msg and str(par_shape) in msg and kind in msg
    with pytest.raises(ValueError) as info:
        reparameterize(np.zeros(loc_shape), np.ones(par_shape), kind)
    assert str(loc_shape) in str(info.value) and str(par_shape) in str(info.value)


@pytest.mark.parametrize("kind", ["scale", "var"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_negative_scale_or_var_names_argument_and_first_index(kind: str, dtype: Any) -> None:
    with pytest.raises(ValueError, match=rf"{kind}.*non-negative.*index 2\b") as info:
        Normal(0.0, **{kind: np.array([1.0, 0.0, -1.0, -2.0], dtype)})
    assert "-1" in str(info.value)
    with pytest.raises(ValueError, match=rf"{kind}.*index \(1, 0\)"):
        Normal(np.zeros((2, 2)), **{kind: np.array([[1.0, 2.0], [-3.0, -4.0]], dtype)})
    with pytest.raises(ValueError, match=rf"{kind}.*-0\.5"):
        Normal(0.0, **{kind: -0.5})
    with pytest.raises(ValueError, match=kind):
        reparameterize(0.0, [-1.0], kind)
    # zero and NaN are not negative values; -0.0 is, as NumPy's normal refuses it (issue 15)
    Normal(0.0, **{kind: np.array([0.0, np.nan], dtype)})
    with pytest.raises(ValueError, match=rf"{kind} must be non-negative, got -0\.0 at index 1"):
        Normal(0.0, **{kind: np.array([0.0, -0.0, np.nan], dtype)})


@pytest.mark.parametrize("kind", ["logvar", "logstd", "softplus"])
def test_negative_log_parameters_are_fine(kind: str) -> None:
    z = Normal(0.0, **{kind: -3.0}).rsample(4, rng=SEED)
    assert np.isfinite(z).all()


# ------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("size, expected", [
    (None, ()), (0, (0,)), (1, (1,)), (5, (5,)), ((), ()), ((3,), (3,)), ((2, 3), (2, 3)),
    ((2, 0, 3), (2, 0, 3)), (np.int64(4), (4,)),
])
@pytest.mark.parametrize("batch", [(), (3,), (2, 1)])
def test_rsample_shapes(size: Any, expected: tuple[int, ...], batch: tuple[int, ...]) -> None:
    q = Normal(np.zeros(batch), scale=np.ones(batch))
    z = q.rsample(size, rng=SEED)
    assert isinstance(z, np.ndarray)
    assert z.shape == expected + batch
    assert z.dtype == F64


@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [None, 7, (2, 3)])
def test_rsample_is_loc_plus_sigma_eps(kind: str, dtype: Any, size: Any) -> None:
    loc = np.random.default_rng(1).normal(0, 10, (4, 5)).astype(dtype)
    par = params_for(kind, (5,), dtype, seed=2)
    q = Normal(loc, **{kind: par})
    z = q.rsample(size, rng=reparam.default_rng(SEED))
    eps = reparam.default_rng(SEED).standard_normal((*shape_of(size), 4, 5), dtype=dtype)
    assert_is_loc_plus_sigma_eps(z, loc, kind, par, eps)


@pytest.mark.parametrize("dtype", [np.float32])
def test_scale_rsample_matches_plain_numpy_bit_for_bit(dtype: Any) -> None:
    """With scale= no sigma is computed: z is loc + scale * eps in float64, rounded once to
    float32 (float64 output may use a more accurate sum, so it is not pinned to NumPy's)."""
    loc = np.linspace(-3, 3, 12).astype(dtype).reshape(3, 4)
    scale = np.linspace(0, 2, 4).astype(dtype)
    z = Normal(loc, scale=scale).rsample(6, rng=reparam.default_rng(SEED))
    eps = reparam.default_rng(SEED).standard_normal((6, 3, 4), dtype=dtype)
    ref = (loc.astype(np.float64) + scale.astype(np.float64) * eps.astype(np.float64)).astype(dtype)
    assert_same_bits(z, ref)


def test_rng_argument_forms() -> None:
    q = Normal(np.zeros(4), logvar=np.zeros(4))
    a = q.rsample(3, rng=SEED)
    b = q.rsample(3, rng=reparam.default_rng(SEED))
    c = q.rsample(3, rng=reparam.Philox(SEED))
    d = q.rsample(3, rng=np.random.SeedSequence(SEED))
    assert_same_bits(a, b)
    assert_same_bits(a, c)
    assert_same_bits(a, d)
    fresh1, fresh2 = q.rsample(3), q.rsample(3)
    assert not np.array_equal(fresh1, fresh2)  # None: fresh entropy each call


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["var", "softplus"])
@pytest.mark.parametrize("pre", [0, 1, 3])
def test_two_rsamples_equal_one_draw_of_both(dtype: Any, kind: str, pre: int) -> None:
    """rsample(3) then rsample(2) uses the noise of one standard_normal((5,) + batch), also
    when the stream starts on an odd word (`pre` float32 draws first)."""
    loc = np.arange(7, dtype=dtype)
    par = params_for(kind, (7,), dtype)
    q = Normal(loc, **{kind: par})
    a = reparam.default_rng(SEED)
    a.standard_normal(pre, dtype=np.float32)
    z1, n1 = q.rsample(3, rng=a, return_noise=True)
    z2, n2 = q.rsample(2, rng=a, return_noise=True)
    after = next_draws(a)
    b = reparam.default_rng(SEED)
    b.standard_normal(pre, dtype=np.float32)
    eps = b.standard_normal((5, 7), dtype=dtype)
    assert_is_loc_plus_sigma_eps(z1, loc, kind, par, eps[:3])
    assert_is_loc_plus_sigma_eps(z2, loc, kind, par, eps[3:])
    assert_same_bits(np.concatenate([np.asarray(n1), np.asarray(n2)]), eps)
    assert_same_bits(after, next_draws(b))


def test_rsample_interleaves_with_standard_normal() -> None:
    q = Normal(np.zeros(3, np.float32), logstd=np.zeros(3, np.float32))  # sigma = 1 exactly
    a = reparam.default_rng(SEED)
    x1 = a.standard_normal(4, dtype=np.float32)
    z = q.rsample(2, rng=a)
    x2 = a.standard_normal(5, dtype=np.float32)
    eps = reparam.default_rng(SEED).standard_normal(15, dtype=np.float32)
    assert_same_bits(np.concatenate([x1, z.ravel(), x2]), eps)


# ------------------------------------------------------------------------ antithetic
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("size", [2, 6, (4, 3)])
def test_antithetic(dtype: Any, kind: str, size: Any) -> None:
    loc = np.random.default_rng(3).normal(size=(2, 5)).astype(dtype)
    par = params_for(kind, (5,), dtype, seed=4)
    q = Normal(loc, **{kind: par})
    sample_shape = shape_of(size)
    half = (sample_shape[0] // 2, *sample_shape[1:])
    a = reparam.default_rng(SEED)
    z, noise = q.rsample(size, rng=a, antithetic=True, return_noise=True)
    after = next_draws(a)
    b = reparam.default_rng(SEED)
    eps = b.standard_normal((*half, 2, 5), dtype=dtype)  # only half the noise is drawn
    assert_same_bits(after, next_draws(b))  # ... and the stream continues right after it
    h = half[0]
    assert z.shape == (*sample_shape, 2, 5)
    assert_is_loc_plus_sigma_eps(z[:h], loc, kind, par, eps)
    assert_is_loc_plus_sigma_eps(z[h:], loc, kind, par, -eps)
    e = np.asarray(noise)
    assert noise.antithetic and noise.shape == z.shape
    assert_same_bits(e[:h], eps)
    assert_same_bits(e[h:], -eps)  # the pairs negate


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_antithetic_pairs_mirror_around_loc(dtype: Any) -> None:
    q = Normal(np.zeros(8, dtype), logvar=np.linspace(-2, 2, 8).astype(dtype))
    z = q.rsample(10, rng=SEED, antithetic=True)
    assert_same_bits(z[5:], -z[:5])


@pytest.mark.parametrize("size", [None, (), 1, 3, (5, 2), (3, 4)])
def test_antithetic_needs_even_first_axis(size: Any) -> None:
    q = Normal(np.zeros(3), scale=np.ones(3))
    a = reparam.default_rng(SEED)
    out = np.full((*shape_of(size), 3), 7.0)
    with pytest.raises(ValueError, match="even"):
        q.rsample(size, rng=a, antithetic=True, out=out)
    assert (out == 7.0).all()
    assert_same_bits(next_draws(a), next_draws(reparam.default_rng(SEED)))  # nothing consumed


def test_antithetic_empty_first_axis() -> None:
    q = Normal(np.zeros(3), scale=np.ones(3))
    a = reparam.default_rng(SEED)
    z = q.rsample(0, rng=a, antithetic=True)
    assert z.shape == (0, 3)
    assert_same_bits(next_draws(a), next_draws(reparam.default_rng(SEED)))


# ----------------------------------------------------------------------------- Noise
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [None, 1, (3, 2)])
@pytest.mark.parametrize("pre", [0, 1, 5])
def test_noise_regenerates_eps(dtype: Any, size: Any, pre: int) -> None:
    q = Normal(np.zeros((2, 3), dtype), softplus=np.ones(3, dtype))
    a = reparam.default_rng(SEED)
    a.standard_normal(pre, dtype=np.float32)
    z, noise = q.rsample(size, rng=a, return_noise=True)
    b = reparam.default_rng(SEED)
    b.standard_normal(pre, dtype=np.float32)
    eps = b.standard_normal(z.shape, dtype=dtype)
    assert isinstance(noise, Noise)
    assert noise.shape == z.shape and noise.dtype == np.dtype(dtype)
    assert noise.size == z.size and not noise.antithetic
    assert_same_bits(np.asarray(noise), eps)
    assert_same_bits(np.asarray(noise), np.asarray(noise))  # regeneration is repeatable
    assert_same_bits(np.asarray(noise, dtype=np.float64), eps.astype(np.float64))
    assert_is_loc_plus_sigma_eps(z, q.loc, "softplus", q.param, np.asarray(noise))


def test_noise_equality_hash_repr() -> None:
    q = Normal(np.zeros(3), scale=np.ones(3))
    _, n1 = q.rsample(2, rng=SEED, return_noise=True)
    _, n2 = q.rsample(2, rng=SEED, return_noise=True)
    _, n3 = q.rsample(4, rng=SEED, return_noise=True)
    assert n1 == n2 and hash(n1) == hash(n2)
    assert n1 != n3
    assert "Noise(" in repr(n1) and "(2, 3)" in repr(n1)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noise_pickles_with_every_protocol(protocol: int, dtype: Any) -> None:
    """Issue 15 item 11: protocols 0 and 1 refused the __slots__ class; every protocol
    round-trips to an equal handle (same hash) that regenerates the same eps."""
    q = Normal(np.zeros(3, dtype), scale=np.ones(3, dtype))
    _, noise = q.rsample(4, rng=SEED, antithetic=True, return_noise=True)
    far = Noise(0xFFFF_FFFF_FFFF_FFFF, (1 << 128) - 1, (1 << 64) - 1, (2, 3), dtype, True)
    for n in (noise, far):
        back = pickle.loads(pickle.dumps(n, protocol=protocol))
        assert type(back) is Noise
        assert back == n and hash(back) == hash(n)
        assert back.dtype is np.dtype(dtype)  # the canonical instance the core checks for
        assert_same_bits(np.asarray(back), np.asarray(n))


def test_noise_lives_in_a_leaf_module() -> None:
    """Noise is defined in reparam._stream, which imports only _core, NumPy and the
    standard library (so every layer can use it without an import circle), and is the
    same class under reparam and reparam._normal."""
    import ast
    import sys

    from reparam import _normal, _stream

    assert reparam.Noise is _stream.Noise is _normal.Noise
    with open(_stream.__file__, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {a.name for a in node.names} if node.level else {(node.module or "").split(".")[0]}
    assert imported - {"__future__"} <= {"_core", "numpy"} | set(sys.stdlib_module_names), imported


def test_noise_is_independent_of_later_draws() -> None:
    q = Normal(np.zeros(4, np.float32), logstd=np.zeros(4, np.float32))
    a = reparam.default_rng(SEED)
    z, noise = q.rsample(3, rng=a, return_noise=True)
    a.standard_normal(1000)
    assert_same_bits(np.asarray(noise), z)  # sigma = 1, loc = 0: z is eps


# -------------------------------------------------------------------------------- out
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [None, 4, (2, 2)])
def test_out_is_filled_and_returned(dtype: Any, size: Any) -> None:
    q = Normal(np.zeros((3, 5), dtype), logvar=np.zeros(5, dtype))
    shape = (*shape_of(size), 3, 5)
    out = np.full(shape, np.nan, dtype)
    z = q.rsample(size, rng=SEED, out=out)
    assert z is out
    assert_same_bits(out, q.rsample(size, rng=SEED))
    out2 = np.empty(shape, dtype)
    res, noise = q.rsample(size, rng=SEED, out=out2, return_noise=True)
    assert res is out2
    assert_same_bits(np.asarray(noise), out2)
    out3 = np.empty(shape, dtype)
    assert reparameterize(q.loc, q.param, "logvar", size, rng=SEED, out=out3) is out3
    assert_same_bits(out3, out)


def _bad_outs(dtype: Any) -> list[tuple[str, Any, type[Exception], str]]:
    other = np.float64 if dtype == np.float32 else np.float32
    ro = np.zeros((4, 3, 5), dtype)
    ro.flags.writeable = False
    big = np.zeros((4, 3, 10), dtype)
    return [
        ("dtype", np.zeros((4, 3, 5), other), TypeError, "dtype"),
        ("shape", np.zeros((4, 15), dtype), ValueError, r"\(4, 3, 5\).*\(4, 15\)"),
        ("shape-batch", np.zeros((3, 5), dtype), ValueError, r"\(4, 3, 5\).*\(3, 5\)"),
        ("noncontiguous", big[:, :, ::2], ValueError, "contiguous"),
        ("fortran", np.asfortranarray(np.zeros((4, 3, 5), dtype)), ValueError, "contiguous"),
        ("readonly", ro, ValueError, "writ"),
        ("list", [[0.0] * 5] * 3, TypeError, "ndarray"),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(7), ids=["dtype", "shape", "shape-batch", "noncontiguous",
                                                 "fortran", "readonly", "list"])
def test_bad_out_raises_and_leaves_out_untouched(dtype: Any, case: int) -> None:
    name, out, exc, pattern = _bad_outs(dtype)[case]
    q = Normal(np.zeros((3, 5), dtype), scale=np.ones(5, dtype))
    if isinstance(out, np.ndarray):
        base = out.base if out.base is not None and name == "noncontiguous" else out
        if base.flags.writeable:
            base[...] = -123.0
        before = base.copy()
    a = reparam.default_rng(SEED)
    with pytest.raises(exc, match=pattern):
        q.rsample(4, rng=a, out=out)
    with pytest.raises(exc, match=pattern):
        q.rsample(4, rng=a, out=out, antithetic=True, return_noise=True)
    with pytest.raises(exc, match=pattern):
        reparameterize(q.loc, q.param, "scale", 4, rng=a, out=out)
    if isinstance(out, np.ndarray):
        assert_same_bits(base, before)  # nothing written
    assert_same_bits(next_draws(a), next_draws(reparam.default_rng(SEED)))  # nothing consumed


# --------------------------------------------------------------------- reparameterize
@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [None, 3, (2, 2)])
def test_reparameterize_equals_normal_rsample(kind: str, dtype: Any, size: Any) -> None:
    loc = np.random.default_rng(5).normal(size=(3, 4)).astype(dtype)
    par = params_for(kind, (4,), dtype, seed=6)
    z = reparameterize(loc, par, kind, size, rng=reparam.default_rng(SEED))
    ref = Normal(loc, **{kind: par}).rsample(size, rng=reparam.default_rng(SEED))
    assert_same_bits(z, ref)


def test_reparameterize_default_is_logvar() -> None:
    loc, lv = np.zeros(6), np.linspace(-1, 1, 6)
    assert_same_bits(reparameterize(loc, lv, rng=SEED),
                     Normal(loc, logvar=lv).rsample(rng=SEED))


def test_reparameterize_bad_param_name() -> None:
    with pytest.raises(ValueError) as info:
        reparameterize(0.0, 1.0, "log_var")
    for name in PARAMS:
        assert repr(name) in str(info.value)
    assert "log_var" in str(info.value)


# ----------------------------------------------------------------------- threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["logvar", "softplus"])
@pytest.mark.parametrize("antithetic", [False, True])
def test_thread_count_independence(num_threads: int, dtype: Any, kind: str,
                                   antithetic: bool) -> None:
    batch = (300, 257)  # 77100 elements per sample row, > 65536
    r = np.random.default_rng(7)
    loc = r.normal(size=batch).astype(dtype)
    par = params_for(kind, batch[1:], dtype, seed=8)
    q = Normal(loc, **{kind: par})
    results = []
    for n in (1, 2):
        reparam.set_num_threads(n)
        a = reparam.default_rng(SEED)
        a.standard_normal(1, dtype=np.float32)  # an odd start
        z, noise = q.rsample(2, rng=a, antithetic=antithetic, return_noise=True)
        results.append((z, np.asarray(noise), next_draws(a)))
    for x, y in zip(results[0], results[1], strict=True):
        assert_same_bits(x, y)
    z, e, _ = results[0]
    h = 1 if antithetic else 2
    assert_is_loc_plus_sigma_eps(z[:h], loc, kind, par, e[:h])


# ----------------------------------------------------------------- property tests
VALUE_RANGE = {  # bounds exact in float32
    "loc": (-2.0**20, 2.0**20),
    "scale": (0.0, 2.0**20),
    "var": (0.0, 2.0**40),
    "logvar": (-60.0, 60.0),
    "logstd": (-30.0, 30.0),
    "softplus": (-60.0, 60.0),
}


def float_arrays(dtype: Any, shape: tuple[int, ...], lo: float, hi: float) -> st.SearchStrategy[Any]:
    width = 32 if dtype == np.float32 else 64
    return hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=width))


@st.composite
def normal_cases(draw: st.DrawFn) -> dict[str, Any]:
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                    min_side=0, max_side=5))
    loc_shape, par_shape = shapes.input_shapes
    kind = draw(st.sampled_from(PARAMS))
    loc_dt = draw(st.sampled_from([np.float32, np.float64]))
    par_dt = draw(st.sampled_from([np.float32, np.float64]))
    loc = draw(float_arrays(loc_dt, loc_shape, *VALUE_RANGE["loc"]))
    par = draw(float_arrays(par_dt, par_shape, *VALUE_RANGE[kind]))
    size = draw(st.one_of(st.none(), st.integers(0, 5),
                          st.lists(st.integers(0, 5), max_size=3).map(tuple)))
    return {"loc": loc, "par": par, "kind": kind, "batch": shapes.result_shape, "size": size,
            "antithetic": draw(st.booleans()), "pre": draw(st.integers(0, 3))}


def sigma_reference(kind: str, par: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """sigma of `par` in float64 (for float32 output) or x87 long double (float64 output)."""
    t = np.longdouble if dtype == F64 else np.float64
    p = np.asarray(par).astype(t)
    with np.errstate(over="ignore"):
        if kind == "scale":
            return p
        if kind == "var":
            return np.sqrt(p)
        if kind == "logvar":
            return np.exp(p / 2)
        if kind == "logstd":
            return np.exp(p)
        return np.logaddexp(t(0), p)


def assert_within_2ulp(z: np.ndarray, loc: np.ndarray, sigma_ref: np.ndarray,
                       eps: np.ndarray) -> None:
    """|z - (loc + sigma eps)| <= 2 ulp of max(|loc|, |sigma eps|) (reference precision:
    sigma_ref's dtype); where the exact z overflows the output dtype, z is that infinity."""
    dtype = z.dtype
    t = sigma_ref.dtype
    se = sigma_ref * eps.astype(t)
    zref = loc.astype(t) + se
    with np.errstate(over="ignore"):
        expected = zref.astype(dtype)
    inf = np.isinf(expected)
    np.testing.assert_array_equal(z[inf], expected[inf])
    m = np.maximum(np.abs(loc.astype(t)), np.abs(se))
    err = np.abs(z.astype(t) - zref)
    tol = 2 * ulp(m.astype(np.float64), dtype)
    ok = inf | (err <= tol)
    if not ok.all():
        i = np.flatnonzero(~ok)[0]
        raise AssertionError(
            f"{(~ok).sum()} of {z.size} outside 2 ulp: first at flat {i}: z={z.ravel()[i]!r}, "
            f"loc={loc.ravel()[i]!r}, sigma={sigma_ref.ravel()[i]!r}, eps={eps.ravel()[i]!r}, "
            f"error {float(err.ravel()[i] / (tol.ravel()[i] / 2)):.3f} ulp")


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                    reason="the float64 reference needs x87 extended long double")
@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(normal_cases())
def test_property_rsample(case: dict[str, Any]) -> None:
    loc, par, kind, batch = case["loc"], case["par"], case["kind"], case["batch"]
    size, antithetic = case["size"], case["antithetic"]
    q = Normal(loc, **{kind: par})
    dtype = F32 if loc.dtype == F32 and par.dtype == F32 else F64
    assert q.dtype == dtype and q.batch_shape == batch
    sample_shape = shape_of(size)
    a = reparam.default_rng(SEED)
    a.standard_normal(case["pre"], dtype=np.float32)
    if antithetic and (not sample_shape or sample_shape[0] % 2):
        with pytest.raises(ValueError, match="even"):
            q.rsample(size, rng=a, antithetic=True)
        return
    z, noise = q.rsample(size, rng=a, antithetic=antithetic, return_noise=True)
    assert z.shape == sample_shape + batch and z.dtype == dtype
    eps = np.asarray(noise)
    assert eps.shape == z.shape and eps.dtype == dtype
    # the noise is the Generator's own stream (half of it when antithetic)
    b = reparam.default_rng(SEED)
    b.standard_normal(case["pre"], dtype=np.float32)
    if antithetic:
        h = sample_shape[0] // 2
        drawn = b.standard_normal((h, *sample_shape[1:], *batch), dtype=dtype)
        assert_same_bits(eps, np.concatenate([drawn, -drawn]))
    else:
        assert_same_bits(eps, b.standard_normal(z.shape, dtype=dtype))
    assert_same_bits(next_draws(a), next_draws(b))
    # z is loc + sigma * eps: float32 bit for bit as evaluated in float64, and within 2 ulp
    assert_is_loc_plus_sigma_eps(z, np.broadcast_to(loc, batch), kind,
                                 np.broadcast_to(par, batch), eps)
    sig = np.broadcast_to(sigma_reference(kind, par.astype(dtype), dtype), z.shape)
    assert_within_2ulp(z, np.broadcast_to(loc.astype(dtype), z.shape), sig, eps)

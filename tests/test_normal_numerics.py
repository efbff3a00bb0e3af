"""Numerics of `reparam.Normal`: extreme parameters, NaN and inf, and the accuracy contract.

The accuracy contract (issue 3): for every element,

    |z - (loc + sigma * eps)| <= 2 ulp of max(|loc|, |sigma * eps|)   (ulp in the output dtype)

where eps is the Generator's standard_normal stream (same shape, C order) and sigma is the
exact value of the given parameter, with sigma(scale s) = s, sigma(var v) = sqrt(v),
sigma(logvar s) = exp(s/2), sigma(logstd s) = exp(s), sigma(softplus s) = log(1 + exp(s)).
Where the exact z overflows the output dtype, z must be that infinity.

It is checked

(a) against references of higher precision: mpmath (100 bits) on a few hundred hand-picked
    and random elements per (parameterization, dtype), extremes included, and on 60000
    random elements per case against x87 long double (float64 output) or float64 (float32
    output); on every SIMD path (simd_target), each of which must also give the bits of
    the scalar path;
(b) across parameterizations: the same sigma given as scale, var, logvar, logstd and
    softplus (converted in float64, then rounded to the dtype) gives the same z up to the
    contract and the propagated rounding of the parameter (bound in `five_forms_bound`).

The properties scale, var, logvar, logstd and softplus are compared with mpmath values of
the exact parameter, including the conversions that need care (log of a softplus of a large
negative number, the inverse softplus of a tiny sigma).
"""

from __future__ import annotations

import functools
from typing import Any

import mpmath
import numpy as np
import pytest
from stream_helpers import using_target

import reparam
from reparam import Normal, _core

PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
DTYPES = (np.float32, np.float64)
SEED = 777
EXTENDED_LD = np.finfo(np.longdouble).nmant >= 63
MP_PREC = 100
U64 = 2.0**-53


# ---------------------------------------------------------------------------- helpers


def assert_same_bits(a: Any, b: Any, what: str = "") -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (what, a.shape, b.shape, a.dtype, b.dtype)
    ua = np.ascontiguousarray(a).reshape(-1).view(f"u{a.itemsize}")
    ub = np.ascontiguousarray(b).reshape(-1).view(f"u{b.itemsize}")
    bad = np.flatnonzero(ua != ub)
    assert bad.size == 0, (f"{what}: {bad.size} of {a.size} differ, first at {bad[0]}: "
                           f"{a.reshape(-1)[bad[0]]!r} != {b.reshape(-1)[bad[0]]!r}")


def ulp(m: Any, dtype: Any) -> np.ndarray:
    """ulp in `dtype` of the non-negative values `m` (subnormal spacing at 0, inf at inf)."""
    fi = np.finfo(dtype)
    m = np.asarray(m, np.float64)
    with np.errstate(invalid="ignore"):
        _, e = np.frexp(m)
        u = np.ldexp(1.0, e - 1 - fi.nmant)
    u = np.where(m == 0, 0.0, u)
    u = np.maximum(u, float(fi.smallest_subnormal))
    return np.where(np.isinf(m), np.inf, u)


def unit_roundoff(dtype: Any) -> float:
    return float(np.finfo(dtype).eps) / 2


def mp_sigma(kind: str, p: float) -> mpmath.mpf:
    """The exact sigma of the parameter value p (a float), to MP_PREC bits."""
    x = mpmath.mpf(p)
    if mpmath.isnan(x):
        return x
    if kind == "scale":
        return x
    if kind == "var":
        return mpmath.sqrt(x)
    if kind == "logvar":
        return mpmath.exp(x / 2)
    if kind == "logstd":
        return mpmath.exp(x)
    return mpmath.log1p(mpmath.exp(x))


def mp_log_sigma(kind: str, p: float) -> mpmath.mpf:
    x = mpmath.mpf(p)
    if kind == "scale":
        return mpmath.log(x)
    if kind == "var":
        return mpmath.log(x) / 2
    if kind == "logvar":
        return x / 2
    if kind == "logstd":
        return x
    return mpmath.log(mp_sigma(kind, p))


def ref_sigma(kind: str, p: np.ndarray, t: Any) -> np.ndarray:
    """sigma of p evaluated in the reference type t (np.longdouble or np.float64)."""
    x = np.asarray(p).astype(t)
    with np.errstate(over="ignore"):
        if kind == "scale":
            return x
        if kind == "var":
            return np.sqrt(x)
        if kind == "logvar":
            return np.exp(x / 2)
        if kind == "logstd":
            return np.exp(x)
        return np.logaddexp(t(0), x)


def eps_of(noise: Any) -> np.ndarray:
    return np.asarray(noise)


# ---------------------------------------------------------------- extreme parameters
def sample(loc: Any, kind: str, par: Any, size: Any = None, seed: int = SEED
           ) -> tuple[np.ndarray, np.ndarray]:
    z, noise = Normal(loc, **{kind: par}).rsample(size, rng=reparam.default_rng(seed),
                                                  return_noise=True)
    return z, eps_of(noise)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logvar_logstd_of_magnitude_1e3(dtype: Any) -> None:
    """logvar = +-1e3 -> sigma = exp(+-500); logstd = +-1e3 -> exp(+-1000). float64 holds
    exp(500) and exp(-500) (no overflow inside exp(s/2)), exp(1000) is inf, exp(-1000) is 0;
    float32 overflows (inf) and underflows (0) on all four."""
    p = np.array([-1e3, 1e3], dtype)
    f64 = np.dtype(dtype) == np.float64
    s_lv = Normal(0.0, logvar=p).scale
    s_ls = Normal(0.0, logstd=p).scale
    if f64:
        np.testing.assert_allclose(s_lv, [float(mpmath.exp(-500)), float(mpmath.exp(500))],
                                   rtol=4 * U64)
        assert np.isfinite(s_lv).all() and (s_lv > 0).all()
        np.testing.assert_array_equal(s_ls, [0.0, np.inf])
    else:
        np.testing.assert_array_equal(s_lv, np.array([0.0, np.inf], dtype))
        np.testing.assert_array_equal(s_ls, np.array([0.0, np.inf], dtype))
    loc = np.array([1.5, -2.5], dtype)
    for kind, scale in (("logvar", s_lv), ("logstd", s_ls)):
        z, eps = sample(loc, kind, p, 8)
        assert z.dtype == np.dtype(dtype)
        # the tiny sigma leaves loc unchanged (|sigma eps| < ulp(loc)/2)
        np.testing.assert_array_equal(z[:, 0], np.full(8, loc[0]))
        if np.isinf(scale[1]):
            np.testing.assert_array_equal(z[:, 1], np.copysign(np.inf, eps[:, 1]))
        else:  # float64, logvar = 1e3: z = sigma * eps within the contract
            zr = np.array([loc[1] + mp_sigma("logvar", 1e3) * mpmath.mpf(float(e))
                           for e in eps[:, 1]])
            m = np.array([float(abs(x - loc[1])) for x in zr])
            err = np.array([float(abs(mpmath.mpf(float(a)) - b)) for a, b in zip(z[:, 1], zr,
                                                                                    strict=True)])
            assert (err <= 2 * ulp(m, dtype)).all()
            assert np.isfinite(z[:, 1]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_float32_overflows_only_where_the_exact_value_does(dtype: Any) -> None:
    """logvar in float32 up to the overflow edge: z is finite exactly where loc + sigma eps
    is finite in float32."""
    lv = np.linspace(150.0, 200.0, 501).astype(dtype)
    z, eps = sample(np.zeros(lv.shape, dtype), "logvar", lv, 4)
    exact = np.exp(lv.astype(np.float64) / 2) * eps.astype(np.float64)
    with np.errstate(over="ignore"):
        expected_inf = np.isinf(exact.astype(dtype))
    np.testing.assert_array_equal(np.isinf(z), expected_inf)
    if np.dtype(dtype) == np.float32:
        assert expected_inf.any() and not expected_inf.all()
        np.testing.assert_array_equal(z[expected_inf], np.copysign(np.inf, eps[expected_inf]))


SOFTPLUS_POINTS = [-1e3, -100.0, -50.0, -1.0, 0.0, 1.0, 50.0, 100.0, 1e3]


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_extremes(dtype: Any) -> None:
    p = np.array(SOFTPLUS_POINTS, dtype)
    s = Normal(0.0, softplus=p).scale
    for x, got in zip(p, s, strict=True):
        exact = mp_sigma("softplus", float(x))
        expected = np.asarray(float(exact), np.float64).astype(dtype)
        assert abs(float(got) - float(exact)) <= 2 * float(ulp(abs(float(exact)), dtype)), (x, got)
        assert np.isfinite(got)
        if x <= -100 and np.dtype(dtype) == np.float64 and x > -745:
            assert got > 0  # no needless underflow: softplus(-100) = 3.7e-44
        if x == 0:
            assert got == expected  # log 2, correctly rounded
    np.testing.assert_array_equal(s[p >= 50], p[p >= 50])  # softplus(x) = x in the dtype
    z, eps = sample(np.zeros(p.shape, dtype), "softplus", p, 6)
    assert np.isfinite(z).all()
    big = p >= 50
    np.testing.assert_array_equal(z[:, big], (p[big] * eps[:, big].astype(np.float64)
                                              ).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, zero", [("scale", 0.0), ("var", 0.0),
                                        ("logvar", -np.inf), ("logstd", -np.inf),
                                        ("softplus", -np.inf)])
def test_zero_sigma_gives_loc_exactly(dtype: Any, kind: str, zero: float) -> None:
    loc = np.array([0.0, 1.0, -3.5, 1e30, -1e-30, np.finfo(dtype).tiny, 7.25], dtype)
    for size in (None, 6, (2, 3)):
        for antithetic in (False, True):
            if antithetic and not isinstance(size, int):
                continue
            z = Normal(loc, **{kind: np.full(loc.shape, zero, dtype)}).rsample(
                size, rng=SEED, antithetic=antithetic)
            np.testing.assert_array_equal(z, np.broadcast_to(loc, z.shape))
            assert z.dtype == np.dtype(dtype)
    assert (Normal(loc, **{kind: zero}).scale == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", PARAMS)
def test_nan_propagates_only_where_it_touches(dtype: Any, kind: str) -> None:
    loc = np.zeros((3, 4), dtype)
    loc[1, 2] = np.nan
    par = np.full(4, 0.5, dtype)
    par[3] = np.nan
    z = Normal(loc, **{kind: par}).rsample(5, rng=SEED)
    expected = np.zeros((5, 3, 4), bool)
    expected[:, 1, 2] = True
    expected[:, :, 3] = True
    np.testing.assert_array_equal(np.isnan(z), expected)
    z = Normal(loc, **{kind: par}).rsample(4, rng=SEED, antithetic=True)
    np.testing.assert_array_equal(np.isnan(z), expected[:4])
    s = Normal(0.0, **{kind: par}).scale
    np.testing.assert_array_equal(np.isnan(s), [False, False, False, True])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", PARAMS)
def test_nan_is_not_clamped_at_any_magnitude(dtype: Any, kind: str) -> None:
    """NaN stays NaN among parameters beyond every clamp and branch point."""
    base = {"scale": [0.0, 1e30], "var": [0.0, 1e30], "logvar": [-1e4, 1e4],
            "logstd": [-1e4, 1e4], "softplus": [-1e4, -40.0, 40.0, 1e4]}[kind]
    par = np.array([*base, np.nan, -np.nan], dtype)
    z = Normal(np.zeros(par.shape, dtype), **{kind: par}).rsample(3, rng=SEED)
    nan = np.isnan(par)
    assert np.isnan(z[:, nan]).all()
    assert not np.isnan(z[:, ~nan]).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", PARAMS)
def test_inf_handling(dtype: Any, kind: str) -> None:
    """loc = +-inf and parameters at +-inf give what loc + sigma * eps gives in IEEE
    arithmetic (sigma = inf or 0); NaN only for inf - inf."""
    pars = {"scale": [0.0, 1.0, np.inf], "var": [0.0, 1.0, np.inf],
            "logvar": [-np.inf, 0.0, np.inf], "logstd": [-np.inf, 0.0, np.inf],
            "softplus": [-np.inf, 0.0, np.inf]}[kind]
    loc = np.array([-np.inf, 0.0, 2.0, np.inf], dtype)[:, None]
    par = np.array(pars, dtype)
    z, eps = sample(loc, kind, par, 16)
    sigma = ref_sigma(kind, par, np.float64)
    with np.errstate(invalid="ignore"):
        ref = loc.astype(np.float64) + sigma * eps.astype(np.float64)
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(z[~finite], ref[~finite].astype(dtype))  # inf, -inf, NaN
    m = np.maximum(np.abs(np.broadcast_to(loc, z.shape)), np.abs(sigma * eps))[finite]
    assert (np.abs(z[finite] - ref[finite]) <= 2 * ulp(m, dtype)).all()
    # NaN exactly where loc is infinite and sigma is infinite with eps of the other sign
    inf_sigma = np.isinf(sigma)
    expect_nan = np.isinf(loc) & inf_sigma & (np.sign(loc) != np.sign(eps))
    np.testing.assert_array_equal(np.isnan(z), expect_nan)


# -------------------------------------------------------- (a) the accuracy contract
def grid(kind: str, dtype: Any, n_random: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(loc, param) of one dtype: hand-picked extremes, then random values over wide ranges."""
    f64 = np.dtype(dtype) == np.float64
    tiny = float(np.finfo(dtype).smallest_subnormal)
    big = 1e300 if f64 else 1e36
    r = np.random.default_rng(seed)
    special = {
        "scale": [0.0, tiny, 1e-300 if f64 else 1e-40, 1e-20, 0.5, 1.0, 3.0, 1e20, big, np.inf],
        "var": [0.0, tiny, 1e-300 if f64 else 1e-40, 1e-20, 0.25, 1.0, 2.0, 1e20, big, np.inf],
        "logvar": [-1e3, -500.0, -200.0, -60.0, -1.0, 0.0, 1.0, 60.0, 176.0, 178.0, 200.0,
                   500.0, 1e3, 1400.0, 1419.0, -np.inf, np.inf],
        "logstd": [-1e3, -745.0, -700.0, -104.0, -88.0, -50.0, 0.0, 50.0, 88.0, 89.0, 100.0,
                   709.0, 709.75, 1e3, -np.inf, np.inf],
        "softplus": [-1e3, -745.0, -700.0, -104.0, -100.0, -50.0, -37.0, -30.0, -1.0, -1e-8,
                     0.0, 1e-8, 0.5, 1.0, 18.0, 37.0, 50.0, 1e3, 1e30, -np.inf, np.inf],
    }[kind]
    if kind in ("scale", "var"):
        hi = 700 if f64 else 85
        rand = np.exp(r.uniform(-hi, hi, n_random))
    elif kind == "logvar":
        # float64: up to 1419, where sigma = exp(709.5) still fits (sigma beyond DBL_MAX with
        # a finite z is test_sigma_beyond_float64_range_with_finite_z)
        rand = r.uniform(-1450, 1419, n_random) if f64 else r.uniform(-220, 200, n_random)
    elif kind == "logstd":
        rand = r.uniform(-760, 709.5, n_random) if f64 else r.uniform(-110, 100, n_random)
    else:
        rand = np.concatenate([r.uniform(-760, 709.5, n_random // 2) if f64 else
                               r.uniform(-110, 100, n_random // 2),
                               r.uniform(-40, 40, n_random - n_random // 2)])
    spec = np.array(special, np.float64)
    # every special parameter with a few locs: 0, O(1), huge, subnormal
    locs_for_special = np.array([0.0, 1.0, -2.5, 1e10, -tiny, 1e-310 if f64 else 1e-40])
    par = np.concatenate([np.repeat(spec, locs_for_special.size), rand])
    loc = np.concatenate([np.tile(locs_for_special, spec.size), np.zeros(rand.size)])
    # random locs comparable to sigma * eps (so z is a real sum), zero, or unrelated
    with np.errstate(over="ignore", invalid="ignore"):
        s = ref_sigma(kind, rand.astype(dtype), np.float64)
        mix = r.choice(4, rand.size)
        l_rand = np.where(mix == 0, 0.0,
                          np.where(mix == 1, r.normal(size=rand.size) * s * np.exp(r.uniform(
                              -4, 4, rand.size)), r.normal(size=rand.size) * 10.0**r.uniform(
                              -5, 5, rand.size)))
    l_rand = np.where(np.isfinite(l_rand), l_rand, 1.0)
    loc[spec.size * locs_for_special.size:] = l_rand
    with np.errstate(over="ignore"):
        return loc.astype(dtype), par.astype(dtype)


class Case:
    """The inputs, the scalar path's output and noise, and the references of one case."""

    def __init__(self, kind: str, dtype: Any, n_random: int, seed: int) -> None:
        self.kind = kind
        self.dtype = np.dtype(dtype)
        self.loc, self.par = grid(kind, dtype, n_random, seed)
        with using_target("scalar"):
            self.z, self.eps = sample(self.loc, kind, self.par, seed=seed)
            self.scale = Normal(0.0, **{kind: self.par}).scale


@functools.cache
def mp_case(kind: str, dtype: Any) -> Case:
    return Case(kind, dtype, 200, 11)


@functools.cache
def bulk_case(kind: str, dtype: Any) -> Case:
    return Case(kind, dtype, 60000, 12)


def mp_errors(c: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(error / ulp(m), expected inf, z finite) per element, against mpmath."""
    with mpmath.workprec(MP_PREC):
        errs = np.zeros(c.z.size)
        exp_inf = np.zeros(c.z.size, bool)
        nan_ok = np.ones(c.z.size, bool)
        for i, (loc, p, e, z) in enumerate(zip(c.loc.tolist(), c.par.tolist(), c.eps.tolist(),
                                               c.z.tolist(), strict=True)):
            sig = mp_sigma(c.kind, p)
            se = sig * mpmath.mpf(e) if sig != 0 else mpmath.mpf(0)
            zr = mpmath.mpf(loc) + se
            if mpmath.isnan(zr):
                nan_ok[i] = np.isnan(z)
                continue
            with np.errstate(over="ignore"):
                expected = np.asarray(float(zr)).astype(c.dtype)
            if np.isinf(expected):
                exp_inf[i] = True
                errs[i] = 0.0 if z == expected else np.inf
                continue
            m = max(abs(mpmath.mpf(loc)), abs(se))
            u = float(ulp(float(m), c.dtype))
            errs[i] = np.inf if not np.isfinite(z) else float(abs(mpmath.mpf(z) - zr)) / u
    assert nan_ok.all()
    return errs, exp_inf, np.isfinite(c.z)


def np_errors(c: Case) -> np.ndarray:
    """error / ulp(m) per element, against long double (float64 output) or float64."""
    t = np.longdouble if c.dtype == np.float64 else np.float64
    with np.errstate(over="ignore", invalid="ignore"):
        sig = ref_sigma(c.kind, c.par, t)
        se = np.where(sig == 0, t(0), sig * c.eps.astype(t))
        zr = c.loc.astype(t) + se
        expected = zr.astype(c.dtype)
        m = np.maximum(np.abs(c.loc.astype(t)), np.abs(se)).astype(np.float64)
        err = np.abs(c.z.astype(t) - zr).astype(np.float64) / ulp(m, c.dtype)
    err = np.where(np.isinf(expected), np.where(c.z == expected, 0.0, np.inf), err)
    err = np.where(np.isnan(zr), np.where(np.isnan(c.z), 0.0, np.inf), err)
    return err


def report(c: Case, errs: np.ndarray, bound: float, what: str) -> None:
    bad = np.flatnonzero(~(errs <= bound))
    if bad.size:
        i = bad[np.argmax(np.where(np.isfinite(errs[bad]), errs[bad], 1e300))]
        raise AssertionError(
            f"{what} {c.kind} {c.dtype}: {bad.size} of {errs.size} elements beyond {bound} ulp of "
            f"max(|loc|, |sigma eps|); worst {errs[i]:.3f} ulp at loc={c.loc[i]!r}, "
            f"{c.kind}={c.par[i]!r}, eps={c.eps[i]!r}, z={c.z[i]!r}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", PARAMS)
def test_contract_vs_mpmath(simd_target: str, kind: str, dtype: Any) -> None:
    c = mp_case(kind, dtype)
    z, eps = sample(c.loc, kind, c.par, seed=11)
    assert_same_bits(eps, c.eps, f"eps on {simd_target}")
    assert_same_bits(z, c.z, f"z on {simd_target} vs scalar")
    assert_same_bits(Normal(0.0, **{kind: c.par}).scale, c.scale, f"sigma on {simd_target}")
    errs, _, _ = mp_errors(c)
    report(c, errs, 2.0, f"[{simd_target}, mpmath]")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", PARAMS)
def test_contract_bulk(simd_target: str, kind: str, dtype: Any) -> None:
    if np.dtype(dtype) == np.float64 and not EXTENDED_LD:
        pytest.skip("the float64 bulk reference needs x87 extended long double")
    c = bulk_case(kind, dtype)
    z, eps = sample(c.loc, kind, c.par, seed=12)
    assert_same_bits(eps, c.eps, f"eps on {simd_target}")
    assert_same_bits(z, c.z, f"z on {simd_target} vs scalar")
    report(c, np_errors(c), 2.0, f"[{simd_target}, long double]")


@pytest.mark.parametrize("kind, p", [("logvar", 1420.0), ("logvar", 1422.0), ("logstd", 710.0),
                                     ("logstd", 711.0)])
def test_sigma_beyond_float64_range_with_finite_z(kind: str, p: float) -> None:
    """sigma = exp(710) or exp(711) exceeds DBL_MAX, but sigma * eps is finite for |eps| small
    enough: the contract asks for that finite z (z = inf only where the exact z overflows)."""
    par = np.full(4000, p)
    z, eps = sample(np.zeros(par.shape), kind, par, seed=SEED)
    with mpmath.workprec(MP_PREC):
        sig = mp_sigma(kind, p)
        zr = [sig * mpmath.mpf(e) for e in eps.tolist()]
    finite = np.array([abs(x) <= mpmath.mpf(np.finfo(np.float64).max) for x in zr])
    assert finite.any() and not finite.all()
    np.testing.assert_array_equal(z[~finite], np.copysign(np.inf, eps[~finite]))
    bad = [(e, float(x), zi) for e, x, zi, f in zip(eps, zr, z, finite, strict=True)
           if f and not abs(mpmath.mpf(zi) - x) <= 2 * float(ulp(abs(float(x)), np.float64))]
    assert not bad, f"{len(bad)} of {finite.sum()} finite z wrong; first (eps, exact, z): {bad[0]}"


@pytest.mark.skipif(not EXTENDED_LD, reason="needs x87 extended long double")
def test_long_double_reference_agrees_with_mpmath() -> None:
    """The bulk reference is itself accurate: on the mpmath cases it gives the same errors
    to 1/50 ulp."""
    for kind in PARAMS:
        c = mp_case(kind, np.float64)
        a = mp_errors(c)[0]
        b = np_errors(c)
        fin = np.isfinite(a) & np.isfinite(b)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        assert np.abs(a[fin] - b[fin]).max() < 0.02, kind


# ------------------------------------------------------ (b) five forms of one sigma
def five_forms(s: np.ndarray, dtype: Any) -> dict[str, np.ndarray]:
    """The five parameters of the sigmas s (float64), converted in float64, then cast."""
    with np.errstate(divide="ignore"):
        p = {
            "scale": s,
            "var": s * s,
            "logvar": 2 * np.log(s),
            "logstd": np.log(s),
            "softplus": s + np.log(-np.expm1(-s)),
        }
    return {k: v.astype(dtype) for k, v in p.items()}


def five_forms_bound(s: np.ndarray, eps: np.ndarray, m_a: np.ndarray, m_b: np.ndarray,
                     dtype: Any) -> np.ndarray:
    """Bound on |z_a - z_b| for two forms a, b of the sigma s:

        2 ulp(m_a) + 2 ulp(m_b) + (delta_a + delta_b) * s * |eps|,
        delta = (1 + |ln s|) * (u + 4 u64)

    the contract for each (m = max(|loc|, |sigma eps|)) plus the relative error delta of the
    sigma that each rounded parameter stands for: the dtype's rounding (u = 2**-24 or 2**-53)
    of a value whose sigma-sensitivity is at most 1 + |ln s| (scale: 1, var: 1/2, logvar and
    logstd: |ln s|, softplus: sigmoid(x) |x| / s <= 1 + |ln s|), plus up to 4 u64 of float64
    error in log/expm1 per unit of that sensitivity."""
    u = unit_roundoff(dtype)
    delta = (1 + np.abs(np.log(s))) * (u + 4 * U64)
    return 2 * ulp(m_a, dtype) + 2 * ulp(m_b, dtype) + 2 * delta * s * np.abs(eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_five_parameterizations_agree(dtype: Any) -> None:
    f64 = np.dtype(dtype) == np.float64
    r = np.random.default_rng(5)
    lo, hi = (-100, 100) if f64 else (-17, 17)
    s = np.concatenate([np.logspace(lo, hi, 1501), [np.log(2), 1.0, 0.5, 2.0],
                        np.exp(r.uniform(-3, 3, 2000))])
    s = s.astype(dtype).astype(np.float64)  # scale= is then exact
    forms = five_forms(s, dtype)
    assert all(np.isfinite(v).all() for v in forms.values())
    loc = np.where(r.random(s.size) < 0.3, 0.0, r.normal(size=s.size) * s * 3).astype(dtype)
    z, e = {}, {}
    for kind, par in forms.items():
        z[kind], e[kind] = sample(loc, kind, par, 3, seed=99)
    for kind in PARAMS:
        assert_same_bits(e[kind], e["scale"])  # the same noise for every form
    eps = e["scale"].astype(np.float64)
    ls = loc.astype(np.float64)
    for kind in PARAMS[1:]:
        sig_k = ref_sigma(kind, forms[kind], np.float64)
        m_k = np.maximum(np.abs(ls), np.abs(sig_k * eps))
        m_s = np.maximum(np.abs(ls), np.abs(s * eps))
        bound = five_forms_bound(s, eps, m_k, m_s, dtype)
        diff = np.abs(z[kind].astype(np.float64) - z["scale"].astype(np.float64))
        bad = np.flatnonzero(~(diff <= bound))
        assert bad.size == 0, (
            f"{kind} vs scale: {bad.size} beyond the bound; first s={s[bad[0] % s.size]!r}, "
            f"diff={diff.flat[bad[0]]!r}, bound={bound.flat[bad[0]]!r}")


# ------------------------------------------------------------------- the properties
PROPERTY_GRID = {
    "scale": [0.0, 1e-300, 1e-40, 1e-30, 1e-8, 0.1, 0.5, 0.6931471805599453, 1.0, 2.0, 30.0,
              1e30, 1e300, np.inf],
    "var": [0.0, 1e-300, 1e-40, 1e-30, 1e-8, 0.25, 0.5, 1.0, 4.0, 1e30, 1e300, np.inf],
    "logvar": [-1e3, -200.0, -100.0, -31.0, -1.0, 0.0, 1.0, 50.0, 100.0, 200.0, 1e3,
               -np.inf, np.inf],
    "logstd": [-1e3, -100.0, -50.0, -1.0, 0.0, 1.0, 20.0, 50.0, 100.0, 1e3, -np.inf, np.inf],
    "softplus": [-1e3, -100.0, -50.0, -37.0, -31.0, -30.25, -30.0, -10.0, -1.0, -1e-8, 0.0,
                 1e-8, 0.5, 1.0, 10.0, 30.0, 50.0, 1e3, -np.inf, np.inf],
}


def mp_property(name: str, kind: str, p: float) -> mpmath.mpf:
    sig = mp_sigma(kind, p)
    if name == "scale":
        return sig
    if name == "var":
        return sig * sig
    if name == "logstd":
        return mp_log_sigma(kind, p)
    if name == "logvar":
        return 2 * mp_log_sigma(kind, p)
    if sig == 0:
        return -mpmath.inf
    return sig + mpmath.log(-mpmath.expm1(-sig))  # inverse softplus, log(expm1(sigma))


def property_tolerance(name: str, ref: float, sigma: float, dtype: Any) -> float:
    """4 ulp (var: + 8 u relative, a square of a rounded sigma), plus what the dtype's
    rounding of sigma implies where a property is a function of sigma: 4 u absolute for
    log sigma (8 u for logvar), and
    4 u sigma / (1 - exp(-sigma)) for the inverse softplus (its condition). The rounding of
    sigma is counted relative (as if sigma were a normal number), so an underflow of sigma
    that the exact property does not have is an error."""
    u = unit_roundoff(dtype)
    tol = 4 * float(ulp(abs(ref), dtype))
    if name == "var":  # sigma**2 from a rounded sigma
        tol += 8 * u * abs(ref)
    elif name == "logstd":
        tol += 4 * u
    elif name == "logvar":
        tol += 8 * u
    elif name == "softplus":
        tol += 4 * u * (1.0 if sigma == 0 else sigma / -np.expm1(-sigma))
    return tol


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", PARAMS)
def test_properties_vs_mpmath(kind: str, dtype: Any) -> None:
    with np.errstate(over="ignore"):
        par = np.array(PROPERTY_GRID[kind], np.float64).astype(dtype)
    q = Normal(0.0, **{kind: par})
    failures = []
    for name in PARAMS:
        with np.errstate(over="ignore", under="ignore"):  # exact values beyond the dtype
            got = np.asarray(getattr(q, name))
        assert got.dtype == np.dtype(dtype) and got.shape == par.shape, name
        if name == kind:
            assert_same_bits(got, par)  # the parameter itself, as given
        for p, g in zip(par.tolist(), got.tolist(), strict=True):
            with mpmath.workprec(MP_PREC):
                ref = mp_property(name, kind, p)
                sig = float(mp_sigma(kind, p))
            with np.errstate(over="ignore"):
                expected = float(np.asarray(float(ref)).astype(dtype))
            if np.isinf(expected) or np.isnan(expected):
                ok = g == expected or (np.isnan(g) and np.isnan(expected))
            else:
                ok = np.isfinite(g) and abs(g - float(ref)) <= property_tolerance(
                    name, float(ref), sig, dtype)
            if not ok:
                failures.append(f"{name} from {kind}={p!r}: got {g!r}, exact {float(ref)!r}")
    assert not failures, f"{len(failures)} wrong:\n" + "\n".join(failures)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logvar_from_softplus_of_large_negative_input(dtype: Any) -> None:
    """softplus(x) ~ exp(x) for x << 0, so log(sigma) ~ x: finite, no log of an underflow."""
    x = np.array([-100.0, -1e3], dtype)
    q = Normal(0.0, softplus=x)
    lv, ls = q.logvar, q.logstd
    assert np.isfinite(lv).all() and np.isfinite(ls).all()
    np.testing.assert_allclose(lv, 2 * x, rtol=4 * unit_roundoff(dtype))
    np.testing.assert_allclose(ls, x, rtol=4 * unit_roundoff(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, p", [("logstd", -100.0), ("logvar", -200.0), ("logstd", -1e3),
                                     ("logvar", -1e3)])
def test_inverse_softplus_of_tiny_sigma(dtype: Any, kind: str, p: float) -> None:
    """softplus^-1(sigma) = log(expm1(sigma)) ~ log(sigma) for tiny sigma: from logstd = -100
    (sigma = 3.7e-44, subnormal in float32) or -1e3 (sigma = 5e-435, below float64's range) the
    exact inverse softplus is about -100 or -1000, well inside the range of either dtype."""
    q = Normal(0.0, **{kind: np.asarray(p, dtype)})
    expected = p if kind == "logstd" else p / 2
    got = np.asarray(q.softplus)
    assert np.isfinite(got).all(), got
    np.testing.assert_allclose(got, expected, rtol=4 * unit_roundoff(dtype))


def test_properties_bit_identical_across_targets() -> None:
    r = np.random.default_rng(3)
    pars = [(kind, r.uniform(-50, 50, 1001).astype(dtype)) for kind in PARAMS[2:]
            for dtype in DTYPES]
    pars += [(kind, np.exp(r.uniform(-50, 50, 1001)).astype(dtype)) for kind in PARAMS[:2]
             for dtype in DTYPES]
    out = {}
    for target in _core.supported_targets():
        with using_target(target):
            out[target] = [Normal(0.0, **{kind: p}).scale for kind, p in pars]
    for target, vals in out.items():
        for a, b in zip(vals, out["scalar"], strict=True):
            assert_same_bits(a, b, target)

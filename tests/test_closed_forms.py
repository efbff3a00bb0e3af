"""Closed forms of `reparam.Normal`: log_prob, entropy, kl, kl_standard_normal and their
gradients.

Values are compared with scipy.stats.norm and with numerical integration (scipy's quad);
every ``grad=True`` result is compared with central finite differences of ``value.sum()``
in float64, perturbing each element of loc and of the raw parameter, for all five
parameterizations, with loc of shape (3, 1) and the parameter of shape (4,) so that the
gradients must be summed over the broadcast axes (as autograd does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from reparam import Normal

PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


def to_param(kind: str, sigma: np.ndarray) -> np.ndarray:
    """The raw parameter of `kind` whose sigma is `sigma` (float64)."""
    s = np.asarray(sigma, np.float64)
    return {
        "scale": lambda: s,
        "var": lambda: s * s,
        "logvar": lambda: 2 * np.log(s),
        "logstd": lambda: np.log(s),
        "softplus": lambda: s + np.log(-np.expm1(-s)),
    }[kind]()


def sigma_of(kind: str, p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return {
        "scale": lambda: p,
        "var": lambda: np.sqrt(p),
        "logvar": lambda: np.exp(p / 2),
        "logstd": lambda: np.exp(p),
        "softplus": lambda: np.logaddexp(0.0, p),
    }[kind]()


# ---------------------------------------------------------------------------- values
@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_prob_vs_scipy(kind: str, dtype: Any) -> None:
    r = np.random.default_rng(1)
    loc = r.normal(0, 3, (3, 1)).astype(dtype)
    sigma = np.exp(r.uniform(-2, 2, 4))
    par = to_param(kind, sigma).astype(dtype)
    z = r.normal(0, 4, (5, 3, 4)).astype(dtype)
    q = Normal(loc, **{kind: par})
    lp = q.log_prob(z)
    assert lp.shape == (5, 3, 4) and lp.dtype == np.dtype(dtype)
    ref = stats.norm.logpdf(z.astype(np.float64), loc.astype(np.float64), sigma_of(kind, par))
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(lp, ref, rtol=rtol, atol=rtol)
    # broadcasting z against the batch: a scalar z and a z of shape (4,)
    np.testing.assert_allclose(q.log_prob(0.5), stats.norm.logpdf(
        0.5, loc.astype(np.float64), sigma_of(kind, par)), rtol=rtol, atol=rtol)
    assert q.log_prob(np.zeros(4, dtype)).shape == (3, 4)


@pytest.mark.parametrize("kind", PARAMS)
def test_entropy_vs_scipy_and_quadrature(kind: str) -> None:
    sigma = np.array([1e-3, 0.2, 1.0, 3.0, 50.0])
    loc = np.array([0.0, -1.0, 2.0, 10.0, -3.0])
    q = Normal(loc, **{kind: to_param(kind, sigma)})
    h = q.entropy()
    assert h.shape == (5,)
    s = sigma_of(kind, q.param)
    np.testing.assert_allclose(h, stats.norm.entropy(loc, s), rtol=1e-13, atol=1e-13)
    for li, si, hi in zip(loc, s, h, strict=True):
        def integrand(x: float, li: float = li, si: float = si) -> float:
            lp = stats.norm.logpdf(x, li, si)
            return float(-np.exp(lp) * lp)
        val, _err = integrate.quad(integrand, li - 30 * si, li + 30 * si, points=[li],
                                  epsabs=1e-12, epsrel=1e-12, limit=200)
        assert abs(val - hi) <= 1e-9 * max(1.0, abs(hi)), (kind, si, val, hi)


KL_PAIRS = [
    # (loc_p, sigma_p, loc_q, sigma_q)
    (0.0, 1.0, 0.0, 1.0),
    (0.0, 1.0, 1.0, 2.0),
    (1.5, 0.3, -0.5, 1.7),
    (-2.0, 4.0, 0.0, 0.5),
    (0.1, 0.01, 0.0, 1.0),
]


def kl_quad(mp: float, sp: float, mq: float, sq: float) -> float:
    def integrand(x: float) -> float:
        lp = stats.norm.logpdf(x, mp, sp)
        return float(np.exp(lp) * (lp - stats.norm.logpdf(x, mq, sq)))
    val, _ = integrate.quad(integrand, mp - 30 * sp, mp + 30 * sp, points=[mp],
                            epsabs=1e-13, epsrel=1e-12, limit=200)
    return float(val)


def kl_formula(mp: Any, sp: Any, mq: Any, sq: Any) -> Any:
    return np.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5


@pytest.mark.parametrize("kind_p", PARAMS)
@pytest.mark.parametrize("kind_q", ["scale", "logvar", "softplus"])
def test_kl_vs_quadrature_and_formula(kind_p: str, kind_q: str) -> None:
    mp_, sp, mq, sq = (np.array(c) for c in zip(*KL_PAIRS, strict=True))
    p = Normal(mp_, **{kind_p: to_param(kind_p, sp)})
    q = Normal(mq, **{kind_q: to_param(kind_q, sq)})
    kl = p.kl(q)
    assert kl.shape == (len(KL_PAIRS),)
    sp_exact, sq_exact = sigma_of(kind_p, p.param), sigma_of(kind_q, q.param)
    np.testing.assert_allclose(kl, kl_formula(mp_, sp_exact, mq, sq_exact), rtol=1e-12,
                               atol=1e-14)
    assert kl[0] == pytest.approx(0.0, abs=1e-15)
    assert (kl >= -1e-15).all()
    for i in range(1, len(KL_PAIRS)):
        assert abs(kl_quad(mp_[i], sp_exact[i], mq[i], sq_exact[i]) - kl[i]) <= 1e-9 * max(
            1.0, abs(kl[i])), KL_PAIRS[i]


def test_kl_broadcasts_over_both_batches() -> None:
    p = Normal(np.zeros((3, 1)), logstd=np.zeros(1))
    q = Normal(np.arange(4.0), scale=np.full(4, 2.0))
    kl = p.kl(q)
    assert kl.shape == (3, 4)
    np.testing.assert_allclose(kl, np.broadcast_to(kl_formula(0.0, 1.0, np.arange(4.0), 2.0),
                                                   (3, 4)), rtol=1e-14)


def test_kl_rejects_non_normal() -> None:
    with pytest.raises(TypeError):
        Normal(0.0, scale=1.0).kl(stats.norm(0, 1))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_standard_normal_is_kl_to_n01(kind: str, dtype: Any) -> None:
    r = np.random.default_rng(2)
    loc = r.normal(0, 2, (2, 5)).astype(dtype)
    par = to_param(kind, np.exp(r.uniform(-3, 3, 5))).astype(dtype)
    q = Normal(loc, **{kind: par})
    a = q.kl_standard_normal()
    b = q.kl(Normal(np.zeros((), dtype), scale=np.ones((), dtype)))
    assert a.shape == b.shape == (2, 5) and a.dtype == np.dtype(dtype)
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    s = sigma_of(kind, par)
    np.testing.assert_allclose(a, 0.5 * (s**2 + loc.astype(np.float64) ** 2 - 1) - np.log(s),
                               rtol=rtol, atol=rtol)


# -------------------------------------------------------------------- gradients
LOC_SHAPE, PAR_SHAPE = (3, 1), (4,)


def moderate(kind: str, r: np.random.Generator) -> np.ndarray:
    """Parameters with sigma in [0.4, 2.5], away from the edges of var and scale."""
    return to_param(kind, np.exp(r.uniform(-0.9, 0.9, PAR_SHAPE)))


def forms(kind: str) -> dict[str, Callable[[Normal], Any]]:
    r = np.random.default_rng(7)
    z = r.normal(0, 2, (2, 3, 4))
    other = Normal(r.normal(size=(3, 4)), logvar=r.uniform(-1, 1, (3, 4)))
    return {
        "log_prob": lambda q, grad=False: q.log_prob(z, grad=grad),
        "entropy": lambda q, grad=False: q.entropy(grad=grad),
        "kl": lambda q, grad=False: q.kl(other, grad=grad),
        "kl_standard_normal": lambda q, grad=False: q.kl_standard_normal(grad=grad),
    }


def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        h = 1e-5 * max(1.0, abs(float(x[i])))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (xp[i] - xm[i])
    return g


@pytest.mark.parametrize("form", ["log_prob", "entropy", "kl", "kl_standard_normal"])
@pytest.mark.parametrize("kind", PARAMS)
def test_gradients_vs_finite_differences(kind: str, form: str) -> None:
    r = np.random.default_rng([PARAMS.index(kind), len(form)])
    loc = r.normal(0, 1.5, LOC_SHAPE)
    par = moderate(kind, r)
    f = forms(kind)[form]
    q = Normal(loc, **{kind: par})
    value, grads = f(q, grad=True)
    np.testing.assert_array_equal(value, f(q))  # the same value with and without grad
    assert set(grads) == {"loc", kind}
    assert grads["loc"].shape == LOC_SHAPE and grads[kind].shape == PAR_SHAPE
    assert grads["loc"].dtype == grads[kind].dtype == np.float64

    def total_loc(x: np.ndarray) -> float:
        return float(np.sum(f(Normal(x, **{kind: par}))))

    def total_par(x: np.ndarray) -> float:
        return float(np.sum(f(Normal(loc, **{kind: x}))))

    for name, g, fd in (("loc", grads["loc"], central_difference(total_loc, loc)),
                        (kind, grads[kind], central_difference(total_par, par))):
        scale = max(1.0, float(np.abs(fd).max()))
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8 * scale,
                                   err_msg=f"d {form} / d {name}")


@pytest.mark.parametrize("kind", PARAMS)
def test_gradients_without_broadcasting_match_elementwise_derivatives(kind: str) -> None:
    """Same shapes everywhere: the gradient of value.sum() is the elementwise derivative,
    d/dparam = d/dsigma * dsigma/dparam with the chain-rule factors of the docs."""
    sigma = np.array([0.3, 1.0, 2.0, 5.0])
    loc = np.array([0.5, -1.0, 0.0, 2.0])
    par = to_param(kind, sigma)
    q = Normal(loc, **{kind: par})
    s = sigma_of(kind, par)
    dsig = {"scale": np.ones_like(s), "var": 0.5 / s, "logvar": 0.5 * s, "logstd": s,
            "softplus": 1 / (1 + np.exp(-par))}[kind]
    _, g = q.kl_standard_normal(grad=True)
    np.testing.assert_allclose(g["loc"], loc, rtol=1e-14)
    np.testing.assert_allclose(g[kind], (s - 1 / s) * dsig, rtol=1e-12, atol=1e-15)
    _, g = q.entropy(grad=True)
    np.testing.assert_allclose(g[kind], dsig / s, rtol=1e-12)
    np.testing.assert_array_equal(g["loc"], np.zeros(4))


@pytest.mark.parametrize("kind", PARAMS)
def test_gradient_dtype_float32(kind: str) -> None:
    q = Normal(np.zeros(LOC_SHAPE, np.float32), **{kind: moderate(kind, np.random.default_rng(3)
                                                                   ).astype(np.float32)})
    for form, f in forms(kind).items():
        if form == "kl":
            continue
        v, g = f(q, grad=True)
        assert v.dtype == g["loc"].dtype == g[kind].dtype == np.float32
        assert g["loc"].shape == LOC_SHAPE and g[kind].shape == PAR_SHAPE


# ------------------------------------------------------- extreme parameters (stable)
@pytest.mark.parametrize("kind, p, dlogsigma", [
    ("logstd", -1e3, 1.0), ("logstd", -800.0, 1.0), ("logstd", 800.0, 1.0),
    ("logstd", 1e3, 1.0), ("logvar", -1e3, 0.5), ("logvar", 1e3, 0.5),
    ("softplus", -1e3, 1.0), ("softplus", -800.0, 1.0),
])
def test_entropy_gradient_at_extreme_parameters(kind: str, p: float, dlogsigma: float) -> None:
    """entropy = log sigma + const: d/dlogstd = 1, d/dlogvar = 1/2, d/dsoftplus -> 1 as
    x -> -inf (softplus(x) ~ exp(x)); no inf/inf or 0*inf in the chain rule."""
    h, g = Normal(0.0, **{kind: p}).entropy(grad=True)
    expected_h = {"logstd": p, "logvar": p / 2, "softplus": p}[kind] + 0.5 + HALF_LOG_2PI
    assert float(h) == pytest.approx(expected_h, rel=1e-14)
    assert float(g[kind]) == pytest.approx(dlogsigma, rel=1e-12)


@pytest.mark.parametrize("kind, p", [("logstd", -1e3), ("logstd", -800.0), ("logvar", -1e3),
                                     ("softplus", -1e3), ("softplus", -800.0)])
def test_kl_standard_normal_gradient_at_tiny_sigma(kind: str, p: float) -> None:
    """KL(q || N(0,1)) = (sigma^2 + loc^2 - 1)/2 - log sigma: d/dlog sigma = sigma^2 - 1 = -1
    for tiny sigma; d/dlogvar = -1/2."""
    v, g = Normal(0.0, **{kind: p}).kl_standard_normal(grad=True)
    assert np.isfinite(v)
    expected = -0.5 if kind == "logvar" else -1.0
    assert float(g[kind]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("kind, p", [("logvar", -1e3), ("logvar", 1e3), ("logstd", -1e3),
                                     ("logstd", 700.0), ("softplus", -1e3)])
def test_kl_of_a_distribution_to_itself_is_zero_at_extremes(kind: str, p: float) -> None:
    """KL(q || q) = 0 with zero gradients, also where sigma**2 over- or underflows
    (the ratio sigma_p / sigma_q is 1)."""
    q = Normal(np.array([0.0, 3.0]), **{kind: np.array([p, p])})
    v, g = q.kl(q, grad=True)
    np.testing.assert_array_equal(v, [0.0, 0.0])
    np.testing.assert_array_equal(g["loc"], [0.0, 0.0])
    np.testing.assert_array_equal(g[kind], [0.0, 0.0])

"""Generator.lognormal: exp(mean + sigma * eps) with reparam's normals and float64 exp.

Definition under test: lognormal(mean, sigma, size) equals exp applied to
normal(mean, sigma, size) of the same state (the same eps and the same rounding of
mean + sigma * eps); exp is within 1 ulp of mpmath's (40 digits) and has the same bits on
every SIMD path and thread count.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from scipy import stats
from stream_helpers import using_target

import reparam
from reparam import _core


def _ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(got - ref) / np.spacing(np.abs(ref))


def test_exp_of_normal_within_one_ulp(simd_target: str) -> None:
    g, h = reparam.default_rng(17), reparam.default_rng(17)
    mean = np.linspace(-700.0, 700.0, 3001)
    z = g.lognormal(mean, 3.0)
    t = h.normal(mean, 3.0)
    assert g.bit_generator.state == h.bit_generator.state
    mpmath.mp.dps = 40
    ref = np.array([float(mpmath.exp(mpmath.mpf(float(x)))) for x in t])
    finite = np.isfinite(ref) & (ref > 2.3e-308)  # normal results; subnormals: absolute below
    assert _ulps(z[finite], ref[finite]).max() <= 1.0
    assert np.abs(z[~finite] - ref[~finite]).max(initial=0.0) <= 5e-324


def test_special_values() -> None:
    g = reparam.default_rng(0)
    assert g.lognormal(1000.0, 0.0) == np.inf
    assert g.lognormal(-1000.0, 0.0) == 0.0
    assert g.lognormal(0.0, 0.0) == 1.0
    e = float(mpmath.exp(1))
    assert abs(g.lognormal(1.0, 0.0) - e) <= np.spacing(e)  # within 1 ulp, not always rounded
    assert np.isnan(g.lognormal(np.nan, 1.0))
    assert np.isnan(g.lognormal(0.0, np.nan))
    assert np.isin(g.lognormal(0.0, np.inf, 64), [0.0, np.inf]).all()  # exp(+-inf)


def test_every_target_and_thread_count_same_bits() -> None:
    results = []
    for t in _core.supported_targets():
        with using_target(t):
            results.append(reparam.default_rng(5).lognormal(0.5, 2.0, 10007))
    old = reparam.get_num_threads()
    try:
        for n in (1, 2):
            reparam.set_num_threads(n)
            results.append(reparam.default_rng(5).lognormal(0.5, 2.0, 300_001)[:10007])
    finally:
        reparam.set_num_threads(old)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_distribution() -> None:
    """log of the variates against N(mean, sigma**2) by Kolmogorov-Smirnov: a correct
    sampler fails with probability 1e-6 (fixed seed, fixed outcome)."""
    z = reparam.default_rng(8).lognormal(0.3, 0.7, 200_000)
    assert stats.kstest(np.log(z), "norm", args=(0.3, 0.7)).pvalue > 1e-6


def test_fast_path_equals_general_path() -> None:
    """Python-number arguments with a size take a shorter path: the same values."""
    for mean, sigma in ((0.5, 2.0), (1, 3), (-2.0, 0.0), (0.0, float("nan")), (2**70, 1e-30)):
        a = reparam.default_rng(4).lognormal(mean, sigma, 1000)
        b = reparam.default_rng(4).lognormal(np.float64(mean), np.array(float(sigma)), 1000)
        np.testing.assert_array_equal(a, b)
    for scale in (0.5, 3, 0.0, float("inf")):
        a = reparam.default_rng(4).exponential(scale, 1000)
        b = reparam.default_rng(4).exponential(np.array(float(scale)), 1000)
        np.testing.assert_array_equal(a, b)
    for bad in (-0.0, -1.0, -1):
        with pytest.raises(ValueError, match="must be non-negative"):
            reparam.default_rng(4).lognormal(0.0, bad, 10)
        with pytest.raises(ValueError, match="must be non-negative"):
            reparam.default_rng(4).exponential(bad, 10)


def test_shapes_and_forms() -> None:
    g = reparam.default_rng(1)
    assert type(g.lognormal()) is float
    assert g.lognormal(np.zeros(3), 1.0).shape == (3,)
    assert g.lognormal(np.zeros((2, 1)), np.ones(3)).shape == (2, 3)
    assert g.lognormal(0.0, 1.0, (4, 5)).shape == (4, 5)
    assert g.lognormal(np.zeros(5), 1.0, (2, 5)).shape == (2, 5)


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((0.0, -1.0), ValueError, "sigma must be non-negative, got -1.0"),
        ((0.0, [1.0, -0.0]), ValueError, "sigma < 0: .* at flat index 1"),
        ((np.zeros(2), 1.0, 3), ValueError, r"mean \(2,\), sigma \(\), size \(3,\)"),
        ((np.zeros(2), np.ones(3)), ValueError, r"mean \(2,\) and sigma \(3,\)$"),
        ((None, 1.0), TypeError, "mean must be real number"),
        (("x", 1.0), ValueError, "mean must be real numbers"),
    ],
)
def test_errors_draw_nothing(args: tuple[Any, ...], exc: type[Exception], match: str) -> None:
    g = reparam.default_rng(0)
    st = g.bit_generator.state
    with pytest.raises(exc, match=match):
        g.lognormal(*args)
    assert g.bit_generator.state == st
    with pytest.raises(exc):  # NumPy raises the same type
        np.random.default_rng(0).lognormal(*args)

"""Distribution tests of standard_normal and random, per dtype.

The statistics run once, on the SIMD path selected at import (the best one the CPU
supports). They hold for every path because every path gives the same bits as the scalar
path; that is tested exhaustively in test_stream_contract.py (test_simd_paths_match_scalar)
and test_accuracy.py, and spot-checked here on the first 10**5 values of each sample.

Each test draws n = 10**6 values from a fixed seed, so its outcome is deterministic. The
bounds are set so that a perfect generator would fail a given check with the stated
false-alarm probability over random seeds:

- goodness-of-fit tests (Kolmogorov-Smirnov, chi-square): p-value > ALPHA = 1e-4, i.e. a
  false-alarm rate of 1e-4 per test;
- moments, correlations and tail counts: within 5 standard errors (two-sided false-alarm
  rate 2 * Phi(-5) = 5.7e-7 for a normal statistic; tail counts use exact binomial quantiles
  at that rate).

Over the about 30 checks in this file the family-wise false-alarm rate is below 2e-3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from stream_helpers import using_target

import reparam

N = 10**6
ALPHA = 1e-4
N_SIGMA = 5.0
ALPHA_5SIGMA = 2 * stats.norm.sf(N_SIGMA)  # 5.7e-7

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
SEEDS = {"f32": 20240601, "f64": 20240602}




def normals(dtype: type) -> np.ndarray:
    name = "f32" if np.dtype(dtype) == np.float32 else "f64"
    return reparam.default_rng(SEEDS[name]).standard_normal(N, dtype=dtype)


def uniforms(dtype: type) -> np.ndarray:
    name = "f32" if np.dtype(dtype) == np.float32 else "f64"
    return reparam.default_rng(SEEDS[name] + 1000).random(N, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_statistics_target_agrees_with_scalar(dtype: type) -> None:
    z, u = normals(dtype)[: 10**5], uniforms(dtype)[: 10**5]
    with using_target("scalar"):
        np.testing.assert_array_equal(normals(dtype)[: 10**5], z)
        np.testing.assert_array_equal(uniforms(dtype)[: 10**5], u)


# ----------------------------------------------------------------------------- normals
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_normal_ks(dtype: type) -> None:
    """Kolmogorov-Smirnov against N(0, 1); false-alarm rate ALPHA = 1e-4."""
    z = normals(dtype).astype(np.float64)
    res = stats.kstest(z, "norm")
    assert res.pvalue > ALPHA, f"KS statistic {res.statistic:.3e}, p = {res.pvalue:.2e}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_normal_moments(dtype: type) -> None:
    """Sample mean, variance, skewness and excess kurtosis within 5 standard errors of
    0, 1, 0, 0. Standard errors for n iid N(0, 1) values: mean 1/sqrt(n); unbiased variance
    sqrt(2 / (n - 1)); skewness sqrt(6 (n - 2) / ((n + 1) (n + 3))); excess kurtosis
    sqrt(24 n (n - 1)**2 / ((n - 3) (n - 2) (n + 3) (n + 5))) (about sqrt(6/n), sqrt(24/n))."""
    z = normals(dtype).astype(np.float64)
    n = z.size
    se = {
        "mean": 1 / math.sqrt(n),
        "variance": math.sqrt(2 / (n - 1)),
        "skewness": math.sqrt(6 * (n - 2) / ((n + 1) * (n + 3))),
        "kurtosis": math.sqrt(24 * n * (n - 1) ** 2 / ((n - 3) * (n - 2) * (n + 3) * (n + 5))),
    }
    observed = {
        "mean": z.mean(),
        "variance": z.var(ddof=1),
        "skewness": stats.skew(z),
        "kurtosis": stats.kurtosis(z),  # excess kurtosis
    }
    expected = {"mean": 0.0, "variance": 1.0, "skewness": 0.0, "kurtosis": 0.0}
    for name, value in observed.items():
        dev = (value - expected[name]) / se[name]
        assert abs(dev) <= N_SIGMA, f"{name} = {value:.5f}: {dev:+.2f} standard errors"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_normal_tail_frequencies(dtype: type) -> None:
    """Counts of z > k and of z < -k for k = 2, 3, 4 are Binomial(n, Phi(-k)) (expected
    22750, 1350, 31.7); each must lie inside the two-sided binomial interval with
    false-alarm rate 5.7e-7 (the 5-sigma rate)."""
    z = normals(dtype)
    for k in (2, 3, 4):
        p = stats.norm.sf(k)
        lo = stats.binom.ppf(ALPHA_5SIGMA / 2, z.size, p)
        hi = stats.binom.isf(ALPHA_5SIGMA / 2, z.size, p)
        for side, count in (("upper", int((z > k).sum())), ("lower", int((z < -k).sum()))):
            assert lo <= count <= hi, (
                f"{side} tail beyond {k} sigma: {count} not in [{lo:.0f}, {hi:.0f}] "
                f"(expected {z.size * p:.1f})"
            )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_box_muller_pairs(dtype: type) -> None:
    """The two values of a Box-Muller pair (positions 2i, 2i + 1) are independent N(0, 1):
    their squared radius z0**2 + z1**2 is chi-square with 2 degrees of freedom (KS,
    false-alarm rate 1e-4), their angle atan2(z1, z0) is uniform (KS, 1e-4), and the
    correlations of (z0, z1), of (z0**2, z1**2) and of consecutive values across pairs are
    within 5 standard errors (1/sqrt(m) for m independent pairs) of 0."""
    z = normals(dtype).astype(np.float64)
    z0, z1 = z[0::2], z[1::2]
    r2 = z0 * z0 + z1 * z1
    res = stats.kstest(r2, "chi2", args=(2,))
    assert res.pvalue > ALPHA, f"radius**2: KS p = {res.pvalue:.2e}"
    angle = np.arctan2(z1, z0)
    res = stats.kstest(angle, "uniform", args=(-math.pi, 2 * math.pi))
    assert res.pvalue > ALPHA, f"angle: KS p = {res.pvalue:.2e}"
    pairs = {
        "z0, z1": (z0, z1),
        "z0**2, z1**2": (z0 * z0, z1 * z1),
        "z1, next z0": (z1[:-1], z0[1:]),
    }
    for name, (a, b) in pairs.items():
        rho = np.corrcoef(a, b)[0, 1]
        dev = rho * math.sqrt(a.size)
        assert abs(dev) <= N_SIGMA, f"corr({name}) = {rho:.2e}: {dev:+.2f} standard errors"


# ----------------------------------------------------------------------------- uniforms
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_uniform_ks(dtype: type) -> None:
    """random() against U(0, 1): Kolmogorov-Smirnov, false-alarm rate 1e-4."""
    u = uniforms(dtype)
    assert u.min() >= 0.0
    assert u.max() < 1.0
    res = stats.kstest(u.astype(np.float64), "uniform")
    assert res.pvalue > ALPHA, f"KS statistic {res.statistic:.3e}, p = {res.pvalue:.2e}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_uniform_chi_square_256_bins(dtype: type) -> None:
    """Chi-square on 256 equiprobable bins (255 degrees of freedom; expected count 3906)
    of the leading 8 bits, floor(256 u), and of the next 8 bits, floor(2**16 u) mod 256;
    false-alarm rate 1e-4 each. The bins are exactly equiprobable under the definition
    (24 or 53 fraction bits from uniform words)."""
    u = uniforms(dtype).astype(np.float64)
    for name, bins in (
        ("bits 1-8", np.floor(u * 256).astype(np.int64)),
        ("bits 9-16", np.floor(u * 2**16).astype(np.int64) % 256),
    ):
        counts = np.bincount(bins, minlength=256)
        assert counts.size == 256
        res = stats.chisquare(counts)
        assert res.pvalue > ALPHA, f"{name}: chi2 = {res.statistic:.1f}, p = {res.pvalue:.2e}"


def test_uniform_float32_uses_every_bin_of_the_grid() -> None:
    """float32 values are k / 2**24: all on the grid, and the low 8 of the 24 bits are as
    uniform as the high ones (chi-square on 256 bins, false-alarm rate 1e-4)."""
    u = uniforms(np.float32).astype(np.float64)
    k = u * 2**24
    assert np.array_equal(k, np.floor(k))
    counts = np.bincount(k.astype(np.int64) % 256, minlength=256)
    res = stats.chisquare(counts)
    assert res.pvalue > ALPHA, f"chi2 = {res.statistic:.1f}, p = {res.pvalue:.2e}"

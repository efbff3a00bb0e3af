"""Statistical quality at scale (marked `slow`: `python -m pytest -m slow`).

1. 10**9 float32 standard normals, drawn in chunks of 10**7 into one buffer: the counts
   of |z| > 4, 5 and 5.5 against their Poisson laws, the two tails against each other,
   and the largest |z| against the documented float32 cut-off sqrt(64 ln 2) = 6.6604.
2. Kolmogorov-Smirnov and Anderson-Darling (fully specified N(0, 1)) at 10**7 values of
   each dtype, and Kolmogorov-Smirnov of 10**7 uniforms of each dtype.
3. A second-level test: the KS p-values of 10**6 normals under each of 100 keys must be
   uniform themselves (KS of the 100 p-values), per dtype.

Bounds. A count of |z| > t among N values is Poisson with mean
lambda = N * erfc(t / sqrt(2)) (binomial with p < 1e-4: the Poisson law is exact to
far better than the bounds). Each count must lie in the central interval
[poisson.ppf(ALPHA / 2, lambda), poisson.isf(ALPHA / 2, lambda)] with ALPHA = 1e-6, so a
correct generator fails one of the three counts with probability below 3e-6. The sign
balance of the |z| > 4 tail is a binomial(n, 1/2) test at the same level. The largest
|z| of N values exceeds t_lo with probability 1 - exp(-N * erfc(t_lo / sqrt(2))); t_lo =
5.6757 makes the chance of a maximum below it ALPHA; above, it may not pass the
cut-off 6.6604 (plus 4 float32 ulp, the documented transform error). The goodness-of-fit
p-values must exceed P_MIN = 1e-4 each (8 of them: false-alarm rate below 1e-3). The keys
are fixed, so the run is reproducible; the results are recorded in docs/quality.md.

Time on 2 cores: about 40 s in all (docs/quality.md has the measured split); run it with
`python -m pytest -m slow -s` to see the statistics.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

import reparam

scipy_stats = pytest.importorskip("scipy.stats")
scipy_special = pytest.importorskip("scipy.special")

pytestmark = pytest.mark.slow

N_TAIL = 10**9
CHUNK = 10**7
N_FIT = 10**7
ALPHA = 1e-6
P_MIN = 1e-4
KEY = 0x5EED_0F_0123_4567  # fixed: reproducible
CUTOFF_F32 = math.sqrt(64 * math.log(2))  # 6.6604...: u1 >= 2**-32
ULP_F32_AT_CUTOFF = float(np.spacing(np.float32(CUTOFF_F32)))


def _report(request: pytest.FixtureRequest, **values: Any) -> None:
    """Shown with -s and in the junit XML (record_property), for docs/quality.md."""
    for k, v in values.items():
        request.node.user_properties.append((k, v))
    print("\n" + request.node.name + ": " + ", ".join(f"{k}={v}" for k, v in values.items()))


def poisson_interval(lam: float) -> tuple[int, int]:
    return (int(scipy_stats.poisson.ppf(ALPHA / 2, lam)), int(scipy_stats.poisson.isf(ALPHA / 2, lam)))


def test_float32_tails_at_1e9(request: pytest.FixtureRequest) -> None:
    g = reparam.Generator(reparam.Philox(key=KEY))
    buf = np.empty(CHUNK, np.float32)
    mag = np.empty(CHUNK, np.float32)
    thresholds = (4.0, 5.0, 5.5)
    counts = dict.fromkeys(thresholds, 0)
    positive = 0
    zmax = 0.0
    t_gen = t_count = 0.0
    for _ in range(N_TAIL // CHUNK):
        t0 = time.perf_counter()
        g.standard_normal(dtype=np.float32, out=buf)
        t1 = time.perf_counter()
        np.abs(buf, out=mag)
        tail_mask = mag > thresholds[0]
        tail = buf[tail_mask]
        # a NaN or inf anywhere makes the sum non-finite (|sum| of 1e7 normals is ~3e3)
        assert math.isfinite(float(buf.sum(dtype=np.float64)))
        a = np.abs(tail)
        for t in thresholds:
            counts[t] += int(np.count_nonzero(a > t))
        positive += int(np.count_nonzero(tail > 0))
        if a.size:
            zmax = max(zmax, float(a.max()))
        t_count += time.perf_counter() - t1
        t_gen += t1 - t0
    problems = []
    expected = {}
    for t in thresholds:
        lam = N_TAIL * float(scipy_special.erfc(t / math.sqrt(2)))
        lo, hi = poisson_interval(lam)
        expected[t] = (round(lam, 1), lo, hi)
        if not lo <= counts[t] <= hi:
            problems.append(f"|z| > {t}: {counts[t]} outside [{lo}, {hi}] (Poisson mean {lam:.1f})")
    n4 = counts[thresholds[0]]
    b_lo = int(scipy_stats.binom.ppf(ALPHA / 2, n4, 0.5))
    b_hi = int(scipy_stats.binom.isf(ALPHA / 2, n4, 0.5))
    if not b_lo <= positive <= b_hi:
        problems.append(f"z > 4: {positive} of {n4} tail values, outside [{b_lo}, {b_hi}]")
    t_lo = float(_t_lo())
    if not t_lo <= zmax <= CUTOFF_F32 + 4 * ULP_F32_AT_CUTOFF:
        problems.append(f"largest |z| {zmax!r} outside [{t_lo:.4f}, {CUTOFF_F32:.6f} + 4 ulp]")
    _report(request, n=N_TAIL, counts={k: counts[k] for k in thresholds}, expected=expected,
            positive_of_tail4=(positive, n4), zmax=zmax, t_lo=round(t_lo, 4),
            seconds_generate=round(t_gen, 1), seconds_count=round(t_count, 1))
    assert not problems, "\n".join(problems)


def _t_lo() -> float:
    """t with N * erfc(t / sqrt(2)) = ln(1 / ALPHA): P(max |z| < t) = ALPHA."""
    from scipy.optimize import brentq

    return float(brentq(lambda t: N_TAIL * scipy_special.erfc(t / math.sqrt(2)) - math.log(1 / ALPHA), 3, 9))


def anderson_darling_normal(x: np.ndarray[Any, Any]) -> tuple[float, float]:
    """A**2 of x against the fully specified N(0, 1), and its asymptotic p-value
    (Marsaglia & Marsaglia 2004, "Evaluating the Anderson-Darling distribution")."""
    xs = np.sort(x.astype(np.float64))
    n = xs.size
    log_cdf = scipy_special.log_ndtr(xs)
    log_sf = scipy_special.log_ndtr(-xs[::-1])  # log(1 - Phi(x_{n+1-i})), accurate in the tail
    i = np.arange(1, n + 1, dtype=np.float64)
    a2 = -n - float(np.sum((2 * i - 1) * (log_cdf + log_sf))) / n
    return a2, 1.0 - _ad_inf(a2)


def _ad_inf(z: float) -> float:
    """The limiting Anderson-Darling distribution function (Marsaglia & Marsaglia 2004)."""
    if z <= 0:
        return 0.0
    if z < 2.0:
        return (math.exp(-1.2337141 / z) / math.sqrt(z)
                * (2.00012 + (0.247105 - (0.0649821 - (0.0347962 - (0.011672 - 0.00168691 * z) * z) * z) * z) * z))
    return math.exp(-math.exp(1.0776 - (2.30695 - (0.43424 - (0.082433 - (0.008056 - 0.0003146 * z) * z) * z)
                                        * z) * z))


def test_anderson_darling_reference() -> None:
    """The A**2 code against the textbook case-0 critical values (Stephens 1974)."""
    assert abs(_ad_inf(2.492) - 0.95) < 1e-3
    assert abs(_ad_inf(3.857) - 0.99) < 1e-3
    x = np.random.default_rng(1).standard_normal(10**5)
    a2, p = anderson_darling_normal(x)
    assert p > 1e-3
    a2_shift, p_shift = anderson_darling_normal(x + 0.05)
    assert p_shift < 1e-6 and a2_shift > a2


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f4", "f8"])
def test_normal_goodness_of_fit_at_1e7(dtype: Any, request: pytest.FixtureRequest) -> None:
    x = reparam.Generator(reparam.Philox(key=KEY + 1)).standard_normal(N_FIT, dtype=dtype)
    ks = scipy_stats.kstest(x.astype(np.float64), "norm")
    a2, p_ad = anderson_darling_normal(x)
    mean, var = float(x.mean(dtype=np.float64)), float(x.var(dtype=np.float64))
    _report(request, n=N_FIT, ks_D=float(ks.statistic), ks_p=float(ks.pvalue), ad_A2=round(a2, 4),
            ad_p=round(p_ad, 4), mean=mean, var=var)
    assert ks.pvalue > P_MIN, ks
    assert p_ad > P_MIN, (a2, p_ad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f4", "f8"])
def test_uniform_goodness_of_fit_at_1e7(dtype: Any, request: pytest.FixtureRequest) -> None:
    u = reparam.Generator(reparam.Philox(key=KEY + 2)).random(N_FIT, dtype=dtype)
    ks = scipy_stats.kstest(u.astype(np.float64), "uniform")
    _report(request, n=N_FIT, ks_D=float(ks.statistic), ks_p=float(ks.pvalue))
    assert ks.pvalue > P_MIN, ks


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f4", "f8"])
def test_second_level_ks_over_keys(dtype: Any, request: pytest.FixtureRequest) -> None:
    """KS p-values of 10**6 normals under each of 100 keys are themselves uniform
    (a second-level test: catches a bias too small for one 10**7 sample but common to
    many streams, and a key-dependent defect)."""
    pvals = []
    for k in range(100):
        x = reparam.Generator(reparam.Philox(key=KEY + 1000 + k)).standard_normal(10**6, dtype=dtype)
        pvals.append(float(scipy_stats.kstest(x.astype(np.float64), "norm").pvalue))
    second = scipy_stats.kstest(pvals, "uniform")
    _report(request, keys=100, n_each=10**6, ks_of_pvalues_p=float(second.pvalue), min_p=min(pvals))
    assert second.pvalue > P_MIN, second

"""Both gradient estimators are unbiased (and the "mean" baseline's bias is what it says).

For q = N(mu, sigma**2) with a batch of three (mu, sigma) pairs and

- f(x) = x**2 (elementwise):  E f = mu**2 + sigma**2,
  d/dmu = 2 mu,  d/dsigma = 2 sigma;
- f(x) = sin(x) (elementwise): E f = sin(mu) exp(-sigma**2 / 2),
  d/dmu = cos(mu) exp(-sigma**2/2),  d/dsigma = -sigma sin(mu) exp(-sigma**2/2);
- f(z) = z^T A z over the batch of three (one value per sample), A fixed SPD:
  E f = mu^T A mu + tr(A diag(sigma**2)),  d/dmu = 2 A mu,  d/dsigma_i = 2 A_ii sigma_i,

the gradients with respect to loc and the raw parameter (d/dsigma times dsigma/dparam, for
the logvar and softplus parameterizations) are estimated by `reparam.estimate_grad` with
the pathwise estimator and the score-function estimator with baselines None and "loo".

Repetitions: the three pairs are tiled R times along a leading batch axis, so one call
of ``estimate_grad(fn, q, n)`` gives R independent estimates from n samples each (every
batch element has its own noise; the "loo" and "mean" baselines are per batch element).
Each test is seeded, so it is deterministic; the statistical statements are:

- unbiasedness: |mean of the R estimates - truth| <= Z standard errors (Z = 5: under the
  normal approximation of a mean of R estimates, a false alarm rate of 5.7e-7 per
  comparison; 186 comparisons in this file, so at most 1.1e-4 for the whole file);
- the "mean" baseline (b = mean of f over the n samples, the sample itself included) is
  biased: E[(f_s - mean f) score_s] = (1 - 1/n) E[f score] (the f_s part of the mean is
  correlated with score_s, the other samples' parts are not), so its expectation is
  (n - 1) / n times the true gradient; checked at n = 4 with 100000 repetitions, where the
  bias (a quarter of the gradient) is also resolved (the truth is > Z SE away);
- the reported per-sample variance (return_stats) averaged over repetitions agrees with
  n times the empirical variance of the R estimates: ratio within 1 +- 0.15 (the empirical
  variance has a relative standard error of about sqrt(2 / R) = 2.2% at R = 4000, so the
  tolerance is more than five of those).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import reparam
from reparam import Normal

SEED = 8675309
Z = 5.0
MU = np.array([0.7, -1.2, 1.1])
SIGMA = np.array([0.5, 1.0, 1.5])
A = np.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 1.5]])  # symmetric positive definite
R, N = 4000, 256


def raw_param(name: str, sigma: np.ndarray) -> np.ndarray:
    return {"logvar": lambda: 2 * np.log(sigma), "softplus": lambda: sigma + np.log(-np.expm1(-sigma))}[name]()


def dsigma_dparam(name: str, sigma: np.ndarray) -> np.ndarray:
    return {"logvar": lambda: sigma / 2, "softplus": lambda: -np.expm1(-sigma)}[name]()  # sigmoid(x) = 1 - e^-s


# name -> (pathwise fn: z -> (f, df/dz), score fn: z -> f, true d/dmu, true d/dsigma)
Case = tuple[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], Callable[[np.ndarray], np.ndarray],
             np.ndarray, np.ndarray]
_damp = np.exp(-SIGMA**2 / 2)
CASES: dict[str, Case] = {
    "square": (lambda z: (z * z, 2 * z), lambda z: z * z, 2 * MU, 2 * SIGMA),
    "sin": (lambda z: (np.sin(z), np.cos(z)), np.sin, np.cos(MU) * _damp, -SIGMA * np.sin(MU) * _damp),
    "quadratic": (lambda z: (np.einsum("...i,ij,...j->...", z, A, z), 2 * z @ A),
                  lambda z: np.einsum("...i,ij,...j->...", z, A, z), 2 * A @ MU, 2 * np.diag(A) * SIGMA),
}
assert np.all(np.linalg.eigvalsh(A) > 0)


def tiled_q(name: str, reps: int) -> Normal:
    """The three pairs tiled `reps` times: batch (reps, 3), every argument of full shape."""
    return Normal(np.tile(MU, (reps, 1)), **{name: np.tile(raw_param(name, SIGMA), (reps, 1))})


def estimates(case: str, name: str, method: str, baseline: Any, reps: int, n: int,
              seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    pathwise_fn, score_fn, _, _ = CASES[case]
    q = tiled_q(name, reps)
    fn = pathwise_fn if method == "pathwise" else score_fn
    kw = {"baseline": baseline} if method == "score" else {}
    grads, stats = reparam.estimate_grad(fn, q, n, method=method, rng=seed, return_stats=True, **kw)
    assert grads["loc"].shape == (reps, 3) and grads[name].shape == (reps, 3)
    return grads, stats


def truth(case: str, name: str) -> dict[str, np.ndarray]:
    _, _, d_mu, d_sigma = CASES[case]
    return {"loc": d_mu, name: d_sigma * dsigma_dparam(name, SIGMA)}


def check_mean(est: np.ndarray, expected: np.ndarray, what: str) -> np.ndarray:
    """|mean - expected| <= Z standard errors, elementwise over the three pairs; returns the SE."""
    mean = est.mean(axis=0)
    se = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    assert np.all(np.abs(mean - expected) <= Z * se), (what, mean, expected, se)
    return se


METHODS = [("pathwise", None), ("score", None), ("score", "loo")]


@pytest.mark.parametrize("name", ["logvar", "softplus"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(("method", "baseline"), METHODS, ids=["pathwise", "score-none", "score-loo"])
def test_unbiased(case: str, name: str, method: str, baseline: Any) -> None:
    seed = SEED + 100 * list(CASES).index(case) + (name == "softplus")
    grads, stats = estimates(case, name, method, baseline, R, N, seed)
    want = truth(case, name)
    for key in ("loc", name):
        check_mean(grads[key], want[key], f"{case} {method} {baseline} {key}")
        # the reported per-sample variance vs n * the variance of the mean across repetitions
        reported = stats[key].mean(axis=0)
        empirical = N * grads[key].var(axis=0, ddof=1)
        ratio = reported / empirical
        assert np.all(np.abs(ratio - 1) <= 0.15), (key, ratio)


@pytest.mark.parametrize("name", ["logvar", "softplus"])
@pytest.mark.parametrize("case", list(CASES))
def test_mean_baseline_bias(case: str, name: str) -> None:
    """E[score estimate with b = mean(f)] = (n - 1) / n * true gradient; "loo" stays unbiased
    at the same small n."""
    n, reps = 4, 100000
    seed = SEED + 7 + 100 * list(CASES).index(case) + (name == "softplus")
    want = truth(case, name)
    biased, _ = estimates(case, name, "score", "mean", reps, n, seed)
    loo, _ = estimates(case, name, "score", "loo", reps, n, seed)
    for key in ("loc", name):
        se = check_mean(biased[key], (n - 1) / n * want[key], f"{case} mean-baseline {key}")
        # and the bias is resolved: the true gradient itself is more than Z standard errors away
        assert np.all(np.abs(biased[key].mean(axis=0) - want[key]) > Z * se), (key, want[key], se)
        check_mean(loo[key], want[key], f"{case} loo n=4 {key}")


def test_pathwise_and_score_agree_with_each_other() -> None:
    """Both estimators, same noise, on one seed: their means over R repetitions agree with
    each other within Z combined standard errors (a consistency check of the two kernels)."""
    q = tiled_q("logvar", R)
    z, noise = q.rsample(N, rng=SEED + 1, return_noise=True)
    pw = q.pathwise_grad(np.cos(z), noise)
    sc = q.score_grad(np.sin(z), noise, baseline="loo")
    for key in pw:
        d = pw[key] - sc[key]
        se = d.std(axis=0, ddof=1) / np.sqrt(R)
        assert np.all(np.abs(d.mean(axis=0)) <= Z * se), key

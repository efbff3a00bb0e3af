"""pytest-benchmark timings of the score-function gradient, reparam vs NumPy.

The problem of test_bench_gradients.py: q = Normal(mu, logvar=logvar), (4096, 256)
float32, S = 16 samples and their `Noise` handle; the score-function estimator
d/dmu = mean_s (f_s - b_s) eps_s / sigma, d/dlogvar = mean_s (f_s - b_s)(eps_s**2 - 1) / 2
with the leave-one-out baseline b_s = (sum f - f_s) / (S - 1), for two shapes of f:

- "per-sample": one value f_s per sample (a loss summed over the batch), shape (16,);
- "per-element": one value per sample and batch element, shape (16, 4096, 256), as for a
  loss that separates over the batch (the kernel centres each value as it reads it: no
  centred copy of f is made).

Rows: ``numpy_einsum`` with eps stored (``np.einsum`` over the samples of w * eps and
w * (eps**2 - 1), w = f - b formed once), ``reparam_eps_array`` (eps stored) and
``reparam_noise_handle`` (eps regenerated inside the fused pass). One thread
(``reparam.set_num_threads(1)``, restored afterwards); every row checked against a
float64 reference from the same eps.

Not collected by the default ``pytest`` run (``testpaths = ["tests"]``)::

    python -m pytest benchmarks/test_bench_score.py -q --benchmark-min-rounds=5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import reparam

pytest.importorskip("pytest_benchmark")

SHAPE = (4096, 256)
S = 16
SEED = 5151
_CACHE: dict[str, Any] = {}


def setup() -> dict[str, Any]:
    if not _CACHE:
        r = np.random.default_rng(SEED)
        mu = r.standard_normal(SHAPE, dtype=np.float32)
        logvar = r.uniform(-2.0, 2.0, SHAPE).astype(np.float32)
        q = reparam.Normal(mu, logvar=logvar)
        z, noise = q.rsample(S, rng=SEED, return_noise=True)
        f_elem = (z * z).astype(np.float32)  # per sample and element: z**2
        f_sample = f_elem.reshape(S, -1).sum(axis=1, dtype=np.float64).astype(np.float32)
        _CACHE.update(q=q, logvar=logvar, noise=noise, eps=np.asarray(noise),
                      f={"per-sample": f_sample, "per-element": f_elem})
    return _CACHE


def reference(d: dict[str, Any], f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64: d/dmu and d/dlogvar with the leave-one-out baseline, from the stored eps."""
    f64 = f.astype(np.float64).reshape(S, -1)
    w = (S * f64 - f64.sum(axis=0)) / (S - 1)
    w = w.reshape(S, 1, 1) if w.shape[1] == 1 else w.reshape(S, *SHAPE)
    e = d["eps"].astype(np.float64)
    inv = np.exp(-0.5 * d["logvar"].astype(np.float64))
    return (w * e).mean(axis=0) * inv, (w * (e * e - 1.0)).mean(axis=0) * 0.5  # dsigma/dlogvar = sigma / 2


def numpy_einsum(d: dict[str, Any], f: np.ndarray) -> Callable[[], Any]:
    eps = d["eps"]
    inv = np.exp(np.float32(-0.5) * d["logvar"])

    def fn() -> Any:
        total = f.sum(axis=0)
        w = (np.float32(S) * f - total) / np.float32(S - 1)
        if w.ndim == 1:  # one weight per sample
            sx = np.einsum("s,sij->ij", w, eps)
            sy = np.einsum("s,sij->ij", w, eps * eps) - w.sum()
        else:
            sx = np.einsum("sij,sij->ij", w, eps)
            sy = np.einsum("sij,sij->ij", w, eps * eps) - w.sum(axis=0)
        return sx * (inv / S), sy * np.float32(0.5 / S)

    return fn


def reparam_call(d: dict[str, Any], f: np.ndarray, noise: Any) -> Callable[[], Any]:
    q = d["q"]

    def fn() -> Any:
        g = q.score_grad(f, noise, baseline="loo")
        return g["loc"], g["logvar"]

    return fn


VARIANTS: dict[str, Callable[[dict[str, Any], np.ndarray], Callable[[], Any]]] = {
    "numpy_einsum": numpy_einsum,
    "reparam_eps_array": lambda d, f: reparam_call(d, f, d["eps"]),
    "reparam_noise_handle": lambda d, f: reparam_call(d, f, d["noise"]),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("f_shape", ["per-sample", "per-element"])
def test_score(benchmark: Any, f_shape: str, variant: str, one_thread: None) -> None:
    d = setup()
    f = d["f"][f_shape]
    fn = VARIANTS[variant](d, f)
    benchmark.group = f"score grad, loo baseline, f {f_shape}: logvar float32 {S}x{SHAPE[0]}x{SHAPE[1]}"
    benchmark.extra_info["threads"] = 1
    d_loc, d_lv = benchmark(fn)
    want_loc, want_lv = reference(d, f)
    for got, want in ((d_loc, want_loc), (d_lv, want_lv)):
        assert got.shape == SHAPE and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-4 * np.abs(want).max())

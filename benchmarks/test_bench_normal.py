"""pytest-benchmark timings of the reparameterized Normal against hand-written baselines.

loc and logvar of shape (4096, 256), float32, and z = loc + exp(logvar / 2) * eps:

- NumPy (the baseline): ``mu + np.exp(0.5 * logvar) * rng.standard_normal(shape, float32)``;
- reparam: ``Normal(mu, logvar=logvar).rsample(rng=rng)`` and
  ``reparameterize(mu, logvar, "logvar", rng=rng)`` (one fused pass);
- torch, when importable: ``torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample()``
  and the fused hand-written ``mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)``;
- JAX, when importable: the hand-written line under ``jax.jit``.

One group per sample count: one sample per distribution, and 16 (``size=16``, shape
(16, 4096, 256)). reparam and torch run on one thread (restored afterwards); NumPy is
single-threaded; JAX uses XLA's own thread pool, which cannot be set at run time. Every
benchmark checks what it timed: shape, dtype, finiteness, and that (z - loc) / sigma has
mean 0 and standard deviation 1 within six standard errors.

Not collected by the default ``pytest`` run (``testpaths = ["tests"]``)::

    python -m pytest benchmarks/test_bench_normal.py -q --benchmark-min-rounds=5
    python -m pytest benchmarks/test_bench_normal.py -q --benchmark-disable   # checks only
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import reparam

pytest.importorskip("pytest_benchmark")

SHAPE = (4096, 256)
SEED = 2024
SAMPLES = [1, 16]
samples_param = pytest.mark.parametrize("samples", SAMPLES, ids=["1-sample", "16-samples"])


def inputs() -> tuple[np.ndarray, np.ndarray]:
    """(mu, logvar): float32 arrays of SHAPE, sigma = exp(logvar / 2) in [0.37, 2.7]."""
    r = np.random.default_rng(SEED)
    mu = r.standard_normal(SHAPE, dtype=np.float32)
    logvar = r.uniform(-2.0, 2.0, SHAPE).astype(np.float32)
    return mu, logvar


def group_name(samples: int) -> str:
    return f"Normal(logvar).rsample float32 {SHAPE[0]}x{SHAPE[1]} x{samples}"


def sample_shape(samples: int) -> tuple[int, ...]:
    return SHAPE if samples == 1 else (samples, *SHAPE)


def check(z: Any, mu: np.ndarray, logvar: np.ndarray, samples: int) -> None:
    """z has the shape and dtype asked for, is finite, and (z - mu) / sigma ~ N(0, 1)."""
    a = np.asarray(z)
    assert a.shape == sample_shape(samples)
    assert a.dtype == np.float32
    assert np.isfinite(a).all()
    sigma = np.exp(0.5 * logvar.astype(np.float64))
    e = (a.astype(np.float64) - mu.astype(np.float64)) / sigma
    n = e.size
    mean, std = float(e.mean()), float(e.std())
    assert abs(mean) < 6 / math.sqrt(n), mean
    assert abs(std - 1) < 6 * math.sqrt(0.5 / n), std


def run(benchmark: Any, samples: int, fn: Callable[[], Any]) -> Any:
    """Warm `fn` up (unless benchmarks are disabled), time it in the group of `samples`,
    and return the value of the last call."""
    benchmark.group = group_name(samples)
    if not benchmark.disabled:
        end = time.perf_counter() + 0.2
        fn()
        while time.perf_counter() < end:
            fn()
    return benchmark(fn)


# ------------------------------------------------------------------------------ rows
@samples_param
def test_numpy_handwritten(benchmark: Any, samples: int) -> None:
    """The baseline: NumPy's Generator and the formula written out."""
    mu, logvar = inputs()
    rng = np.random.default_rng(SEED)
    shape = sample_shape(samples)
    z = run(benchmark, samples,
            lambda: mu + np.exp(0.5 * logvar) * rng.standard_normal(shape, dtype=np.float32))
    check(z, mu, logvar, samples)


@samples_param
def test_reparam_normal_rsample(benchmark: Any, one_thread: None, samples: int) -> None:
    mu, logvar = inputs()
    rng = reparam.default_rng(SEED)
    size = None if samples == 1 else samples
    benchmark.extra_info["simd"] = reparam.simd_info()["selected"]
    z = run(benchmark, samples, lambda: reparam.Normal(mu, logvar=logvar).rsample(size, rng=rng))
    check(z, mu, logvar, samples)


@samples_param
def test_reparam_reparameterize(benchmark: Any, one_thread: None, samples: int) -> None:
    mu, logvar = inputs()
    rng = reparam.default_rng(SEED)
    size = None if samples == 1 else samples
    benchmark.extra_info["simd"] = reparam.simd_info()["selected"]
    z = run(benchmark, samples,
            lambda: reparam.reparameterize(mu, logvar, "logvar", size, rng=rng))
    check(z, mu, logvar, samples)


@samples_param
def test_torch_distributions(benchmark: Any, torch_1thread: Any, samples: int) -> None:
    torch = torch_1thread
    mu, logvar = inputs()
    tmu, tlv = torch.from_numpy(mu), torch.from_numpy(logvar)
    torch.manual_seed(SEED)
    shape = torch.Size([] if samples == 1 else [samples])

    def fn() -> Any:
        return torch.distributions.Normal(tmu, torch.exp(0.5 * tlv)).rsample(shape)

    with torch.no_grad():
        z = run(benchmark, samples, fn)
    check(z.numpy(), mu, logvar, samples)


@samples_param
def test_torch_handwritten(benchmark: Any, torch_1thread: Any, samples: int) -> None:
    torch = torch_1thread
    mu, logvar = inputs()
    tmu, tlv = torch.from_numpy(mu), torch.from_numpy(logvar)
    torch.manual_seed(SEED)
    if samples == 1:
        def fn() -> Any:
            return tmu + torch.exp(0.5 * tlv) * torch.randn_like(tmu)
    else:
        def fn() -> Any:
            return tmu + torch.exp(0.5 * tlv) * torch.randn(samples, *SHAPE, dtype=tmu.dtype)

    with torch.no_grad():
        z = run(benchmark, samples, fn)
    check(z.numpy(), mu, logvar, samples)


@samples_param
def test_jax_jit(benchmark: Any, samples: int) -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    mu, logvar = inputs()
    jmu, jlv = jnp.asarray(mu), jnp.asarray(logvar)
    shape = sample_shape(samples)

    @jax.jit
    def sample(key: Any, m: Any, lv: Any) -> Any:
        return m + jnp.exp(0.5 * lv) * jax.random.normal(key, shape, dtype=jnp.float32)

    key = jax.random.key(SEED)  # one key: every call still computes (no caching across calls)
    benchmark.extra_info["threads"] = "xla"
    z = run(benchmark, samples, lambda: sample(key, jmu, jlv).block_until_ready())
    check(np.asarray(z), mu, logvar, samples)

"""pytest-benchmark timings of ``standard_normal``: reparam against NumPy, torch, JAX.

One benchmark group per (dtype, n): NumPy's ``Generator.standard_normal``,
reparam's, and, when importable, ``torch.randn`` and a jitted
``jax.random.normal``, all on one thread (JAX: XLA's own threads). A further group
per dtype compares reparam on 1 and 2 threads at n = 10**7. Every benchmark
checks the values it timed: shape, dtype, finiteness and, for n >= 10**5, mean and
standard deviation within six standard errors.

Not collected by the default ``pytest`` run (``testpaths = ["tests"]``); see
benchmarks/README.md::

    python -m pytest benchmarks --benchmark-min-rounds=3
    python -m pytest benchmarks --benchmark-disable -q   # correctness only, fast
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import reparam

pytest.importorskip("pytest_benchmark")

SIZES = [1, 1000, 10**5, 10**7]
DTYPES = ["float32", "float64"]
SEED = 12345

size_param = pytest.mark.parametrize("n", SIZES, ids=["n=1", "n=1000", "n=10**5", "n=10**7"])
dtype_param = pytest.mark.parametrize("dtype", DTYPES)


def check_normal(x: Any, n: int, dtype: str) -> None:
    """check_normal(x, n, dtype)

    Assert that `x` is `n` finite standard normal values of `dtype`.
    """
    a = np.asarray(x)
    assert a.shape == (n,)
    assert a.dtype == np.dtype(dtype)
    assert np.isfinite(a).all()
    if n >= 10**5:
        mean = float(a.mean(dtype=np.float64))
        std = float(a.std(dtype=np.float64))
        assert abs(mean) < 6 / math.sqrt(n), mean
        assert abs(std - 1) < 6 * math.sqrt(0.5 / n), std


def run(benchmark: Any, group: str, fn: Callable[[], Any]) -> Any:
    """run(benchmark, group, fn)

    Warm `fn` up (unless benchmarks are disabled), then time it in `group`;
    returns the value of the last call.
    """
    benchmark.group = group
    if not benchmark.disabled:
        end = time.perf_counter() + 0.1
        fn()
        while time.perf_counter() < end:
            fn()
    return benchmark(fn)


def group_name(dtype: str, n: int) -> str:
    """group_name(dtype, n)

    The benchmark group of one (dtype, n); ``n=1e3`` sorts in size order.
    """
    return f"standard_normal {dtype} n=1e{round(math.log10(n))}"


@pytest.fixture
def reparam_threads() -> Iterator[Callable[[int], None]]:
    """reparam_threads()

    reparam on one thread for the test (the setter is yielded for changing it);
    the thread count is restored afterwards.
    """
    saved = reparam.get_num_threads()
    reparam.set_num_threads(1)
    try:
        yield reparam.set_num_threads
    finally:
        reparam.set_num_threads(saved)


@pytest.fixture
def jax_x64() -> Iterator[Any]:
    """jax_x64()

    The jax module with 64-bit types enabled (skips without jax); restored after.
    """
    jax = pytest.importorskip("jax")
    saved = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", saved)


@dtype_param
@size_param
def test_numpy(benchmark: Any, dtype: str, n: int) -> None:
    rng = np.random.default_rng(SEED)
    dt = np.dtype(dtype)
    x = run(benchmark, group_name(dtype, n), lambda: rng.standard_normal(n, dtype=dt))
    check_normal(x, n, dtype)


@dtype_param
@size_param
def test_reparam(benchmark: Any, reparam_threads: Callable[[int], None], dtype: str, n: int) -> None:
    rng = reparam.default_rng(SEED)
    dt = np.dtype(dtype)
    benchmark.extra_info["simd"] = reparam.simd_info()["selected"]
    x = run(benchmark, group_name(dtype, n), lambda: rng.standard_normal(n, dtype=dt))
    check_normal(x, n, dtype)


@dtype_param
@size_param
def test_torch(benchmark: Any, torch_1thread: Any, dtype: str, n: int) -> None:
    torch = torch_1thread
    gen = torch.Generator().manual_seed(SEED)
    tdt = getattr(torch, dtype)
    x = run(benchmark, group_name(dtype, n), lambda: torch.randn(n, dtype=tdt, generator=gen))
    check_normal(x.numpy(), n, dtype)


@dtype_param
@size_param
def test_jax(benchmark: Any, jax_x64: Any, dtype: str, n: int) -> None:
    jax = jax_x64
    jdt = getattr(jax.numpy, dtype)
    key = jax.random.key(SEED)
    fn = jax.jit(lambda k: jax.random.normal(k, (n,), dtype=jdt))
    x = run(benchmark, group_name(dtype, n), lambda: fn(key).block_until_ready())
    check_normal(x, n, dtype)


@dtype_param
@pytest.mark.parametrize("threads", [1, 2], ids=["1thread", "2threads"])
def test_reparam_threads(benchmark: Any, reparam_threads: Callable[[int], None], dtype: str, threads: int) -> None:
    n = 10**7
    reparam_threads(threads)
    rng = reparam.default_rng(SEED)
    dt = np.dtype(dtype)
    benchmark.extra_info["threads"] = threads
    group = f"threads: reparam standard_normal {dtype} n=1e7"
    x = run(benchmark, group, lambda: rng.standard_normal(n, dtype=dt))
    check_normal(x, n, dtype)

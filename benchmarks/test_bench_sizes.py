"""pytest-benchmark timings of every public entry point across sizes, each next to the
hand-written NumPy (or torch) code it replaces.

The cases are those of ``python -m reparam bench --sizes-sweep`` (``reparam._bench.SWEEP_CASES``,
one definition for both): ``Generator.standard_normal`` and ``Generator.normal``,
``Normal(mu, logvar=lv).rsample`` and ``Normal(mu, scale=sigma).rsample`` (the
distribution built in the timed call), ``reparameterize``, ``q.pathwise_grad(g, eps)``
and ``q.pathwise_grad(g, noise)`` (a `Noise` handle), ``q.score_grad(f, eps)``,
``q.kl_standard_normal(grad=True)``, ``q.log_prob(x)``, ``estimate_grad`` and
``reparam.torch.rsample`` forward + ``z.sum().backward()`` (skipped without torch).

The peers get the same inputs: sampling against ``mu + sigma * rng.standard_normal(shape,
dtype)`` (sigma ``np.exp(0.5 * lv)`` for logvar) with NumPy's Generator; gradients and
closed forms against the NumPy expression on the same stored eps; the `Noise` handle row
against that expression after a NumPy ``standard_normal`` of eps (a handle stores no eps).
n values per call have the batch shape (n/20, 20); the gradients' g, f and eps have a
leading sample axis of 1. One thread (``reparam.set_num_threads(1)``, torch's too,
restored afterwards; NumPy is single-threaded).

One benchmark group per (entry point, dtype, n), holding ``reparam`` and ``peer``. Every
test checks the pair: the same shapes, the dtype asked for, finite values, and reparam's
result equal to the NumPy expression on the stored eps to rounding (not for sampling,
whose values are random).

Sizes: 10**2, 10**4 and 10**6 by default (about 3 minutes on one core; each test takes
pytest-benchmark's one second or so); ``--sweep-sizes=all`` runs all six, 10**2 to 10**7
(about 6 minutes or more; ``python -m reparam bench --sizes-sweep`` prints the same sweep
as tables), and ``--sweep-sizes=1e3,1e5`` picks sizes. Not collected by the default ``pytest`` run
(``testpaths = ["tests"]``)::

    python -m pytest benchmarks/test_bench_sizes.py -q
    python -m pytest benchmarks/test_bench_sizes.py -q --sweep-sizes=all -k pathwise
    python -m pytest benchmarks/test_bench_sizes.py -q --benchmark-disable   # checks only
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

import reparam
from reparam import _bench

pytest.importorskip("pytest_benchmark")

DTYPES = ["float32", "float64"]
SIDES = ["reparam", "peer"]


def sweep_sizes(config: pytest.Config) -> list[int]:
    """sweep_sizes(config)

    The sizes of ``--sweep-sizes``: "default" (10**2, 10**4, 10**6), "all" (10**2 to
    10**7) or a comma-separated list such as ``1e3,10**5``.
    """
    text = str(config.getoption("--sweep-sizes"))
    if text == "default":
        return [10**2, 10**4, 10**6]
    if text == "all":
        return list(_bench.SWEEP_SIZES)
    return [_bench._parse_size(t) for t in text.split(",") if t.strip()]


def size_id(n: int) -> str:
    """size_id(n)

    ``n=1e3`` for powers of ten (so that groups sort by size), else ``n=<digits>``.
    """
    k = round(math.log10(n))
    return f"n=1e{k}" if 10**k == n else f"n={n}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize by size, dtype, entry point and side, in that order (inputs are built
    once per size and dtype)."""
    if "case" not in metafunc.fixturenames:
        return
    params, ids = [], []
    for n in sweep_sizes(metafunc.config):
        for dtype in DTYPES:
            for case in _bench.SWEEP_CASES:
                for side in SIDES:
                    params.append((case, n, dtype, side))
                    ids.append(f"{case.name}-{size_id(n)}-{dtype}-{side}")
    metafunc.parametrize("case,n,dtype,side", params, ids=ids)


_INPUTS: dict[tuple[int, str], _bench.SweepInputs] = {}


def inputs(n: int, dtype: str) -> _bench.SweepInputs:
    """inputs(n, dtype)

    The sweep's inputs, kept for one (n, dtype) at a time (10**7 float64 values take
    several 80 MB arrays).
    """
    if (n, dtype) not in _INPUTS:
        _INPUTS.clear()
        _INPUTS[n, dtype] = _bench.sweep_inputs(n, dtype)
    return _INPUTS[n, dtype]


@pytest.fixture
def torch_or_none(request: pytest.FixtureRequest, case: _bench.SweepCase) -> Any:
    """torch on one intra-op thread for the torch case (conftest's torch_1thread), else None."""
    return request.getfixturevalue("torch_1thread") if case.needs_torch else None


def test_sizes(benchmark: Any, one_thread: None, torch_or_none: Any, case: _bench.SweepCase, n: int,
               dtype: str, side: str) -> None:
    inp = inputs(n, dtype)
    calls = case.build(inp, torch_or_none)
    fn = calls.reparam if side == "reparam" else calls.peer
    benchmark.group = f"{case.name} {dtype} {size_id(n)}"
    benchmark.extra_info.update(call=case.reparam if side == "reparam" else case.peer,
                                shape=list(inp.shape), threads=1)
    if side == "reparam":
        benchmark.extra_info["simd"] = reparam.simd_info()["selected"]
    if not benchmark.disabled:  # warm up: first touch, thread pools, caches
        end = time.perf_counter() + 0.1
        fn()
        while time.perf_counter() < end:
            fn()
    out = benchmark(fn)
    if side == "reparam":
        _bench.check_sweep(calls, out, calls.peer(), dtype)
    else:
        _bench.check_sweep(calls, calls.reparam(), out, dtype)

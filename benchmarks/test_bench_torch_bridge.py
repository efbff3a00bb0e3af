"""Forward + backward of a reparameterized sample in PyTorch: reparam.torch.rsample
against torch.distributions.Normal, in time and in peak memory.

loc and the scale parameter of shape (4096, 256), float32, 16 samples: z of shape
(16, 4096, 256) (64 MiB). One round is

- torch: ``z = torch.distributions.Normal(loc, scale).rsample((16,))`` (for "logvar",
  ``scale = torch.exp(0.5 * logvar)`` inside the graph), then the backward pass;
- reparam: ``z = reparam.torch.rsample(loc, param, param_name=..., sample_shape=(16,))``,
  then the backward pass;

and the backward pass is ``z.backward(grad)`` with a dense upstream gradient made
once outside the timing ("grad"), or ``z.sum().backward()`` ("sum", whose upstream
gradient is a broadcast view). Both libraries run on one thread
(``torch.set_num_threads(1)``, ``reparam.set_num_threads(1)``; restored afterwards).

Peak memory: each case runs once in a fresh subprocess, which reports the growth of
its peak resident set (``VmHWM`` of /proc/self/status, i.e. ``ru_maxrss`` without
what Linux carries over from the parent; ``ru_maxrss`` elsewhere) over the inputs,
the upstream gradient and a small warm-up of both libraries; a baseline process does
only that preparation.

Not collected by the default ``pytest`` run (``testpaths = ["tests"]``)::

    python -m pytest benchmarks/test_bench_torch_bridge.py -q --benchmark-min-rounds=3
    python benchmarks/test_bench_torch_bridge.py          # the Markdown tables of the README
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import reparam

torch = pytest.importorskip("torch")
pytest.importorskip("pytest_benchmark")
import reparam.torch as rt  # noqa: E402  (after the importorskip of torch)

SHAPE = (4096, 256)
SAMPLES = 16
SEED = 2024
PARAMS = ["scale", "logvar"]
LOSSES = ["grad", "sum"]
LIBS = ["torch", "reparam"]


def inputs(param_name: str) -> tuple[Any, Any, Any]:
    """(loc, param, grad): loc and the parameter require grad; sigma in [0.37, 2.7]."""
    r = np.random.default_rng(SEED)
    loc = r.standard_normal(SHAPE, dtype=np.float32)
    logvar = r.uniform(-2.0, 2.0, SHAPE).astype(np.float32)
    param = logvar if param_name == "logvar" else np.exp(0.5 * logvar)
    grad = r.standard_normal((SAMPLES, *SHAPE), dtype=np.float32)
    return (torch.from_numpy(loc).requires_grad_(), torch.from_numpy(param).requires_grad_(),
            torch.from_numpy(grad))


def step_fn(lib: str, param_name: str, loss: str, loc: Any, param: Any, grad: Any) -> Callable[[], Any]:
    """One forward + backward; returns z (gradients accumulate into loc.grad, param.grad)."""
    gen = reparam.default_rng(SEED)
    torch.manual_seed(SEED)

    def forward() -> Any:
        if lib == "reparam":
            return rt.rsample(loc, param, param_name=param_name, sample_shape=(SAMPLES,), generator=gen)
        scale = torch.exp(0.5 * param) if param_name == "logvar" else param
        return torch.distributions.Normal(loc, scale).rsample((SAMPLES,))

    def step() -> Any:
        loc.grad = param.grad = None
        z = forward()
        if loss == "sum":
            z.sum().backward()
        else:
            z.backward(grad)
        return z

    return step


def check(z: Any, loc: Any, param: Any, grad: Any, loss: str) -> None:
    assert z.shape == (SAMPLES, *SHAPE) and z.dtype == torch.float32
    assert loc.grad is not None and param.grad is not None
    assert loc.grad.shape == SHAPE and param.grad.shape == SHAPE
    expected = torch.full(SHAPE, float(SAMPLES)) if loss == "sum" else grad.sum(0)
    torch.testing.assert_close(loc.grad, expected, rtol=1e-5, atol=1e-4)
    assert torch.isfinite(param.grad).all()


@pytest.fixture
def one_thread() -> Iterator[None]:
    saved = reparam.get_num_threads(), torch.get_num_threads()
    reparam.set_num_threads(1)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        reparam.set_num_threads(saved[0])
        torch.set_num_threads(saved[1])


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("param_name", PARAMS)
def test_forward_backward(benchmark: Any, one_thread: None, param_name: str, loss: str, lib: str) -> None:
    loc, param, grad = inputs(param_name)
    step = step_fn(lib, param_name, loss, loc, param, grad)
    benchmark.group = f"rsample fwd+bwd float32 {SHAPE[0]}x{SHAPE[1]} x{SAMPLES}, {param_name}, loss={loss}"
    benchmark.extra_info["simd"] = reparam.simd_info()["selected"]
    if not benchmark.disabled:
        step()  # warm-up: torch loads modules on its first backward
    z = benchmark(step)
    check(z, loc, param, grad, loss)


# -- peak memory, one subprocess per case -----------------------------------------------------
_CHILD = """
import json, resource, sys
def peak_kib():
    # VmHWM: this process's own peak RSS. ru_maxrss would do, but Linux carries it over
    # from the parent through fork and exec, so a big parent hides the child's growth.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.path.insert(0, {here!r})
import test_bench_torch_bridge as b
import reparam, torch
torch.set_num_threads(1)
reparam.set_num_threads(1)
lib, param_name, loss = sys.argv[1:4]
loc, param, grad = b.inputs(param_name)
for name in b.LIBS:  # warm both libraries up on a small batch
    small = [t[..., :8].contiguous().requires_grad_(t.requires_grad) for t in (loc, param)]
    b.step_fn(name, param_name, loss, *small, grad[..., :8].contiguous())()
before = peak_kib()
if lib != "none":
    step = b.step_fn(lib, param_name, loss, loc, param, grad)
    z = step()
    after = peak_kib()  # the step's peak, before check's own float64 temporaries
    b.check(z, loc, param, grad, loss)
else:
    after = peak_kib()
print(json.dumps({{"before_kib": before, "after_kib": after}}))
"""


def peak_growth_mib(lib: str, param_name: str, loss: str) -> float:
    """Growth of the peak RSS (MiB) of a fresh process over its prepared inputs."""
    code = _CHILD.format(here=os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code, lib, param_name, loss], check=True, capture_output=True,
                         text=True, timeout=300)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return (d["after_kib"] - d["before_kib"]) / 1024.0


@pytest.mark.parametrize("loss", LOSSES)
def test_peak_memory(loss: str) -> None:
    """reparam keeps no noise tensor and copies nothing of sample size: during the step
    its peak growth is z, the two batch-sized gradients and, for "sum" (whose upstream
    gradient has stride 0 along every axis), the one batch row the reduction reads for
    every sample, made contiguous; torch's adds eps and sample-sized backward
    temporaries. The child reads its peak right after the step, before ``check``, so
    a kept noise tensor or an upstream gradient copied at sample size (64 MiB each)
    would break the bound of z plus 12 batches (48 MiB) for either loss.
    """
    base = peak_growth_mib("none", "logvar", loss)
    ours = peak_growth_mib("reparam", "logvar", loss)
    theirs = peak_growth_mib("torch", "logvar", loss)
    z_mib = SAMPLES * SHAPE[0] * SHAPE[1] * 4 / 2**20
    batch_mib = SHAPE[0] * SHAPE[1] * 4 / 2**20
    assert base < 8, base
    assert ours < theirs, (ours, theirs)
    assert ours < z_mib + 12 * batch_mib, ours


# -- the README table ----------------------------------------------------------------------------
def _median_seconds(step: Callable[[], Any], rounds: int) -> float:
    step()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(rounds: int = 7, threads: int = 1) -> None:
    """The README table; ``threads``: both libraries' thread count for the timings (the
    peak-memory processes always use one)."""
    reparam.set_num_threads(threads)
    torch.set_num_threads(threads)
    flag = f" --threads {threads}" if threads != 1 else ""
    count = "one thread" if threads == 1 else f"{threads} threads each"
    print(f"python benchmarks/test_bench_torch_bridge.py{flag}  (torch {torch.__version__}, reparam "
          f"{reparam.__version__}, SIMD {reparam.simd_info()['selected']}, {count}, median of {rounds})\n")
    print("| param | backward | torch.distributions ms | reparam.torch ms | speedup "
          "| torch peak MiB | reparam peak MiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for param_name in PARAMS:
        for loss in LOSSES:
            ms = {}
            for lib in LIBS:
                loc, param, grad = inputs(param_name)
                ms[lib] = 1e3 * _median_seconds(step_fn(lib, param_name, loss, loc, param, grad), rounds)
            mem = {lib: peak_growth_mib(lib, param_name, loss) for lib in LIBS}
            backward = "z.backward(grad)" if loss == "grad" else "z.sum().backward()"
            print(f"| {param_name} | `{backward}` | {ms['torch']:.1f} | {ms['reparam']:.1f} | "
                  f"{ms['torch'] / ms['reparam']:.1f}x | {mem['torch']:.0f} | {mem['reparam']:.0f} |")
    print(f"\nbaseline process (inputs, upstream gradient, warm-up): peak growth "
          f"{peak_growth_mib('none', 'logvar', 'grad'):.1f} MiB; z itself is "
          f"{SAMPLES * SHAPE[0] * SHAPE[1] * 4 / 2**20:.0f} MiB")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="The README's torch bridge table.")
    ap.add_argument("--threads", type=int, default=1, help="threads of torch and of reparam (default 1)")
    main(threads=ap.parse_args().threads)

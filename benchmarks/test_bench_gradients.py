"""pytest-benchmark timings (and peak memory) of the pathwise gradient, reparam vs NumPy and torch.

The problem: q = Normal(mu, logvar=logvar) with mu and logvar of shape (4096, 256),
float32, S = 16 samples z = mu + exp(logvar / 2) * eps of shape (16, 4096, 256), and a
fixed upstream gradient g = dL/dz of that shape. The pathwise gradient (mean over the
samples):  d/dmu = mean_s g,  d/dlogvar = mean_s (g * eps) * sigma / 2.

Group "pathwise grad only" (eps already drawn; the NumPy einsum row is the baseline):

- ``numpy_einsum``: ``g.sum(0) / S`` and ``np.einsum("sij,sij->ij", g, eps)`` with the chain
  rule ``* sigma / 2 / S`` (eps stored, read once, no temporary);
- ``numpy_plain``: ``g.mean(0)`` and ``(g * eps).mean(0) * sigma / 2`` (a (16, 4096, 256)
  temporary);
- ``reparam_eps_array``: ``q.pathwise_grad(g, eps)`` (eps stored);
- ``reparam_noise_handle``: ``q.pathwise_grad(g, noise)`` with the `Noise` handle of the
  ``rsample`` call: eps regenerated inside the fused pass, never stored;
- ``torch_backward_only`` (torch importable): ``z.backward(g)`` of a recorded
  ``torch.distributions.Normal(mu, exp(logvar / 2)).rsample((16,))`` (retain_graph).

Group "sample + pathwise grad" (NumPy baseline: ``rng.standard_normal``, z, einsum):

- ``numpy_sample_and_grad``; ``reparam_sample_and_grad``: ``q.rsample(16,
  return_noise=True)`` + ``q.pathwise_grad(g, noise)``; ``torch_forward_backward``: the
  torch ``rsample`` and ``backward`` together.

Everything runs on one thread (``reparam.set_num_threads(1)``, ``torch.set_num_threads(1)``,
restored afterwards; NumPy is single-threaded). Every benchmark checks what it timed
against a float64 reference computed from the same eps (for torch, eps is recovered as
(z - mu) / sigma from the z it drew): shapes, dtypes and values within float32 accuracy.

Peak memory: `test_peak_memory` runs each variant once in a fresh subprocess (Linux,
``ru_maxrss``; one subprocess per variant because a process's high-water mark only goes
up) and prints a table: the peak RSS of the variant's process minus that of a baseline
process that only builds the common inputs (mu, logvar, g, z and the handle; torch rows
against a baseline that also imports torch), the RSS growth during the variant, and the
tracemalloc peak (NumPy's and Python's allocations; not torch's nor the core's own
buffers). The stored-eps rows include storing eps (64 MiB), as a training step that
keeps eps from the forward pass does.

Not collected by the default ``pytest`` run (``testpaths = ["tests"]``)::

    python -m pytest benchmarks/test_bench_gradients.py -q --benchmark-min-rounds=3
    python -m pytest benchmarks/test_bench_gradients.py -q --benchmark-disable   # checks only
    python -m pytest benchmarks/test_bench_gradients.py -q -k peak_memory -s     # the memory table
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import reparam

pytest.importorskip("pytest_benchmark")

SHAPE = (4096, 256)
S = 16
SEED = 4242
GROUP_GRAD = f"pathwise grad only: logvar float32 {S}x{SHAPE[0]}x{SHAPE[1]}"
GROUP_FULL = f"sample + pathwise grad: logvar float32 {S}x{SHAPE[0]}x{SHAPE[1]}"


@dataclass
class Inputs:
    mu: np.ndarray
    logvar: np.ndarray
    g: np.ndarray  # the fixed upstream gradient dL/dz, (S, 4096, 256)
    q: reparam.Normal
    z: np.ndarray  # the forward pass's samples (kept, as a training step keeps them)
    noise: reparam.Noise


def make_inputs() -> Inputs:
    """Everything built without temporaries (so a subprocess's peak RSS is just these)."""
    r = np.random.default_rng(SEED)
    mu = r.standard_normal(SHAPE, dtype=np.float32)
    logvar = r.random(SHAPE, dtype=np.float32)
    logvar *= 4
    logvar -= 2  # sigma = exp(logvar / 2) in [0.37, 2.7]
    g = r.standard_normal((S, *SHAPE), dtype=np.float32)
    g += 0.1
    q = reparam.Normal(mu, logvar=logvar)
    z, noise = q.rsample(S, rng=SEED, return_noise=True)
    return Inputs(mu, logvar, g, q, z, noise)


_INPUTS: Inputs | None = None


def inputs() -> Inputs:
    global _INPUTS
    if _INPUTS is None:
        _INPUTS = make_inputs()
    return _INPUTS


# A variant: prepare(inp) -> fn (setup such as storing eps or recording torch's forward
# happens in prepare, untimed); extract(inp, fn()) -> (d_loc, d_logvar, eps) as float
# arrays with the *mean* over samples, and the eps they used.
Extracted = tuple[np.ndarray, np.ndarray, np.ndarray]


def _sigma_half(logvar: np.ndarray) -> np.ndarray:
    return np.exp(np.float32(0.5) * logvar) * np.float32(0.5)  # dsigma/dlogvar = sigma / 2


def prep_numpy_einsum(inp: Inputs) -> Callable[[], Any]:
    eps = np.asarray(inp.noise)
    g, lv = inp.g, inp.logvar

    def fn() -> Any:
        d_loc = g.sum(0) / np.float32(S)
        d_lv = np.einsum("sij,sij->ij", g, eps) * (_sigma_half(lv) / np.float32(S))
        return d_loc, d_lv, eps

    return fn


def prep_numpy_plain(inp: Inputs) -> Callable[[], Any]:
    eps = np.asarray(inp.noise)
    g, lv = inp.g, inp.logvar

    def fn() -> Any:
        return g.mean(0), (g * eps).mean(0) * _sigma_half(lv), eps

    return fn


def prep_reparam_eps_array(inp: Inputs) -> Callable[[], Any]:
    eps = np.asarray(inp.noise)
    q, g = inp.q, inp.g

    def fn() -> Any:
        d = q.pathwise_grad(g, eps)
        return d["loc"], d["logvar"], eps

    return fn


def prep_reparam_noise_handle(inp: Inputs) -> Callable[[], Any]:
    q, g, noise = inp.q, inp.g, inp.noise

    def fn() -> Any:
        d = q.pathwise_grad(g, noise)
        return d["loc"], d["logvar"], noise

    return fn


def prep_numpy_sample_and_grad(inp: Inputs) -> Callable[[], Any]:
    rng = np.random.default_rng(SEED)
    mu, lv, g = inp.mu, inp.logvar, inp.g

    def fn() -> Any:
        eps = rng.standard_normal((S, *SHAPE), dtype=np.float32)
        sigma = np.exp(np.float32(0.5) * lv)
        z = mu + sigma * eps
        d_loc = g.sum(0) / np.float32(S)
        d_lv = np.einsum("sij,sij->ij", g, eps) * (sigma * np.float32(0.5 / S))
        return d_loc, d_lv, eps, z

    return fn


def prep_reparam_sample_and_grad(inp: Inputs) -> Callable[[], Any]:
    rng = reparam.default_rng(SEED)
    q, g = inp.q, inp.g

    def fn() -> Any:
        z, noise = q.rsample(S, rng=rng, return_noise=True)
        d = q.pathwise_grad(g, noise)
        return d["loc"], d["logvar"], noise, z

    return fn


def _torch_tensors(inp: Inputs) -> tuple[Any, Any, Any, Any]:
    import torch

    mu_t = torch.from_numpy(inp.mu.copy()).requires_grad_(True)
    lv_t = torch.from_numpy(inp.logvar.copy()).requires_grad_(True)
    return torch, mu_t, lv_t, torch.from_numpy(inp.g)


def prep_torch_forward_backward(inp: Inputs) -> Callable[[], Any]:
    torch, mu_t, lv_t, g_t = _torch_tensors(inp)
    torch.manual_seed(SEED)

    def fn() -> Any:
        mu_t.grad = None
        lv_t.grad = None
        z = torch.distributions.Normal(mu_t, torch.exp(0.5 * lv_t)).rsample((S,))
        z.backward(g_t)
        return mu_t.grad, lv_t.grad, z.detach()

    return fn


def prep_torch_backward_only(inp: Inputs) -> Callable[[], Any]:
    torch, mu_t, lv_t, g_t = _torch_tensors(inp)
    torch.manual_seed(SEED)
    z = torch.distributions.Normal(mu_t, torch.exp(0.5 * lv_t)).rsample((S,))  # recorded once

    def fn() -> Any:
        mu_t.grad = None
        lv_t.grad = None
        z.backward(g_t, retain_graph=True)
        return mu_t.grad, lv_t.grad, z.detach()

    return fn


def extract_reparam_or_numpy(inp: Inputs, res: Any) -> Extracted:
    return np.asarray(res[0]), np.asarray(res[1]), np.asarray(res[2])


def extract_torch(inp: Inputs, res: Any) -> Extracted:
    """torch's backward of z gives sums over the samples; its eps is (z - mu) / sigma."""
    d_loc, d_lv, z = (t.numpy() for t in res)
    sigma = np.exp(0.5 * inp.logvar.astype(np.float64))
    eps = (z.astype(np.float64) - inp.mu) / sigma
    return d_loc / S, d_lv / S, eps


VARIANTS: dict[str, tuple[str, Callable[[Inputs], Callable[[], Any]], Callable[[Inputs, Any], Extracted]]] = {
    "numpy_einsum": (GROUP_GRAD, prep_numpy_einsum, extract_reparam_or_numpy),
    "numpy_plain": (GROUP_GRAD, prep_numpy_plain, extract_reparam_or_numpy),
    "reparam_eps_array": (GROUP_GRAD, prep_reparam_eps_array, extract_reparam_or_numpy),
    "reparam_noise_handle": (GROUP_GRAD, prep_reparam_noise_handle, extract_reparam_or_numpy),
    "torch_backward_only": (GROUP_GRAD, prep_torch_backward_only, extract_torch),
    "numpy_sample_and_grad": (GROUP_FULL, prep_numpy_sample_and_grad, extract_reparam_or_numpy),
    "reparam_sample_and_grad": (GROUP_FULL, prep_reparam_sample_and_grad, extract_reparam_or_numpy),
    "torch_forward_backward": (GROUP_FULL, prep_torch_forward_backward, extract_torch),
}


def check(inp: Inputs, got: Extracted) -> None:
    """Against float64 sums of the same eps: loc to 1e-5 and logvar to 1e-4 of the largest
    entry (float32 inputs and outputs; torch's eps recovered from float32 z)."""
    d_loc, d_lv, eps = got
    assert d_loc.shape == SHAPE and d_lv.shape == SHAPE
    assert d_loc.dtype == np.float32 and d_lv.dtype == np.float32
    assert eps.shape == (S, *SHAPE)
    ref_loc = np.zeros(SHAPE)
    ref_gx = np.zeros(SHAPE)
    for s in range(S):
        gs = inp.g[s].astype(np.float64)
        ref_loc += gs
        ref_gx += gs * eps[s]
    ref_loc /= S
    ref_lv = ref_gx / S * np.exp(0.5 * inp.logvar.astype(np.float64)) / 2
    np.testing.assert_allclose(d_loc, ref_loc, rtol=0, atol=1e-5 * np.abs(ref_loc).max())
    np.testing.assert_allclose(d_lv, ref_lv, rtol=0, atol=1e-4 * np.abs(ref_lv).max())
    assert np.abs(ref_lv).max() > 0.1  # not trivially zero


# --------------------------------------------------------------------------- timing
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_pathwise(benchmark: Any, variant: str, one_thread: None) -> None:
    group, prepare, extract = VARIANTS[variant]
    if variant.startswith("torch"):
        torch = pytest.importorskip("torch")
        saved = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        inp = inputs()
        fn = prepare(inp)
        benchmark.group = group
        benchmark.extra_info["threads"] = 1
        benchmark.extra_info["simd"] = reparam.simd_info()["selected"]
        if not benchmark.disabled:  # warm up: first touch, thread pools, allocator
            end = time.perf_counter() + 0.2
            fn()
            while time.perf_counter() < end:
                fn()
        res = benchmark(fn)
        check(inp, extract(inp, res))
    finally:
        if variant.startswith("torch"):
            torch.set_num_threads(saved)


# ---------------------------------------------------------------------- peak memory
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _settle_and_reset_peak() -> str:
    """Free what can be freed (gc, glibc's malloc_trim) and reset the high-water mark to
    the current RSS (/proc/self/clear_refs, Linux >= 4.0). Returns how the peak is read."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM"
    except OSError:
        return "ru_maxrss"


def memory_child(variant: str) -> None:
    """Run in a subprocess: build the inputs, settle, reset the peak, then (unless a
    baseline) run `variant` once; print RSS before, the peak after and the tracemalloc peak
    (bytes) as JSON."""
    reparam.set_num_threads(1)
    if "torch" in variant:
        import torch

        torch.set_num_threads(1)
    inp = make_inputs()
    how = _settle_and_reset_peak()
    before = _status_kib("VmRSS") * 1024
    tracemalloc.start()
    if not variant.startswith("baseline"):
        _, prepare, _ = VARIANTS[variant]
        res = prepare(inp)()
        del res
    _, tm_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if how == "VmHWM":
        after = _status_kib("VmHWM") * 1024
    else:  # the process's whole-life peak (KiB on Linux): may hide growth below an earlier peak
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "after": after, "tracemalloc_peak": tm_peak, "how": how}))


def _run_child(variant: str) -> dict[str, Any]:
    here = str(Path(__file__).resolve().parent)
    code = f"import sys; sys.path.insert(0, {here!r}); import test_bench_gradients as b; b.memory_child({variant!r})"
    env = dict(os.environ, REPARAM_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_peak_memory(capsys: pytest.CaptureFixture[str]) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("ru_maxrss in KiB and fresh-process peaks: Linux only")
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    mib = 2.0**20
    base = {"numpy": _run_child("baseline"), "torch": _run_child("baseline-torch") if have_torch else None}
    rows = []
    for variant in VARIANTS:
        kind = "torch" if variant.startswith("torch") else "numpy"
        if kind == "torch" and not have_torch:
            continue
        m = _run_child(variant)
        b = base[kind]
        assert b is not None
        rows.append((variant, (m["after"] - b["before"]) / mib, (m["after"] - m["before"]) / mib,
                     m["tracemalloc_peak"] / mib))
    with capsys.disabled():
        print()
        print(f"peak memory, one run per fresh process (peak read from {base['numpy']['how']}, reset after "
              f"the inputs); inputs mu, logvar (4 MiB each), g and z ({S * SHAPE[0] * SHAPE[1] * 4 / mib:.0f} "
              f"MiB each); baseline process RSS after the inputs {base['numpy']['before'] / mib:.0f} MiB"
              + (f" ({base['torch']['before'] / mib:.0f} MiB with torch imported)" if base["torch"] else ""))
        print(f"{'variant':<26} {'peak - baseline (MiB)':>22} {'RSS growth in run (MiB)':>24} "
              f"{'tracemalloc peak (MiB)':>23}")
        for name, d_base, d_run, tm in rows:
            print(f"{name:<26} {d_base:>22.1f} {d_run:>24.1f} {tm:>23.1f}")
    extra = {name: d for name, d, _, _ in rows}
    eps_mib = S * SHAPE[0] * SHAPE[1] * 4 / mib
    # the handle's point: eps is never stored, so at least most of its 64 MiB less than with
    # the eps array (the rest of the handle row is the core's float64 sums and the chain rule's
    # temporaries, a few times the 4 MiB output; not asserted)
    assert extra["reparam_noise_handle"] < extra["reparam_eps_array"] - 0.75 * eps_mib
    assert extra["reparam_sample_and_grad"] < extra["numpy_sample_and_grad"] - 0.75 * eps_mib

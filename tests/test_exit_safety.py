"""Daemon threads inside reparam calls when the interpreter exits (issue 15, item 1).

A daemon thread that released the GIL for a kernel and comes back while the interpreter
finalizes must not take the process down: CPython 3.11 to 3.13 end such a thread with
``pthread_exit``, whose forced unwind used to cross pybind11's noexcept
``gil_scoped_release`` destructor and abort ("terminate called without an active
exception", exit code 134). NumPy exits 0 there, and so must reparam.

Each scenario runs in a fresh interpreter, several times (the abort depends on where
the thread is when the main thread ends), with a timeout so that a hang fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

RUNS = 5
TIMEOUT = 120.0  # seconds per run (ASan runs are slower)

PRELUDE = """
import threading, time
import numpy as np
import reparam

g = reparam.default_rng(12345)
q = reparam.Normal(np.zeros(300, np.float32), scale=np.ones(300, np.float32))
started = threading.Event()

def loop(step):
    while True:
        step()
        started.set()
"""

# One call per scenario, each of which releases the GIL (n >= 256 values, or a kernel).
STEPS = {
    "standard_normal": "lambda: g.standard_normal(300)",
    "standard_normal_parallel": "lambda: g.standard_normal(1 << 17)",
    "normal_f32_out": ("lambda b=np.empty(300, np.float32): "
                       "g.standard_normal(dtype=np.float32, out=b)"),
    "normal_scalar_f32": "lambda: g.normal(1.0, 2.0, size=300, dtype=np.float32)",
    "rsample": "lambda: q.rsample(4, rng=g)",
    "pathwise_grad": ("lambda: (lambda z, e: q.pathwise_grad(np.ones_like(z), e))"
                      "(*q.rsample(4, rng=g, return_noise=True))"),
    # one thread draws holding the lock, the other waits for it (GIL released)
    "lock_wait": ("lambda lk=g.bit_generator.lock: "
                  "[lk.acquire(), g.standard_normal(300), lk.release()]"),
    "score_grad": ("lambda: (lambda z, e: q.score_grad(np.ones(4, np.float32), e))"
                   "(*q.rsample(4, rng=g, return_noise=True))"),
}


def _script(step: str) -> str:
    return PRELUDE + textwrap.dedent(f"""
    for _ in range(2):
        threading.Thread(target=loop, args=({step},), daemon=True).start()
    assert started.wait(60)
    time.sleep(0.05)
    """)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_daemon_thread_in_a_call_at_exit(name: str) -> None:
    script = _script(STEPS[name])
    for run in range(RUNS):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 0, f"run {run}: exit code {proc.returncode}\n{proc.stderr[-2000:]}"
        assert "terminate" not in proc.stderr, f"run {run}: {proc.stderr[-2000:]}"

"""The thread pool's exception barrier (issue 15, item 4).

An exception in one task of a parallel call, on a worker or on the calling thread,
reaches the caller as a Python exception once no task of the call still runs; the pool
then works as before. Run in a new interpreter with a time limit: without the barrier
the process aborts (std::terminate) or hangs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import reparam
    from reparam import _core

    N = 1 << 17  # a parallel draw
    expected = reparam.default_rng(5).standard_normal(N, dtype=np.float32)
    for threads in (2, 3, 1):
        reparam.set_num_threads(threads)
        for n_tasks, throw_at in ((64, 0), (64, 1), (64, 31), (64, 63), (2, 1), (1, 0)):
            for _ in range(10):
                try:
                    _core._test_parallel_throw(n_tasks, throw_at)
                except RuntimeError as exc:
                    assert str(exc) == f"task {throw_at} failed", exc
                else:
                    raise AssertionError(f"no exception from task {throw_at} of {n_tasks}")
            assert _core._test_parallel_throw(64, 64) == 64  # nothing thrown: every task ran
            got = reparam.default_rng(5).standard_normal(N, dtype=np.float32)
            assert np.array_equal(got, expected), (threads, n_tasks, throw_at)
    print("OK")
    """
)


def test_exception_in_a_task_reaches_the_caller() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), f"exit {proc.returncode}; output:\n{out}"

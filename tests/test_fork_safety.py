"""The thread pool across os.fork (issue 15, item 2).

A process forked while another thread is inside a parallel call, or while the pool is
idle, must get a working pool: its first parallel call and set_num_threads return, its
draws have the same bits as without the fork, and it really runs the configured number
of threads. Each scenario runs in its own interpreter with a time limit, since the
failure is a hang; the forked children have their own, shorter limit and are killed
with the whole process group if they hang.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

TIMEOUT = 90  # seconds for one scenario's interpreter (a few seconds when it passes)

# Shared by the scenario scripts: the expected bits, computed before any thread or fork,
# a check run in a forked child, and waiting for a child with a deadline.
_PRELUDE = textwrap.dedent(
    """
    import os, sys, threading, time, warnings
    import numpy as np
    import reparam

    warnings.simplefilter("ignore")  # fork with threads running is what is tested
    N = 1 << 17  # >= 2 * parallel_threshold: a parallel call
    EXPECTED64 = reparam.default_rng(5).standard_normal(N)
    EXPECTED32 = reparam.default_rng(5).standard_normal(N, dtype=np.float32)

    def os_threads():
        try:
            return len(os.listdir("/proc/self/task"))
        except OSError:
            return None  # not Linux: the thread count cannot be seen

    def check_pool(threads):
        # the pool's count is true: the draws are right and that many threads run
        assert reparam.get_num_threads() == threads, reparam.get_num_threads()
        assert np.array_equal(reparam.default_rng(5).standard_normal(N), EXPECTED64)
        assert np.array_equal(reparam.default_rng(5).standard_normal(N, dtype=np.float32), EXPECTED32)
        seen = os_threads()
        assert seen is None or seen >= threads, f"{seen} OS threads, pool has {threads}"

    def child_main(threads_after_fork):
        try:
            check_pool(threads_after_fork)
            reparam.set_num_threads(3)
            check_pool(3)
            reparam.set_num_threads(1)
            check_pool(1)
            reparam.set_num_threads(2)
            check_pool(2)
        except BaseException as exc:
            print("child failed:", repr(exc), flush=True)
            os._exit(1)
        os._exit(0)

    def wait_child(pid, limit=10.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return "hung"
    """
)


def _run(body: str) -> None:
    """Run _PRELUDE + body in a new interpreter; it must print OK and exit 0 in time."""
    script = _PRELUDE + textwrap.dedent(body)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: a hung grandchild is killed too
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"scenario hung (killed after {TIMEOUT} s); output:\n{out}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any child left behind
        except ProcessLookupError:
            pass
    assert proc.returncode == 0 and out.strip().endswith("OK"), f"exit {proc.returncode}; output:\n{out}"


# A thread drawing large float32 arrays in a loop, nearly always inside a parallel call.
_DRAWER = """
    reparam.set_num_threads(2)
    g = reparam.default_rng(0)
    stop = threading.Event()
    started = threading.Event()

    def draw():
        out = np.empty(1 << 24, np.float32)
        while not stop.is_set():
            g.standard_normal(dtype=np.float32, out=out)
            started.set()

    drawer = threading.Thread(target=draw)
    drawer.start()
    started.wait()
"""


def test_fork_while_another_thread_draws() -> None:
    _run(
        _DRAWER
        + """
    results = []
    for _ in range(5):
        time.sleep(0.005)
        pid = os.fork()
        if pid == 0:
            child_main(2)
        results.append(wait_child(pid))
    stop.set()
    drawer.join()
    check_pool(2)  # the parent's pool still works
    assert results == [0] * len(results), results
    print("OK")
    """
    )


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork start method")
def test_fork_pool_while_a_thread_draws() -> None:
    _run(
        _DRAWER
        + """
    import multiprocessing

    def work(seed):
        out = (reparam.get_num_threads(), reparam.default_rng(seed).standard_normal(N), os_threads())
        reparam.set_num_threads(1)
        reparam.set_num_threads(2)
        return out

    try:
        with multiprocessing.get_context("fork").Pool(2) as p:
            got = p.map_async(work, range(6)).get(timeout=30)
    finally:
        stop.set()
        drawer.join()
    for seed, (threads, values, seen) in enumerate(got):
        assert threads == 2, threads
        assert np.array_equal(values, reparam.default_rng(seed).standard_normal(N)), seed
        assert seen is None or seen >= 2, seen
    print("OK")
    """
    )


def test_idle_fork_keeps_the_thread_count() -> None:
    _run(
        """
    reparam.set_num_threads(3)
    check_pool(3)  # the workers run
    pid = os.fork()
    if pid == 0:
        child_main(3)
    assert wait_child(pid) == 0
    check_pool(3)
    print("OK")
    """
    )


def test_fork_before_any_parallel_call() -> None:
    _run(
        """
    pid = os.fork()
    if pid == 0:
        child_main(reparam.get_num_threads())
    assert wait_child(pid) == 0
    print("OK")
    """
    )

"""Philox.lock is re-entrant for its holder and every wait on it is interruptible (issue 15, item 3).

Users take ``with p.lock:`` to snapshot or set the state consistently; every call of the
stream must then work on the holding thread (it used to deadlock: the calls take the same
mutex). A thread that waits for the lock held by another thread must still react to
signals (Ctrl-C), and must still be excluded until the holder releases it.

Everything runs in a subprocess with a timeout, so that a deadlock fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

TIMEOUT = 120.0  # seconds per subprocess (ASan runs are slower)

PRELUDE = """
import os, pickle, signal, threading, time
import numpy as np
import reparam

SEED = 20261203

def fresh():
    return reparam.Philox(SEED)

def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    assert a.tobytes() == b.tobytes()
"""


def _run(body: str) -> str:
    script = PRELUDE + textwrap.dedent(body)
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {TIMEOUT} s (deadlock)")
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc.stdout


# Each runs under `with p.lock:` on the holding thread; `ref` is an untouched twin of p.
UNDER_LOCK = {
    "state_get": "assert p.state == ref.state",
    "state_set": """
        s = ref.state
        s["state"]["counter"] = 12345
        p.state = s
        assert p.state == s
        ref.state = s
    """,
    "repr": "assert repr(p) == repr(ref)",
    "pickle": "assert pickle.loads(pickle.dumps(p)).state == ref.state",
    "jumped": "assert p.jumped(3).state == ref.jumped(3).state",
    "random_raw": "same_bits(p.random_raw(7), ref.random_raw(7)); assert p.random_raw() == ref.random_raw()",
    "advance": "assert p.advance(5).state == ref.advance(5).state",
    "draw_small": "same_bits(reparam.Generator(p).standard_normal(10), reparam.Generator(ref).standard_normal(10))",
    "draw_large": """
        n = 1 << 17  # split over the thread pool
        same_bits(reparam.Generator(p).standard_normal(n, dtype=np.float32),
                  reparam.Generator(ref).standard_normal(n, dtype=np.float32))
        same_bits(reparam.Generator(p).normal(1.0, 2.0, size=n), reparam.Generator(ref).normal(1.0, 2.0, size=n))
    """,
    "rsample": """
        q = reparam.Normal(np.zeros(300), scale=np.ones(300))
        same_bits(q.rsample(3, rng=reparam.Generator(p)), q.rsample(3, rng=reparam.Generator(ref)))
    """,
    "numpy_generator": "same_bits(np.random.Generator(p).random(5), np.random.Generator(ref).random(5))",
}


@pytest.mark.parametrize("name", sorted(UNDER_LOCK))
def test_calls_under_the_lock(name: str) -> None:
    body = textwrap.indent(textwrap.dedent(UNDER_LOCK[name]).strip(), " " * 4)
    out = _run(f"""
p, ref = fresh(), fresh()
with p.lock:
{body}
    assert p.lock.locked()
assert not p.lock.locked()
# after the block the two streams go on alike
same_bits(p.random_raw(9), ref.random_raw(9))
print("ok")
""")
    assert out.strip().endswith("ok")


def test_lock_nests() -> None:
    out = _run("""
    p, ref = fresh(), fresh()
    with p.lock:
        with p.lock:
            same_bits(p.random_raw(3), ref.random_raw(3))
        assert p.lock.locked()
        assert p.lock.acquire(blocking=False)  # the holder takes it again
        assert p.lock.acquire(timeout=0.0)
        p.lock.release()
        p.lock.release()
        assert p.lock.locked()
    assert not p.lock.locked()
    try:
        p.lock.release()
    except RuntimeError:
        pass
    else:
        raise AssertionError("release of an unheld lock")
    print("ok")
    """)
    assert out.strip().endswith("ok")


def test_other_threads_are_excluded_until_release() -> None:
    out = _run("""
    p = fresh()
    g = reparam.Generator(p)
    got = {}
    errors = []

    def other():
        try:
            got["try"] = p.lock.acquire(blocking=False)
            got["timed"] = p.lock.acquire(timeout=0.05)
            try:
                p.lock.release()  # held by the main thread, not this one
            except RuntimeError:
                got["release"] = "refused"
            got["draw"] = g.standard_normal(1000)  # waits for the main thread
        except BaseException as exc:
            errors.append(exc)

    with p.lock:
        first = g.standard_normal(5)
        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.3)
        assert "draw" not in got, "a draw went through while another thread held the lock"
        more = g.standard_normal(3)
    t.join(60)
    assert not t.is_alive() and not errors, errors
    assert got["try"] is False and got["timed"] is False and got["release"] == "refused"
    ref = reparam.Generator(fresh()).standard_normal(1008)
    same_bits(first, ref[:5])
    same_bits(more, ref[5:8])
    same_bits(got["draw"], ref[8:])
    assert not p.lock.locked()
    print("ok")
    """)
    assert out.strip().endswith("ok")


# Each blocks the main thread on the lock, held by another thread, until SIGINT.
WAITS = {
    "draw": "reparam.Generator(p).standard_normal(10)",
    "draw_fast_out": "reparam.Generator(p).standard_normal(out=np.empty(300))",
    "state": "p.state",
    "with_lock": "p.lock.__enter__()",
    "acquire_timeout": "p.lock.acquire(timeout=600)",
    "numpy_generator": "np.random.Generator(p).random(3)",
}


@pytest.mark.parametrize("name", sorted(WAITS))
def test_waiting_for_the_lock_is_interruptible(name: str) -> None:
    out = _run(f"""
    p = fresh()
    before = p.state
    held, done = threading.Event(), threading.Event()

    def hold():
        with p.lock:
            held.set()
            done.wait()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(60)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        {WAITS[name]}
    except KeyboardInterrupt:
        print("interrupted")
    else:
        print("not interrupted")
    done.set()
    holder.join(60)
    assert not holder.is_alive()
    assert not p.lock.locked()
    assert p.state == before  # the interrupted call reserved nothing
    same_bits(reparam.Generator(p).standard_normal(4), reparam.Generator(fresh()).standard_normal(4))
    print("ok")
    """)
    assert out.strip().splitlines()[-2:] == ["interrupted", "ok"], out

"""The soak run (tests/test_soak.py runs this file in a subprocess): for SECONDS seconds,
8 threads draw mixed sizes and dtypes (plain draws, out=, Normal.rsample, pathwise_grad),
a thread changes the thread count, and the main thread forks every few seconds; each
child checks a parallel draw and exits. Every result is checked: each worker's stream is
replayed on one thread at the end, and a shared generator's final position must equal
the sum of what the threads took from it. Finally a daemon thread is left drawing while
the interpreter exits. Prints "SOAK OK ..." and exits 0 when everything held."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time

import numpy as np

import reparam
from reparam import _core

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
FORK_EVERY = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
SIZES = (1, 7, 100, 255, 256, 1000, 4099, 65535, 65536, 1 << 17, 300_001)
N_THREADS = 8
REPLAYED = 300  # calls per worker replayed value by value at the end (all: by position)

stop = threading.Event()
failures: list[str] = []
shared = reparam.default_rng(12345)  # every thread draws float32 from it too
shared_words = [0] * N_THREADS


def plan(seed: int, i: int) -> tuple[str, int, type]:
    """Call i of worker `seed`: which entry point, size and dtype (a fixed pseudo-random plan)."""
    r = np.random.default_rng([seed, i])
    return (("draw", "out", "rsample", "pathwise")[int(r.integers(4))], int(SIZES[int(r.integers(len(SIZES)))]),
            (np.float32, np.float64)[int(r.integers(2))])


def call(g: reparam.Generator, what: str, n: int, dt: type) -> bytes:
    """One call's result, as bytes (the stream position moves as the call's own values)."""
    if what == "draw":
        return g.standard_normal(n, dtype=dt).tobytes()
    if what == "out":
        out = np.empty(n, dt)
        g.standard_normal(dtype=dt, out=out)
        return out.tobytes()
    loc = np.linspace(-1.0, 1.0, 5).astype(dt)
    q = reparam.Normal(loc, logvar=np.full(5, -0.5, dt))
    rows = max(1, n // 5)
    z, noise = q.rsample((rows,), rng=g, return_noise=True)
    if what == "rsample":
        return z.tobytes()
    d = q.pathwise_grad(2.0 * z, noise)  # regenerated from the handle
    return b"".join(np.ascontiguousarray(d[k]).tobytes() for k in sorted(d))


def values_drawn(what: str, n: int) -> int:
    """How many stream values call `what` of size n takes (rsample/pathwise: rows x 5)."""
    return n if what in ("draw", "out") else max(1, n // 5) * 5


def worker(seed: int, log: list[int], digest: list[str], final: list[dict[str, object]]) -> None:
    g = reparam.default_rng(seed)
    h = hashlib.sha256()
    i = 0
    try:
        while not stop.is_set():
            what, n, dt = plan(seed, i)
            h.update(call(g, what, n, dt))
            if i + 1 == REPLAYED:
                digest.append(h.hexdigest())
            k = n // 3 + 1
            shared.standard_normal(k, dtype=np.float32)  # k words of the shared stream
            shared_words[seed] += k
            i += 1
    except BaseException as exc:  # reported, then the run fails
        failures.append(f"worker {seed}: {type(exc).__name__}: {exc}")
    log.append(i)
    if i < REPLAYED:
        digest.append(h.hexdigest())
    final.append(g.bit_generator.state)


def thread_changer() -> None:
    n = 0
    while not stop.is_set():
        reparam.set_num_threads(1 + n % 2)
        n += 1
        time.sleep(0.37)


def fork_once(expect: bytes) -> str | None:
    pid = os.fork()
    if pid == 0:  # the child: one parallel draw, a thread-count change, another draw
        ok = True
        try:
            reparam.set_num_threads(2)
            ok = reparam.default_rng(99).standard_normal(1 << 18, dtype=np.float32).tobytes() == expect
            reparam.set_num_threads(1)
            ok = ok and reparam.default_rng(99).standard_normal(1 << 18, dtype=np.float32).tobytes() == expect
        except BaseException:  # any failure in the child is a failed check
            ok = False
        os._exit(0 if ok else 3)
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return None if code == 0 else f"fork child exited with {code}"
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "fork child hung for 60 s"


def main() -> int:
    expect = reparam.default_rng(99).standard_normal(1 << 18, dtype=np.float32).tobytes()
    logs: list[list[int]] = [[] for _ in range(N_THREADS)]
    digests: list[list[str]] = [[] for _ in range(N_THREADS)]
    finals: list[list[dict[str, object]]] = [[] for _ in range(N_THREADS)]
    threads = [threading.Thread(target=worker, args=(s, logs[s], digests[s], finals[s])) for s in range(N_THREADS)]
    threads.append(threading.Thread(target=thread_changer))
    for t in threads:
        t.start()
    t0 = time.monotonic()
    forks = 0
    while time.monotonic() - t0 < SECONDS and not failures:
        time.sleep(FORK_EVERY if FORK_EVERY > 0 else 0.1)
        if FORK_EVERY <= 0:  # no forks (to look at the rest alone)
            continue
        err = fork_once(expect)
        forks += 1
        if err:
            failures.append(err)
    stop.set()
    for t in threads:
        t.join(120.0)
        if t.is_alive():
            failures.append(f"{t.name} did not stop within 120 s")
    if failures:
        print("SOAK FAILED:", *failures, sep="\n  ")
        return 1
    # replay every worker alone: its first REPLAYED calls value by value (the same bytes),
    # and every call's reservation, which must end where the worker's generator ended
    reparam.set_num_threads(1)
    calls = 0
    for s in range(N_THREADS):
        g = reparam.default_rng(s)
        h = hashlib.sha256()
        for i in range(min(logs[s][0], REPLAYED)):
            h.update(call(g, *plan(s, i)))
        if h.hexdigest() != digests[s][0]:
            print(f"SOAK FAILED: worker {s} results differ from a one-thread replay")
            return 1
        for i in range(min(logs[s][0], REPLAYED), logs[s][0]):
            what, n, dt = plan(s, i)
            _core.stream_reserve(g.bit_generator._state, values_drawn(what, n), 2 if dt is np.float64 else 1)
        calls += logs[s][0]
        if g.bit_generator.state != finals[s][0]:
            print(f"SOAK FAILED: worker {s}'s stream ended elsewhere than its calls' positions")
            return 1
    ref = reparam.default_rng(12345)
    ref.bit_generator.advance(sum(shared_words))
    if ref.bit_generator.state != shared.bit_generator.state:
        print("SOAK FAILED: the shared generator lost or repeated positions")
        return 1
    print(f"SOAK OK: {calls} calls, {sum(shared_words)} shared words, {forks} forks in {SECONDS:.0f} s")
    sys.stdout.flush()
    # a daemon thread still drawing when the interpreter exits
    g = reparam.default_rng(7)
    threading.Thread(target=lambda: [g.standard_normal(300) for _ in iter(int, 1)], daemon=True).start()
    time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())

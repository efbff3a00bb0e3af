"""No leaks: 10**4 calls of each public entry point leave memory flat.

For every entry point (small sizes; error paths included, since a C++ exception that
skips a release is the classic leak; the thread pool included) the test makes 10**3
warm-up calls, then 10**4 measured calls, and compares before and after:

- resident memory (/proc/self/statm): growth at most RSS_TOLERANCE = 2 MiB, i.e. less
  than 210 bytes per call;
- where glibc's mallinfo2() exists, the bytes the C heap has in use (small blocks plus
  mmapped ones): growth at most HEAP_TOLERANCE = 256 KiB, less than 27 bytes per call,
  while the smallest heap block glibc hands out is 32 bytes, so one leaked block per
  call is caught;
- the number of OS threads of the process: unchanged.

Linux only (statm). Skipped under AddressSanitizer, whose quarantine keeps freed memory
resident on purpose. The whole module takes about 7 s on 2 cores.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import gc
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import reparam
from reparam import Normal, Philox, estimate_grad, reparameterize

CALLS = 10**4
WARMUP = 10**3
RSS_TOLERANCE = 2 * 2**20
HEAP_TOLERANCE = 256 * 2**10

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc/self/statm"),
    pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                       reason="ASan's quarantine holds freed memory: RSS is not flat by design"),
]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mallinfo2() -> Callable[[], int] | None:
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return None
    try:
        fn = ctypes.CDLL(name).mallinfo2
    except (OSError, AttributeError):  # musl, or glibc < 2.33
        return None
    fn.restype = _MallInfo2

    def in_use() -> int:
        m = fn()
        return int(m.uordblks + m.hblkhd)

    return in_use


heap_in_use = _mallinfo2()


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


# ----------------------------------------------------------------------------- entry points
G = reparam.default_rng(0)
P = Philox(key=0xABC)
Q = Normal(np.linspace(-1, 1, 8), logvar=np.linspace(-2, 2, 8))
Q32 = Normal(np.zeros((2, 4), np.float32), softplus=np.ones(4, np.float32))
Z, NZ = Q.rsample(6, rng=G, return_noise=True)
EPS = np.asarray(NZ)
GZ = np.ones_like(Z)
F = np.linspace(0, 1, 6)
OUT8 = np.empty(16)
OUT4 = np.empty((4, 4), np.float32)
OUTQ = np.empty((6, 8))
STATE = P.state
BIG = 70_001  # above the parallel threshold: split over the thread pool


def _raises(fn: Callable[[], Any], exc: type[BaseException]) -> Callable[[], None]:
    def call() -> None:
        try:
            fn()
        except exc:
            return
        raise AssertionError("expected an exception")

    return call


def _set_state() -> None:
    P.state = STATE


def _lock() -> None:
    with P.lock:
        pass


def _threads() -> None:
    n = reparam.get_num_threads()
    reparam.set_num_threads(n)


ENTRY_POINTS: dict[str, Callable[[], Any]] = {
    # Philox
    "Philox(seed)": lambda: Philox(12345),
    "Philox(key,counter)": lambda: Philox(key=7, counter=2**100),
    "Philox.random_raw()": lambda: P.random_raw(),
    "Philox.random_raw(8)": lambda: P.random_raw(8),
    "Philox.advance": lambda: P.advance(3),
    "Philox.jumped": lambda: P.jumped(),
    "Philox.state get": lambda: P.state,
    "Philox.state set": _set_state,
    "Philox.spawn": lambda: Philox(1).spawn(2),
    "Philox copy": lambda: copy.deepcopy(P),
    "Philox.lock": _lock,
    "numpy Generator on Philox": lambda: np.random.Generator(P).random(4),
    # Generator
    "default_rng(seed)": lambda: reparam.default_rng(5),
    "default_rng(Philox)": lambda: reparam.default_rng(P),
    "standard_normal()": lambda: G.standard_normal(),
    "standard_normal(16)": lambda: G.standard_normal(16),
    "standard_normal(f32)": lambda: G.standard_normal((4, 4), dtype=np.float32),
    "standard_normal(out)": lambda: G.standard_normal(out=OUT8),
    "standard_normal(pool)": lambda: G.standard_normal(BIG, dtype=np.float32),
    "random()": lambda: G.random(),
    "random(out f32)": lambda: G.random(dtype=np.float32, out=OUT4),
    "normal(scalars)": lambda: G.normal(1.0, 2.0),
    "normal(broadcast)": lambda: G.normal(np.zeros(4), np.ones((2, 1)), size=(3, 2, 4)),
    "normal(out)": lambda: G.normal(0.0, 1.0, out=OUT8),
    # Normal
    "Normal(...)": lambda: Normal(np.zeros(4), var=np.ones(4)),
    "Normal properties": lambda: (Q.scale, Q.var, Q.logvar, Q.logstd, Q.softplus),
    "rsample": lambda: Q.rsample(4, rng=G),
    "rsample(antithetic, noise)": lambda: Q32.rsample(4, rng=G, antithetic=True, return_noise=True),
    "rsample(out)": lambda: Q.rsample(6, rng=G, out=OUTQ),
    "reparameterize": lambda: reparameterize(np.zeros(4), np.zeros(4), "logvar", 2, rng=G),
    "Noise -> array": lambda: np.asarray(NZ),
    "log_prob(grad)": lambda: Q.log_prob(Z, grad=True),
    "entropy(grad)": lambda: Q.entropy(grad=True),
    "kl(grad)": lambda: Q.kl(Q, grad=True),
    "kl_standard_normal(grad)": lambda: Q.kl_standard_normal(grad=True),
    "pathwise_grad(Noise, stats)": lambda: Q.pathwise_grad(GZ, NZ, return_stats=True),
    "pathwise_grad(eps)": lambda: Q.pathwise_grad(GZ, EPS, reduce="sum"),
    "score_grad(loo, stats)": lambda: Q.score_grad(F, NZ, baseline="loo", return_stats=True),
    "estimate_grad(pathwise)": lambda: estimate_grad(lambda z: (z.sum(), np.ones_like(z)), Q, 4, rng=G),
    "estimate_grad(score)": lambda: estimate_grad(lambda z: z.sum(axis=1), Q, 4, method="score", rng=G),
    # runtime
    "set_num_threads(same)": _threads,
    "simd_info": reparam.simd_info,
    # error paths (exceptions raised in the core and in Python)
    "error: out dtype": _raises(lambda: G.standard_normal(out=np.empty(3, np.int64)), TypeError),
    "error: negative size": _raises(lambda: G.random(-1), ValueError),
    "error: negative scale": _raises(lambda: Normal(0.0, scale=-1.0), ValueError),
    "error: noise shape": _raises(lambda: Q.pathwise_grad(GZ[:3], NZ), ValueError),
    "error: Philox key": _raises(lambda: Philox(key=-1), ValueError),
    "error: set_num_threads(0)": _raises(lambda: reparam.set_num_threads(0), ValueError),
}


def _measure(fn: Callable[[], Any], calls: int = CALLS, warmup: int = WARMUP) -> tuple[int, int | None, int]:
    for _ in range(warmup):
        fn()
    gc.collect()
    r0, h0, t0 = rss(), heap_in_use() if heap_in_use else None, os_threads()
    for _ in range(calls):
        fn()
    gc.collect()
    r1, h1, t1 = rss(), heap_in_use() if heap_in_use else None, os_threads()
    return r1 - r0, None if h0 is None or h1 is None else h1 - h0, t1 - t0


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_memory_flat(name: str) -> None:
    d_rss, d_heap, d_threads = _measure(ENTRY_POINTS[name])
    assert d_threads == 0, f"{name}: {d_threads:+d} OS threads after {CALLS} calls"
    assert d_rss <= RSS_TOLERANCE, f"{name}: RSS grew by {d_rss / 2**20:.2f} MiB over {CALLS} calls"
    if d_heap is not None:
        assert d_heap <= HEAP_TOLERANCE, (
            f"{name}: the C heap grew by {d_heap} bytes over {CALLS} calls ({d_heap / CALLS:.1f} per call)")


def test_thread_pool_resize_is_flat() -> None:
    """Resizing the pool back and forth joins every worker it started (2 * 2000 resizes:
    each starts or joins threads, so fewer calls than elsewhere)."""
    before = reparam.get_num_threads()
    try:
        def resize() -> None:
            reparam.set_num_threads(1)
            reparam.set_num_threads(3)
        d_rss, d_heap, _ = _measure(resize, calls=2000, warmup=200)
        reparam.set_num_threads(before)
        threads = os_threads()
        reparam.set_num_threads(1)
        assert os_threads() == threads - (before - 1)
    finally:
        reparam.set_num_threads(before)
    assert d_rss <= RSS_TOLERANCE, d_rss
    if d_heap is not None:
        assert d_heap <= HEAP_TOLERANCE, d_heap


def test_leak_detector_detects_a_leak() -> None:
    """The measurement is sensitive enough: 64 leaked bytes per call are caught."""
    if heap_in_use is None:
        pytest.skip("needs glibc mallinfo2")
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    kept: list[int] = []
    _, d_heap, _ = _measure(lambda: kept.append(libc.malloc(64)))
    for ptr in kept:
        libc.free(ptr)
    assert d_heap is not None and d_heap > HEAP_TOLERANCE

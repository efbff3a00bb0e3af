"""One Generator used from many Python threads at once.

Each call reserves its stream positions under the Philox lock and generates them
without it, so whatever the interleaving every position of the stream is used by
exactly one call: no value is produced twice and none is skipped, and every returned
array is one contiguous slice of the stream.

The checks rebuild the stream from the values alone: every array returned by a thread
is located in a reference stream (one single draw from a fresh generator, or
``reparam._core.stream_fill``), the located ranges must be disjoint, and together with
the values that cannot be located uniquely they must cover [0, total) exactly.

Sizes above ``_core.parallel_threshold`` (65536) are included so that the thread pool
splits those calls while other threads reserve and draw.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import reparam
from reparam import _core

N_THREADS = 8
KEY = 0x0123_4567_89AB_CDEF  # Philox(key=KEY) starts at block counter 1
JOIN_TIMEOUT = 60.0

BIG = int(_core.parallel_threshold) + 4_465  # 70001: split over the pool


def test_sizes_reach_the_pool() -> None:
    assert int(_core.parallel_threshold) <= 65536 < BIG


@pytest.fixture
def restore_threads() -> Iterator[int]:
    n = reparam.get_num_threads()
    yield n
    reparam.set_num_threads(n)


# -- helpers ---------------------------------------------------------------------------


def _bits(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a = np.ascontiguousarray(a).ravel()
    return a.view({4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def _run_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) on n threads released together by a barrier; return the results."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "threads did not finish (deadlock?)"
    if errors:
        raise errors[0]
    return results


def _words_used(bg: reparam.Philox) -> int:
    """Words consumed since counter 0, buffer_pos 0."""
    st = bg.state
    return int(st["state"]["counter"]) * 4 + int(st["buffer_pos"])


class StreamIndex:
    """Positions of values in a reference stream, looked up by bit pattern."""

    def __init__(self, ref: np.ndarray[Any, Any]) -> None:
        self.bits = _bits(ref)
        self.order = np.argsort(self.bits, kind="stable")
        self.sorted = self.bits[self.order]

    def starts(self, arr: np.ndarray[Any, Any]) -> list[int]:
        """Every start s with ref[s:s+len(arr)] == arr (bitwise)."""
        b = _bits(arr)
        lo = np.searchsorted(self.sorted, b[0], "left")
        hi = np.searchsorted(self.sorted, b[0], "right")
        n = b.size
        return [int(s) for s in self.order[lo:hi]
                if s + n <= self.bits.size and np.array_equal(self.bits[s:s + n], b)]


def _check_partition(ref: np.ndarray[Any, Any], draws: list[np.ndarray[Any, Any]]) -> None:
    """`draws` are disjoint contiguous slices of `ref` that together cover all of it.

    Arrays of one value (or any array that matches at several places) cannot be placed
    by value alone: they must be exactly the multiset of the values left over.
    """
    total = ref.size
    assert sum(d.size for d in draws) == total, "values skipped or drawn twice"
    # the plain statement: the union of the draws is the multiset of the stream
    np.testing.assert_array_equal(np.sort(np.concatenate([_bits(d) for d in draws])),
                                  np.sort(_bits(ref)))
    index = StreamIndex(ref)
    used = np.zeros(total, np.int8)
    loose: list[np.ndarray[Any, Any]] = []
    for d in draws:
        if d.size == 0:
            continue
        starts = index.starts(d)
        assert starts, "a returned array is not a contiguous slice of the stream"
        if d.size == 1 or len(starts) > 1:
            loose.append(d)
            continue
        s = starts[0]
        assert not used[s:s + d.size].any(), f"positions [{s}, {s + d.size}) used twice"
        used[s:s + d.size] = 1
    left = np.flatnonzero(used == 0)
    loose_bits = np.sort(np.concatenate([_bits(d) for d in loose])) if loose else \
        np.empty(0, index.bits.dtype)
    np.testing.assert_array_equal(np.sort(index.bits[left]), loose_bits)


def _draw_mix(gen: reparam.Generator, dtype: Any, i: int, sizes: list[int]) -> list[Any]:
    """One thread's calls: every entry point, sizes in a thread-dependent order."""
    k = i % len(sizes)
    order = sizes[k:] + sizes[:k]
    out: list[np.ndarray[Any, Any]] = []
    for j, n in enumerate(order):
        way = (i + j) % 4
        if way == 0:
            out.append(gen.standard_normal(n, dtype=dtype))
        elif way == 1:
            buf = np.empty(n, dtype)
            assert gen.standard_normal(dtype=dtype, out=buf) is buf
            out.append(buf)
        elif way == 2:
            # loc 0, scale 1: exactly eps (standard_normal never gives -0.0)
            out.append(gen.normal(0.0, 1.0, n, dtype=dtype))
        else:
            out.append(gen.standard_normal((1, n), dtype=dtype)[0])
        if j % 3 == 0:  # a size=None draw in between: a Python float
            out.append(np.array([gen.standard_normal(dtype=dtype)], dtype))
    return out


SIZES = [1, 7, 1000, BIG, 3, 65_537, 250, 2 * BIG + 3, 1, 7, 64, 5000]


# -- one dtype -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f4", "f8"])
def test_threads_share_one_generator(dtype: Any) -> None:
    gen = reparam.Generator(reparam.Philox(key=KEY))
    results = _run_threads(N_THREADS, lambda i: _draw_mix(gen, dtype, i, SIZES))
    draws = [d for r in results for d in r]
    total = sum(d.size for d in draws)
    unit = 1 if np.dtype(dtype) == np.float32 else 2
    assert _words_used(gen.bit_generator) == unit * total
    # reference: one single draw of `total` values from a fresh generator
    ref = reparam.Generator(reparam.Philox(key=KEY)).standard_normal(total, dtype=dtype)
    _check_partition(ref, draws)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f4", "f8"])
def test_threads_share_one_generator_uniform(dtype: Any) -> None:
    gen = reparam.Generator(reparam.Philox(key=KEY))

    def work(i: int) -> list[Any]:
        out = []
        for j, n in enumerate(SIZES[i % 4:] + SIZES[:i % 4]):
            if (i + j) % 2:
                out.append(gen.random(n, dtype=dtype))
            else:
                out.append(np.array([gen.random(dtype=dtype)], dtype))
        return out

    draws = [d for r in _run_threads(N_THREADS, work) for d in r]
    total = sum(d.size for d in draws)
    ref = reparam.Generator(reparam.Philox(key=KEY)).random(total, dtype=dtype)
    _check_partition(ref, draws)


def test_threads_while_thread_count_changes(restore_threads: int) -> None:
    gen = reparam.Generator(reparam.Philox(key=KEY))
    done = threading.Event()
    changes = [0]

    def toggler() -> None:
        k = 0
        while not done.is_set():
            reparam.set_num_threads(1 + k % 3)
            k += 1
        changes[0] = k

    def work(i: int) -> list[Any]:
        sizes = [BIG, 3, 2 * BIG, 1, 100_000, 17, BIG + 1]
        return _draw_mix(gen, np.float64, i, sizes)

    t = threading.Thread(target=toggler, daemon=True)
    t.start()
    try:
        results = _run_threads(6, work)
    finally:
        done.set()
        t.join(JOIN_TIMEOUT)
    assert not t.is_alive()
    assert changes[0] > 0
    draws = [d for r in results for d in r]
    total = sum(d.size for d in draws)
    assert _words_used(gen.bit_generator) == 2 * total
    ref = reparam.Generator(reparam.Philox(key=KEY)).standard_normal(total)
    _check_partition(ref, draws)


# -- mixed dtypes ----------------------------------------------------------------------


def _stream(dtype: Any, n: int, kind: str = "normal") -> np.ndarray[Any, Any]:
    """Values at positions [0, n) of Philox(key=KEY): words (float32) or slots (float64)."""
    out = np.empty(n, dtype)
    _core.stream_fill(kind, KEY, 1, 0, 0, out)
    return out


def test_stream_fill_matches_a_fresh_generator() -> None:
    for dtype in (np.float32, np.float64):
        ref = reparam.Generator(reparam.Philox(key=KEY)).standard_normal(BIG, dtype=dtype)
        np.testing.assert_array_equal(_bits(_stream(dtype, BIG)), _bits(ref))


def _check_word_ranges(ranges: list[tuple[int, int, bool]], words_used: int,
                       n_f64_calls: int) -> None:
    """(start word, end word, is_f64) ranges: disjoint, and the only unused words are
    single odd words skipped to align a float64 reservation."""
    ranges = sorted(ranges)
    pos = 0
    gaps = 0
    for start, end, is_f64 in ranges:
        assert start >= pos, f"words [{start}, {min(end, pos)}) used twice"
        if start > pos:
            assert start == pos + 1, f"words [{pos}, {start}) skipped"
            assert pos % 2 == 1 and is_f64, f"word {pos} skipped but not for alignment"
            gaps += 1
        if is_f64:
            assert start % 2 == 0
        pos = end
    assert pos == words_used
    assert gaps <= n_f64_calls


def test_threads_mixed_dtypes() -> None:
    gen = reparam.Generator(reparam.Philox(key=KEY))
    f32_sizes = [3, 7, 1001, BIG, 5, 65_539]
    f64_sizes = [2, 5, 1000, BIG - 1, 1, 3]

    def work(i: int) -> list[tuple[bool, np.ndarray[Any, Any]]]:
        out: list[tuple[bool, np.ndarray[Any, Any]]] = []
        for j in range(len(f32_sizes)):
            a = f32_sizes[(i + j) % len(f32_sizes)]
            b = f64_sizes[(i + 2 * j) % len(f64_sizes)]
            first_f32 = (i + j) % 2 == 0
            for is_f64 in (not first_f32, first_f32):
                if is_f64:
                    out.append((True, gen.standard_normal(b)))
                    if j % 2:
                        out.append((True, np.array([gen.standard_normal()])))
                else:
                    out.append((False, gen.standard_normal(a, dtype=np.float32)))
        return out

    draws = [d for r in _run_threads(N_THREADS, work) for d in r]
    words = _words_used(gen.bit_generator)
    n_f64 = sum(1 for is_f64, _ in draws if is_f64)
    n_words = sum(d.size * (2 if is_f64 else 1) for is_f64, d in draws)
    assert n_words <= words <= n_words + n_f64
    index32 = StreamIndex(_stream(np.float32, words))
    index64 = StreamIndex(_stream(np.float64, words // 2))
    ranges = []
    for is_f64, d in draws:
        starts = (index64 if is_f64 else index32).starts(d)
        assert len(starts) == 1, "not exactly one place in the stream"
        s = starts[0]
        ranges.append((2 * s, 2 * (s + d.size), True) if is_f64 else (s, s + d.size, False))
    _check_word_ranges(ranges, words, n_f64)


# -- numpy.random.Generator on the same Philox -----------------------------------------


def test_numpy_and_reparam_generators_share_one_philox() -> None:
    # Both take the Philox lock (NumPy through `bit_generator.lock`, reparam through the
    # same mutex): raw 32-bit words drawn by NumPy (integers over the full uint32 range
    # use exactly one word each) and float32 normals drawn by reparam (one word each)
    # must partition the stream.
    bg = reparam.Philox(key=KEY)
    np_gen = np.random.Generator(bg)
    rp_gen = reparam.Generator(bg)
    sizes = [2, 9, 1000, BIG, 4, 30_000, 3]

    def work(i: int) -> list[tuple[str, np.ndarray[Any, Any]]]:
        out = []
        for j, n in enumerate(sizes[i % 3:] + sizes[:i % 3]):
            if (i + j) % 2:
                out.append(("raw", np_gen.integers(0, 2**32, size=n, dtype=np.uint32)))
            else:
                out.append(("f32", rp_gen.standard_normal(n + 1, dtype=np.float32)))
        return out

    draws = [d for r in _run_threads(4, work) for d in r]
    words = _words_used(bg)
    assert words == sum(d.size for _, d in draws)
    index = {"raw": StreamIndex(_stream(np.uint32, words, "raw")),
             "f32": StreamIndex(_stream(np.float32, words))}
    ranges = []
    for kind, d in draws:
        starts = index[kind].starts(d)
        assert len(starts) == 1
        ranges.append((starts[0], starts[0] + d.size, False))
    _check_word_ranges(ranges, words, 0)


def test_numpy_and_reparam_generators_do_not_deadlock() -> None:
    bg = reparam.Philox(21)
    np_gen = np.random.Generator(bg)
    rp_gen = reparam.Generator(bg)
    rounds = 30

    def numpy_side(i: int) -> None:
        for r in range(rounds):
            np_gen.standard_normal()  # holds the lock with the GIL
            np_gen.standard_normal(2000)  # holds the lock without the GIL
            np_gen.random(7)
            np_gen.integers(0, 10, size=100)
            if r % 10 == 0:
                np_gen.standard_normal(BIG)

    def reparam_side(i: int) -> None:
        for r in range(rounds):
            rp_gen.standard_normal()
            rp_gen.standard_normal(dtype=np.float32)
            rp_gen.normal(0.0, 1.0, 500)
            rp_gen.random(3, dtype=np.float32)
            bg.random_raw(5)
            bg.advance(3)
            assert bg.state["bit_generator"] == "Philox"
            if r % 5 == 0:
                rp_gen.standard_normal(BIG)

    def work(i: int) -> None:
        (numpy_side if i % 2 else reparam_side)(i)

    _run_threads(4, work)  # asserts that all threads finished
    assert not bg.lock.locked()

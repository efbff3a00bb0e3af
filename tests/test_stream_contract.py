"""The stream contract: every value is a function of (key, position) alone.

Positions are counted in 32-bit words of the Philox stream. A Generator keeps one word
position; float32 draws take one word per value from it, float64 draws one 64-bit slot
(two words) per value after skipping a word when the position is odd. The kernels compute
positions [start, start + n) of a stream statelessly (``_core.stream_fill``), so:

(a) draws of n then m values equal one draw of n + m;
(b) every SIMD path gives the bits of the scalar path, for any start and length;
(c) the thread count does not change any value;
(d) the value at position p does not depend on how a call reached it;
(e) a Generator's draws are the stream's values at the positions the convention assigns;
(f) no normal is NaN or infinite, the transform's uniforms are strictly inside (0, 1),
    and random() is in [0, 1);
(g) |z| is bounded by the transform's largest radius.

All comparisons are exact (bit equality); every stream is seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from stream_helpers import fill, using_target

import reparam
from reparam import _core

MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1

KEY = 0x243F6A8885A308D3
CTR = 2**64 - 7  # the first blocks carry out of the low 64 bits of the counter

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]






def raw(key: int, ctr: int, start: int, n: int) -> np.ndarray:
    return fill("raw", np.uint32, key, ctr, start, n)


def draw(g: reparam.Generator, kind: str, dtype: type, n: int) -> np.ndarray:
    return getattr(g, kind)(n, dtype=dtype)


def word_position(p: reparam.Philox) -> int:
    st = p.state
    return 4 * st["state"]["counter"] + st["buffer_pos"]


# ----------------------------------------------------------------------------- (a)
SPLIT_SIZES = [0, 1, 2, 3, 5, 7, 8, 9, 31, 33, 1000, 65537]


@pytest.mark.parametrize("kind", ["standard_normal", "random"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("lead", [0, 1], ids=["even-start", "odd-start"])
def test_split_equals_whole(kind: str, dtype: type, lead: int) -> None:
    """Draws of n then m equal one draw of n + m, for every pair of SPLIT_SIZES, starting
    at an even or an odd word position. Sizes of 65537 and more cross the threading
    threshold, so the whole draw and its parts run on different thread splits."""
    failures = []
    for n in SPLIT_SIZES:
        for m in SPLIT_SIZES:
            p_split = reparam.Philox(key=KEY, counter=CTR).advance(lead)
            p_whole = reparam.Philox(key=KEY, counter=CTR).advance(lead)
            g_split, g_whole = reparam.Generator(p_split), reparam.Generator(p_whole)
            a = draw(g_split, kind, dtype, n)
            b = draw(g_split, kind, dtype, m)
            whole = draw(g_whole, kind, dtype, n + m)
            assert a.dtype == b.dtype == whole.dtype == np.dtype(dtype)
            if not np.array_equal(np.concatenate([a, b]), whole) or p_split.state != p_whole.state:
                failures.append((n, m))
    assert not failures, f"split draws differ from whole draws for (n, m) in {failures}"


@pytest.mark.parametrize("kind", ["standard_normal", "random"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_scalar_draws_equal_array_draw(kind: str, dtype: type) -> None:
    g1 = reparam.Generator(reparam.Philox(key=KEY, counter=CTR).advance(1))
    g2 = reparam.Generator(reparam.Philox(key=KEY, counter=CTR).advance(1))
    singles = [getattr(g1, kind)(dtype=dtype) for _ in range(37)]
    assert all(type(v) is float for v in singles)
    np.testing.assert_array_equal(np.array(singles, dtype=dtype), draw(g2, kind, dtype, 37))
    assert g1.bit_generator.state == g2.bit_generator.state


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_shapes_out_and_normal_use_the_same_values(dtype: type) -> None:
    """size=(3, 5) is the flat draw in C order; out= and normal() use the same eps;
    normal computes loc + scale * eps in the output dtype."""
    n = 15

    def gen() -> reparam.Generator:
        return reparam.Generator(reparam.Philox(key=KEY, counter=CTR).advance(3))

    flat = gen().standard_normal(n, dtype=dtype)
    np.testing.assert_array_equal(gen().standard_normal((3, 5), dtype=dtype).ravel(), flat)
    out = np.empty((3, 5), dtype)
    assert gen().standard_normal(dtype=dtype, out=out) is out
    np.testing.assert_array_equal(out.ravel(), flat)
    loc, scale = 1.25, 3.5
    z = gen().normal(loc, scale, (3, 5), dtype=dtype)
    np.testing.assert_array_equal(z.ravel(), flat * dtype(scale) + dtype(loc))
    u = gen().random(n, dtype=dtype)
    out_u = np.empty(n, dtype)
    gen().random(dtype=dtype, out=out_u)
    np.testing.assert_array_equal(out_u, u)


# ----------------------------------------------------------------------------- (b), (d)
FILL_KINDS = [
    ("raw", np.uint32),
    ("normal", np.float32),
    ("normal", np.float64),
    ("uniform", np.float32),
    ("uniform", np.float64),
]
FILL_IDS = ["raw", "normal-f32", "normal-f64", "uniform-f32", "uniform-f64"]
STREAMS = [(KEY, 0), (0xFFFFFFFF00000001, 2**32 - 5), (7, 2**128 - 9)]
BIG_N = 100003
MAX_START = 17


@pytest.fixture(scope="module")
def scalar_fills() -> dict[tuple[str, int, int], np.ndarray]:
    """Positions [0, MAX_START + BIG_N) of each stream on the scalar path."""
    refs = {}
    with using_target("scalar"):
        for kind, dtype in FILL_KINDS:
            for key, ctr in STREAMS:
                refs[kind, np.dtype(dtype).itemsize, key] = fill(
                    kind, dtype, key, ctr, 0, MAX_START + BIG_N
                )
    return refs


@pytest.mark.parametrize(("kind", "dtype"), FILL_KINDS, ids=FILL_IDS)
def test_simd_paths_match_scalar(
    kind: str, dtype: type, simd_target: str, scalar_fills: dict[tuple[str, int, int], np.ndarray]
) -> None:
    """Bit identity with the scalar path for starts 0..17 and lengths 1..70 (crossing
    every vector width and the partial-group buffer at both ends) and for 100003 values
    (crossing the threading chunks). On the scalar path itself this is (d)."""
    bad = []
    for key, ctr in STREAMS:
        ref = scalar_fills[kind, np.dtype(dtype).itemsize, key]
        for start in range(MAX_START + 1):
            for n in range(1, 71):
                got = fill(kind, dtype, key, ctr, start, n)
                if not np.array_equal(got, ref[start : start + n]):
                    bad.append((key, ctr, start, n))
        for start in (0, 1, 2, 5, MAX_START):
            big = fill(kind, dtype, key, ctr, start, BIG_N)
            if not np.array_equal(big, ref[start : start + BIG_N]):
                first = int(np.flatnonzero(big != ref[start : start + BIG_N])[0])
                bad.append((key, ctr, start, BIG_N, f"first difference at {first}"))
    assert not bad, f"{simd_target} differs from scalar for (key, ctr, start, n) = {bad[:10]}"


@pytest.mark.parametrize(("kind", "dtype"), FILL_KINDS, ids=FILL_IDS)
def test_value_independent_of_how_it_is_reached(kind: str, dtype: type) -> None:
    """stream_fill(start=p, n) equals elements p.. of one big fill, for positions at the
    edges of vectors, groups and threading tasks (task_size, parallel_threshold)."""
    key, ctr = 0x0123456789ABCDEF, 2**128 - 2**20
    n_big = 200_000
    big = fill(kind, dtype, key, ctr, 0, n_big)
    edges = [0, 1, 2, 3, 4, 15, 16, 17, 31, 32, 33, 63, 64, 65]
    for t in (_core.task_size, _core.parallel_threshold, 3 * _core.task_size):
        edges += [t - 2, t - 1, t, t + 1]
    rng = np.random.default_rng(4)
    positions = edges + [int(q) for q in rng.integers(0, n_big - 40, 60)]
    for p in positions:
        one = fill(kind, dtype, key, ctr, p, 1)
        assert np.array_equal(one, big[p : p + 1]), p
        for k in (2, 3, 33):
            assert np.array_equal(fill(kind, dtype, key, ctr, p, k), big[p : p + k]), (p, k)


@pytest.mark.parametrize(("kind", "dtype"), FILL_KINDS, ids=FILL_IDS)
@pytest.mark.parametrize("blocks", [1, 2**40 + 3, 2**62 - 1])
@pytest.mark.parametrize("ctr", [0, 2**64 - 2, 2**128 - 2])
def test_start_is_counter_offset(kind: str, dtype: type, blocks: int, ctr: int) -> None:
    """Starting `blocks` Philox blocks into a stream (4 words, 4 float32 or 2 float64
    positions per block) is starting at block 0 of the stream with counter ctr + blocks
    (mod 2**128)."""
    per_block = 2 if np.dtype(dtype) == np.float64 else 4
    for s in (0, 1, 3):
        a = fill(kind, dtype, 99, ctr, per_block * blocks + s, 41)
        b = fill(kind, dtype, 99, (ctr + blocks) & MASK128, s, 41)
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- (c)
@pytest.mark.parametrize(("kind", "dtype"), FILL_KINDS, ids=FILL_IDS)
def test_thread_count_does_not_change_values(kind: str, dtype: type, num_threads: int) -> None:
    n = 3 * 10**5
    assert n > _core.parallel_threshold
    results = {}
    for threads in (1, 2, 3, 4, 8):
        reparam.set_num_threads(threads)
        assert reparam.get_num_threads() == threads
        p = reparam.Philox(key=KEY, counter=CTR).advance(1)
        if kind == "raw":
            via_generator = p.random_raw(n)
        elif kind == "normal":
            via_generator = reparam.Generator(p).standard_normal(n, dtype=dtype)
        else:
            via_generator = reparam.Generator(p).random(n, dtype=dtype)
        results[threads] = (
            via_generator,
            p.state,
            fill(kind, dtype, KEY, CTR, 12345, n + 7),  # odd start, odd length
        )
    base = results[1]
    for threads, (arr, state, filled) in results.items():
        np.testing.assert_array_equal(arr, base[0], err_msg=f"{threads} threads")
        assert state == base[1]
        np.testing.assert_array_equal(filled, base[2], err_msg=f"{threads} threads")


@pytest.mark.parametrize(("kind", "dtype"), FILL_KINDS, ids=FILL_IDS)
def test_streaming_stores_give_the_same_values(kind: str, dtype: type, simd_target: str) -> None:
    """Outputs of ``_core.streaming_bytes`` or more are written through a staging buffer
    with streaming stores (whole 64-byte lines; the partial lines at either end stored
    normally). Bit identity with fills below that size, for output addresses at several
    offsets within a cache line and for even and odd starts: (b) and (c) for that path."""
    itemsize = np.dtype(dtype).itemsize
    n = _core.streaming_bytes // itemsize + 777
    key, ctr = 0x9E3779B97F4A7C15, 2**64 - 3
    per_line = 64 // itemsize
    buf = np.empty(n + 2 * per_line, dtype)
    first_line = (-buf.ctypes.data % 64) // itemsize  # buf[first_line] starts a line
    for start in (0, 12345):
        chunk = n // 3 + 1  # below the threshold: ordinary stores
        ref = np.concatenate(
            [fill(kind, dtype, key, ctr, start + i, min(chunk, n - i)) for i in range(0, n, chunk)]
        )
        for shift in sorted({0, 1, per_line // 2, per_line - 1}):
            out = buf[first_line + shift : first_line + shift + n]
            out[...] = 0
            _core.stream_fill(kind, key, ctr & MASK64, (ctr >> 64) & MASK64, start, out)
            if not np.array_equal(out, ref):
                first = int(np.flatnonzero(out != ref)[0])
                pytest.fail(f"{simd_target}, start {start}, line offset {shift}: first difference at {first}")


@pytest.mark.parametrize("antithetic", [False, True], ids=["plain", "antithetic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", [_core.PARAM_SCALE, _core.PARAM_LOGVAR], ids=["scale", "logvar"])
def test_affine_streaming_stores_give_the_same_values(kind: int, dtype: type, antithetic: bool,
                                                      simd_target: str) -> None:
    """The fused ``loc + sigma * eps`` kernel with streaming stores (each row staged, then
    whole 64-byte lines streamed, the partial lines at either end stored normally) gives
    the bits of the ordinary stores: for outputs at every offset within a cache line, a
    batch of partial vectors and rows that start anywhere in a line; and outputs of
    ``_core.streaming_bytes`` or more take that path by default."""
    itemsize = np.dtype(dtype).itemsize
    r = np.random.default_rng(4242 + kind)
    per_line = 64 // itemsize

    def draw(rows: int, batch: int, out: np.ndarray, streaming: bool | None) -> None:
        loc = r_loc[:batch].astype(dtype)
        par = r_par[:batch].astype(dtype)
        _core.affine_normal(reparam.default_rng(99)._state, loc, par, kind, antithetic, out, streaming)

    r_loc = r.standard_normal(3 * 1024 + 7)
    r_par = r.uniform(0.1, 2.0, r_loc.size) if kind == _core.PARAM_SCALE else r.uniform(-3, 3, r_loc.size)
    rows, batch = 6, 3 * 1024 + 7  # three column tiles, the last one 7 wide
    buf = np.empty(rows * batch + 2 * per_line, dtype)
    first_line = (-buf.ctypes.data % 64) // itemsize
    ref = np.empty((rows, batch), dtype)
    draw(rows, batch, ref, False)
    for shift in sorted({0, 1, per_line // 2, per_line - 1}):
        out = buf[first_line + shift: first_line + shift + rows * batch].reshape(rows, batch)
        out[...] = np.nan
        draw(rows, batch, out, True)
        if not np.array_equal(out, ref):
            first = int(np.flatnonzero(out.ravel() != ref.ravel())[0])
            pytest.fail(f"{simd_target}, line offset {shift}: first difference at flat index {first}")
    # large enough for streaming by default: equal to the ordinary stores
    big_rows = -(-_core.streaming_bytes // (batch * itemsize)) + 1
    big_rows += big_rows % 2  # antithetic needs an even number of rows
    big, plain = np.empty((big_rows, batch), dtype), np.empty((big_rows, batch), dtype)
    assert big.nbytes >= _core.streaming_bytes
    draw(big_rows, batch, big, None)
    draw(big_rows, batch, plain, False)
    assert np.array_equal(big, plain)


# ----------------------------------------------------------------------------- (e)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generator_positions_follow_the_convention(seed: int) -> None:
    """A random sequence of draws of every kind and dtype (incl. size=None draws and NumPy
    draws through the capsule) against a model of the word position: each draw equals
    stream_fill at the position the convention assigns, with the stream's block 0 at
    counter + 1."""
    rng = np.random.default_rng(seed)
    key = int(rng.integers(0, 2**64, dtype=np.uint64))
    ctr = [0, 2**32 - 3, 2**128 - 5][seed]
    p = reparam.Philox(key=key, counter=ctr)
    g = reparam.Generator(p)
    ng = np.random.Generator(p)
    first = (ctr + 1) & MASK128
    pos = 0  # word position, the model
    for _ in range(300):
        op = int(rng.integers(0, 7))
        n = int(rng.choice([1, 1, 2, 3, 5, 8, 17, 64, 131]))
        if op == 0:
            got = p.random_raw(n)
            np.testing.assert_array_equal(got, raw(key, first, pos, n))
            pos += n
        elif op in (1, 2):  # float32: one word per value, from the current word
            kind = "normal" if op == 1 else "uniform"
            method = "standard_normal" if op == 1 else "random"
            got = getattr(g, method)(n, dtype=np.float32)
            np.testing.assert_array_equal(got, fill(kind, np.float32, key, first, pos, n))
            pos += n
        elif op in (3, 4):  # float64: one slot (two words) per value, slots at even words
            kind = "normal" if op == 3 else "uniform"
            method = "standard_normal" if op == 3 else "random"
            single = n == 1 and rng.integers(0, 2) == 1
            got = np.atleast_1d(getattr(g, method)(None if single else n, dtype=np.float64))
            pos += pos % 2
            np.testing.assert_array_equal(got, fill(kind, np.float64, key, first, pos // 2, n))
            pos += 2 * n
        elif op == 5:  # size=None float32
            got = g.standard_normal(dtype=np.float32)
            assert np.float32(got) == fill("normal", np.float32, key, first, pos, 1)[0]
            pos += 1
        else:  # NumPy through the capsule: next_uint32 is one word, next_double two
            if rng.integers(0, 2):
                got = ng.integers(0, 2**32, size=n, dtype=np.uint32)
                np.testing.assert_array_equal(got, raw(key, first, pos, n))
                pos += n
            else:
                got = ng.random(n)
                w = raw(key, first, pos, 2 * n).astype(np.uint64)
                u64 = w[0::2] | (w[1::2] << np.uint64(32))
                np.testing.assert_array_equal(got, (u64 >> np.uint64(11)) / 2.0**53)
                pos += 2 * n
        assert word_position(p) == (4 * ctr + pos) % 2**130


def test_odd_float32_draw_then_float64_skips_one_word() -> None:
    p = reparam.Philox(key=KEY, counter=CTR)
    g = reparam.Generator(p)
    first = CTR + 1
    a = g.standard_normal(3, dtype=np.float32)  # words 0, 1, 2
    np.testing.assert_array_equal(a, fill("normal", np.float32, KEY, first, 0, 3))
    b = g.standard_normal(4)  # word 3 skipped: slots 2..5 = words 4..11
    np.testing.assert_array_equal(b, fill("normal", np.float64, KEY, first, 2, 4))
    assert p.state["state"]["counter"] == CTR + 3
    assert p.state["buffer_pos"] == 0
    c = g.random(1, dtype=np.float32)  # word 12
    d = g.random(2)  # word 13 skipped: slots 7, 8 = words 14..17
    w = raw(KEY, first, 12, 6).astype(np.uint64)
    assert c[0] == np.float32((int(w[0]) >> 8) / 2.0**24)
    u64 = w[2::2] | (w[3::2] << np.uint64(32))
    np.testing.assert_array_equal(d, (u64 >> np.uint64(11)) / 2.0**53)
    assert word_position(p) == 4 * CTR + 18


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_uniform_is_the_documented_function_of_the_words(dtype: type, simd_target: str) -> None:
    """random(): float32 (w >> 8) / 2**24 from one word; float64 ((hi << 32 | lo) >> 11)
    / 2**53 from two words, lo first. Exact, including the largest words, so that every
    value is in [0, 1)."""
    n = 100_000
    p = reparam.Philox(key=KEY, counter=CTR)
    u = reparam.Generator(p).random(n, dtype=dtype)
    w = raw(KEY, CTR + 1, 0, n * np.dtype(dtype).itemsize // 4).astype(np.uint64)
    if np.dtype(dtype) == np.float32:
        expected = ((w >> np.uint64(8)).astype(np.float64) / 2.0**24).astype(np.float32)
    else:
        expected = ((w[0::2] | (w[1::2] << np.uint64(32))) >> np.uint64(11)).astype(
            np.float64
        ) / 2.0**53
    np.testing.assert_array_equal(u, expected)
    assert u.min() >= 0.0
    assert u.max() < 1.0
    # the extreme words map inside [0, 1): the largest is 1 - 2**-24 (float32), 1 - 2**-53
    assert np.float32((2**32 - 1 >> 8) / 2.0**24) == np.float32(1 - 2.0**-24) < 1
    assert ((2**64 - 1) >> 11) / 2.0**53 == 1 - 2.0**-53 < 1


# ----------------------------------------------------------------------------- (f), (g)
# Largest radius sqrt(-2 ln u1) of the transform: u1 >= 2**-32 (float32), 2**-64 (float64)
BOUND_F32 = math.sqrt(64 * math.log(2))
BOUND_F64 = math.sqrt(128 * math.log(2))


def test_tail_bound_constants() -> None:
    assert BOUND_F32 >= 6.5
    assert BOUND_F64 >= 8.5
    assert f"{BOUND_F32:.2f}" == "6.66"
    assert f"{BOUND_F64:.2f}" == "9.42"
    doc = reparam.Generator.standard_normal.__doc__
    assert "6.66" in doc
    assert "9.42" in doc


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_transform_inputs_inside_unit_interval_and_normals_finite(dtype: type) -> None:
    """The uniforms of the transform, recomputed exactly (integers) from the raw words of a
    big sample, are strictly inside (0, 1); the normals are finite and |z| is at most the
    largest radius (plus one ulp for the rounding of r). The extreme words themselves
    (0 and 2**32 - 1) are placed in a stream by inverting Philox in test_accuracy.py."""
    n = 2 * 10**6
    key, ctr = 0x5DEECE66D, 2**96
    z = fill("normal", dtype, key, ctr, 0, n)
    assert np.all(np.isfinite(z))
    if np.dtype(dtype) == np.float32:
        w = raw(key, ctr, 0, n).astype(np.int64)
        t1 = w[0::2] | 1  # u1 = t1 / 2**32
        t2 = 2 * (w[1::2] >> 6) + 1  # u2 = t2 / 2**27
        assert t1.min() > 0 and t1.max() < 2**32
        assert t2.min() > 0 and t2.max() < 2**27
        bound = np.float32(BOUND_F32)
        bound = np.nextafter(bound, np.float32(np.inf))
    else:
        w = raw(key, ctr, 0, 2 * n).reshape(-1, 4).astype(np.uint64)
        t1 = (w[:, 0] | (w[:, 1] << np.uint64(32))) | np.uint64(1)  # u1 = t1 / 2**64
        t2 = (((w[:, 2] | (w[:, 3] << np.uint64(32))) >> np.uint64(9)) << np.uint64(1)) | np.uint64(
            1
        )  # u2 = t2 / 2**56
        assert t1.min() >= 1  # odd, so not 0; at most 2**64 - 1 by its width
        assert t2.min() >= 1
        assert t2.max() < np.uint64(2**56)
        bound = np.nextafter(BOUND_F64, np.inf)
    assert np.abs(z).max() <= bound

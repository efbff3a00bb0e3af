"""The 128-bit block counter at its edge: 2**128 - 1 wraps to 0, as documented.

Word p of Philox(key=k, counter=c) is word p % 4 of block philox4x32_10((c + 1 + p // 4)
mod 2**128, k). Each test starts a few blocks before 2**128 (the constructor, `advance`
or the `state` setter), draws across the wrap with every kind of draw (raw words,
float32 and float64 uniforms and normals, the fused `Normal.rsample`, NumPy's Generator
on the capsule) and checks the words after the wrap against a pure-Python Philox of
blocks 0, 1, 2, ..., and the floats against `_core.stream_fill` at the wrapped counters.
Sizes above the parallel threshold put the wrap inside one thread-pool task and inside
one SIMD vector of blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import reparam
from reparam import _core

M32 = 0xFFFFFFFF
MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1
TOP = 1 << 128

KEYS = [0, 0x0123_4567_89AB_CDEF, MASK64]


# ----------------------------------------------------------------------------- reference
def philox_ref(ctr: int, key: int) -> tuple[int, int, int, int]:
    """Philox4x32-10 of one counter (Salmon et al., SC11), plain Python ints."""
    x0, x1, x2, x3 = ((ctr >> (32 * i)) & M32 for i in range(4))
    k0, k1 = key & M32, (key >> 32) & M32
    for _ in range(10):
        p0, p1 = 0xD2511F53 * x0, 0xCD9E8D57 * x2
        x0, x1, x2, x3 = (p1 >> 32) ^ x1 ^ k0, p1 & M32, (p0 >> 32) ^ x3 ^ k1, p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return x0, x1, x2, x3


def ref_blocks(first: int, n: int, key: int) -> np.ndarray[Any, Any]:
    """Blocks first, first + 1, ... (mod 2**128), vectorized: an (n, 4) uint32 array."""
    ctrs = [(first + i) & MASK128 for i in range(n)]
    x0, x1, x2, x3 = (np.array([(c >> (32 * j)) & M32 for c in ctrs], np.uint64) for j in range(4))
    k0, k1 = key & M32, (key >> 32) & M32
    low, s32 = np.uint64(M32), np.uint64(32)
    for _ in range(10):
        p0, p1 = np.uint64(0xD2511F53) * x0, np.uint64(0xCD9E8D57) * x2
        x0, x1, x2, x3 = (p1 >> s32) ^ x1 ^ np.uint64(k0), p1 & low, (p0 >> s32) ^ x3 ^ np.uint64(k1), p0 & low
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return np.stack([x0, x1, x2, x3], axis=1).astype(np.uint32)


def ref_words(key: int, counter: int, skip: int, n: int) -> np.ndarray[Any, Any]:
    """Words skip .. skip + n - 1 of Philox(key=key, counter=counter)."""
    first = counter + 1 + skip // 4
    lead = skip % 4
    return ref_blocks(first, (lead + n + 3) // 4, key).ravel()[lead : lead + n]


def stream(kind: str, key: int, block: int, start: int, n: int, dtype: Any) -> np.ndarray[Any, Any]:
    """`_core.stream_fill`: n values of dtype from `start` (words, or float64 slots) of
    the stream whose first block is `block`."""
    out = np.empty(n, dtype)
    _core.stream_fill(kind, key, block & MASK64, block >> 64, start, out)
    return out


def test_reference_is_philox() -> None:
    # Random123's known answers for Philox4x32-10 (kat_vectors), and the scalar and
    # vectorized references agree at the wrap.
    assert philox_ref(0, 0) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
    assert philox_ref(MASK128, MASK64) == (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)
    for key in KEYS:
        blocks = ref_blocks(TOP - 2, 4, key)
        for i, c in enumerate([TOP - 2, TOP - 1, 0, 1]):
            assert tuple(int(w) for w in blocks[i]) == philox_ref(c, key)


# ----------------------------------------------------------------------------- raw words
@pytest.mark.parametrize("key", KEYS, ids=hex)
@pytest.mark.parametrize("counter", [TOP - 3, TOP - 2, MASK128])
def test_constructor_counter_near_top(key: int, counter: int) -> None:
    p = reparam.Philox(key=key, counter=counter)
    words = p.random_raw(40)
    np.testing.assert_array_equal(words, ref_words(key, counter, 0, 40))
    # After the wrap the words are those of blocks 0, 1, 2, ...
    before = (TOP - 1 - counter) * 4  # words of blocks counter + 1 .. 2**128 - 1
    after = ref_blocks(0, 10, key).ravel()
    np.testing.assert_array_equal(words[before:], after[: 40 - before])
    assert [int(w) for w in words[before : before + 4]] == list(philox_ref(0, key))
    # The state after the wrap: the last block used was (counter + 10) mod 2**128.
    st = p.state
    assert st["state"]["counter"] == (counter + 10) & MASK128
    assert st["buffer_pos"] == 0


@pytest.mark.parametrize("key", KEYS, ids=hex)
@pytest.mark.parametrize("lead", [0, 1, 2, 3])
@pytest.mark.parametrize("delta", [0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13])
def test_advance_into_the_wrap(key: int, lead: int, delta: int) -> None:
    """Start 3 blocks before the top, draw `lead` words, advance `delta` words: the
    next words are the reference at position lead + delta, across the wrap."""
    counter = TOP - 3  # blocks 2**128 - 2, 2**128 - 1, then 0, 1, ...
    p = reparam.Philox(key=key, counter=counter)
    p.random_raw(lead)
    assert p.advance(delta) is p
    pos = lead + delta
    st = p.state
    assert st["state"]["counter"] == (counter + pos // 4) & MASK128
    assert st["buffer_pos"] == pos % 4
    got = p.random_raw(17)
    np.testing.assert_array_equal(got, ref_words(key, counter, pos, 17))
    # the wrapped part, named by block: word 8 of this stream is word 0 of block 0
    if pos <= 8:
        np.testing.assert_array_equal(got[8 - pos :], ref_blocks(0, 5, key).ravel()[: 17 - (8 - pos)])


@pytest.mark.parametrize("delta", [TOP * 4, TOP * 4 * 3, TOP * 4 + 5, 2**200 * TOP * 4 + 9])
def test_advance_full_periods(delta: int) -> None:
    """The stream has period 2**130 words: advancing by whole periods changes nothing."""
    key, counter = 0x77, TOP - 2
    p = reparam.Philox(key=key, counter=counter)
    p.random_raw(2)
    p.advance(delta)
    pos = (2 + delta) % (TOP * 4)
    np.testing.assert_array_equal(p.random_raw(12), ref_words(key, counter, pos, 12))


@pytest.mark.parametrize("key", KEYS, ids=hex)
def test_state_setter_at_the_top(key: int) -> None:
    p = reparam.Philox(key=1)
    p.state = {"bit_generator": "Philox", "state": {"key": key, "counter": MASK128 - 1}, "buffer_pos": 3}
    # next word: word 3 of block 2**128 - 1, then blocks 0, 1
    got = p.random_raw(9)
    np.testing.assert_array_equal(got[:1], ref_blocks(MASK128, 1, key).ravel()[3:])
    np.testing.assert_array_equal(got[1:], ref_blocks(0, 2, key).ravel())
    assert p.state["state"]["counter"] == 1 and p.state["buffer_pos"] == 0


@pytest.mark.parametrize("n", [5, 257, 70_001, 300_000])
@pytest.mark.parametrize("lead_words", [1, 6, 64 * 4 + 3])
def test_raw_draw_spanning_the_wrap(n: int, lead_words: int, simd_target: str, num_threads: int) -> None:
    """One large draw whose wrap falls inside a SIMD vector of blocks and inside one
    thread-pool task: the words are one contiguous stream, with blocks 0, 1, ... after
    the top, on every SIMD path and thread count."""
    key = 0xDEAD_BEEF_0BAD_F00D
    n += lead_words  # n words after the top
    blocks_before = (lead_words + 3) // 4
    counter = TOP - 1 - blocks_before
    skip = blocks_before * 4 - lead_words  # so that exactly lead_words precede block 0
    for threads in sorted({1, 2, max(num_threads, 1)}):
        reparam.set_num_threads(threads)
        p = reparam.Philox(key=key, counter=counter).advance(skip)
        got = p.random_raw(n)
        assert got.shape == (n,) and got.dtype == np.uint32
        np.testing.assert_array_equal(got[:lead_words], ref_words(key, counter, skip, lead_words))
        wrapped_ref = stream("raw", key, 0, 0, n - lead_words, np.uint32)
        np.testing.assert_array_equal(got[lead_words:], wrapped_ref)
        m = min(n - lead_words, 64)
        np.testing.assert_array_equal(got[lead_words : lead_words + m], ref_blocks(0, (m + 3) // 4, key).ravel()[:m])


def test_stream_fill_wraps_itself() -> None:
    """stream_fill from a block just below the top wraps into blocks 0, 1, ... too."""
    key = 0x5EED
    got = stream("raw", key, MASK128, 0, 4 + 4 * 70_000, np.uint32)
    np.testing.assert_array_equal(got[:4], ref_blocks(MASK128, 1, key).ravel())
    np.testing.assert_array_equal(got[4:], stream("raw", key, 0, 0, 4 * 70_000, np.uint32))


# ----------------------------------------------------------------------------- floats
def _gen(key: int, words_before_wrap: int) -> reparam.Generator:
    """A Generator whose next word is `words_before_wrap` words before block 0."""
    blocks = (words_before_wrap + 3) // 4
    p = reparam.Philox(key=key, counter=TOP - 1 - blocks)
    p.advance(blocks * 4 - words_before_wrap)
    return reparam.Generator(p)


@pytest.mark.parametrize("kind", ["normal", "uniform"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3, 100_003])
@pytest.mark.parametrize("words_before", [2, 4, 12])
def test_generator_floats_across_the_wrap(kind: str, dtype: Any, n: int, words_before: int,
                                          simd_target: str) -> None:
    """Generator draws of float32 (one word per value) and float64 (one 64-bit slot per
    value) that straddle the top: the part after the top equals `_core.stream_fill`
    at block 0, the part before it `stream_fill` at the top blocks."""
    key = 0xC0FFEE_0000_1234
    g = _gen(key, words_before)
    draw = g.standard_normal if kind == "normal" else g.random
    got = draw(n, dtype=dtype)
    assert got.dtype == dtype and got.shape == (n,)
    per = 1 if dtype == np.float32 else 2  # words per value
    k = min(n, words_before // per)  # values before the wrap
    top_blocks = (words_before + 3) // 4
    first = TOP - top_blocks  # the first block used, below the top
    start = (top_blocks * 4 - words_before) // per  # in words (float32) or slots (float64)
    np.testing.assert_array_equal(got[:k], stream(kind, key, first, start, k, dtype))
    np.testing.assert_array_equal(got[k:], stream(kind, key, 0, 0, n - k, dtype))
    # and the same values from one stream_fill that wraps by itself
    np.testing.assert_array_equal(got, stream(kind, key, first, start, n, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniforms_after_the_wrap_match_reference_words(dtype: Any) -> None:
    """The documented uniform formulas applied to the reference words of blocks 0, 1:
    float32 (w >> 8) / 2**24, float64 ((w[2s+1] << 32 | w[2s]) >> 11) / 2**53."""
    key = 0xABCDEF
    g = _gen(key, 8)
    n_words = 8 + 64
    per = 1 if dtype == np.float32 else 2
    got = g.random(n_words // per, dtype=dtype)
    words = np.concatenate([ref_blocks(TOP - 2, 2, key).ravel(), ref_blocks(0, 16, key).ravel()])
    if dtype == np.float32:
        expect = (words >> np.uint32(8)).astype(np.float64) / 2.0**24
    else:
        w = words.astype(np.uint64)
        u64 = w[0::2] | (w[1::2] << np.uint64(32))
        expect = (u64 >> np.uint64(11)).astype(np.float64) / 2.0**53
    np.testing.assert_array_equal(got, expect.astype(dtype))


def test_float64_on_an_odd_word_at_the_wrap() -> None:
    """A float64 draw that starts on an odd word skips that word first (README), also
    when the skipped word is the last word of block 2**128 - 1."""
    key = 0x1357
    g = _gen(key, 1)  # next word: word 3 of block 2**128 - 1
    z = g.standard_normal(10)
    np.testing.assert_array_equal(z, stream("normal", key, 0, 0, 10, np.float64))
    st = g.bit_generator.state
    assert st["state"]["counter"] == 4 and st["buffer_pos"] == 0  # 20 words of blocks 0..4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normals_after_the_wrap_match_the_transform(dtype: Any) -> None:
    """Normals from blocks 0, 1, ... are Box-Muller of the reference words (README
    table), within the documented 4 ulp of max(|z|, 1)."""
    key = 0x2468_ACE0
    g = _gen(key, 4)
    n = 64
    got = g.standard_normal(n + (4 if dtype == np.float32 else 2), dtype=dtype)
    got = got[4:] if dtype == np.float32 else got[2:]
    w = ref_blocks(0, 32, key).ravel().astype(np.uint64)
    if dtype == np.float32:
        a, b = w[0::2][: n // 2], w[1::2][: n // 2]
        u1 = (a | np.uint64(1)).astype(np.float64) / 2.0**32
        u2 = ((b >> np.uint64(6)).astype(np.float64) + 0.5) / 2.0**26
    else:
        q = w.reshape(-1, 4)[: n // 2]
        lo = q[:, 0] | (q[:, 1] << np.uint64(32))
        hi = q[:, 2] | (q[:, 3] << np.uint64(32))
        # u1 = (lo | 1) / 2**64 computed without losing the low bits: ln u1 via log of
        # the exact big integer ratio is enough at this tolerance.
        u1 = np.array([float(int(x) | 1) / 2.0**64 for x in lo])
        u2 = ((hi >> np.uint64(9)).astype(np.float64) + 0.5) / 2.0**55
    r = np.sqrt(-2.0 * np.log(u1))
    expect = np.empty(n)
    expect[0::2] = r * np.cos(2 * np.pi * u2)
    expect[1::2] = r * np.sin(2 * np.pi * u2)
    ulp = float(np.finfo(dtype).eps)
    tol = 8 * ulp * np.maximum(np.abs(expect), 1.0) + (1e-12 if dtype == np.float64 else 0)
    assert np.all(np.abs(got.astype(np.float64) - expect) <= tol)


def test_rsample_and_noise_across_the_wrap() -> None:
    """The fused Normal.rsample draws the same eps across the top, and its Noise handle
    (which records the counter) regenerates them."""
    key = 0x600D
    loc = np.linspace(-1, 1, 7)
    logvar = np.linspace(-2, 2, 7)
    for dtype in (np.float32, np.float64):
        q = reparam.Normal(loc.astype(dtype), logvar=logvar.astype(dtype))
        g = _gen(key, 6)
        z, noise = q.rsample(30, rng=g, return_noise=True)
        eps = np.asarray(noise)
        g2 = _gen(key, 6)
        eps2 = g2.standard_normal((30, 7), dtype=dtype)
        np.testing.assert_array_equal(eps, eps2)
        sigma = np.exp(0.5 * logvar.astype(dtype))
        np.testing.assert_allclose(z, loc.astype(dtype) + sigma * eps2, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-14)
        assert g.bit_generator.state == g2.bit_generator.state


def test_numpy_generator_on_the_capsule_across_the_wrap() -> None:
    key = 0xFACE
    p = reparam.Philox(key=key, counter=TOP - 2)  # blocks 2**128 - 1, 0, 1, ...
    ng = np.random.Generator(p)
    words = ref_words(key, TOP - 2, 0, 40).astype(np.uint64)
    u64 = words[0::2] | (words[1::2] << np.uint64(32))
    np.testing.assert_array_equal(ng.random(20), (u64 >> np.uint64(11)).astype(np.float64) / 2.0**53)
    assert p.state["state"]["counter"] == 8 and p.state["buffer_pos"] == 0

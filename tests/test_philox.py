"""The Philox4x32-10 bit generator: known-answer vectors, the compiled stream against a
pure-Python reference written from the published definition, and the Philox object
(seeding, state, advance, jumped, spawn, pickling, NumPy interplay).

Stream definition under test: word p (p = 0, 1, ...) of Philox(key=k, counter=c) is word
p % 4 of the block philox4x32_10((c + 1 + p // 4) mod 2**128, k).
"""

from __future__ import annotations

import copy
import ctypes
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

import reparam
from reparam import _core

M32 = 0xFFFFFFFF
MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1

# Published constants (Salmon et al., SC11; Random123 philox.h).
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9  # golden ratio
PHILOX_W1 = 0xBB67AE85  # sqrt(3) - 1


# ----------------------------------------------------------------------------- reference
def philox_ref(ctr: int, key: int, rounds: int = 10) -> tuple[int, int, int, int]:
    """Philox4x32-R of one 128-bit counter under a 64-bit key, in plain Python ints."""
    x0, x1, x2, x3 = ((ctr >> (32 * i)) & M32 for i in range(4))
    k0, k1 = key & M32, (key >> 32) & M32
    for _ in range(rounds):
        p0 = PHILOX_M0 * x0
        p1 = PHILOX_M1 * x2
        hi0, lo0 = p0 >> 32, p0 & M32
        hi1, lo1 = p1 >> 32, p1 & M32
        x0, x1, x2, x3 = hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0
        k0 = (k0 + PHILOX_W0) & M32
        k1 = (k1 + PHILOX_W1) & M32
    return x0, x1, x2, x3


def philox_blocks_np(first_ctr: int, n_blocks: int, key: int) -> np.ndarray:
    """Blocks first_ctr, first_ctr + 1, ... (mod 2**128) as an (n_blocks, 4) uint32 array:
    the same rounds as philox_ref, vectorized over blocks with uint64 products."""
    ctrs = [(first_ctr + i) & MASK128 for i in range(n_blocks)]
    x = [np.array([(c >> (32 * j)) & M32 for c in ctrs], dtype=np.uint64) for j in range(4)]
    x0, x1, x2, x3 = x
    k0, k1 = key & M32, (key >> 32) & M32
    m0, m1, low = np.uint64(PHILOX_M0), np.uint64(PHILOX_M1), np.uint64(M32)
    s32 = np.uint64(32)
    for _ in range(10):
        p0 = m0 * x0
        p1 = m1 * x2
        x0, x1, x2, x3 = (
            (p1 >> s32) ^ x1 ^ np.uint64(k0),
            p1 & low,
            (p0 >> s32) ^ x3 ^ np.uint64(k1),
            p0 & low,
        )
        k0 = (k0 + PHILOX_W0) & M32
        k1 = (k1 + PHILOX_W1) & M32
    return np.stack([x0, x1, x2, x3], axis=1).astype(np.uint32)


def ref_stream(key: int, counter: int, n: int, skip: int = 0) -> np.ndarray:
    """Words skip, ..., skip + n - 1 of the stream of Philox(key=key, counter=counter)."""
    skip %= 1 << 130  # positions wrap with the counter: 2**128 blocks of 4 words
    first_block = counter + 1 + skip // 4
    lead = skip % 4
    n_blocks = (lead + n + 3) // 4
    return philox_blocks_np(first_block, n_blocks, key).ravel()[lead : lead + n]


def stream_fill_raw(key: int, ctr: int, start: int, n: int) -> np.ndarray:
    out = np.empty(n, np.uint32)
    _core.stream_fill("raw", key, ctr & MASK64, ctr >> 64, start, out)
    return out


# ----------------------------------------------------------------------------- KAT
KAT_FILE = Path(__file__).parent / "data" / "philox4x32_kat.txt"


def _load_kat() -> list[tuple[int, int, int, tuple[int, int, int, int]]]:
    vectors = []
    for line in KAT_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        assert len(fields) == 11, line
        rounds = int(fields[0])
        w = [int(f, 16) for f in fields[1:]]
        ctr = w[0] | w[1] << 32 | w[2] << 64 | w[3] << 96
        key = w[4] | w[5] << 32
        vectors.append((rounds, ctr, key, (w[6], w[7], w[8], w[9])))
    return vectors


KAT = _load_kat()
KAT10 = [v for v in KAT if v[0] == 10]


def _kat_id(v: tuple[int, int, int, tuple[int, int, int, int]]) -> str:
    return f"R{v[0]}-ctr{v[1]:032x}-key{v[2]:016x}"


def test_kat_file_has_both_round_counts() -> None:
    assert len(KAT) == 9
    assert {v[0] for v in KAT} == {7, 10}
    assert len(KAT10) == 6


@pytest.mark.parametrize("vector", KAT, ids=_kat_id)
def test_reference_matches_kat(vector: tuple[int, int, int, tuple[int, int, int, int]]) -> None:
    rounds, ctr, key, expected = vector
    assert philox_ref(ctr, key, rounds) == expected


@pytest.mark.parametrize("vector", KAT10, ids=_kat_id)
def test_vectorized_reference_matches_kat(
    vector: tuple[int, int, int, tuple[int, int, int, int]],
) -> None:
    _, ctr, key, expected = vector
    assert tuple(int(w) for w in philox_blocks_np(ctr, 1, key)[0]) == expected


@pytest.mark.parametrize("vector", KAT10, ids=_kat_id)
def test_stream_fill_matches_kat(
    vector: tuple[int, int, int, tuple[int, int, int, int]], simd_target: str
) -> None:
    _, ctr, key, expected = vector
    assert tuple(int(w) for w in stream_fill_raw(key, ctr, 0, 4)) == expected
    # The same block as block j of a stream that starts j blocks earlier, so that it
    # lands in every lane of a vector and the block counter carries (or wraps) into it.
    for j in (1, 2, 3, 5, 7, 15, 17, 63, 1000):
        base = (ctr - j) & MASK128
        got = stream_fill_raw(key, base, 4 * j, 4)
        assert tuple(int(w) for w in got) == expected, j
        # ... and inside a longer fill that is written directly, not through a buffer
        long_fill = stream_fill_raw(key, base, 0, 4 * (j + 70))
        assert tuple(int(w) for w in long_fill[4 * j : 4 * j + 4]) == expected, j


# ------------------------------------------------------- compiled stream vs reference
_rng = np.random.default_rng(20240611)
SPECIAL_COUNTERS = [
    0,
    1,
    2**32 - 1,
    2**32 - 3,
    2**32 - 17,
    2**64 - 1,
    2**64 - 5,
    2**64 - 33,
    2**96 - 2,
    2**96 - 40,
    2**128 - 1,
    2**128 - 3,
    2**128 - 16,
    2**128 - 70,
    (2**64 - 7) + 2**64 * (2**64 - 1),  # both halves almost full
]
RANDOM_COUNTERS = [
    int(sum(int(w) << (32 * i) for i, w in enumerate(_rng.integers(0, 2**32, 4)))) for _ in range(8)
]
KEYS = [0, 1, 2**64 - 1, 0x9E3779B97F4A7C15] + [
    int(k) for k in _rng.integers(0, 2**64, 4, dtype=np.uint64)
]
STREAM_CASES = [(KEYS[i % len(KEYS)], c) for i, c in enumerate(SPECIAL_COUNTERS + RANDOM_COUNTERS)]


def test_vectorized_reference_matches_pure_python() -> None:
    """philox_blocks_np (used below for long streams) against philox_ref, including
    counters whose consecutive blocks carry across 32-bit words and wrap at 2**128."""
    for key, ctr in STREAM_CASES:
        blocks = philox_blocks_np(ctr, 6, key)
        for i in range(6):
            assert tuple(int(w) for w in blocks[i]) == philox_ref((ctr + i) & MASK128, key)


@pytest.mark.parametrize(
    ("key", "ctr"), STREAM_CASES, ids=[f"k{k:x}-c{c:x}" for k, c in STREAM_CASES]
)
def test_stream_fill_matches_reference(key: int, ctr: int, simd_target: str) -> None:
    n_blocks = 150  # several vectors of every width, plus a partial one
    expected = philox_blocks_np(ctr, n_blocks, key).ravel()
    np.testing.assert_array_equal(stream_fill_raw(key, ctr, 0, 4 * n_blocks), expected)
    # odd starts and lengths: a range may start at any word
    for start, n in ((1, 7), (3, 64), (5, 333), (63, 200), (130, 469)):
        np.testing.assert_array_equal(
            stream_fill_raw(key, ctr, start, n), expected[start : start + n]
        )


@pytest.mark.parametrize(("key", "ctr"), STREAM_CASES[:6] + STREAM_CASES[-3:])
def test_random_raw_matches_reference(key: int, ctr: int, simd_target: str) -> None:
    p = reparam.Philox(key=key, counter=ctr)
    got = p.random_raw(4 * 137 + 3)
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got, ref_stream(key, ctr, got.size))


def test_random_raw_forms() -> None:
    key, ctr = 0x0123456789ABCDEF, 2**64 - 2
    expected = ref_stream(key, ctr, 40)
    p = reparam.Philox(key=key, counter=ctr)
    first = p.random_raw()
    assert type(first) is int
    assert first == int(expected[0])
    assert p.random_raw(3, output=False) is None  # skipped, but consumed
    two_d = p.random_raw((2, 3))
    assert two_d.shape == (2, 3)
    assert two_d.dtype == np.uint32
    np.testing.assert_array_equal(two_d.ravel(), expected[4:10])
    assert p.random_raw(0).shape == (0,)
    np.testing.assert_array_equal(p.random_raw(30), expected[10:40])


# ----------------------------------------------------------------------------- seeding
@pytest.mark.parametrize(
    "seed", [0, 1, 12345, 2**64 + 3, 2**100, [1, 2, 3]], ids=lambda s: f"seed={s}"
)
def test_seed_to_key(seed: object) -> None:
    words = np.random.SeedSequence(seed).generate_state(2, np.uint32)
    key = int(words[0]) | int(words[1]) << 32
    p = reparam.Philox(seed)
    assert p.state == {
        "bit_generator": "Philox",
        "state": {"key": key, "counter": 0},
        "buffer_pos": 0,
    }
    np.testing.assert_array_equal(p.random_raw(21), ref_stream(key, 0, 21))
    assert isinstance(p.seed_seq, np.random.SeedSequence)
    assert p.seed_seq.entropy == np.random.SeedSequence(seed).entropy


def test_seed_sequence_and_fresh_entropy() -> None:
    ss = np.random.SeedSequence(98765)
    p = reparam.Philox(ss)
    assert p.seed_seq is ss
    words = ss.generate_state(2, np.uint32)
    assert p.state["state"]["key"] == int(words[0]) | int(words[1]) << 32
    # seed=None draws OS entropy; the key is still derived from the recorded SeedSequence
    q = reparam.Philox()
    words = q.seed_seq.generate_state(2, np.uint32)
    assert q.state["state"]["key"] == int(words[0]) | int(words[1]) << 32


def test_seed_with_counter() -> None:
    p = reparam.Philox(7, counter=2**100 + 5)
    words = np.random.SeedSequence(7).generate_state(2, np.uint32)
    key = int(words[0]) | int(words[1]) << 32
    np.testing.assert_array_equal(p.random_raw(9), ref_stream(key, 2**100 + 5, 9))


def test_key_bounds_accepted() -> None:
    p = reparam.Philox(key=2**64 - 1, counter=2**128 - 1)  # the next block is block 0
    np.testing.assert_array_equal(p.random_raw(8), philox_blocks_np(0, 2, 2**64 - 1).ravel())
    q = reparam.Philox(key=np.uint64(2**63), counter=np.uint64(5))
    assert q.state["state"] == {"key": 2**63, "counter": 5}
    assert q.seed_seq is None


def test_seed_and_key_together() -> None:
    with pytest.raises(ValueError):
        reparam.Philox(1, key=2)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"key": 1.5}, TypeError),
        ({"key": "1"}, TypeError),
        ({"key": None, "counter": 1.0}, TypeError),
        ({"key": 3, "counter": "0"}, TypeError),
        ({"key": -1}, ValueError),
        ({"key": 2**64}, ValueError),
        ({"key": 0, "counter": -1}, ValueError),
        ({"key": 0, "counter": 2**128}, ValueError),
    ],
)
def test_bad_key_or_counter(kwargs: dict[str, object], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        reparam.Philox(**kwargs)


@pytest.mark.parametrize("seed", [np.random.PCG64(0), np.random.default_rng(0), 1.5])
def test_bad_seed_type(seed: object) -> None:
    with pytest.raises(TypeError):
        reparam.Philox(seed)


# ----------------------------------------------------------------------------- state
def test_state_tracks_position() -> None:
    key, ctr = 0xDEADBEEF12345678, 2**128 - 3
    p = reparam.Philox(key=key, counter=ctr)
    drawn = 0
    for n in (0, 1, 2, 3, 4, 5, 11, 16):
        p.random_raw(n)
        drawn += n
        assert p.state == {
            "bit_generator": "Philox",
            "state": {"key": key, "counter": (ctr + drawn // 4) & MASK128},
            "buffer_pos": drawn % 4,
        }


def test_state_round_trip_and_transfer() -> None:
    key, ctr = 42, 2**64 - 2
    p = reparam.Philox(key=key, counter=ctr)
    p.random_raw(7)
    st = p.state
    a = p.random_raw(13)
    np.testing.assert_array_equal(a, ref_stream(key, ctr, 13, skip=7))
    p.state = st
    np.testing.assert_array_equal(p.random_raw(13), a)
    q = reparam.Philox(key=1)
    q.state = st
    assert q.state == st
    np.testing.assert_array_equal(q.random_raw(13), a)
    # the dict handed out is a copy
    st2 = p.state
    st2["state"]["key"] = 0
    st2["buffer_pos"] = 0
    assert p.state != st2


@pytest.mark.parametrize("buffer_pos", [0, 1, 2, 3])
def test_state_setter_buffer_pos(buffer_pos: int) -> None:
    key, ctr = 0x1234, 2**128 - 1
    p = reparam.Philox(key=7)
    p.state = {
        "bit_generator": "Philox",
        "state": {"key": key, "counter": ctr},
        "buffer_pos": buffer_pos,
    }
    np.testing.assert_array_equal(p.random_raw(10), ref_stream(key, ctr, 10, skip=buffer_pos))


@pytest.mark.parametrize(
    ("value", "exc"),
    [
        ([1, 2], TypeError),
        ({"bit_generator": "PCG64", "state": {"key": 1, "counter": 0}}, ValueError),
        ({"bit_generator": "Philox", "state": {"counter": 0}}, ValueError),
        (
            {"bit_generator": "Philox", "state": {"key": 1, "counter": 0}, "buffer_pos": 4},
            ValueError,
        ),
        ({"bit_generator": "Philox", "state": {"key": -1, "counter": 0}}, ValueError),
        ({"bit_generator": "Philox", "state": {"key": 1, "counter": 2**128}}, ValueError),
        ({"bit_generator": "Philox", "state": {"key": 1.0, "counter": 0}}, TypeError),
    ],
)
def test_state_setter_rejects(value: object, exc: type[Exception]) -> None:
    p = reparam.Philox(key=5, counter=9)
    p.random_raw(3)
    before = p.state
    with pytest.raises(exc):
        p.state = value
    assert p.state == before


# ----------------------------------------------------------------------------- advance
@pytest.mark.parametrize("lead", [0, 1, 3])
@pytest.mark.parametrize("delta", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 1000, 4097])
def test_advance_equals_drawing(lead: int, delta: int) -> None:
    key, ctr = 0xFEEDFACECAFEBEEF, 2**32 - 2
    p1 = reparam.Philox(key=key, counter=ctr)
    p2 = reparam.Philox(key=key, counter=ctr)
    p1.random_raw(lead)
    p2.random_raw(lead)
    assert p1.advance(delta) is p1
    p2.random_raw(delta)
    assert p1.state == p2.state
    np.testing.assert_array_equal(p1.random_raw(9), p2.random_raw(9))


@pytest.mark.parametrize(
    "delta",
    [
        4 * 2**32 + 1,
        4 * 2**64 + 3,
        2**66 + 5,
        2**130 - 5,  # wraps: 5 words *before* the start
        2**130,  # a full cycle: back to the start
        2**130 + 7,
        2**200 + 3,
    ],
    ids=hex,
)
@pytest.mark.parametrize("ctr", [0, 2**64 - 1, 2**128 - 3])
def test_advance_huge(delta: int, ctr: int) -> None:
    key, lead = 0x5555AAAA3333CCCC, 1
    p = reparam.Philox(key=key, counter=ctr)
    p.random_raw(lead)
    p.advance(delta)
    pos = (lead + delta) % 2**130
    assert p.state["state"]["counter"] == (ctr + pos // 4) & MASK128
    assert p.state["buffer_pos"] == pos % 4
    np.testing.assert_array_equal(p.random_raw(11), ref_stream(key, ctr, 11, skip=pos))


def test_advance_across_counter_wrap() -> None:
    key, ctr = 99, 2**128 - 3
    p = reparam.Philox(key=key, counter=ctr)
    p.advance(4 * 2 + 3)  # next word: word 3 of block 2**128 - 3 + 1 + 2 = 0
    assert p.state["state"]["counter"] == 2**128 - 1
    assert p.state["buffer_pos"] == 3
    w = p.random_raw(6)
    blocks = philox_blocks_np(0, 3, key)
    np.testing.assert_array_equal(w, blocks.ravel()[3:9])


@pytest.mark.parametrize(("delta", "exc"), [(-1, ValueError), (1.0, TypeError), ("3", TypeError)])
def test_advance_rejects(delta: object, exc: type[Exception]) -> None:
    p = reparam.Philox(key=1)
    with pytest.raises(exc):
        p.advance(delta)
    assert p.state["state"]["counter"] == 0


# ----------------------------------------------------------------------------- jumped
@pytest.mark.parametrize("jumps", [0, 1, 2, 5, 2**64 - 1, 2**64 + 1])
@pytest.mark.parametrize("ctr", [0, 2**64 - 3, 2**128 - 2**63])
def test_jumped(jumps: int, ctr: int) -> None:
    key = 0xABCDEF0123456789
    p = reparam.Philox(key=key, counter=ctr)
    p.random_raw(3)
    before = p.state
    j = p.jumped(jumps)
    assert isinstance(j, reparam.Philox)
    assert j is not p
    assert p.state == before  # the original does not move
    assert j.state == {
        "bit_generator": "Philox",
        "state": {"key": key, "counter": (ctr + jumps * 2**64) & MASK128},
        "buffer_pos": 3,
    }
    expected = ref_stream(key, ctr, 10, skip=3 + jumps * 2**66)
    np.testing.assert_array_equal(j.random_raw(10), expected)
    assert p.state == before  # drawing from the jumped copy leaves the original alone
    np.testing.assert_array_equal(p.random_raw(10), ref_stream(key, ctr, 10, skip=3))


def test_jumped_default_and_rejects() -> None:
    p = reparam.Philox(key=3, counter=10)
    assert p.jumped().state["state"]["counter"] == 10 + 2**64
    with pytest.raises(ValueError):
        p.jumped(-1)
    with pytest.raises(TypeError):
        p.jumped(1.0)


# ----------------------------------------------------------------------------- spawn
def test_spawn_matches_seed_sequence() -> None:
    p = reparam.Philox(2024)
    children = p.spawn(3)
    expected_ss = np.random.SeedSequence(2024).spawn(5)
    keys = set()
    for i, child in enumerate(children):
        expected = reparam.Philox(expected_ss[i])
        assert child.state == expected.state
        assert child.seed_seq.spawn_key == (i,)
        keys.add(child.state["state"]["key"])
        np.testing.assert_array_equal(child.random_raw(12), expected.random_raw(12))
    assert len(keys) == 3
    assert p.state["state"]["key"] not in keys
    # a second call continues the spawn keys, as numpy's does
    more = p.spawn(2)
    for i, child in enumerate(more, start=3):
        assert child.state == reparam.Philox(expected_ss[i]).state
    gens = reparam.default_rng(77).spawn(2)
    for i, g in enumerate(gens):
        assert isinstance(g, reparam.Generator)
        ss = np.random.SeedSequence(77).spawn(2)[i]
        assert g.bit_generator.state == reparam.Philox(ss).state


def test_spawn_needs_seed_sequence() -> None:
    p = reparam.Philox(key=12)
    assert p.seed_seq is None
    with pytest.raises(TypeError):
        p.spawn(1)


# ------------------------------------------------------------------- pickle and repr
@pytest.mark.parametrize(
    "make",
    [lambda: reparam.Philox(31337), lambda: reparam.Philox(key=2**64 - 1, counter=2**128 - 2)],
    ids=["seeded", "keyed"],
)
def test_pickle_and_copy(make: object) -> None:
    p = make()
    p.random_raw(5)  # mid-block
    for q in (pickle.loads(pickle.dumps(p)), copy.deepcopy(p)):
        assert q is not p
        assert q.state == p.state
        if p.seed_seq is None:
            assert q.seed_seq is None
        else:
            assert q.seed_seq.entropy == p.seed_seq.entropy
            assert [c.state for c in q.spawn(2)] == [c.state for c in copy.deepcopy(p).spawn(2)]
        st = p.state
        a = q.random_raw(23)
        assert p.state == st  # independent copies
        np.testing.assert_array_equal(a, p.random_raw(23))
        p.state = st


def test_generator_pickle_continues_stream() -> None:
    g = reparam.default_rng(5)
    g.standard_normal(3, dtype=np.float32)
    h = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(h.standard_normal(17), g.standard_normal(17))


def test_repr_contains_key_and_counter() -> None:
    key, ctr = 0xDEADBEEF, 2**100 + 17
    r = repr(reparam.Philox(key=key, counter=ctr))
    assert "Philox" in r
    assert f"{key:#x}" in r or str(key) in r
    assert f"{ctr:#x}" in r or str(ctr) in r


# ----------------------------------------------------------------------- NumPy interplay
def test_capsule_and_lock() -> None:
    p = reparam.Philox(key=1)
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    assert get_name(p.capsule) == b"BitGenerator"
    assert not p.lock.locked()
    with p.lock:
        assert p.lock.locked()
        # held: another thread cannot take it (the holder can: it is re-entrant, see
        # test_philox_lock.py)
        other: list[bool] = []
        t = threading.Thread(target=lambda: other.append(p.lock.acquire(blocking=False)))
        t.start()
        t.join()
        assert other == [False]
    assert not p.lock.locked()
    assert p.lock.acquire()
    p.lock.release()
    with pytest.raises(RuntimeError):
        p.lock.release()


def test_numpy_generator_random_and_integers() -> None:
    key, ctr = 0x0F0F0F0FF0F0F0F0, 2**64 - 1
    words = ref_stream(key, ctr, 64).astype(np.uint64)
    p = reparam.Philox(key=key, counter=ctr)
    ng = np.random.Generator(p)
    assert ng.bit_generator is p
    # next_double = (next_uint64 >> 11) / 2**53, next_uint64 = lo | hi << 32
    u64 = words[0:10:2] | (words[1:10:2] << np.uint64(32))
    np.testing.assert_array_equal(ng.random(5), (u64 >> np.uint64(11)).astype(np.float64) / 2.0**53)
    # full-range uint32 draws are next_uint32: one word each
    np.testing.assert_array_equal(
        ng.integers(0, 2**32, size=3, dtype=np.uint32), words[10:13].astype(np.uint32)
    )
    # now at an odd word: next_uint64 takes words 13 (low) and 14 (high), no alignment
    u = ng.integers(0, 2**64, size=2, dtype=np.uint64)
    np.testing.assert_array_equal(u, words[13:17:2] | (words[14:18:2] << np.uint64(32)))
    assert p.state["state"]["counter"] == ctr + 17 // 4
    assert p.state["buffer_pos"] == 17 % 4
    np.testing.assert_array_equal(p.random_raw(5), words[17:22].astype(np.uint32))


def test_numpy_draws_advance_reparam_state() -> None:
    key = 0x31415926
    p = reparam.Philox(key=key)
    ng = np.random.Generator(p)
    g = reparam.Generator(p)
    ng.random(3)  # 6 words
    np.testing.assert_array_equal(p.random_raw(4), ref_stream(key, 0, 4, skip=6))
    a = g.random(1, dtype=np.float32)  # word 10
    assert a[0] == np.float32((int(ref_stream(key, 0, 1, skip=10)[0]) >> 8) / 2.0**24)
    b = ng.integers(0, 2**32, dtype=np.uint32)  # word 11
    assert int(b) == int(ref_stream(key, 0, 1, skip=11)[0])
    z = ng.standard_normal(1000)  # ziggurat: data-dependent number of words
    assert np.all(np.isfinite(z))
    st = p.state
    pos = 4 * st["state"]["counter"] + st["buffer_pos"]
    assert pos >= 12 + 1000
    np.testing.assert_array_equal(p.random_raw(5), ref_stream(key, 0, 5, skip=pos))
    twin = copy.deepcopy(p)
    np.testing.assert_array_equal(reparam.Generator(p).random(2), reparam.Generator(twin).random(2))


def test_numpy_generator_reproducible() -> None:
    a = np.random.Generator(reparam.Philox(123)).standard_normal(50)
    b = np.random.Generator(reparam.Philox(123)).standard_normal(50)
    np.testing.assert_array_equal(a, b)

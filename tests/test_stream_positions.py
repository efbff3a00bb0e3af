"""The core owns stream positions (issue 14): `_core.StreamPos` maps offsets to positions,
reserves, advances and jumps, and no Python module of the package does that arithmetic."""

from __future__ import annotations

import pathlib
import pickle
import re

import numpy as np
import pytest

import reparam
from reparam import _core

TOP = 2**128


def words(p: reparam.Philox) -> int:
    """The word position of `p`'s next word, from its public state (mod 2**130)."""
    st = p.state
    return (4 * (st["state"]["counter"] + 1) + st["buffer_pos"]) % (4 * TOP)


@pytest.mark.parametrize("unit", [1, 2])
@pytest.mark.parametrize("counter", [0, 5, 2**64 - 1, TOP - 1])
@pytest.mark.parametrize("start", [0, 1, 3, 2**64 - 1])
def test_at_composes_and_fills_the_same_values(unit: int, counter: int, start: int) -> None:
    base = _core.StreamPos(0x1234_5678_9ABC_DEF0, counter, start, unit)
    dt = np.float64 if unit == 2 else np.float32
    whole = np.empty(40, dt)
    base.fill("normal", whole)
    for a in (0, 1, 2, 7, 13):
        got = np.empty(40 - a, dt)
        base.at(a).fill("normal", got)
        assert got.tobytes() == whole[a:].tobytes()
        assert base.at(a).at(3) == base.at(a + 3)
        assert base.at(a).start < 4 // unit  # normalized: a PhiloxState can hold it
    st = base.at(0).state()
    nxt = np.empty(8, dt)
    _core.fill_normal(st, nxt)
    assert nxt.tobytes() == whole[:8].tobytes()


def test_stream_pos_pickles_and_checks() -> None:
    p = _core.StreamPos(7, TOP - 1, 2**64 - 1, 2)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        q = pickle.loads(pickle.dumps(p, proto))
        assert q == p and hash(q) == hash(p)
        assert (q.key, q.counter, q.start, q.unit) == (7, TOP - 1, 2**64 - 1, 2)
    with pytest.raises(ValueError, match=r"counter must be in \[0, 2\*\*128\)"):
        _core.StreamPos(7, TOP, 0, 1)
    with pytest.raises(ValueError, match="unit must be 1"):
        _core.StreamPos(7, 0, 0, 3)
    with pytest.raises(TypeError, match="counter must be an int"):
        _core.StreamPos(7, 1.0, 0, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("delta", [0, 1, 3, 4, 5, 2**64, 2**66 + 3, 4 * TOP - 1, 4 * TOP + 9, 2**200 + 1])
@pytest.mark.parametrize("counter", [0, TOP - 1])
@pytest.mark.parametrize("drawn", [0, 1, 3])
def test_advance_moves_by_words_mod_2_130(delta: int, counter: int, drawn: int) -> None:
    p = reparam.Philox(key=3, counter=counter)
    p.random_raw(drawn)
    before = words(p)
    p.advance(delta)
    assert words(p) == (before + delta) % (4 * TOP)
    if delta < 64:  # the same words as drawing them
        q = reparam.Philox(key=3, counter=counter)
        q.random_raw(drawn + delta)
        assert np.array_equal(p.random_raw(8), q.random_raw(8))


@pytest.mark.parametrize("jumps", [0, 1, 3, 2**64 + 1])
def test_jumped_is_2_66_words_ahead(jumps: int) -> None:
    p = reparam.Philox(key=11, counter=TOP - 2)
    p.random_raw(5)
    j = p.jumped(jumps)
    assert words(j) == (words(p) + jumps * 2**66) % (4 * TOP)
    assert words(p) == (4 * (TOP - 1) + 5) % (4 * TOP)  # p itself did not move


def test_reserve_matches_a_draw() -> None:
    for drawn in range(4):
        a, b = reparam.Philox(key=1), reparam.Philox(key=1)
        a.random_raw(drawn)
        b.random_raw(drawn)
        pos = _core.stream_reserve(a._state, 10, 2)  # float64: slots start at even words
        x = np.empty(10)
        pos.fill("normal", x)
        y = np.empty(10)
        _core.fill_normal(b._state, y)
        assert x.tobytes() == y.tobytes()
        assert words(a) == words(b)


# Position arithmetic in Python looks like this: splitting or joining 64-bit halves of a
# counter, masking to 64/128 bits, or turning words into blocks.
_ARITHMETIC = re.compile(r"<<\s*64|>>\s*64|_MASK(64|128)|\(1 << 1?28?\)|//\s*4\b|%\s*4\b")


def test_no_position_arithmetic_in_python() -> None:
    pkg = pathlib.Path(reparam.__file__).parent
    offenders = []
    for f in sorted(pkg.glob("*.py")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if _ARITHMETIC.search(code) and "``" not in code:  # docstrings quote the rule
                offenders.append(f"{f.name}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)

"""Helpers shared by the tests: switch the SIMD path, read stream positions directly."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from reparam import _core

MASK64 = (1 << 64) - 1


@contextlib.contextmanager
def using_target(name: str) -> Iterator[None]:
    """Run the block on the SIMD path `name` (which must be supported), then restore."""
    previous = _core.selected_target()
    assert _core.select_target(name)
    try:
        yield
    finally:
        assert _core.select_target(previous)


def fill(kind: str, dtype: type, key: int, ctr: int, start: int, n: int) -> np.ndarray:
    """Positions [start, start + n) of the stream whose block 0 has counter `ctr`."""
    out = np.empty(n, dtype)
    _core.stream_fill(kind, key, ctr & MASK64, (ctr >> 64) & MASK64, start, out)
    return out

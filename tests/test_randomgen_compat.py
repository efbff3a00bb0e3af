"""The raw stream equals randomgen's Philox(number=4, width=32, key=..., counter=...).

randomgen is a widely used implementation of the same generator; this cross-check runs
where it is installed (``.ci/run`` installs it) and is skipped elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest

import reparam

randomgen = pytest.importorskip("randomgen")

CASES = [
    (0, 0),
    (123456789012345, 5),
    (2**64 - 1, 2**128 - 3),  # the 128-bit counter wraps inside the draw
    (7, 2**64 - 1),  # a carry from the low to the high 64 bits
    (0xDEADBEEF, 2**32 - 2),  # a carry out of word 0
]


@pytest.mark.parametrize(("key", "counter"), CASES)
def test_raw_stream_matches_randomgen(key: int, counter: int) -> None:
    theirs = randomgen.Philox(number=4, width=32, key=key, counter=counter)
    ours = reparam.Philox(key=key, counter=counter)
    for n in (1, 3, 4, 7, 1000):  # odd splits keep the two positions in step
        expected = theirs.random_raw(n).astype(np.uint64) & 0xFFFFFFFF
        np.testing.assert_array_equal(ours.random_raw(n), expected.astype(np.uint32))

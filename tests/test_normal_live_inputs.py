"""Normal reads its array inputs live (one rule for every kind of input).

A regression test: the distribution cached a broadcast copy of its inputs, so after
``lv += 2`` rsample and the pathwise chain rule still used the old sigma while
``scale`` and the closed forms used the new one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import reparam

# (loc, logvar) of the three kinds: full shape in the dtype, broadcast, cast (int loc)
KINDS = {
    "full": lambda: (np.zeros(3), np.zeros(3)),
    "broadcast": lambda: (np.zeros(3), np.zeros(1)),
    "cast": lambda: (np.zeros(3, np.int64), np.zeros(3, np.float32)),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_updates_in_place_are_seen_everywhere(kind: str) -> None:
    loc, lv = KINDS[kind]()
    q = reparam.Normal(loc, logvar=lv)
    q.rsample(rng=1)  # a first use must not freeze anything
    lv += 2.0
    loc += 1
    fresh = reparam.Normal(loc.copy(), logvar=lv.copy())
    assert q.dtype == fresh.dtype
    np.testing.assert_array_equal(q.rsample(4, rng=7), fresh.rsample(4, rng=7))
    np.testing.assert_array_equal(q.scale, np.broadcast_to(fresh.scale, q.scale.shape))
    np.testing.assert_allclose(q.scale, np.e, rtol=1e-6)
    np.testing.assert_array_equal(q.loc, fresh.loc)
    np.testing.assert_array_equal(q.kl_standard_normal(), fresh.kl_standard_normal())
    z, noise = q.rsample(5, rng=3, return_noise=True)
    g = np.ones_like(z)
    got, want = q.pathwise_grad(g, noise), fresh.pathwise_grad(g, noise)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])


def test_loc_and_param_are_read_only_views() -> None:
    loc = np.zeros(3)
    q = reparam.Normal(loc, scale=np.ones(3))
    for a in (q.loc, q.param):
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 5.0
    loc[0] = 2.0  # the caller's own array stays theirs
    assert q.loc[0] == 2.0


def test_values_are_converted_once() -> None:
    seq: list[Any] = [0.0, 1.0]
    q = reparam.Normal(seq, scale=1.0)
    seq[0] = 9.0
    assert q.loc[0] == 0.0

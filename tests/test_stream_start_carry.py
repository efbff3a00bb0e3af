"""Stream positions past 2**64 carry into the 128-bit block counter (issue 15, item 6).

A position is ``start`` units past the first word of block ``counter`` (a unit: one
32-bit word for float32 and raw words, one 64-bit slot for float64), so the same values
have many names: ``(counter, start)`` and ``(counter - k, start + k * per_block)`` (mod
2**128) are one position. A ``start`` near 2**64 puts ``start + offset`` past 2**64; the
values there must be those of the block counter carried in 128 bits, whatever the thread
count, the SIMD path and the kernel (fills, the fused affine, the gradient reductions),
and a `Noise` handle must give the gradients its own ``np.asarray`` gives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import reparam
from reparam import _core

MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


def per_block(dtype: Any) -> int:
    """Units per Philox block: 4 words (float32, raw) or 2 slots (float64)."""
    return 2 if np.dtype(dtype).itemsize == 8 else 4


def fill(kind: str, dtype: Any, key: int, ctr: int, start: int, n: int) -> np.ndarray[Any, Any]:
    out = np.empty(n, dtype)
    _core.stream_fill(kind, key, ctr & MASK64, (ctr >> 64) & MASK64, start, out)
    return out


def renamed(noise: reparam.Noise, start: int) -> reparam.Noise:
    """The same noise with its position written as a `start` of about 2**64: the counter
    moved back by as many blocks as the start moved forward."""
    per = per_block(noise.dtype)
    k, r = divmod(start - noise.start, per)
    assert r == 0 and 0 <= start < 1 << 64
    return reparam.Noise(noise.key, (noise.counter - k) & MASK128, start, noise.shape, noise.dtype,
                         noise.antithetic)


def near_top(dtype: Any, s: int) -> int:
    """2**64 - per_block + s % per_block: the last start below 2**64 that is `s` mod per_block."""
    per = per_block(dtype)
    return (1 << 64) - per + s % per


def with_threads(n: int, fn: Any) -> Any:
    reparam.set_num_threads(n)
    return fn()


@pytest.mark.parametrize("dtype", [F32, F64])
def test_noise_near_2_64_does_not_depend_on_threads(dtype: Any, simd_target: str, num_threads: int) -> None:
    """The issue's case: Noise(1, 0, 2**64 - 4, (1 << 18,), float32) and its float64 twin."""
    start = (1 << 64) - 4 if dtype == F32 else (1 << 64) - 3
    noise = reparam.Noise(1, 0, start, (1 << 18,), dtype, False)
    one = with_threads(1, lambda: np.asarray(noise))
    two = with_threads(2, lambda: np.asarray(noise))
    per = per_block(dtype)
    expect = fill("normal", dtype, 1, start // per, start % per, 1 << 18)  # the carried counter
    np.testing.assert_array_equal(one, expect)
    np.testing.assert_array_equal(two, expect)


@pytest.mark.parametrize(("kind", "dtype"), [("raw", np.uint32), ("normal", F32), ("uniform", F32),
                                             ("normal", F64), ("uniform", F64)])
@pytest.mark.parametrize("threads", [1, 2])
def test_stream_fill_across_2_64_is_two_pieces(kind: str, dtype: Any, threads: int, num_threads: int) -> None:
    """A fill from a start below 2**64 to past it equals the piece below 2**64 followed by the
    piece from block ctr + 2**64 / per_block (a counter whose low 64 bits carry too)."""
    reparam.set_num_threads(threads)
    per = per_block(dtype)
    key, ctr = 0xC0FFEE, (1 << 64) - 3
    n, before = 3 * (1 << 16) + 5, 4 * per + 1
    start = (1 << 64) - before
    whole = fill(kind, dtype, key, ctr, start, n)
    low = fill(kind, dtype, key, ctr, start, before)
    high = fill(kind, dtype, key, (ctr + (1 << 64) // per) & MASK128, 0, n - before)
    np.testing.assert_array_equal(whole, np.concatenate([low, high]))


def _sampled(dtype: Any, antithetic: bool, batch: int = 257) -> tuple[reparam.Normal, np.ndarray[Any, Any],
                                                                          reparam.Noise]:
    rng = np.random.default_rng(15_6)
    loc = rng.standard_normal(batch).astype(dtype)
    scale = rng.uniform(0.5, 2.0, batch).astype(dtype)
    q = reparam.Normal(loc, scale=scale)
    g = reparam.Generator(reparam.Philox(key=0x5EED, counter=(1 << 64) - 7))
    z, noise = q.rsample(512, rng=g, antithetic=antithetic, return_noise=True)
    return q, z, noise


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("antithetic", [False, True])
def test_rsample_affine_through_a_noise_near_2_64(dtype: Any, antithetic: bool, num_threads: int) -> None:
    """rsample's z is loc + scale * eps of its Noise, and the same Noise renamed with a start
    near 2**64 (its values cross 2**64 units) regenerates the same eps on 1 and 2 threads."""
    q, z, noise = _sampled(dtype, antithetic)
    eps = np.asarray(noise)
    far = renamed(noise, near_top(dtype, noise.start))
    for threads in (1, 2):
        np.testing.assert_array_equal(with_threads(threads, lambda: np.asarray(far)), eps)
    if dtype == F32:  # the float32 affine: float64 loc + scale * eps, rounded once
        expect = (q.loc.astype(np.float64) + q.scale.astype(np.float64) * np.asarray(far).astype(np.float64))
        np.testing.assert_array_equal(z, expect.astype(np.float32))


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("antithetic", [False, True])
@pytest.mark.parametrize("stats", [False, True])
def test_gradients_from_a_noise_near_2_64(dtype: Any, antithetic: bool, stats: bool, num_threads: int) -> None:
    """pathwise_grad and score_grad from a Noise whose positions cross 2**64: the same bits on
    1 and 2 threads, as from its np.asarray and from the same noise named below 2**64."""
    q, z, noise = _sampled(dtype, antithetic)
    far = renamed(noise, near_top(dtype, noise.start))
    rng = np.random.default_rng(15_60)
    grad_z = rng.standard_normal(z.shape).astype(dtype)
    f = rng.standard_normal((z.shape[0], 1)).astype(dtype) * np.ones(z.shape, dtype)

    def grads(nz: Any) -> list[Any]:
        out = [q.pathwise_grad(grad_z, nz, return_stats=stats),
               q.pathwise_grad(grad_z, nz, reduce="sum", return_stats=stats),
               q.score_grad(f, nz, return_stats=stats),
               q.score_grad(f, nz, baseline="loo", return_stats=stats)]
        # a broadcast scale: its variances come from eps regenerated by rows in Python
        qb = reparam.Normal(q.loc, scale=q.scale[:1])
        out.append(qb.pathwise_grad(grad_z, nz, return_stats=stats))
        out.append(qb.score_grad(f, nz, return_stats=stats))
        return out

    def flat(x: Any) -> list[np.ndarray[Any, Any]]:
        if isinstance(x, dict):
            return [np.asarray(x[k]) for k in sorted(x)]
        if isinstance(x, tuple | list):
            return [a for v in x for a in flat(v)]
        return [np.asarray(x)]

    expect = flat(with_threads(1, lambda: grads(np.asarray(noise))))
    for nz in (noise, far):
        for threads in (1, 2):
            got = flat(with_threads(threads, lambda: grads(nz)))  # noqa: B023
            assert len(got) == len(expect)
            for a, b in zip(got, expect, strict=True):
                np.testing.assert_array_equal(a, b)

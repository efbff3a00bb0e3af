"""Hypothesis drives the whole public API with random shapes, dtypes and splits.

The central property is a model of the stream: a random program of calls on one Philox
(standard_normal, random, normal, rsample with and without antithetic noise,
reparameterize, random_raw, advance, NumPy's Generator on the capsule) in random
dtypes, shapes and `out` arrays must return, call by call, exactly the values that
`_core.stream_fill` gives at the positions the README assigns (float32: one word per
value; float64: one 64-bit slot, aligned; raw and NumPy: words). Around it: shapes and
dtypes of every result, finite outputs for finite inputs, `out` equal to a new array,
closed forms and gradient estimators shaped like their arguments, the Noise handle and
the eps array giving the same gradients, and random bad sizes rejected without moving
the stream.
"""

from __future__ import annotations

import math
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reparam
from reparam import Normal, _core

F4, F8 = np.dtype(np.float32), np.dtype(np.float64)
KINDS = ("scale", "var", "logvar", "logstd", "softplus")
SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
dtypes = st.sampled_from([F4, F8])


def keys() -> st.SearchStrategy[int]:
    return st.integers(0, 2**64 - 1)


class StreamModel:
    """Positions of Philox(key=key, counter=counter), counted in 32-bit words."""

    def __init__(self, key: int, counter: int) -> None:
        self.key = key
        self.block = (counter + 1) % 2**128  # the block of word 0
        self.pos = 0

    def _fill(self, kind: str, start: int, n: int, dtype: Any) -> np.ndarray[Any, Any]:
        out = np.empty(n, dtype)
        _core.stream_fill(kind, self.key, self.block & (2**64 - 1), self.block >> 64, start, out)
        return out

    def take(self, kind: str, n: int, dtype: Any) -> np.ndarray[Any, Any]:
        """The next n values of a reparam draw of `dtype` ("normal", "uniform", "raw")."""
        dt = np.dtype(dtype)
        if dt.itemsize == 8:
            if n:  # a float64 draw starts on an even word; an empty draw moves nothing
                self.pos += self.pos % 2
            vals = self._fill(kind, self.pos // 2, n, dt)
            self.pos += 2 * n
        else:
            vals = self._fill(kind, self.pos, n, dt)
            self.pos += n
        return vals

    def words(self, n: int) -> np.ndarray[Any, Any]:
        vals = self._fill("raw", self.pos, n, np.uint32)
        self.pos += n
        return vals


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    ops = []
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["standard_normal", "random", "normal", "rsample", "reparameterize",
                                   "random_raw", "advance", "numpy_random", "out"]))
        shape = draw(shapes)
        dtype = draw(dtypes)
        ops.append((op, shape, dtype, draw(st.integers(0, 10**6)), draw(st.booleans())))
    return ops


def _bits_equal(a: Any, b: Any) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


@SETTINGS
@given(key=keys(), counter=st.sampled_from([0, 5, 2**64 - 2, 2**128 - 7]), ops=operations())
def test_random_program_follows_the_stream_model(key: int, counter: int, ops: list[tuple[Any, ...]]) -> None:
    p = reparam.Philox(key=key, counter=counter)
    g = reparam.Generator(p)
    model = StreamModel(key, counter)
    for op, shape, dtype, seed, flag in ops:
        n = math.prod(shape)
        if op == "standard_normal":
            z = g.standard_normal(shape, dtype=dtype)
            assert isinstance(z, np.ndarray) and z.shape == shape and z.dtype == dtype
            assert np.isfinite(z).all()
            _bits_equal(z.ravel(), model.take("normal", n, dtype))
        elif op == "random":
            u = g.random(shape, dtype=dtype)
            assert u.shape == shape and u.dtype == dtype
            assert ((u >= 0) & (u < 1)).all()
            _bits_equal(u.ravel(), model.take("uniform", n, dtype))
        elif op == "out":
            order = "F" if flag else "C"
            o = np.full(shape, np.nan, dtype, order=order)
            assert g.standard_normal(dtype=dtype, out=o) is o
            _bits_equal(o.ravel(order="K"), model.take("normal", n, dtype))
        elif op == "normal":
            r = np.random.default_rng(seed)
            loc = r.uniform(-5, 5, shape[1:])
            scale = r.uniform(0, 3, shape[-1:] if shape else ())
            z = g.normal(loc, scale, size=shape, dtype=dtype)
            eps = model.take("normal", n, dtype).reshape(shape)
            expect = eps * scale.astype(dtype) + loc.astype(dtype)
            _bits_equal(np.asarray(z, dtype), expect.astype(dtype))
            assert np.isfinite(z).all()
        elif op in ("rsample", "reparameterize"):
            r = np.random.default_rng(seed)
            batch, sample = shape[1:], shape[:1]
            kind = KINDS[seed % len(KINDS)]
            loc = r.uniform(-3, 3, batch).astype(dtype)
            par = r.uniform(0.1, 2, batch).astype(dtype)
            antithetic = op == "rsample" and flag and sample != () and sample[0] % 2 == 0
            if op == "rsample":
                q = Normal(loc, **{kind: par})
                z, noise = q.rsample(sample, rng=g, antithetic=antithetic, return_noise=True)
                eps = np.asarray(noise)
            else:
                z = reparam.reparameterize(loc, par, kind, sample, rng=g)
                eps = None
            assert z.shape == shape and z.dtype == dtype and np.isfinite(z).all()
            drawn = n // 2 if antithetic else n
            half = model.take("normal", drawn, dtype)
            ref = np.concatenate([half, -half]) if antithetic else half
            if eps is not None:
                _bits_equal(eps.ravel(), ref)
        elif op == "random_raw":
            _bits_equal(p.random_raw(shape).ravel(), model.words(n))
        elif op == "advance":
            d = seed % 37
            p.advance(d)
            model.pos += d
        elif op == "numpy_random":
            k = min(n, 20)
            u = np.random.Generator(p).random(k)  # next_double: two words each, no alignment
            w = model.words(2 * k).astype(np.uint64)
            u64 = w[0::2] | (w[1::2] << np.uint64(32))
            _bits_equal(u, (u64 >> np.uint64(11)).astype(np.float64) / 2.0**53)
    # the state agrees with the model at the end: the next word is word buffer_pos of
    # block counter + 1, i.e. position (counter - initial counter) * 4 + buffer_pos
    state = p.state
    assert (state["state"]["counter"] - counter) % 2**128 * 4 + state["buffer_pos"] == model.pos % 2**130


@SETTINGS
@given(key=keys(), dtype=dtypes, sizes=st.lists(st.integers(0, 70_000), min_size=1, max_size=5))
def test_split_invariance_any_split(key: int, dtype: np.dtype[Any], sizes: list[int]) -> None:
    """n1, n2, ... values then one draw of the total: the same values (README, contract 1)."""
    parts = [reparam.Generator(reparam.Philox(key=key))]
    g = parts[0]
    pieces = [g.standard_normal(n, dtype=dtype) for n in sizes]
    whole = reparam.Generator(reparam.Philox(key=key)).standard_normal(sum(sizes), dtype=dtype)
    _bits_equal(np.concatenate(pieces), whole)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       dtype=dtypes, extra=st.lists(st.integers(0, 3), max_size=2), seed=st.integers(0, 2**32 - 1))
def test_normal_broadcasting(shapes: Any, dtype: np.dtype[Any], extra: list[int], seed: int) -> None:
    (ls, ss), bshape = shapes.input_shapes, shapes.result_shape
    r = np.random.default_rng(seed)
    loc = r.uniform(-10, 10, ls)
    scale = r.uniform(0, 4, ss)
    size = tuple(extra) + bshape
    z = reparam.default_rng(seed).normal(loc, scale, size=size, dtype=dtype)
    assert np.shape(z) == size and np.asarray(z).dtype == dtype
    assert np.isfinite(z).all()
    eps = reparam.default_rng(seed).standard_normal(size, dtype=dtype)
    _bits_equal(np.asarray(z, dtype), (eps * scale.astype(dtype) + loc.astype(dtype)).astype(dtype))
    # and into out, the same values
    o = np.empty(size, dtype)
    assert reparam.default_rng(seed).normal(loc, scale, dtype=dtype, out=o) is o
    _bits_equal(o, np.asarray(z, dtype))


@st.composite
def normals(draw: st.DrawFn) -> tuple[Normal, np.dtype[Any]]:
    sh = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
    kind = draw(st.sampled_from(KINDS))
    dtype = draw(dtypes)
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    loc = r.uniform(-5, 5, sh.input_shapes[0]).astype(dtype)
    lo, hi = {"scale": (0.05, 5), "var": (0.01, 9), "logvar": (-6, 4), "logstd": (-3, 2),
              "softplus": (-4, 4)}[kind]
    par = r.uniform(lo, hi, sh.input_shapes[1]).astype(dtype)
    return Normal(loc, **{kind: par}), dtype


@SETTINGS
@given(qd=normals(), other=normals(), zshape=st.lists(st.integers(1, 3), max_size=2),
       n=st.integers(1, 9), antithetic=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_normal_api_shapes_dtypes_and_finite(qd: tuple[Normal, np.dtype[Any]], other: tuple[Normal, np.dtype[Any]],
                                             zshape: list[int], n: int, antithetic: bool, seed: int) -> None:
    q, dtype = qd
    batch = q.batch_shape
    assert q.dtype == dtype
    for prop in KINDS:
        v = getattr(q, prop)
        assert np.shape(v) == q.param.shape and np.isfinite(v).all(), prop
    # samples
    n = 2 * n if antithetic else n
    z, noise = q.rsample(n, rng=seed, antithetic=antithetic, return_noise=True)
    assert z.shape == (n, *batch) and z.dtype == dtype and np.isfinite(z).all()
    eps = np.asarray(noise)
    assert eps.shape == z.shape and eps.dtype == dtype
    o = np.empty_like(z)
    assert q.rsample(n, rng=seed, antithetic=antithetic, out=o) is o
    _bits_equal(o, z)
    # closed forms
    zz = np.zeros((*zshape, *batch), dtype) + 0.5
    lp, g = q.log_prob(zz, grad=True)
    assert lp.shape == np.broadcast_shapes(zz.shape, batch) and lp.dtype == dtype and np.isfinite(lp).all()
    assert g["loc"].shape == q.loc.shape and g[q.param_name].shape == q.param.shape
    ent = q.entropy()
    assert np.shape(ent) == batch and np.isfinite(ent).all()
    kls, gk = q.kl_standard_normal(grad=True)
    assert np.shape(kls) == batch and (kls >= -1e-4 * (1 + np.abs(kls))).all()
    assert gk["loc"].shape == q.loc.shape and gk[q.param_name].shape == q.param.shape
    o_q, _ = other
    try:
        bshape = np.broadcast_shapes(batch, o_q.batch_shape)
    except ValueError:
        with pytest.raises(ValueError):
            q.kl(o_q)
    else:
        kl = q.kl(o_q)
        assert np.shape(kl) == bshape and np.isfinite(kl).all()
    # gradient estimators: the handle and the eps array give the same numbers
    r = np.random.default_rng(seed)
    gz = r.standard_normal(z.shape).astype(dtype)
    f = r.standard_normal(n)
    for reduce in ("mean", "sum"):
        a = q.pathwise_grad(gz, noise, reduce=reduce)
        b = q.pathwise_grad(gz, eps, reduce=reduce)
        for k in ("loc", q.param_name):
            assert a[k].shape == (q.loc.shape if k == "loc" else q.param.shape)
            _bits_equal(a[k], b[k])
            assert np.isfinite(a[k]).all()
        baseline = "loo" if n >= 2 else None
        s1 = q.score_grad(f, noise, baseline=baseline, reduce=reduce)
        s2 = q.score_grad(f, eps, baseline=baseline, reduce=reduce)
        for k in ("loc", q.param_name):
            _bits_equal(s1[k], s2[k])
            assert np.isfinite(s1[k]).all()


@SETTINGS
@given(bad=st.lists(st.integers(-3, 3), min_size=1, max_size=4).filter(lambda d: min(d) < 0),
       dtype=dtypes, method=st.sampled_from(["standard_normal", "random", "normal", "rsample", "raw"]))
def test_negative_dimensions_rejected_without_moving_the_stream(bad: list[int], dtype: np.dtype[Any],
                                                                method: str) -> None:
    p = reparam.Philox(key=11)
    g = reparam.Generator(p)
    before = p.state
    calls = {
        "standard_normal": lambda: g.standard_normal(tuple(bad), dtype=dtype),
        "random": lambda: g.random(tuple(bad), dtype=dtype),
        "normal": lambda: g.normal(0.0, 1.0, tuple(bad), dtype=dtype),
        "rsample": lambda: Normal(np.zeros(2, dtype), scale=np.ones(2, dtype)).rsample(tuple(bad), rng=g),
        "raw": lambda: p.random_raw(tuple(bad)),
    }
    with pytest.raises(ValueError, match="negative"):
        calls[method]()
    assert p.state == before


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(n=st.integers(65_536, 300_000), threads=st.integers(1, 4), dtype=dtypes, key=keys())
def test_thread_count_does_not_change_values(n: int, threads: int, dtype: np.dtype[Any], key: int) -> None:
    before = reparam.get_num_threads()
    try:
        reparam.set_num_threads(threads)
        a = reparam.Generator(reparam.Philox(key=key)).standard_normal(n, dtype=dtype)
        reparam.set_num_threads(1)
        b = reparam.Generator(reparam.Philox(key=key)).standard_normal(n, dtype=dtype)
    finally:
        reparam.set_num_threads(before)
    _bits_equal(a, b)

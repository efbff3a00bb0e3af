"""reparam.dask: chunk-invariant Dask arrays and Dask gradient reductions.

Sampling is compared bit for bit with the in-memory calls for many chunkings (ragged
ones and chunks along the sample axes included); the gradient reductions are compared
with the in-memory estimators within the documented bound on the float64 summation
error, ``2 n u sum|term|`` (n terms per output value, u = 2**-53), widened here by a
factor 4, plus one unit in the last place of float32 results.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest

import reparam

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
rd = pytest.importorskip("reparam.dask")

PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
DTYPES = (np.float32, np.float64)
U = 2.0**-53


def bits_equal(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Same dtype, shape and bytes (so -0.0 and NaN payloads count)."""
    a, b = np.asarray(a), np.asarray(b)
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8)))


def make_normal(name: str, dtype: Any, loc_shape: tuple[int, ...], param_shape: tuple[int, ...],
                seed: int = 0) -> reparam.Normal:
    r = np.random.default_rng(seed)
    loc = r.standard_normal(loc_shape).astype(dtype)
    p = r.uniform(-1.5, 1.5, param_shape).astype(dtype)
    if name in ("scale", "var"):
        p = np.abs(p) + dtype(0.1)
    return reparam.Normal(loc, **{name: p})


# -- standard_normal and normal ------------------------------------------------------
STD_CASES = [
    ((10, 7), (3, 2)),
    ((10, 7), ((1, 9), (7,))),          # one row, then nine: whole trailing dims merge
    ((5, 6, 7), ((2, 3), (1, 5), (7,))),
    ((5, 6, 7), ((5,), (6,), (3, 4))),   # chunks along the last axis only
    ((3, 4, 5), (1, 1, 1)),
    ((1000,), 137),
    ((2, 3, 4, 5), ((1, 1), (3,), (1, 3), (2, 2, 1))),
    ((), ()),
    ((4, 0), 2),
    ((0,), 5),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(("shape", "chunks"), STD_CASES, ids=[str(i) for i in range(len(STD_CASES))])
def test_standard_normal_bit_identical(shape: tuple[int, ...], chunks: Any, dtype: Any) -> None:
    a = rd.standard_normal(shape, chunks=chunks, dtype=dtype, seed=1234)
    expected = reparam.default_rng(1234).standard_normal(shape, dtype)
    assert isinstance(a, da.Array)
    assert a.dtype == np.dtype(dtype)
    assert bits_equal(a.compute(), expected)


def test_standard_normal_every_chunking_and_scheduler() -> None:
    shape = (13, 11)
    expected = reparam.default_rng(7).standard_normal(shape, np.float32)
    for chunks in [(13, 11), (1, 11), (13, 1), (4, 3), ((6, 7), (10, 1)), ((1, 2, 10), (5, 6)), "auto", 5]:
        a = rd.standard_normal(shape, chunks=chunks, dtype=np.float32, seed=7)
        for scheduler in ("threads", "synchronous"):
            assert bits_equal(a.compute(scheduler=scheduler), expected), (chunks, scheduler)
    # slicing and rechunking the lazy array select the same values
    a = rd.standard_normal(shape, chunks=(4, 3), dtype=np.float32, seed=7)
    assert bits_equal(a[3:9, 2:].compute(), expected[3:9, 2:])
    assert bits_equal(a.rechunk((5, 5)).compute(), expected)


def test_standard_normal_under_each_simd_target(simd_target: str) -> None:
    for dtype in DTYPES:
        a = rd.standard_normal((9, 33), chunks=((4, 5), (16, 17)), dtype=dtype, seed=5)
        assert bits_equal(a.compute(scheduler="synchronous"), reparam.default_rng(5).standard_normal((9, 33), dtype))


def test_graph_is_deterministic() -> None:
    a = rd.standard_normal((20, 30), chunks=(7, 8), seed=3)
    b = rd.standard_normal((20, 30), chunks=(7, 8), seed=3)
    assert a.name == b.name
    assert rd.standard_normal((20, 30), chunks=(7, 9), seed=3).name != a.name
    assert rd.standard_normal((20, 30), chunks=(7, 8), seed=4).name != a.name
    assert rd.standard_normal((20, 30), chunks=(7, 8), seed=3, dtype=np.float32).name != a.name
    # the graph holds a few integers per task, never data, and it pickles
    assert len(pickle.dumps(dict(a.__dask_graph__()))) < 20_000
    assert bits_equal(pickle.loads(pickle.dumps(a)).compute(), a.compute())


def test_seed_generator_is_advanced_like_an_in_memory_draw() -> None:
    for dtype in DTYPES:
        g = reparam.default_rng(99)
        g.standard_normal(3, np.float32)  # an odd word is pending: float64 slots skip it
        a = rd.standard_normal((5, 7), chunks=(2, 3), dtype=dtype, seed=g)
        after = g.standard_normal(4)
        h = reparam.default_rng(99)
        h.standard_normal(3, np.float32)
        expected = h.standard_normal((5, 7), dtype)
        assert bits_equal(a.compute(), expected)
        assert bits_equal(after, h.standard_normal(4))
    # a Philox works the same way; zero values reserve nothing
    p = reparam.Philox(5)
    rd.standard_normal((0, 3), seed=p)
    assert p.state == reparam.Philox(5).state
    z = rd.standard_normal(4, seed=p, chunks=1).compute()
    assert bits_equal(z, reparam.default_rng(5).standard_normal(4))


def test_seed_none_and_seedsequence() -> None:
    a = rd.standard_normal(100, chunks=30)
    b = rd.standard_normal(100, chunks=30)
    assert a.name != b.name
    assert not np.array_equal(a.compute(), b.compute())
    ss = np.random.SeedSequence(42)
    assert bits_equal(rd.standard_normal(10, seed=ss, chunks=3).compute(),
                      reparam.default_rng(np.random.SeedSequence(42)).standard_normal(10))


def test_argument_errors() -> None:
    with pytest.raises(TypeError, match="Unsupported dtype"):
        rd.standard_normal(3, dtype=np.int32)
    with pytest.raises(ValueError, match="negative dimensions"):
        rd.standard_normal((2, -1))
    with pytest.raises(TypeError, match="seed must be"):
        rd.standard_normal(3, seed=np.random.default_rng(0))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_normal_matches_generator_normal(dtype: Any) -> None:
    r = np.random.default_rng(3)
    loc = r.standard_normal((6, 1))
    scale = r.uniform(0.1, 3.0, (5,))
    expected = reparam.default_rng(8).normal(loc, scale, (4, 6, 5), dtype=dtype)
    for chunks in [(1, 2, 5), ((3, 1), (6,), (2, 3)), "auto"]:
        a = rd.normal(loc, scale, (4, 6, 5), chunks=chunks, dtype=dtype, seed=8)
        assert bits_equal(a.compute(), expected), chunks
    # Dask loc and scale, size from their broadcast shape
    loc_d = da.from_array(np.broadcast_to(loc, (6, 5)).copy(), chunks=(4, 2))
    scale_d = da.from_array(scale, chunks=3)
    expected = reparam.default_rng(8).normal(np.broadcast_to(loc, (6, 5)), scale, dtype=dtype)
    a = rd.normal(loc_d, scale_d, dtype=dtype, seed=8)
    assert a.chunks == ((4, 2), (2, 2, 1))
    assert bits_equal(a.compute(), expected)
    # scalars
    assert bits_equal(rd.normal(1.5, 2.0, 10, chunks=3, seed=2, dtype=dtype).compute(),
                      reparam.default_rng(2).normal(1.5, 2.0, 10, dtype=dtype))


def test_normal_errors() -> None:
    with pytest.raises(ValueError, match="scale < 0"):
        rd.normal(0.0, np.array([1.0, -1.0]), seed=0)
    bad = rd.normal(0.0, da.from_array(np.array([1.0, 2.0, -1.0]), chunks=2), seed=0)
    with pytest.raises(ValueError, match="scale < 0"):
        bad.compute()
    with pytest.raises(ValueError, match="shape mismatch"):
        rd.normal(np.zeros(3), 1.0, (4, 2))
    with pytest.raises(TypeError, match="Cannot cast"):
        rd.normal(np.zeros(3, np.complex128))


# -- rsample ---------------------------------------------------------------------------
RSAMPLE_CASES = [
    # (size, chunks, antithetic)
    ((4,), (3, (4, 2), (2, 3)), False),
    ((4,), ((1, 3), (6,), (5,)), True),       # straddles the antithetic mirror
    ((6,), ((2, 4), (6,), (5,)), True),
    ((4,), ((4,), (3, 3), (5,)), True),
    ((4,), ((1, 1, 1, 1), (1, 5), (4, 1)), True),
    ((2, 3), ((1, 1), (2, 1), (1, 5), (5,)), False),
    ((2, 3), ((2,), (3,), (6,), (5,)), False),  # one chunk
    ((8,), "auto", True),
    ((), (2, (1, 4)), False),
    ((0,), 2, False),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
def test_rsample_bit_identical(name: str, dtype: Any) -> None:
    q = make_normal(name, dtype, (6, 5), (5,))
    loc_d = da.from_array(q.loc, chunks=(4, 2))
    par_d = da.from_array(q.param, chunks=3)
    qd = rd.Normal(loc_d, **{name: par_d})
    assert qd.dtype == q.dtype and qd.batch_shape == q.batch_shape
    for size, chunks, anti in RSAMPLE_CASES:
        z, noise = q.rsample(size, rng=17, antithetic=anti, return_noise=True)
        zd, noise_d = rd.rsample(q, size, chunks=chunks, rng=17, antithetic=anti, return_noise=True)
        assert noise_d == noise
        assert bits_equal(zd.compute(), z), (size, chunks, anti)
        z2 = qd.rsample(size, chunks=chunks, rng=17, antithetic=anti)
        assert bits_equal(z2.compute(), z), (size, chunks, anti)


def test_rsample_large_ragged_blocks(simd_target: str) -> None:
    """Blocks wider than the kernel's 1024-column tiles, threads inside each block."""
    q = make_normal("softplus", np.float32, (3, 1500), (1500,))
    z = q.rsample(37, rng=3, antithetic=False)
    zd = rd.rsample(q, 37, chunks=((10, 27), (2, 1), (1100, 400)), rng=3)
    assert bits_equal(zd.compute(scheduler="synchronous"), z)
    z = q.rsample(40, rng=3, antithetic=True)
    zd = rd.rsample(q, 40, chunks=((7, 33), (3,), (1500,)), rng=3, antithetic=True)
    assert bits_equal(zd.compute(), z)


def test_rsample_chunks_follow_dask_inputs() -> None:
    loc = da.from_array(np.zeros((8, 6), np.float32), chunks=(3, 4))
    qd = rd.Normal(loc, logvar=np.zeros(6, np.float32))
    z = qd.rsample(5, rng=0)
    assert z.chunks[1:] == ((3, 3, 2), (4, 2))
    assert z.dtype == np.float32
    assert bits_equal(z.compute(), reparam.Normal(np.zeros((8, 6), np.float32), logvar=np.zeros(6, np.float32))
                      .rsample(5, rng=0))
    # same arguments, same graph; a Generator is advanced like the in-memory call
    assert qd.rsample(5, rng=0).name == z.name
    g = reparam.default_rng(4)
    zd, n = qd.rsample((2,), rng=g, chunks=(1, 8, 6), return_noise=True)
    after = g.standard_normal(3)
    h = reparam.default_rng(4)
    zm, nm = qd.compute().rsample((2,), rng=h, return_noise=True)
    assert n == nm and bits_equal(zd.compute(), zm) and bits_equal(after, h.standard_normal(3))


def test_dask_normal_validation() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        rd.Normal(np.zeros(3), scale=1.0, var=1.0)
    with pytest.raises(ValueError, match="must broadcast"):
        rd.Normal(da.zeros(3, chunks=2), scale=da.ones(4, chunks=2))
    with pytest.raises(ValueError, match="non-negative"):
        rd.Normal(np.zeros(3), scale=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(TypeError, match="real numbers"):
        rd.Normal(da.zeros(3, chunks=2, dtype=np.complex64), scale=1.0)
    q = rd.Normal(da.zeros(3, chunks=2), var=da.from_array(np.array([1.0, -1.0, 1.0]), chunks=2))
    with pytest.raises(ValueError, match="var must be non-negative"):
        q.rsample(2, rng=0).compute()
    with pytest.raises(ValueError, match="antithetic"):
        rd.rsample(reparam.Normal(0.0, scale=1.0), 3, antithetic=True)
    with pytest.raises(TypeError, match="q must be"):
        rd.rsample("not a distribution", 3)  # type: ignore[arg-type]
    # dtype rule as reparam.Normal: float32 arrays stay float32, ints give float64
    assert rd.Normal(da.zeros(2, dtype=np.float32, chunks=1), logvar=0.0).dtype == np.float32
    assert rd.Normal(da.zeros(2, dtype=np.int32, chunks=1), logvar=np.zeros(2, np.float32)).dtype == np.float64
    assert "batch_shape=(2,)" in repr(rd.Normal(da.zeros(2, chunks=1), scale=1.0))


# -- gradients ---------------------------------------------------------------------------
def chain_rule(q: reparam.Normal) -> np.ndarray[Any, Any]:
    p = np.broadcast_to(q.param, q.batch_shape).astype(np.float64)
    sigma = np.broadcast_to(q.scale, q.batch_shape).astype(np.float64)
    return {"scale": np.ones_like(p), "var": 0.5 / sigma, "logvar": 0.5 * sigma, "logstd": sigma,
            "softplus": 1.0 / (1.0 + np.exp(-p))}[q.param_name]


def sum_to(x: np.ndarray[Any, Any], shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


def assert_within_bound(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], abs_terms: np.ndarray[Any, Any],
                        scale: float) -> None:
    """|a - b| <= 4 * 2 n u sum|term| (+ 1 ulp of float32 results)."""
    assert a.shape == b.shape and a.dtype == b.dtype
    n = abs_terms.size // max(1, a.size)
    bound = 8.0 * n * U * sum_to(abs_terms, a.shape) * scale
    if a.dtype == np.float32:
        bound = bound + np.spacing(np.abs(a))
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    assert np.all(diff <= bound), (diff.max(), bound.min())


GRAD_CASES = [
    ((40,), (7, (4, 2), (2, 3)), False),
    ((40,), ((13, 27), (6,), (5,)), True),
    ((4, 10), ((1, 3), (2, 8), (1, 5), (5,)), False),
    ((40,), ((2, 38), (6,), (5,)), True),
    ((40,), ((40,), (3, 3), (5,)), True),
    ((40,), (5, 6, 5), True),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
def test_pathwise_grad_within_summation_error(name: str, dtype: Any) -> None:
    q = make_normal(name, dtype, (6, 5), (1, 5), seed=2)
    r = np.random.default_rng(5)
    for size, chunks, anti in GRAD_CASES:
        z, noise = q.rsample(size, rng=9, antithetic=anti, return_noise=True)
        eps = np.asarray(noise).astype(np.float64)
        g = r.standard_normal(z.shape).astype(dtype)
        g_d = da.from_array(g, chunks=chunks)
        terms = {"loc": np.abs(g.astype(np.float64)),
                 name: np.abs(g.astype(np.float64) * eps) * chain_rule(q)}
        for reduce in ("mean", "sum"):
            scale = 1.0 / math.prod(size) if reduce == "mean" else 1.0
            expected, var_expected = q.pathwise_grad(g, noise, reduce=reduce, return_stats=True)
            for src in (noise, np.asarray(noise), da.from_array(np.asarray(noise), chunks=4)):
                got = rd.pathwise_grad(q, g_d, src, reduce=reduce)
                assert set(got) == {"loc", name}
                got_c = dask.compute(got)[0]
                for k in got_c:
                    assert_within_bound(got_c[k], expected[k], terms[k], scale)
            _, var = dask.compute(rd.pathwise_grad(q, g_d, noise, reduce=reduce, return_stats=True))[0]
            for k in var:
                np.testing.assert_allclose(var[k], var_expected[k], rtol=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["logvar", "softplus", "var"])
def test_score_grad_within_summation_error(name: str, dtype: Any) -> None:
    q = make_normal(name, dtype, (6, 5), (5,), seed=4)
    r = np.random.default_rng(6)
    sigma = np.broadcast_to(q.scale, q.batch_shape).astype(np.float64)
    for size, chunks, anti in GRAD_CASES:
        z, noise = q.rsample(size, rng=10, antithetic=anti, return_noise=True)
        eps = np.asarray(noise).astype(np.float64)
        ns = len(size)
        f = r.standard_normal(z.shape[: ns + 1]).astype(dtype)  # one value per sample and batch row
        f_d = da.from_array(f, chunks=chunks[: ns + 1] if isinstance(chunks, tuple) else chunks)
        for baseline in (None, "mean", "loo", 0.25):
            expected = q.score_grad(f, noise, baseline=baseline, reduce="sum")
            wmax = 2.0 * np.abs(f.astype(np.float64)).max() + 1.0
            terms = {"loc": wmax * np.abs(eps) / sigma,
                     name: wmax * np.abs(eps * eps - 1.0) / sigma * chain_rule(q)}
            for src in (noise, da.from_array(np.asarray(noise), chunks=chunks)):
                got = dask.compute(rd.score_grad(q, f_d, src, baseline=baseline, reduce="sum"))[0]
                for k in got:
                    assert_within_bound(got[k], expected[k], terms[k], 1.0)


def test_gradients_with_dask_normal_and_errors() -> None:
    loc = np.random.default_rng(0).standard_normal((8, 3))
    qd = rd.Normal(da.from_array(loc, chunks=(3, 3)), logstd=da.from_array(np.full(3, -0.5), chunks=2))
    q = qd.compute()
    z, noise = qd.rsample(50, rng=1, return_noise=True)
    zm = q.rsample(50, rng=1)
    assert bits_equal(z.compute(), zm)
    got = dask.compute(qd.pathwise_grad(2.0 * z, noise))[0]       # d/dtheta E[z**2]
    expected = q.pathwise_grad(2.0 * zm, noise)
    for k in got:
        assert got[k].shape == expected[k].shape
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-12, atol=1e-14)
    got = dask.compute(qd.score_grad(da.from_array(zm[:, :, 0], chunks=7), noise, baseline="loo"))[0]
    expected = q.score_grad(zm[:, :, 0], noise, baseline="loo")
    for k in got:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="reduce"):
        rd.pathwise_grad(q, z, noise, reduce="max")
    with pytest.raises(ValueError, match="noise has shape"):
        rd.pathwise_grad(q, z[:10], noise)
    with pytest.raises(ValueError, match="sample_shape"):
        rd.pathwise_grad(q, z[:, :, :2], noise)
    with pytest.raises(ValueError, match="prefix of batch_shape"):
        rd.score_grad(q, np.zeros((50, 2)), noise)
    with pytest.raises(ValueError, match="baseline"):
        rd.score_grad(q, np.zeros(50), noise, baseline="median")
    with pytest.raises(ValueError, match="does not broadcast"):
        rd.score_grad(q, np.zeros(50), noise, baseline=np.zeros(3))


# -- a real cluster --------------------------------------------------------------------------
def test_local_cluster_two_worker_processes() -> None:
    """Chunks computed in two worker processes (dtypes and data travel by pickle) give
    the in-memory bits; gradients agree within the summation error."""
    distributed = pytest.importorskip("dask.distributed")
    r = np.random.default_rng(11)
    loc = r.standard_normal((64, 48)).astype(np.float32)
    logvar = r.uniform(-1, 1, (48,)).astype(np.float32)
    q = reparam.Normal(loc, logvar=logvar)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        a = rd.standard_normal((300, 70), chunks=((100, 150, 50), (33, 37)), dtype=np.float32, seed=21)
        b = rd.standard_normal((300, 70), chunks=(64, 70), seed=21)
        qd = rd.Normal(da.from_array(loc, chunks=(20, 16)), logvar=da.from_array(logvar, chunks=30))
        z, noise = qd.rsample(12, chunks=(5, 20, 16), rng=22, antithetic=True, return_noise=True)
        grads = qd.pathwise_grad(z * z, noise, reduce="sum")
        a_c, b_c, z_c, g_c = client.compute([a, b, z, grads], sync=True)
        workers = {ts for ts in client.run(lambda: __import__("os").getpid()).values()}
        assert len(workers) == 2
    assert bits_equal(a_c, reparam.default_rng(21).standard_normal((300, 70), np.float32))
    assert bits_equal(b_c, reparam.default_rng(21).standard_normal((300, 70)))
    zm, nm = q.rsample(12, rng=22, antithetic=True, return_noise=True)
    assert nm == noise and bits_equal(z_c, zm)
    expected = q.pathwise_grad(zm * zm, nm, reduce="sum")
    for k in expected:
        np.testing.assert_allclose(g_c[k], expected[k], rtol=2e-6, atol=1e-5)

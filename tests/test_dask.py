"""reparam.dask: chunk-invariant Dask arrays and Dask gradient reductions.

Sampling is compared bit for bit with the in-memory calls for many chunkings (ragged
ones and chunks along the sample axes included); the gradient reductions are compared
with the in-memory estimators within the bound reparam.dask.pathwise_grad documents for
the float64 summation, ``2 n u sum|term|`` (n terms per output value, u = 2**-53), plus,
for the "mean" and "loo" baselines of score_grad, what the error of a float64 mean adds
(documented too; see `score_terms`), plus one unit in the last place of float32
results. The same holds through reparam.Normal with Dask arguments and on a
two-process LocalCluster.
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
def sigma64(q: reparam.Normal) -> np.ndarray[Any, Any]:
    """sigma on the batch shape in float64, from the parameter (as the estimators use it)."""
    p = np.broadcast_to(q.param, q.batch_shape).astype(np.float64)
    return {"scale": lambda: p, "var": lambda: np.sqrt(p), "logvar": lambda: np.exp(0.5 * p),
            "logstd": lambda: np.exp(p), "softplus": lambda: np.logaddexp(0.0, p)}[q.param_name]()


def chain_rule(q: reparam.Normal) -> np.ndarray[Any, Any]:
    p = np.broadcast_to(q.param, q.batch_shape).astype(np.float64)
    sigma = sigma64(q)
    return {"scale": np.ones_like(p), "var": 0.5 / sigma, "logvar": 0.5 * sigma, "logstd": sigma,
            "softplus": 1.0 / (1.0 + np.exp(-p))}[q.param_name]


def sum_to(x: np.ndarray[Any, Any], shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


def pathwise_terms(q: reparam.Normal, g: np.ndarray[Any, Any], eps: np.ndarray[Any, Any]) -> dict[str, Any]:
    """|term| of each value the pathwise sums add up: grad_z, and grad_z * eps * dsigma/dparam."""
    g64 = g.astype(np.float64)
    return {"loc": np.abs(g64), q.param_name: np.abs(g64 * eps.astype(np.float64)) * chain_rule(q)}


def score_terms(q: reparam.Normal, f: np.ndarray[Any, Any], baseline: Any,
                eps: np.ndarray[Any, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(|term|, extra) for the score-function sums.

    The terms are ``w eps / sigma`` and ``w (eps**2 - 1) / sigma * dsigma/dparam`` with the
    weights ``w = f - baseline`` as the estimator forms them (in float64, then in q's
    dtype). For the "mean" and "loo" baselines, `extra` (shaped like loc and the
    parameter) is what the error of the float64 mean adds, which the documentation of
    reparam.dask.score_grad allows: the two means are sums of the same n values in two
    orders (they differ by at most ``2 u sum|f|``) and w is rounded after them (up to
    ``2 u |w|`` on each side), so each weight may differ by ``dw = 2 u sum|f| + 4 u |w|``,
    and the gradients by the sum of ``dw |eps| / sigma`` (``dw |eps**2 - 1| / sigma *
    dsigma/dparam``). (A float32 w could still round to two neighbours, with a
    probability of about 2**-29 per weight: not with these seeds.)
    """
    ns = eps.ndim - len(q.batch_shape)
    rows = math.prod(eps.shape[:ns])
    axes = tuple(range(ns))
    f64 = f.astype(np.float64)
    if isinstance(baseline, str) and baseline == "mean":
        w = f64 - f64.mean(axis=axes, keepdims=True)
    elif isinstance(baseline, str) and baseline == "loo":
        w = (rows * f64 - f64.sum(axis=axes, keepdims=True)) / (rows - 1)
    elif baseline is None:
        w = f64
    else:
        w = f64 - np.asarray(baseline, np.float64)
    if isinstance(baseline, str):
        dw = 2.0 * U * np.abs(f64).sum(axis=axes, keepdims=True) + 4.0 * U * np.abs(w)
    else:
        dw = np.zeros_like(w)
    w = w.astype(q.dtype).astype(np.float64)
    expand = (1,) * (eps.ndim - w.ndim)
    w, dw = w.reshape(w.shape + expand), dw.reshape(dw.shape + expand)
    e = eps.astype(np.float64)
    d_loc = np.abs(e) / sigma64(q)
    d_par = np.abs(e * e - 1.0) / sigma64(q) * chain_rule(q)
    terms = {"loc": np.abs(w) * d_loc, q.param_name: np.abs(w) * d_par}
    extra = {"loc": sum_to(dw * d_loc, np.shape(q.loc)), q.param_name: sum_to(dw * d_par, np.shape(q.param))}
    return terms, extra


def assert_within_bound(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], abs_terms: np.ndarray[Any, Any],
                        scale: float, extra: np.ndarray[Any, Any] | None = None) -> None:
    """|a - b| <= 2 n u sum|term| (+ `extra`) (+ 1 ulp of float32 results).

    The bound documented by reparam.dask.pathwise_grad, n the number of terms added into
    each value: the sample rows, times the batch elements a broadcast loc or parameter
    sums over. `abs_terms` has the samples' shape; `scale` is 1/rows for
    ``reduce="mean"``. float32 results are the float64 ones rounded, each to a
    neighbour: one unit in the last place more.
    """
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    n = abs_terms.size // max(1, a.size)
    bound = 2.0 * n * U * sum_to(abs_terms, a.shape) * scale
    if extra is not None:
        bound = bound + extra * scale
    if a.dtype == np.float32:
        bound = bound + np.maximum(np.spacing(np.abs(a)), np.spacing(np.abs(b))).astype(np.float64)
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    assert np.all(diff <= bound), (diff.max(), (diff / bound).max())


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
        g = r.standard_normal(z.shape).astype(dtype)
        g_d = da.from_array(g, chunks=chunks)
        terms = pathwise_terms(q, g, np.asarray(noise))
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
@pytest.mark.parametrize("name", PARAMS)
def test_score_grad_within_summation_error(name: str, dtype: Any) -> None:
    q = make_normal(name, dtype, (6, 5), (5,), seed=4)
    r = np.random.default_rng(6)
    for size, chunks, anti in GRAD_CASES:
        z, noise = q.rsample(size, rng=10, antithetic=anti, return_noise=True)
        eps = np.asarray(noise)
        ns = len(size)
        f = r.standard_normal(z.shape[: ns + 1]).astype(dtype)  # one value per sample and batch row
        f_d = da.from_array(f, chunks=chunks[: ns + 1] if isinstance(chunks, tuple) else chunks)
        for baseline, reduce in ((None, "sum"), ("mean", "sum"), ("loo", "sum"), (0.25, "sum"), ("loo", "mean")):
            scale = 1.0 / math.prod(size) if reduce == "mean" else 1.0
            expected = q.score_grad(f, noise, baseline=baseline, reduce=reduce)
            terms, extra = score_terms(q, f, baseline, eps)
            for src in (noise, da.from_array(eps, chunks=chunks)):
                got = dask.compute(rd.score_grad(q, f_d, src, baseline=baseline, reduce=reduce))[0]
                assert set(got) == {"loc", name}
                for k in got:
                    assert_within_bound(got[k], expected[k], terms[k], scale, extra[k])


def test_gradients_with_dask_normal_and_errors() -> None:
    loc = np.random.default_rng(0).standard_normal((8, 3))
    qd = rd.Normal(da.from_array(loc, chunks=(3, 3)), logstd=da.from_array(np.full(3, -0.5), chunks=2))
    q = qd.compute()
    z, noise = qd.rsample(50, rng=1, return_noise=True)
    zm = q.rsample(50, rng=1)
    assert bits_equal(z.compute(), zm)
    eps = np.asarray(noise)
    got = dask.compute(qd.pathwise_grad(2.0 * z, noise))[0]       # d/dtheta E[z**2]
    expected = q.pathwise_grad(2.0 * zm, noise)
    terms = pathwise_terms(q, 2.0 * zm, eps)
    for k in got:
        assert_within_bound(got[k], expected[k], terms[k], 1.0 / 50)
    got = dask.compute(qd.score_grad(da.from_array(zm[:, :, 0], chunks=7), noise, baseline="loo"))[0]
    expected = q.score_grad(zm[:, :, 0], noise, baseline="loo")
    terms, extra = score_terms(q, zm[:, :, 0], "loo", eps)
    for k in got:
        assert_within_bound(got[k], expected[k], terms[k], 1.0 / 50, extra[k])
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


# -- the in-memory reparam.Normal with Dask inputs ----------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_in_memory_normal_with_dask_inputs_is_a_dask_normal(dtype: Any) -> None:
    """reparam.Normal(...) with a Dask loc or parameter returns a reparam.dask.Normal,
    whose samples are the in-memory ones bit for bit."""
    q = make_normal("softplus", dtype, (6, 5), (5,), seed=12)
    loc_d = da.from_array(q.loc, chunks=(4, 2))
    par_d = da.from_array(q.param, chunks=3)
    for loc, par in ((loc_d, q.param), (q.loc, par_d), (loc_d, par_d)):
        qd = reparam.Normal(loc, softplus=par)
        assert type(qd) is rd.Normal
        assert qd.dtype == q.dtype and qd.batch_shape == q.batch_shape and qd.param_name == "softplus"
        qm = qd.compute()
        assert type(qm) is reparam.Normal
        assert bits_equal(qm.loc, q.loc) and bits_equal(qm.param, q.param)
        for size, anti in (((4,), True), ((2, 3), False), ((), False)):
            z, noise = q.rsample(size, rng=31, antithetic=anti, return_noise=True)
            zd, noise_d = qd.rsample(size, rng=31, antithetic=anti, return_noise=True)
            assert isinstance(zd, da.Array) and noise_d == noise
            assert bits_equal(zd.compute(), z), (size, anti)
    assert type(reparam.Normal(q.loc, softplus=q.param)) is reparam.Normal  # NumPy inputs stay in memory


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_in_memory_rsample_with_chunks(dtype: Any) -> None:
    """reparam.Normal.rsample(..., chunks=...) is a Dask array equal bit for bit to the
    in-memory sample, with the chunks asked for."""
    q = make_normal("logvar", dtype, (6, 5), (5,), seed=13)
    for size, chunks, anti in RSAMPLE_CASES:
        z, noise = q.rsample(size, rng=32, antithetic=anti, return_noise=True)
        zd, noise_d = q.rsample(size, rng=32, antithetic=anti, return_noise=True, chunks=chunks)
        assert isinstance(zd, da.Array) and zd.dtype == z.dtype and noise_d == noise
        if chunks != "auto":
            assert zd.chunks == da.core.normalize_chunks(chunks, z.shape), (size, chunks)
        assert bits_equal(zd.compute(), z), (size, chunks, anti)
    # a Generator moves on as the in-memory call moves it
    g, h = reparam.default_rng(33), reparam.default_rng(33)
    zd = q.rsample((3,), rng=g, chunks=(2, 6, 5))
    assert bits_equal(zd.compute(), q.rsample((3,), rng=h))
    assert bits_equal(g.standard_normal(5, dtype), h.standard_normal(5, dtype))
    with pytest.raises(ValueError, match="out cannot be combined with chunks"):
        q.rsample(2, chunks=1, out=np.empty((2, 6, 5), dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
def test_in_memory_gradients_with_dask_arguments(name: str, dtype: Any) -> None:
    """reparam.Normal.pathwise_grad and .score_grad hand Dask grad_z, f_values, noise or
    baseline to reparam.dask: Dask results within the documented bound."""
    r = np.random.default_rng(14)
    for param_shape in ((6, 5), (1, 5)):  # the fused in-memory kernel, and the row-block path
        q = make_normal(name, dtype, (6, 5), param_shape, seed=15)
        z, noise = q.rsample(40, rng=34, antithetic=True, return_noise=True)
        eps = np.asarray(noise)
        eps_d = da.from_array(eps, chunks=(13, 6, 5))
        g = r.standard_normal(z.shape).astype(dtype)
        g_d = da.from_array(g, chunks=(7, 4, 2))
        g_rows = da.from_array(g, chunks=(7, 6, 5))
        terms = pathwise_terms(q, g, eps)
        for reduce in ("mean", "sum"):
            scale = 1.0 / 40 if reduce == "mean" else 1.0
            expected, var_expected = q.pathwise_grad(g, noise, reduce=reduce, return_stats=True)
            # chunks inside batch rows (eps regenerated run by run), whole batch rows (the
            # kernel regenerates eps), eps arrays
            for grad_z, src in ((g_d, noise), (g_rows, noise), (g, eps_d), (g_d, eps_d)):
                got = q.pathwise_grad(grad_z, src, reduce=reduce)
                assert set(got) == {"loc", name} and all(isinstance(v, da.Array) for v in got.values())
                got_c = dask.compute(got)[0]
                for k in got_c:
                    assert_within_bound(got_c[k], expected[k], terms[k], scale)
            grads, var = q.pathwise_grad(g_d, noise, reduce=reduce, return_stats=True)
            assert all(isinstance(v, da.Array) for v in (*grads.values(), *var.values()))
            for k, v in dask.compute(var)[0].items():
                np.testing.assert_allclose(v, var_expected[k], rtol=1e-4 if dtype == np.float32 else 1e-9)
        f = r.standard_normal((40, 6)).astype(dtype)
        f_d = da.from_array(f, chunks=(9, 4))
        b = r.standard_normal(6)
        f_rows = da.from_array(f, chunks=(9, 6))
        for f_arg, src, baseline, b_mem in ((f_d, noise, "loo", "loo"), (f_rows, noise, None, None),
                                            (f, eps_d, None, None), (f, noise, da.from_array(b, chunks=4), b),
                                            (f_d, eps_d, "mean", "mean")):
            expected = q.score_grad(f, noise, baseline=b_mem, reduce="sum")
            terms_s, extra = score_terms(q, f, b_mem, eps)
            got = q.score_grad(f_arg, src, baseline=baseline, reduce="sum")
            assert set(got) == {"loc", name} and all(isinstance(v, da.Array) for v in got.values())
            got_c = dask.compute(got)[0]
            for k in got_c:
                assert_within_bound(got_c[k], expected[k], terms_s[k], 1.0, extra[k])


# -- a real cluster --------------------------------------------------------------------------
def test_local_cluster_two_worker_processes() -> None:
    """Chunks computed in two worker processes (dtypes and data travel by pickle) give
    the in-memory bits; gradients agree within the documented bound.

    Each step is pinned to one worker (``workers=`` of persist and compute, a hard
    restriction), so that both workers run reparam tasks and blocks travel between
    them: the samples (all but one array) are made on the first worker, the gradient
    reductions (which regenerate eps from the Noise handle) run on the second, on
    blocks of z made by the first. The task stream records where each task ran.
    """
    distributed = pytest.importorskip("dask.distributed")
    r = np.random.default_rng(11)
    loc = r.standard_normal((64, 48)).astype(np.float32)
    logvar = r.uniform(-1, 1, (48,)).astype(np.float32)
    scale = r.uniform(0.5, 2.0, (48,))
    q = reparam.Normal(loc, logvar=logvar)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        w0, w1 = sorted(client.scheduler_info()["workers"])
        a = rd.standard_normal((300, 70), chunks=((100, 150, 50), (33, 37)), dtype=np.float32, seed=21)
        b = rd.standard_normal((300, 70), chunks=(64, 70), seed=21)
        x = rd.normal(da.from_array(loc, chunks=(20, 16)), da.from_array(scale, chunks=30), (3, 64, 48),
                      chunks=(2, 20, 16), dtype=np.float32, seed=23)
        qd = rd.Normal(da.from_array(loc, chunks=(20, 16)), logvar=da.from_array(logvar, chunks=30))
        z, noise = qd.rsample(12, chunks=(5, 20, 16), rng=22, antithetic=True, return_noise=True)
        with distributed.get_task_stream(client) as made:
            a, x, z = client.persist([a, x, z], workers=[w0])
            b = client.persist(b, workers=[w1])
            distributed.wait([a, x, z, b])
        pw = qd.pathwise_grad(z * z, noise, reduce="sum")
        f = z[:, :, 0] * z[:, :, 1]  # one value per sample and batch row
        sg = qd.score_grad(f, noise, baseline="loo", reduce="sum")
        with distributed.get_task_stream(client) as reduced:
            pw_c, sg_c = client.compute([pw, sg], workers=[w1], sync=True)
        a_c, b_c, x_c, z_c = client.compute([a, b, x, z], sync=True)
    def where(records: list[dict[str, Any]]) -> dict[str, set[str]]:
        ran: dict[str, set[str]] = {}
        for rec in records:
            key = rec["key"]
            ran.setdefault(key[0] if isinstance(key, tuple) else key, set()).add(rec["worker"])
        return ran

    made_on, reduced_on = where(made.data), where(reduced.data)
    assert made_on[a.name] == made_on[x.name] == made_on[z.name] == {w0}, made_on
    assert made_on[b.name] == {w1}, made_on
    # The reductions ran on w1, on blocks of z from w0 (not made again): at least one new
    # task per block of z for each gradient (fused with the products and the partial
    # sums, under other names). Tasks the first step made and released (the
    # from_array and rechunk tasks of logvar) may keep its pin to w0 when they run again.
    new = {k: v for k, v in reduced_on.items() if k not in made_on}
    assert set().union(*new.values()) == {w1}, reduced_on
    assert sum(1 for rec in reduced.data if rec["worker"] == w1) >= 2 * z.npartitions, reduced_on
    assert z.name not in reduced_on
    assert bits_equal(a_c, reparam.default_rng(21).standard_normal((300, 70), np.float32))
    assert bits_equal(b_c, reparam.default_rng(21).standard_normal((300, 70)))
    assert bits_equal(x_c, reparam.default_rng(23).normal(loc, scale, (3, 64, 48), dtype=np.float32))
    zm, nm = q.rsample(12, rng=22, antithetic=True, return_noise=True)
    assert nm == noise and bits_equal(z_c, zm)
    eps = np.asarray(nm)
    expected = q.pathwise_grad(zm * zm, nm, reduce="sum")
    terms = pathwise_terms(q, zm * zm, eps)
    assert set(pw_c) == set(expected)
    for k in expected:
        assert_within_bound(pw_c[k], expected[k], terms[k], 1.0)
    fm = zm[:, :, 0] * zm[:, :, 1]
    expected = q.score_grad(fm, nm, baseline="loo", reduce="sum")
    terms, extra = score_terms(q, fm, "loo", eps)
    assert set(sg_c) == set(expected)
    for k in expected:
        assert_within_bound(sg_c[k], expected[k], terms[k], 1.0, extra[k])

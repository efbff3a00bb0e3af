"""`return_stats` of `pathwise_grad`, `score_grad` and `estimate_grad` for broadcast arguments.

The stats are, per element j of loc and of the parameter, ``np.var(e[:, j], ddof=1)`` of the
per-sample estimates ``e[s, j]``: the per-sample, per batch element terms (pathwise g and
g eps dsigma/dparam; score w eps / sigma and w (eps**2 - 1) / sigma dsigma/dparam, w = f - b)
summed over the batch elements broadcast onto j, as the gradient is. What is checked:

- against a NumPy reference computed from the materialized eps (``np.asarray(noise)``),
  for pathwise and score (baselines "loo" and an array), float32 and float64, a Noise
  handle (antithetic too) and the eps array, loc / param shapes broadcast in several ways;
- the covariances count: loc of shape (1,) over two batch columns with grad_z (u, -u)
  has a per-sample estimate of 0, so its variance is 0, not 2 var(u);
- the rows are taken in chunks (small chunks forced here): chunks across the antithetic
  mirror and a partial last chunk give the reference, and a mean of 1e6 times the
  spread loses nothing (no sum-of-squares cancellation);
- `Noise` rows regenerated at an offset are those of ``np.asarray(noise)`` at any stream
  position (counter carries, the 128-bit wrap, mid-block starts);
- full-shape arguments keep the core's sums and their bits (the arithmetic of before);
- the stats do not depend on `reduce`; fewer than two samples give NaN, an empty batch 0;
- `estimate_grad` and `reparam.dask` follow the same shapes and values.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from gradient_helpers import per_sample_var

import reparam
import reparam._gradients as gradients
from reparam import Normal, _core

SEED = 20250505
DTYPES = (np.float32, np.float64)

# (loc shape, param shape): loc (3, 1) and param (4,) as in test_gradients.py, a scalar loc,
# leading and inner broadcast axes together, and one argument of the full shape
SHAPES = [((3, 1), (4,)), ((), (2, 3)), ((2, 1, 3), (4, 1)), ((3, 4), (1, 4)), ((5,), ())]
SHAPE_IDS = ["L3x1-P4", "L()-P2x3", "L2x1x3-P4x1", "Lfull-P1x4", "L5-P()"]


def sigma_np(name: str, p: np.ndarray) -> np.ndarray:
    return {"logvar": lambda: np.exp(p / 2), "softplus": lambda: np.logaddexp(0.0, p),
            "var": lambda: np.sqrt(p)}[name]()


def dsigma_np(name: str, p: np.ndarray) -> np.ndarray:
    s = sigma_np(name, p)
    return {"logvar": lambda: 0.5 * s, "softplus": lambda: 1.0 / (1.0 + np.exp(-p)),
            "var": lambda: 0.5 / s}[name]()


def make_q(loc_shape: tuple[int, ...], par_shape: tuple[int, ...], name: str, dtype: Any, seed: int = 0) -> Normal:
    r = np.random.default_rng(SEED + seed)
    par = r.uniform(0.3, 2.0, par_shape) if name == "var" else r.uniform(-1.0, 1.0, par_shape)
    return Normal(r.standard_normal(loc_shape).astype(dtype), **{name: np.asarray(par).astype(dtype)})


def reference(q: Normal, method: str, x: np.ndarray, eps: np.ndarray, ns: int,
              baseline: Any = None) -> dict[str, np.ndarray]:
    """NumPy float64 stats from the materialized eps: x is grad_z (pathwise) or f (score)."""
    name = q.param_name
    par = np.broadcast_to(q.param.astype(np.float64), q.batch_shape)
    chain = dsigma_np(name, par)
    x = x.astype(np.float64)
    if method == "pathwise":
        t_loc, t_par = x, x * eps * chain
    else:
        axes = tuple(range(ns))
        n = math.prod(x.shape[:ns])
        if baseline is None:
            w = x
        elif isinstance(baseline, str):
            assert baseline == "loo"
            w = (n * x - x.sum(axis=axes, keepdims=True)) / (n - 1)
        else:
            w = x - np.asarray(baseline, np.float64)
        w = w.reshape(w.shape + (1,) * (eps.ndim - w.ndim))
        sigma = sigma_np(name, par)
        t_loc, t_par = w * eps / sigma, w * (eps * eps - 1.0) / sigma * chain
    return {"loc": per_sample_var(t_loc, ns, q.loc.shape), name: per_sample_var(t_par, ns, q.param.shape)}


def rtol_of(dtype: Any) -> float:
    # float32: both sides read the same float32 g / f and eps; the library rounds the score
    # weights f - b to float32 before the products, the reference does not
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-12


def check(got: dict[str, np.ndarray], want: dict[str, np.ndarray], q: Normal, rtol: float) -> None:
    assert set(got) == set(want) == {"loc", q.param_name}
    for k, a in (("loc", q.loc), (q.param_name, q.param)):
        assert got[k].shape == a.shape and got[k].dtype == q.dtype, (k, got[k].shape, a.shape)
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=rtol * np.abs(want[k]).max(), err_msg=k)


def draw(q: Normal, sample: tuple[int, ...], antithetic: bool, seed: int) -> tuple[np.ndarray, Any, np.ndarray]:
    z, noise = q.rsample(sample, rng=SEED + seed, antithetic=antithetic, return_noise=True)
    return z, noise, np.asarray(noise).astype(np.float64)


# ------------------------------------------------------------------ against NumPy
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["logvar", "softplus", "var"])
@pytest.mark.parametrize("shapes", SHAPES, ids=SHAPE_IDS)
def test_pathwise_stats_of_broadcast_arguments(shapes: Any, name: str, dtype: Any) -> None:
    q = make_q(*shapes, name, dtype)
    for sample, antithetic in (((9,), False), ((2, 5), False), ((6,), True)):
        z, noise, eps = draw(q, sample, antithetic, 1)
        g = (np.cos(z) + np.random.default_rng(SEED).standard_normal(z.shape)).astype(dtype)
        want = reference(q, "pathwise", g, eps, len(sample))
        for src in (noise, np.asarray(noise)):
            for reduce in ("mean", "sum"):
                grads, stats = q.pathwise_grad(g, src, reduce=reduce, return_stats=True)
                check(stats, want, q, rtol_of(dtype))
                for k in grads:
                    assert grads[k].shape == stats[k].shape


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["logvar", "softplus", "var"])
@pytest.mark.parametrize("shapes", SHAPES, ids=SHAPE_IDS)
def test_score_stats_of_broadcast_arguments(shapes: Any, name: str, dtype: Any) -> None:
    q = make_q(*shapes, name, dtype, seed=1)
    nb = len(q.batch_shape)
    for sample, antithetic in (((9,), False), ((2, 5), False), ((6,), True)):
        z, noise, eps = draw(q, sample, antithetic, 2)
        ns = len(sample)
        zz = z.astype(np.float64)
        full = np.sin(zz) + zz * zz
        for keep in sorted({0, min(1, nb), nb}):  # f per sample, per batch prefix, per element
            f = full.sum(axis=tuple(range(ns + keep, zz.ndim))).astype(dtype)
            for baseline in ("loo", np.linspace(-1.0, 1.0, f.size).reshape(f.shape)):
                want = reference(q, "score", f, eps, ns, baseline)
                for src in (noise, np.asarray(noise)):
                    _, stats = q.score_grad(f, src, baseline=baseline, return_stats=True)
                    check(stats, want, q, 4 * rtol_of(dtype))


def test_covariances_count() -> None:
    """grad_z (u, -u) over two batch columns: loc of shape (1,) has the per-sample estimate
    u - u = 0 (variance 0), where the sum of the two columns' variances would be 2 var(u)."""
    q = Normal(np.zeros(1), logstd=np.zeros(2))
    _, noise = q.rsample(50, rng=SEED, return_noise=True)
    u = np.random.default_rng(SEED).standard_normal(50)
    g = np.stack([u, -u], axis=1)
    _, stats = q.pathwise_grad(g, noise, return_stats=True)
    assert stats["loc"].shape == (1,)
    np.testing.assert_array_equal(stats["loc"], [0.0])
    # and a perfectly correlated pair: var(2u) = 4 var(u), not 2 var(u)
    _, stats = q.pathwise_grad(np.stack([u, u], axis=1), noise, return_stats=True)
    np.testing.assert_allclose(stats["loc"], [4 * np.var(u, ddof=1)], rtol=1e-13)


# ------------------------------------------------------------------ chunks of rows
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("chunk_rows", [1, 7, 40])
def test_chunked_rows(monkeypatch: pytest.MonkeyPatch, chunk_rows: int, dtype: Any) -> None:
    """Chunks of 1, 7 (one across the antithetic mirror at row 20, a partial last one) and
    all 40 rows give the reference, for handles (plain and antithetic) and eps arrays."""
    q = make_q((3, 1), (4,), "softplus", dtype, seed=2)
    monkeypatch.setattr(gradients, "_CHUNK_BYTES", chunk_rows * 12 * np.dtype(dtype).itemsize)
    for antithetic in (False, True):
        z, noise, eps = draw(q, (40,), antithetic, 3)
        g = np.sin(z).astype(dtype)
        f = (z * z).sum(axis=-1)
        want_p = reference(q, "pathwise", g, eps, 1)
        want_s = reference(q, "score", f, eps, 1, "loo")
        for src in (noise, np.asarray(noise)):
            check(q.pathwise_grad(g, src, return_stats=True)[1], want_p, q, rtol_of(dtype))
            check(q.score_grad(f, src, baseline="loo", return_stats=True)[1], want_s, q, 4 * rtol_of(dtype))


def test_large_mean_no_cancellation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Estimates of mean 1e6 and spread 1: the variance is accurate to ~1e-10 (a float64 sum
    of squares minus the squared sum would lose ~1e-4 of it), with and without chunks."""
    q = Normal(np.zeros(()), logvar=np.zeros(8))
    _, noise = q.rsample(3000, rng=SEED, return_noise=True)
    g = 1.25e5 + np.random.default_rng(SEED + 1).standard_normal((3000, 8))
    want = np.var(g.sum(axis=1), ddof=1)
    for chunk in (gradients._CHUNK_BYTES, 8 * 8 * 100):
        monkeypatch.setattr(gradients, "_CHUNK_BYTES", chunk)
        _, stats = q.pathwise_grad(g, noise, return_stats=True)
        np.testing.assert_allclose(stats["loc"], want, rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("counter", [0, 2**64 - 3, 2**128 - 5], ids=["ctr0", "ctr-carry64", "ctr-wrap128"])
@pytest.mark.parametrize("skip", [0, 1, 3])
def test_noise_rows_at_an_offset(skip: int, counter: int, dtype: Any) -> None:
    """The rows a chunk regenerates from a handle are those of np.asarray(noise), bit for bit."""
    for antithetic, batch in itertools.product((False, True), (1, 3, 5)):
        rng = reparam.Generator(reparam.Philox(key=0xC0FFEE, counter=counter))
        rng.standard_normal(skip, dtype=dtype)
        q = Normal(np.zeros(batch, dtype), logstd=np.zeros(batch, dtype))
        _, noise = q.rsample(12, rng=rng, antithetic=antithetic, return_noise=True)
        eps = np.asarray(noise)
        src = gradients._noise_source(q, noise, noise.shape)
        for r0, r1 in ((0, 12), (0, 1), (3, 9), (5, 6), (6, 7), (11, 12), (4, 4)):
            got = gradients._eps_rows(src, q.dtype, 12, batch, r0, r1)
            np.testing.assert_array_equal(got, eps[r0:r1], strict=True)


# ------------------------------------------------------------------ what stays as it was
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_full_shape_arguments_keep_the_core_sums(dtype: Any) -> None:
    """loc and param of the batch shape: the stats are the core's float64 sums and sums of
    squares, ``(s2 - s1**2 / n) / (n - 1)`` (times dsigma/dparam**2), bit for bit; with
    only the parameter broadcast, loc's stats are still those bits."""
    r = np.random.default_rng(SEED + 5)
    full = Normal(r.standard_normal((3, 4)).astype(dtype), logvar=r.uniform(-1, 1, (3, 4)).astype(dtype))
    mixed = Normal(full.loc, logvar=full.param[:1])
    _, noise = full.rsample(33, rng=SEED, return_noise=True)
    g = r.standard_normal((33, 3, 4)).astype(dtype)
    n = 33
    for q in (full, mixed):
        _, par_b = q._batch_arrays()
        sums = _core.reduce_estimator(0, True, gradients._noise_source(q, noise, g.shape), g, n, 12, 1, 1)
        chain = np.empty(12)
        _core.dsigma(np.ascontiguousarray(par_b.reshape(-1)), q._kind, chain)
        v_loc = np.maximum(sums[1] - sums[0] * sums[0] / n, 0.0) / (n - 1)
        v_par = np.maximum(sums[3] - sums[2] * sums[2] / n, 0.0) / (n - 1)
        _, stats = q.pathwise_grad(g, noise, return_stats=True)
        np.testing.assert_array_equal(stats["loc"], v_loc.reshape(3, 4).astype(dtype), strict=True)
        if q is full:
            np.testing.assert_array_equal(stats["logvar"], (v_par * chain * chain).reshape(3, 4).astype(dtype),
                                          strict=True)
        else:
            assert stats["logvar"].shape == (1, 4)


def test_stats_do_not_depend_on_reduce() -> None:
    q = make_q((3, 1), (4,), "logvar", np.float64, seed=3)
    z, noise = q.rsample(10, rng=SEED, return_noise=True)
    f = (z * z).sum(axis=(1, 2))
    for call in (lambda r: q.pathwise_grad(np.cos(z), noise, reduce=r, return_stats=True),
                 lambda r: q.score_grad(f, noise, baseline="loo", reduce=r, return_stats=True)):
        a, b = call("mean")[1], call("sum")[1]
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], strict=True)


@pytest.mark.parametrize("sample", [(), (0,), (1,), (2,)], ids=["S()", "S0", "S1", "S2"])
def test_few_samples_and_empty_batch(sample: tuple[int, ...]) -> None:
    """Fewer than two samples: NaN of the argument's shape. A batch with no elements: each
    per-sample estimate of a broadcast argument is an empty sum, 0, so its variance is 0."""
    for q in (Normal(np.zeros((2, 1)), scale=np.ones(3)), Normal(np.zeros((1,)), scale=np.ones((0, 1)))):
        z, noise = q.rsample(sample, rng=SEED, return_noise=True)
        f = np.ones(sample)
        for _, stats in (q.pathwise_grad(z, noise, reduce="sum", return_stats=True),
                         q.score_grad(f, noise, baseline=0.5, reduce="sum", return_stats=True)):
            for k, a in (("loc", q.loc), ("scale", q.param)):
                assert stats[k].shape == a.shape
                if math.prod(sample) < 2:
                    assert np.isnan(stats[k]).all()
                elif math.prod(q.batch_shape) == 0:
                    np.testing.assert_array_equal(stats[k], 0.0)
                else:
                    assert np.isfinite(stats[k]).all()


def test_estimate_grad_stats_shapes() -> None:
    q = make_q((3, 1), (4,), "softplus", np.float64, seed=4)
    for method, fn, kw in (("pathwise", lambda z: (z * z, 2 * z), {}),
                           ("score", lambda z: (z * z).sum(axis=-1), {"baseline": "loo"})):
        grads, stats = reparam.estimate_grad(fn, q, 64, method=method, rng=SEED, return_stats=True, **kw)
        assert grads["loc"].shape == stats["loc"].shape == (3, 1) and grads["softplus"].shape == (4,)
        z, noise = q.rsample(64, rng=SEED, return_noise=True)
        x = fn(z)[1] if method == "pathwise" else fn(z)
        want = reference(q, method, np.asarray(x), np.asarray(noise), 1, kw.get("baseline"))
        check(stats, want, q, 1e-12)


# ------------------------------------------------------------------ Dask
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shapes", SHAPES, ids=SHAPE_IDS)
def test_dask_stats_match(shapes: Any, dtype: Any) -> None:
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    import reparam.dask as rd

    q = make_q(*shapes, "softplus", dtype, seed=6)
    nb = len(q.batch_shape)
    for sample, antithetic, chunks in (((40,), False, 7), ((40,), True, 13), ((4, 10), False, 3), ((40,), True, 40)):
        z, noise, eps = draw(q, sample, antithetic, 7)
        ns = len(sample)
        g = np.sin(z).astype(dtype)
        f = (z * z).sum(axis=tuple(range(ns + 1, ns + nb)))  # per sample and first batch axis
        want_p = reference(q, "pathwise", g, eps, ns)
        want_s = reference(q, "score", f, eps, ns, "loo")
        for src in (noise, np.asarray(noise), da.from_array(np.asarray(noise), chunks=5)):
            _, got = dask.compute(rd.pathwise_grad(q, da.from_array(g, chunks=chunks), src, return_stats=True))[0]
            check(got, want_p, q, 2 * rtol_of(dtype))
            _, got = dask.compute(rd.score_grad(q, da.from_array(f, chunks=chunks), src, baseline="loo",
                                                return_stats=True))[0]
            check(got, want_s, q, 4 * rtol_of(dtype))

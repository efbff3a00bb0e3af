"""Gradient estimators: `Normal.pathwise_grad`, `Normal.score_grad` and `reparam.estimate_grad`.

What is checked (issue 4):

- pathwise gradients are the autodiff gradient of the same computation written naively,
  ``z = loc + sigma(param) * eps`` with the same eps (``np.asarray(noise)``): against
  PyTorch autograd when torch is importable, and always against central finite
  differences in float64 of ``L(loc, param) = sum(c * z) + sum(z**2) / 2`` (so
  ``grad_z = c + z``), for the five parameterizations, both dtypes, broadcast arguments
  (loc (3, 1), param (4,)) and both reductions;
- score-function gradients equal their closed form computed in NumPy from eps, for
  every baseline type and for f of shape sample_shape and sample_shape + a batch prefix;
  the reported stats are ``np.var(per-sample estimates, ddof=1)`` over the sample axes,
  each per-sample estimate summed down to its argument's shape first (loc (3, 1) and
  param (4,) here; tests/test_gradients_stats.py has the other shapes, noise sources,
  chunking and Dask);
- a `Noise` handle and the eps array it stands for give identical results (antithetic
  handles too), and results are bit-identical for every SIMD path and thread count, both
  for a wide shape (no row blocks) and for a narrow, tall one (4096-row blocks);
- accuracy of the float64 sums over 10**7 samples against `math.fsum`;
- bad input raises ValueError naming what was wrong.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from gradient_helpers import per_sample_var, sum_to

import reparam
from reparam import Normal, _core

PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
DTYPES = (np.float32, np.float64)
SEED = 20250404

# loc (3, 1) and param (4,) broadcast to a batch of (3, 4)
LOC = np.array([[-0.5], [0.25], [1.5]])
PARAM_VALUES = {
    "scale": np.array([0.5, 1.0, 1.7, 2.3]),
    "var": np.array([0.25, 1.0, 2.0, 4.0]),
    "logvar": np.array([-1.0, 0.0, 0.5, 1.2]),
    "logstd": np.array([-0.7, 0.0, 0.3, 0.6]),
    "softplus": np.array([-1.0, 0.0, 0.8, 2.0]),
}
BATCH = (3, 4)
C = np.linspace(-1.0, 1.0, 12).reshape(BATCH)  # the upstream weights in L = sum(c z) + sum(z^2)/2


def sigma_np(name: str, p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return {
        "scale": lambda: p,
        "var": lambda: np.sqrt(p),
        "logvar": lambda: np.exp(p / 2),
        "logstd": lambda: np.exp(p),
        "softplus": lambda: np.logaddexp(0.0, p),
    }[name]()


def dsigma_np(name: str, p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float64)
    s = sigma_np(name, p)
    return {
        "scale": lambda: np.ones_like(p),
        "var": lambda: 0.5 / s,
        "logvar": lambda: 0.5 * s,
        "logstd": lambda: s,
        "softplus": lambda: 1.0 / (1.0 + np.exp(-p)),
    }[name]()


def make_q(name: str, dtype: Any) -> Normal:
    return Normal(LOC.astype(dtype), **{name: PARAM_VALUES[name].astype(dtype)})


def tol(dtype: Any) -> dict[str, float]:
    return {"rtol": 2e-5, "atol": 2e-5} if np.dtype(dtype) == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """Same keys, shapes, dtypes and bits."""
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k, strict=True)


# ------------------------------------------------------------------ pathwise vs autodiff
@pytest.mark.parametrize("reduce", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
def test_pathwise_matches_torch_autograd(name: str, dtype: Any, reduce: str) -> None:
    torch = pytest.importorskip("torch")
    q = make_q(name, dtype)
    z, noise = q.rsample((2, 3), rng=SEED, return_noise=True)
    eps = np.asarray(noise)
    c = C.astype(dtype)
    got = q.pathwise_grad(c + z, noise, reduce=reduce)

    loc_t = torch.tensor(q.loc, requires_grad=True)
    par_t = torch.tensor(q.param, requires_grad=True)
    sigma_t = {
        "scale": lambda p: p,
        "var": torch.sqrt,
        "logvar": lambda p: torch.exp(p / 2),
        "logstd": torch.exp,
        "softplus": torch.nn.functional.softplus,
    }[name](par_t)
    zt = loc_t + sigma_t * torch.from_numpy(eps)
    loss = (torch.from_numpy(c) * zt).sum() + (zt * zt).sum() / 2
    if reduce == "mean":
        loss = loss / 6
    loss.backward()

    assert set(got) == {"loc", name}
    for key, t in (("loc", loc_t), (name, par_t)):
        assert got[key].shape == t.shape and got[key].dtype == np.dtype(dtype)
        np.testing.assert_allclose(got[key], t.grad.numpy(), **tol(dtype), err_msg=key)


@pytest.mark.parametrize("reduce", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
def test_pathwise_matches_finite_differences(name: str, dtype: Any, reduce: str) -> None:
    """Central differences in float64 of L(loc, param) = (sum(c z) + sum(z^2)/2) [/ n],
    z = loc + sigma(param) * eps for the fixed eps of the handle, each element perturbed."""
    q = make_q(name, dtype)
    z, noise = q.rsample((5,), rng=SEED + 1, return_noise=True)
    eps = np.asarray(noise).astype(np.float64)
    n = 5 if reduce == "mean" else 1
    got = q.pathwise_grad(C.astype(dtype) + z, noise, reduce=reduce)

    loc0 = q.loc.astype(np.float64)
    par0 = q.param.astype(np.float64)

    def loss(loc: np.ndarray, par: np.ndarray) -> float:
        zz = loc + sigma_np(name, par) * eps
        return float((C * zz).sum() + (zz * zz).sum() / 2) / n

    h = 1e-6
    for key, base in (("loc", loc0), (name, par0)):
        fd = np.empty(base.shape)
        for idx in np.ndindex(base.shape):
            up, dn = base.copy(), base.copy()
            up[idx] += h
            dn[idx] -= h
            args_up = (up, par0) if key == "loc" else (loc0, up)
            args_dn = (dn, par0) if key == "loc" else (loc0, dn)
            fd[idx] = (loss(*args_up) - loss(*args_dn)) / (2 * h)
        assert got[key].shape == base.shape
        # float32: grad_z = c + z carries z's float32 rounding; float64: FD error ~1e-8
        rtol, atol = (1e-4, 1e-4) if np.dtype(dtype) == np.float32 else (1e-7, 1e-7)
        np.testing.assert_allclose(got[key], fd, rtol=rtol, atol=atol * np.abs(fd).max(), err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
@pytest.mark.parametrize("sample_shape", [(7,), (2, 4)], ids=["S7", "S2x4"])
def test_pathwise_closed_form_and_stats(name: str, dtype: Any, sample_shape: tuple[int, ...]) -> None:
    """grads = reduce(grad_z) and reduce(grad_z * eps) * dsigma/dparam; stats are the
    ddof=1 variances over the sample axes of the per-sample estimates (summed down to the
    broadcast argument's shape: loc (3, 1), param (4,))."""
    q = make_q(name, dtype)
    z, noise = q.rsample(sample_shape, rng=SEED + 2, return_noise=True)
    eps = np.asarray(noise).astype(np.float64)
    g = np.random.default_rng(SEED).standard_normal(z.shape).astype(dtype)
    axes = tuple(range(len(sample_shape)))
    chain = dsigma_np(name, np.broadcast_to(q.param.astype(np.float64), BATCH))
    t_loc = g.astype(np.float64)
    t_par = g * eps * chain
    for reduce in ("mean", "sum"):
        got, stats = q.pathwise_grad(g, noise, reduce=reduce, return_stats=True)
        red = np.mean if reduce == "mean" else np.sum
        np.testing.assert_allclose(got["loc"], sum_to(red(t_loc, axis=axes), LOC.shape), **tol(dtype))
        np.testing.assert_allclose(got[name], sum_to(red(t_par, axis=axes), (4,)), **tol(dtype))
    assert stats["loc"].shape == LOC.shape and stats[name].shape == (4,)
    np.testing.assert_allclose(stats["loc"], per_sample_var(t_loc, len(axes), LOC.shape), **tol(dtype))
    np.testing.assert_allclose(stats[name], per_sample_var(t_par, len(axes), (4,)), **tol(dtype))


# ----------------------------------------------------------------- score closed form
BASELINES = ["none", "number", "array", "mean", "loo"]


def score_reference(q: Normal, f: np.ndarray, eps: np.ndarray, baseline: Any, ns: int,
                    reduce: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The score-function estimator in NumPy float64: grads and ddof=1 stats of the
    per-sample estimates summed down to each argument's shape."""
    f = f.astype(np.float64)
    axes = tuple(range(ns))
    n = math.prod(f.shape[:ns])
    if baseline is None:
        b: Any = 0.0
    elif isinstance(baseline, str) and baseline == "mean":
        b = f.mean(axis=axes, keepdims=True)
    elif isinstance(baseline, str) and baseline == "loo":
        b = (f.sum(axis=axes, keepdims=True) - f) / (n - 1)
    else:
        b = np.asarray(baseline, np.float64)
    w = f - b
    w = w.reshape(w.shape + (1,) * (eps.ndim - w.ndim))  # a batch prefix broadcasts over the rest
    name = q.param_name
    par = np.broadcast_to(q.param.astype(np.float64), q.batch_shape)
    sigma = sigma_np(name, par)
    t_loc = w * eps / sigma
    t_par = w * (eps * eps - 1) / sigma * dsigma_np(name, par)
    red = np.mean if reduce == "mean" else np.sum
    grads = {"loc": sum_to(red(t_loc, axis=axes), q.loc.shape),
             name: sum_to(red(t_par, axis=axes), q.param.shape)}
    stats = {"loc": per_sample_var(t_loc, ns, q.loc.shape), name: per_sample_var(t_par, ns, q.param.shape)}
    return grads, stats


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["scale", "logvar", "softplus"])
@pytest.mark.parametrize("f_extra", [(), (3,), (3, 4)], ids=["f-per-sample", "f-prefix", "f-full"])
@pytest.mark.parametrize("sample_shape", [(9,), (2, 5)], ids=["S9", "S2x5"])
@pytest.mark.parametrize("baseline", BASELINES)
def test_score_closed_form(baseline: str, sample_shape: tuple[int, ...], f_extra: tuple[int, ...],
                           name: str, dtype: Any) -> None:
    q = make_q(name, dtype)
    z, noise = q.rsample(sample_shape, rng=SEED + 3, return_noise=True)
    eps = np.asarray(noise).astype(np.float64)
    # f: some function of z with one value per sample (or per sample and batch prefix)
    zz = z.astype(np.float64)
    f_full = np.sin(zz) + zz * zz
    ns = len(sample_shape)
    f = f_full.sum(axis=tuple(range(ns + len(f_extra), zz.ndim))).astype(dtype)
    assert f.shape == sample_shape + f_extra
    b: Any = {"none": None, "number": 0.7, "mean": "mean", "loo": "loo",
              "array": np.linspace(-1.0, 1.0, math.prod(f.shape[ns:])).reshape(f.shape[ns:])
              if f_extra else np.linspace(-1.0, 1.0, math.prod(sample_shape)).reshape(sample_shape)}[baseline]
    for reduce in ("mean", "sum"):
        got, stats = q.score_grad(f, noise, baseline=b, reduce=reduce, return_stats=True)
        want, want_stats = score_reference(q, f, eps, b, ns, reduce)
        assert set(got) == {"loc", name} and set(stats) == {"loc", name}
        for k in got:
            assert got[k].shape == want[k].shape and got[k].dtype == np.dtype(dtype), k
            assert stats[k].shape == want[k].shape and stats[k].dtype == np.dtype(dtype), k
            scale = np.abs(want_stats[k]).max() ** 0.5 * (math.prod(sample_shape) if reduce == "sum" else 1)
            rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
            np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=rtol * scale, err_msg=k)
            np.testing.assert_allclose(stats[k], want_stats[k], rtol=rtol * 10,
                                       atol=rtol * np.abs(want_stats[k]).max(), err_msg=k)


def test_score_loo_formula() -> None:
    """'loo' subtracts b_s = (sum_t f_t - f_s) / (n - 1), the mean of the other samples;
    that equals passing that baseline array explicitly, and 'mean' equals f.mean()."""
    q = Normal(np.array([0.3, -1.0]), logstd=np.array([0.2, -0.4]))
    z, noise = q.rsample(6, rng=SEED + 4, return_noise=True)
    f = (z * z).sum(axis=1)
    b_loo = np.array([(f.sum() - f[s]) / 5 for s in range(6)])
    a = q.score_grad(f, noise, baseline="loo")
    b = q.score_grad(f, noise, baseline=b_loo)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-13, atol=1e-15)
    a = q.score_grad(f, noise, baseline="mean")
    b = q.score_grad(f, noise, baseline=float(f.mean()))
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-13, atol=1e-15)


# ------------------------------------------------------- handle vs array; determinism
@pytest.mark.parametrize("antithetic", [False, True], ids=["plain", "antithetic"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("batch", [(3, 4), (1030,), (5,)], ids=["b3x4", "b1030", "b5"])
def test_noise_handle_equals_eps_array(batch: tuple[int, ...], dtype: Any, antithetic: bool) -> None:
    """Regenerating eps in the kernel gives the same bits as reading np.asarray(noise);
    (1030,) has two column tiles, the second read from the middle of each row."""
    r = np.random.default_rng(SEED)
    q = Normal(r.standard_normal(batch).astype(dtype), softplus=r.standard_normal(batch).astype(dtype))
    z, noise = q.rsample((40, 3), rng=SEED + 5, antithetic=antithetic, return_noise=True)
    assert noise.antithetic == antithetic
    eps = np.asarray(noise)
    if antithetic:
        np.testing.assert_array_equal(eps[20:], -eps[:20])
    g = r.standard_normal(z.shape).astype(dtype)
    f = (z * z).reshape(40, 3, -1).sum(axis=-1)
    for stats in (False, True):
        assert_pair = [
            (q.pathwise_grad(g, noise, return_stats=stats), q.pathwise_grad(g, eps, return_stats=stats)),
            (q.score_grad(f, noise, baseline="loo", return_stats=stats),
             q.score_grad(f, eps, baseline="loo", return_stats=stats)),
        ]
        for a, b in assert_pair:
            if stats:
                assert_same(a[0], b[0])
                assert_same(a[1], b[1])
            else:
                assert_same(a, b)


@pytest.mark.parametrize("counter", [0, 2**64 - 3, 2**128 - 5], ids=["ctr0", "ctr-carry64", "ctr-wrap128"])
@pytest.mark.parametrize("skip", [0, 3])
def test_noise_handle_at_any_stream_position(counter: int, skip: int) -> None:
    """Handles that start mid-block (skip values drawn first), at a counter whose low word
    carries into the high one, and at the 128-bit wrap regenerate the same eps; and a
    non-contiguous eps array gives the same bits as the contiguous one."""
    for antithetic, batch in itertools.product((False, True), [(5,), (1030,)]):
        rng = reparam.Generator(reparam.Philox(key=0xDEADBEEF, counter=counter))
        rng.standard_normal(skip)
        q = Normal(np.zeros(batch), logstd=np.zeros(batch))
        z, noise = q.rsample(8, rng=rng, antithetic=antithetic, return_noise=True)
        eps = np.asarray(noise)
        np.testing.assert_array_equal(z, eps)  # sigma = 1, loc = 0
        g = np.random.default_rng(SEED).standard_normal(z.shape)
        a = q.pathwise_grad(g, noise, return_stats=True)
        b = q.pathwise_grad(g, np.asfortranarray(eps), return_stats=True)
        assert_same(a[0], b[0])
        assert_same(a[1], b[1])


# Without stats and with loc and param of the batch shape, pathwise_grad takes the fused
# kernel (sums per column tile and the chain rule in one pass); with stats it adds up all
# columns first and applies the same chain rule in NumPy. The gradients must be the same bits.
@pytest.mark.parametrize("antithetic", [False, True], ids=["plain", "antithetic"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
# S16xB5000 and S7xB3000: several column tiles per task, each tile's chain rule run in
# slices between the next tile's row passes (one and two threads).
@pytest.mark.parametrize("case", [((5,), (1030,)), ((4100,), (3,)), ((2, 3), (4, 7)), ((6,), ()),
                                  ((16,), (5000,)), ((7,), (3000,))],
                         ids=["S5xB1030", "S4100xB3", "S2x3xB4x7", "S6xB()", "S16xB5000", "S7xB3000"])
def test_fused_pathwise_equals_two_step(simd_target: str, num_threads: int,
                                        case: tuple[tuple[int, ...], tuple[int, ...]], name: str, dtype: Any,
                                        antithetic: bool) -> None:
    sample, batch = case
    if antithetic and sample[0] % 2:
        sample = (sample[0] + 1, *sample[1:])
    r = np.random.default_rng(SEED + 11)
    p = PARAM_VALUES[name][r.integers(0, 4, batch)]
    q = Normal(r.standard_normal(batch).astype(dtype), **{name: p.astype(dtype)})
    z, noise = q.rsample(sample, rng=SEED + 12, antithetic=antithetic, return_noise=True)
    g = (np.sin(z) + 0.5).astype(dtype)
    for src in (noise, np.asarray(noise)):
        for reduce in ("mean", "sum"):
            two_step, _ = q.pathwise_grad(g, src, reduce=reduce, return_stats=True)
            for threads in (1, 2):
                reparam.set_num_threads(threads)
                assert_same(q.pathwise_grad(g, src, reduce=reduce), two_step)


# A grad_z broadcast over the sample axes (z.sum() or z.mean() give one) is read one row
# for every sample, never copied to sample size: the same bits as the array written out.
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", [((16,), (5000,)), ((7,), (3, 1000)), ((2, 3), (1030,)), ((5000,), (4,))],
                         ids=["S16xB5000", "S7xB3x1000", "S2x3xB1030", "S5000xB4"])
def test_broadcast_grad_z_equals_written_out(simd_target: str, num_threads: int,
                                             case: tuple[tuple[int, ...], tuple[int, ...]], dtype: Any) -> None:
    sample, batch = case
    r = np.random.default_rng(SEED + 31)
    q = Normal(r.standard_normal(batch).astype(dtype), logvar=r.uniform(-2, 2, batch).astype(dtype))
    _, noise = q.rsample(sample, rng=SEED + 32, return_noise=True)
    row = r.standard_normal(batch).astype(dtype)
    for g in (np.broadcast_to(row, sample + batch), np.broadcast_to(dtype(0.5), sample + batch),
              np.broadcast_to(row.astype(np.float64), sample + batch)):  # (float64: converted once, a row)
        written = np.ascontiguousarray(g, dtype)
        for src in (noise, np.asarray(noise)):
            for threads in (1, 2):
                reparam.set_num_threads(threads)
                assert_same(q.pathwise_grad(g, src), q.pathwise_grad(written, src))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
def test_dsigma_dparam_of_the_core(name: str, dtype: Any) -> None:
    """The chain-rule factor the kernels use, against NumPy's float64 formulas (about 1 ulp)."""
    kind = Normal(0.0, **{name: 1.0})._kind
    r = np.random.default_rng(SEED + 13)
    p = np.concatenate([r.uniform(0.01, 5.0, 500) if name in ("scale", "var") else r.uniform(-30, 30, 500),
                        PARAM_VALUES[name]]).astype(dtype)
    out = np.empty(p.shape, np.float64)
    _core.dsigma(p, kind, out)
    np.testing.assert_allclose(out, dsigma_np(name, p), rtol=4e-16 * 4, atol=0)
    nan = np.array([np.nan, np.nan], dtype)
    out2 = np.empty(2)
    _core.dsigma(nan, kind, out2)
    assert (np.isnan(out2) if name != "scale" else out2 == 1.0).all()


# Shapes: (8, 9000) has 72000 elements in 9 column tiles (>= 8: one row block); (200000, 3)
# has a single column tile, so its rows are split into 4096-row blocks added in block order.
DET_CASES = [((8,), (9000,)), ((200000,), (3,))]
_reference_cache: dict[Any, Any] = {}


def det_results(sample: tuple[int, ...], batch: tuple[int, ...], dtype: Any) -> list[Any]:
    r = np.random.default_rng(SEED)
    q = Normal(r.standard_normal(batch).astype(dtype), logvar=r.uniform(-1, 1, batch).astype(dtype))
    z, noise = q.rsample(sample, rng=SEED + 6, return_noise=True)
    eps = np.asarray(noise)
    g = (np.cos(z) + r.standard_normal(z.shape)).astype(dtype)
    f = (z * z).sum(axis=-1)
    out = []
    for src in (noise, eps):
        out.append(q.pathwise_grad(g, src, reduce="sum", return_stats=True))
        out.append(q.score_grad(f, src, baseline="loo", return_stats=True))
        out.append(q.score_grad(z, src, baseline=None, reduce="sum", return_stats=True))
        out.append((q.pathwise_grad(g, src), {}))  # the fused pathwise kernel (no stats)
    _, anti = q.rsample(sample, rng=SEED + 7, antithetic=True, return_noise=True)
    out.append(q.pathwise_grad(g, anti, return_stats=True))
    out.append((q.pathwise_grad(g, anti, reduce="sum"), {}))
    out.append(q.score_grad(f, anti, baseline="mean", return_stats=True))
    return out


def det_reference(sample: tuple[int, ...], batch: tuple[int, ...], dtype: Any) -> list[Any]:
    """Computed once on the scalar path (the first supported one) with one thread."""
    key = (sample, batch, np.dtype(dtype).name)
    if key not in _reference_cache:
        prev_t, prev_n = _core.selected_target(), reparam.get_num_threads()
        targets = list(_core.supported_targets())
        try:
            assert _core.select_target("scalar" if "scalar" in targets else targets[0])
            reparam.set_num_threads(1)
            _reference_cache[key] = det_results(sample, batch, dtype)
        finally:
            assert _core.select_target(prev_t)
            reparam.set_num_threads(prev_n)
    return _reference_cache[key]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", DET_CASES, ids=["8x9000", "200000x3"])
def test_bit_identical_across_simd_and_threads(simd_target: str, num_threads: int,
                                               case: tuple[tuple[int, ...], tuple[int, ...]], dtype: Any) -> None:
    sample, batch = case
    assert math.prod(sample + batch) > _core.parallel_threshold  # the multi-threaded path
    ref = det_reference(sample, batch, dtype)
    for threads in (1, 2, 3):
        reparam.set_num_threads(threads)
        got = det_results(sample, batch, dtype)
        for (g_grads, g_stats), (r_grads, r_stats) in zip(got, ref, strict=True):
            assert_same(g_grads, r_grads)
            assert_same(g_stats, r_stats)


# The kernels' sums are those of float64 recursive summation in row order, whatever the
# loop order inside (column tiles, two rows per pass, prefetching): checked bit for bit
# against NumPy doing exactly that, on every SIMD path, for shapes with partial vectors,
# several column tiles, odd row counts, eps read or regenerated (antithetic too).
def row_order_sums(x: Any, y: Any) -> Any:
    acc = np.zeros((4, x.shape[1]))
    for r in range(x.shape[0]):
        acc[0] = acc[0] + x[r]
        acc[1] = acc[1] + x[r] * x[r]
        acc[2] = acc[2] + y[r]
        acc[3] = acc[3] + y[r] * y[r]
    return acc


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("rows,batch", [(1, 5), (2, 17), (7, 1030), (16, 2048 + 13), (9, 3000)])
def test_sums_are_row_order_float64(simd_target: str, dtype: Any, rows: int, batch: int) -> None:
    r = np.random.default_rng(SEED + rows * 7919 + batch)
    q = Normal(np.zeros(batch, dtype), scale=np.ones(batch, dtype))
    for antithetic in (False, True) if rows % 2 == 0 else (False,):
        _, noise = q.rsample(rows, rng=SEED + batch, antithetic=antithetic, return_noise=True)
        eps = np.asarray(noise).astype(np.float64)
        # magnitudes over 2**70: float64 sums of float32 values round (else they would be exact
        # in any order and could not tell orders apart)
        g = (r.standard_normal((rows, batch)) * np.exp(r.uniform(-25, 25, (rows, batch)))).astype(dtype)
        w = (r.standard_normal((rows, 1)) * np.exp(r.uniform(-25, 25, (rows, 1)))).astype(dtype)  # a weight per row
        g64, w64 = g.astype(np.float64), np.broadcast_to(w.astype(np.float64), (rows, batch))
        want_pw = row_order_sums(g64, g64 * eps)
        want_sc = row_order_sums(w64 * eps, w64 * (eps * eps - 1.0))
        for src in (noise, np.asarray(noise)):
            got_pw = _core.reduce_estimator(0, True, _noise_arg(q, src, (rows, batch)), g, rows, batch, 1, 1)
            got_sc = _core.reduce_estimator(1, True, _noise_arg(q, src, (rows, batch)), w, rows, batch, 1, batch)
            np.testing.assert_array_equal(got_pw, want_pw)
            np.testing.assert_array_equal(got_sc, want_sc)


def _noise_arg(q: Normal, noise: Any, shape: tuple[int, ...]) -> Any:
    from reparam._gradients import _noise_source

    return _noise_source(q, noise, shape)


# -------------------------------------------------------------------- accuracy of sums
# The documented bound: each column's terms are added in float64 in row order within
# 4096-row blocks, and the block sums are added in block order, so (recursive summation)
#     |computed - exact| <= (4096 + n / 4096 + 2) * 2**-53 * sum |terms|
# (the 2 covers the rounding of the products grad_z * eps and of the final scaling). With
# float32 samples the result is also rounded once to float32: + 2**-24 * |exact|.
N_ACC = 10**7


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sum_accuracy_against_fsum(dtype: Any) -> None:
    q = Normal(np.zeros(1, dtype), scale=np.ones(1, dtype))  # chain rule factor exactly 1
    _, noise = q.rsample(N_ACC, rng=SEED + 7, return_noise=True)
    r = np.random.default_rng(SEED)
    # mixed signs and magnitudes, a positive drift so the sums do not cancel to ~0
    g = ((r.standard_normal(N_ACC) + 0.25) * np.exp(r.uniform(-4, 4, N_ACC))).astype(dtype).reshape(-1, 1)
    got = q.pathwise_grad(g, noise, reduce="sum")
    eps = np.asarray(noise)
    g64 = g.astype(np.float64, copy=False).ravel()
    terms_par = g64 * eps.astype(np.float64, copy=False).ravel()  # exact for float32 inputs, one rounding for float64
    del eps
    bound = (4096 + N_ACC / 4096 + 2) * 2.0**-53
    out_round = 2.0**-24 if np.dtype(dtype) == np.float32 else 0.0
    for key, terms in (("loc", g64), ("scale", terms_par)):
        exact = math.fsum(terms)
        abs_sum = float(np.abs(terms).sum())
        err = abs(float(got[key][0]) - exact)
        assert err <= bound * abs_sum + out_round * abs(exact), (key, err / abs_sum, bound)


# ------------------------------------------------------------------------- bad input
def test_bad_input() -> None:
    q = Normal(np.zeros(3), scale=np.ones(3))
    z, noise = q.rsample(4, rng=SEED, return_noise=True)
    eps = np.asarray(noise)
    g = np.ones_like(z)
    f = np.ones(4)

    _, wrong_shape = q.rsample(5, rng=SEED, return_noise=True)
    for bad in (wrong_shape, np.zeros((5, 3))):
        with pytest.raises(ValueError, match=r"\(5, 3\).*\(4, 3\)|\(4, 3\).*\(5, 3\)"):
            q.pathwise_grad(g, bad)
    with pytest.raises(ValueError, match=r"\(5,\).*\(4,\)"):
        q.score_grad(f, wrong_shape)  # f has 4 samples, the noise 5

    q32 = Normal(np.zeros(3, np.float32), scale=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"float64.*float32|float32.*float64"):
        q32.pathwise_grad(g.astype(np.float32), noise)
    with pytest.raises(ValueError, match=r"float64.*float32|float32.*float64"):
        q32.score_grad(f, noise)

    with pytest.raises(ValueError, match="grad_z"):
        q.pathwise_grad(np.ones((4, 2)), eps)
    with pytest.raises(ValueError, match="grad_z"):
        q.pathwise_grad(np.ones((4, 3, 1)), eps)
    with pytest.raises(ValueError, match="f_values"):
        q.score_grad(np.ones((4, 2)), eps)
    with pytest.raises(ValueError, match="f_values"):
        q.score_grad(np.ones(5), eps)

    for fn in (lambda: q.pathwise_grad(g, noise, reduce="max"),
               lambda: q.score_grad(f, noise, reduce="max")):
        with pytest.raises(ValueError, match="max"):
            fn()
    with pytest.raises(ValueError, match="foo"):
        q.score_grad(f, noise, baseline="foo")
    with pytest.raises(ValueError, match="baseline"):
        q.score_grad(f, noise, baseline=np.ones((3, 2)))

    _, one = q.rsample(1, rng=SEED, return_noise=True)
    with pytest.raises(ValueError, match="loo"):
        q.score_grad(np.ones(1), one, baseline="loo")

    with pytest.raises(ValueError, match="method"):
        reparam.estimate_grad(lambda x: (x, x), q, 4, method="foo", rng=SEED)
    with pytest.raises(ValueError, match="baseline"):
        reparam.estimate_grad(lambda x: (x, x), q, 4, baseline="loo", rng=SEED)


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_zero_samples(reduce: str) -> None:
    """An empty sample axis: sums are 0; a mean of nothing is NaN (or a ValueError), never a
    ZeroDivisionError."""
    q = Normal(np.zeros(3), logvar=np.zeros(3))
    z, noise = q.rsample(0, rng=SEED, return_noise=True)
    for call in (lambda: q.pathwise_grad(np.zeros_like(z), noise, reduce=reduce),
                 lambda: q.score_grad(np.zeros(0), noise, reduce=reduce)):
        try:
            got = call()
        except ValueError:
            assert reduce == "mean"
            continue
        for v in got.values():
            assert v.shape == (3,)
            if reduce == "sum":
                np.testing.assert_array_equal(v, 0.0)
            else:
                assert np.isnan(v).all()


# ------------------------------------------------------------------------ estimate_grad
@pytest.mark.parametrize("antithetic", [False, True])
def test_estimate_grad_is_rsample_then_estimator(antithetic: bool) -> None:
    q = Normal(np.array([0.5, -1.0, 2.0]), logvar=np.array([0.1, -0.3, 0.0]))
    n = 8

    def f_path(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.sin(x).sum(axis=-1), np.cos(x)

    def f_score(x: np.ndarray) -> np.ndarray:
        return np.sin(x).sum(axis=-1)

    z, noise = q.rsample(n, rng=SEED, antithetic=antithetic, return_noise=True)
    for method, fn, manual in (
        ("pathwise", f_path, lambda: q.pathwise_grad(np.cos(z), noise, return_stats=True)),
        ("score", f_score, lambda: q.score_grad(f_score(z), noise, baseline="loo", return_stats=True)),
    ):
        kw: dict[str, Any] = {"baseline": "loo"} if method == "score" else {}
        got = reparam.estimate_grad(fn, q, n, method=method, antithetic=antithetic, rng=SEED,
                                    return_stats=True, **kw)
        want = manual()
        assert_same(got[0], want[0])
        assert_same(got[1], want[1])
        again = reparam.estimate_grad(fn, q, n, method=method, antithetic=antithetic,
                                      rng=reparam.default_rng(SEED), **kw)
        assert_same(again, want[0])


def test_all_params_and_dtypes_agree_in_float64() -> None:
    """The same distribution in the five parameterizations gives the same loc gradient and
    d/dsigma (param gradient / dsigma/dparam), for the same eps."""
    sigma = np.array([0.4, 1.0, 2.5])
    raw = {"scale": sigma, "var": sigma**2, "logvar": 2 * np.log(sigma), "logstd": np.log(sigma),
           "softplus": sigma + np.log(-np.expm1(-sigma))}
    eps = np.random.default_rng(SEED).standard_normal((50, 3))
    g = np.random.default_rng(SEED + 1).standard_normal((50, 3))
    f = g.sum(axis=1)
    results = {}
    for name, p in raw.items():
        q = Normal(np.zeros(3), **{name: p})
        pw = q.pathwise_grad(g, eps)
        sc = q.score_grad(f, eps)
        chain = dsigma_np(name, p)
        results[name] = (pw["loc"], pw[name] / chain, sc["loc"], sc[name] / chain)
    for a, b in itertools.combinations(results.values(), 2):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)

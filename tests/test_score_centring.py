"""The score function's baselines, centred inside the kernel.

``score_grad`` hands the kernel f itself and the baseline per weight column (a = 1,
c = 1 for "mean", a number or an array constant over the samples; a = rows, b = sum f,
c = rows - 1 for "loo"), and the kernel forms w = (f * a - b) / c in float64 as it reads
each weight. That must be, bit for bit, the weights NumPy forms (``f - f.mean(0)``,
``(rows * f - f.sum(0)) / (rows - 1)``, ``f - baseline``), rounded to the samples' dtype,
and it must not allocate anything of sample size.
"""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

import numpy as np
import pytest

from reparam import Normal, _core
from reparam._gradients import _centred_weights, _centring, _noise_source

SEED = 6174
BASELINES: list[Any] = [None, "mean", "loo", 0.75, "prefix-array"]


def baseline_for(kind: Any, prefix: tuple[int, ...], r: np.random.Generator) -> Any:
    if isinstance(kind, str) and kind == "prefix-array":  # one value per weight column
        return r.standard_normal(prefix) * 3.0
    return kind


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("prefix", [(), (3,), (3, 40)], ids=["per-sample", "prefix", "full"])
@pytest.mark.parametrize("rows", [2, 7, 5000], ids=lambda n: f"S{n}")
@pytest.mark.parametrize("kind", BASELINES, ids=lambda b: str(b))
def test_kernel_centring_equals_numpy_weights(simd_target: str, dtype: Any, prefix: tuple[int, ...], rows: int,
                                              kind: Any) -> None:
    batch_shape = (3, 40)
    batch = math.prod(batch_shape)
    r = np.random.default_rng(SEED + rows + len(prefix))
    # magnitudes far apart, so that a different rounding of w would show in the sums
    f = (r.standard_normal((rows, *prefix)) * np.exp(r.uniform(-8, 8, (rows, *prefix)))).astype(dtype)
    baseline = baseline_for(kind, prefix, r)
    q = Normal(np.zeros(batch_shape, dtype), scale=np.ones(batch_shape, dtype))
    _, noise = q.rsample(rows, rng=SEED, return_noise=True)
    centring = _centring(f, rows, 1, baseline, q.dtype)
    assert centring is not None  # every case here is centred by the kernel
    cb, ca, cc = centring
    wcols = math.prod(prefix)
    w = np.require(_centred_weights(f, rows, baseline), q.dtype, ("C", "A"))
    for src in (noise, np.asarray(noise)):
        arg = _noise_source(q, src, (rows, *batch_shape))
        want = _core.reduce_estimator(1, True, arg, w, rows, batch, wcols, batch // wcols)
        got = _core.reduce_estimator(1, True, arg, np.ascontiguousarray(f), rows, batch, wcols, batch // wcols,
                                     cb, ca, cc)
        np.testing.assert_array_equal(got, want)
    # and through the public call: the same gradients as with the weights written out
    # (a baseline that varies over the samples takes the path that forms w in NumPy)
    if kind == "mean":
        varying = np.broadcast_to(f.astype(np.float64).mean(axis=0), f.shape).copy()
        a = q.score_grad(f, noise, baseline="mean")
        b = q.score_grad(f, noise, baseline=varying)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_no_sample_size_allocation_with_a_baseline() -> None:
    """f of the full batch shape with baseline "loo" or "mean": NumPy allocates nothing
    near the size of f (the weights are formed in the kernel), where forming them here
    took two float64 copies and one in the samples' dtype."""
    rows, batch_shape = 512, (64, 64)  # f: 8 MiB; arrays of batch size: 32 KiB each
    q = Normal(np.zeros(batch_shape, np.float32), scale=np.ones(batch_shape, np.float32))
    _, noise = q.rsample(rows, rng=SEED, return_noise=True)
    f = np.random.default_rng(SEED).standard_normal((rows, *batch_shape)).astype(np.float32)
    for baseline in ("loo", "mean", None):
        q.score_grad(f, noise, baseline=baseline)  # warm up
        tracemalloc.start()
        try:
            q.score_grad(f, noise, baseline=baseline)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < f.nbytes // 8, (baseline, peak, f.nbytes)


PARAMS = {"scale": (0.2, 3.0), "var": (0.05, 9.0), "logvar": (-4.0, 4.0), "logstd": (-2.0, 2.0),
          "softplus": (-4.0, 4.0)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(PARAMS))
def test_fused_chain_rule_equals_the_numpy_one(simd_target: str, name: str, dtype: Any) -> None:
    """Without stats (and with loc and the parameter of the batch shape) the score
    gradient's sums and chain rule run in the core in one pass (``_core.score_grad``);
    with stats the chain rule runs in NumPy. Both are the same operations: the same bits,
    for every parameterization, reduce and baseline, infinite and NaN parameters
    included."""
    r = np.random.default_rng(SEED + len(name))
    lo, hi = PARAMS[name]
    par = r.uniform(lo, hi, (5, 300))
    par[0, :3] = [np.inf, 0.0, np.nan]  # (scale and var refuse negative values)
    q = Normal(r.standard_normal((5, 300)).astype(dtype), **{name: par.astype(dtype)})
    _, noise = q.rsample(9, rng=SEED, return_noise=True)
    f = (r.standard_normal((9, 5)) * 10.0).astype(dtype)
    for baseline in (None, "loo"):
        for reduce in ("mean", "sum"):
            fused = q.score_grad(f, noise, baseline=baseline, reduce=reduce)
            plain, _ = q.score_grad(f, noise, baseline=baseline, reduce=reduce, return_stats=True)
            for key in fused:
                assert fused[key].dtype == plain[key].dtype and fused[key].shape == plain[key].shape
                np.testing.assert_array_equal(fused[key], plain[key])


# (samples, batch shape, f's shape): one sample over several 1024-column tiles with a
# weight per column (a VAE's one-sample estimate); tiles with a partial vector; more
# sample rows than one block of the sums with few columns (the row-block path)
FUSED_SHAPES = [(1, (200, 20), (1, 200, 20)), (3, (2100,), (3, 2100)), (5000, (3,), (5000,))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["scale", "logvar", "softplus"])
@pytest.mark.parametrize("shapes", FUSED_SHAPES, ids=["one-sample", "tiles", "row-blocks"])
def test_fused_score_grad_at_every_tiling(simd_target: str, name: str, dtype: Any,
                                          shapes: tuple[int, tuple[int, ...], tuple[int, ...]]) -> None:
    """The one-pass score gradient over many column tiles and over row blocks: the same
    bits as the sums then NumPy's chain rule, with stored and regenerated noise."""
    s, batch, fshape = shapes
    r = np.random.default_rng(SEED + s)
    lo, hi = PARAMS[name]
    q = Normal(r.standard_normal(batch).astype(dtype), **{name: r.uniform(lo, hi, batch).astype(dtype)})
    _, noise = q.rsample(s, rng=SEED, return_noise=True)
    f = r.standard_normal(fshape).astype(dtype)
    for src in (noise, np.asarray(noise)):
        for baseline in (None, "mean"):
            fused = q.score_grad(f, src, baseline=baseline)
            plain, _ = q.score_grad(f, src, baseline=baseline, return_stats=True)
            for key in fused:
                np.testing.assert_array_equal(fused[key], plain[key])

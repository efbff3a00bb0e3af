"""The gradient sums over more than one block of rows, and what they allocate.

Each column's terms are added in float64 in row order within blocks of 4096 rows
(``kReduceRowBlock``), and the block sums are added in block order. Narrow batches
(under 8 column tiles of 1024) split the rows into tasks at those blocks in the binding;
wide ones give each task a column tile and all rows, and the kernel adds the same
blocks. Both must give the sums of that order bit for bit: it is what the documented
error bound (README, "Accuracy of the gradient sums") rests on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

from reparam import Normal, _core
from reparam._gradients import _noise_source

SEED = 8128
BLOCK = 4096


def blocked_sums(x: Any, y: Any) -> Any:
    """(4, cols) sums of x, x*x, y, y*y: float64, rows in order within 4096-row blocks,
    each block from zero, the block sums added in block order (NumPy, column-wise)."""
    acc = np.zeros((4, x.shape[1]))
    for b0 in range(0, x.shape[0], BLOCK):
        part = np.zeros_like(acc)
        for r in range(b0, min(b0 + BLOCK, x.shape[0])):
            part[0] = part[0] + x[r]
            part[1] = part[1] + x[r] * x[r]
            part[2] = part[2] + y[r]
            part[3] = part[3] + y[r] * y[r]
        acc = acc + part
    return acc


def in_order_sums(x: Any, y: Any) -> Any:
    """The same sums with all rows in one run (what the blocks must differ from)."""
    acc = np.zeros((4, x.shape[1]))
    for r in range(x.shape[0]):
        acc = acc + np.stack([x[r], x[r] * x[r], y[r], y[r] * y[r]])
    return acc


@pytest.mark.parametrize("batch", [5, 7169], ids=["narrow-binding-blocks", "wide-kernel-blocks"])
def test_sums_over_several_row_blocks_are_block_ordered(simd_target: str, batch: int) -> None:
    rows = BLOCK + 37  # a whole block and a partial one
    q = Normal(np.zeros(batch, np.float32), scale=np.ones(batch, np.float32))
    _, noise = q.rsample(rows, rng=SEED + batch, return_noise=True)
    r = np.random.default_rng(SEED)
    # eps read in place, with magnitudes over 2**70 so that the order of the float64
    # additions shows in the sums; g one row that every sample row repeats (stride 0)
    eps = np.asarray(noise)
    eps *= np.exp(r.uniform(-25, 25, eps.shape)).astype(np.float32)
    g_row = (r.standard_normal(batch) * np.exp(r.uniform(-25, 25, batch))).astype(np.float32)
    w = (r.standard_normal((rows, 1)) * np.exp(r.uniform(-25, 25, (rows, 1)))).astype(np.float32)
    cols = np.unique(np.linspace(0, batch - 1, 41).astype(int))  # across every column tile
    e64 = eps[:, cols].astype(np.float64)
    g64 = np.broadcast_to(g_row[cols].astype(np.float64), e64.shape)
    w64 = np.broadcast_to(w.astype(np.float64), e64.shape)
    want_pw = blocked_sums(g64, g64 * e64)
    want_sc = blocked_sums(w64 * e64, w64 * (e64 * e64 - 1.0))
    # the test can tell the orders apart
    assert not np.array_equal(want_pw, in_order_sums(g64, g64 * e64))
    assert not np.array_equal(want_sc, in_order_sums(w64 * e64, w64 * (e64 * e64 - 1.0)))

    src = _noise_source(q, eps, (rows, batch))
    got_pw = _core.reduce_estimator(0, True, src, g_row, rows, batch, 1, 1)
    np.testing.assert_array_equal(got_pw[:, cols], want_pw)
    got_sc = _core.reduce_estimator(1, True, src, w, rows, batch, 1, batch)
    np.testing.assert_array_equal(got_sc[:, cols], want_sc)
    # the fused pathwise gradient (reduce="sum", scale: chain factor 1) from the same sums
    d = q.pathwise_grad(np.broadcast_to(g_row, (rows, batch)), eps, reduce="sum")
    np.testing.assert_array_equal(d["loc"][cols], want_pw[0].astype(np.float32))
    np.testing.assert_array_equal(d["scale"][cols], want_pw[2].astype(np.float32))


def test_regenerated_eps_over_several_row_blocks(simd_target: str) -> None:
    """The same with eps regenerated inside the kernel (both paths), against eps read."""
    rows = 2 * BLOCK + 3
    for batch in (3, 8 * 1024 + 5):
        q = Normal(np.zeros(batch), scale=np.ones(batch))
        _, noise = q.rsample(rows, rng=SEED, return_noise=True)
        g = np.random.default_rng(SEED + batch).standard_normal(batch)
        from_stream = _core.reduce_estimator(0, True, _noise_source(q, noise, (rows, batch)), g, rows, batch, 1, 1)
        eps = np.asarray(noise)
        read = _core.reduce_estimator(0, True, _noise_source(q, eps, (rows, batch)), g, rows, batch, 1, 1)
        np.testing.assert_array_equal(from_stream, read)
        cols = [0, batch // 2, batch - 1]
        e64 = eps[:, cols]
        g64 = np.broadcast_to(g[cols], e64.shape)
        np.testing.assert_array_equal(from_stream[:, cols], blocked_sums(g64, g64 * e64))


CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import reparam

    def peak_kib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    rows, batch = int(sys.argv[1]), int(sys.argv[2])
    reparam.set_num_threads(1)
    q = reparam.Normal(np.zeros(batch), logvar=np.zeros(batch))
    _, noise = q.rsample(rows, rng=1, return_noise=True)
    g = np.broadcast_to(np.ones(batch), (rows, batch))  # as z.sum().backward() gives
    q.pathwise_grad(g[:8], q.rsample(8, rng=2, return_noise=True)[1])  # warm up
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set
    before = peak_kib()
    d = q.pathwise_grad(g, noise)
    print(json.dumps({"growth_kib": peak_kib() - before, "d_loc": float(d["loc"][0])}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM of /proc/self/status")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="under AddressSanitizer the resident set holds its shadow memory and quarantine")
@pytest.mark.parametrize("rows,batch", [(2_000_000, 4), (1_000, 8 * 1024)], ids=["row-blocks", "column-tiles"])
def test_broadcast_grad_z_is_not_copied_to_sample_size(rows: int, batch: int) -> None:
    """A grad_z broadcast over the sample axes is read one row per sample on both paths:
    the call's peak memory stays far below the 61 (resp. 62) MiB the samples would take."""
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("no /proc/self/clear_refs")
    out = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(batch)], capture_output=True, text=True,
                         check=True, timeout=120)
    res = json.loads(out.stdout)
    sample_kib = rows * batch * 8 // 1024
    assert res["d_loc"] == 1.0
    assert res["growth_kib"] < sample_kib // 8, (res, sample_kib)


# The documented bound (README, "Accuracy of the gradient sums") for the score-function
# sums over 10**7 samples, against math.fsum of the same float64 terms: the kernel forms
# each term with the IEEE operations NumPy uses below, so only the summation and the final
# rounding to the result's dtype differ. (test_gradients.py checks the pathwise sums.)
N_ACC = 10**7


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_score_sum_accuracy_against_fsum(dtype: Any) -> None:
    import math

    q = Normal(np.zeros(1, dtype), scale=np.ones(1, dtype))  # 1/sigma and dsigma/dscale exactly 1
    _, noise = q.rsample(N_ACC, rng=SEED + 11, return_noise=True)
    r = np.random.default_rng(SEED + 1)
    f = ((r.standard_normal(N_ACC) + 0.25) * np.exp(r.uniform(-4, 4, N_ACC))).astype(dtype)
    got = q.score_grad(f, noise, reduce="sum")
    e64 = np.asarray(noise).astype(np.float64).ravel()
    w64 = f.astype(np.float64)
    bound = (BLOCK + N_ACC / BLOCK + 2) * 2.0**-53
    out_round = 2.0**-24 if np.dtype(dtype) == np.float32 else 0.0
    for key, terms in (("loc", w64 * e64), ("scale", w64 * (e64 * e64 - 1.0))):
        exact = math.fsum(terms)
        abs_sum = float(np.abs(terms).sum())
        err = abs(float(got[key][0]) - exact)
        assert err <= bound * abs_sum + out_round * abs(exact), (key, err / abs_sum, bound)

"""reparam.torch: the autograd Function around the fused sample and pathwise reduction.

Forward values are compared bit for bit with reparam.Normal.rsample; gradients with
torch autograd of the naive expression ``loc + sigma(param) * eps`` on the same eps
(computed in float64, so that the reference itself is accurate).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import reparam

torch = pytest.importorskip("torch")
rt = pytest.importorskip("reparam.torch")

PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
DTYPES = (torch.float32, torch.float64)
NP_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}

SIGMA: dict[str, Callable[[Any], Any]] = {
    "scale": lambda p: p,
    "var": lambda p: torch.sqrt(p),
    "logvar": lambda p: torch.exp(0.5 * p),
    "logstd": lambda p: torch.exp(p),
    "softplus": lambda p: torch.nn.functional.softplus(p),
}


def inputs(name: str, dtype: Any, loc_shape: tuple[int, ...], param_shape: tuple[int, ...],
           seed: int = 0) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(seed)
    loc = torch.randn(loc_shape, generator=g, dtype=dtype)
    p = torch.empty(param_shape, dtype=dtype).uniform_(-1.5, 1.5, generator=g)
    if name in ("scale", "var"):
        p = p.abs() + 0.1
    return loc.requires_grad_(), p.requires_grad_()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", PARAMS)
def test_forward_is_normal_rsample_and_gradients_match_autograd(name: str, dtype: Any) -> None:
    for loc_shape, param_shape, sample_shape in [((5, 4), (5, 4), (3,)), ((5, 4), (4,), (2, 3)),
                                                  ((7,), (1,), ()), ((2, 1, 3), (4, 1), (2,))]:
        loc, p = inputs(name, dtype, loc_shape, param_shape)
        z = rt.rsample(loc, p, param_name=name, sample_shape=sample_shape, generator=123)
        q = reparam.Normal(loc.detach().numpy(), **{name: p.detach().numpy()})
        z_np, noise = q.rsample(sample_shape, rng=123, return_noise=True)
        assert z.dtype == dtype and z.device.type == "cpu" and z.requires_grad
        assert np.array_equal(z.detach().numpy(), z_np)

        w = torch.randn(z.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
        (z * w).sum().backward()
        assert loc.grad is not None and p.grad is not None
        assert loc.grad.shape == loc.shape and p.grad.shape == p.shape
        assert loc.grad.dtype == dtype and p.grad.dtype == dtype

        # the naive expression on the same noise, in float64
        loc64 = loc.detach().double().requires_grad_()
        p64 = p.detach().double().requires_grad_()
        eps = torch.from_numpy(np.asarray(noise, dtype=np.float64))
        z_ref = loc64 + SIGMA[name](p64) * eps
        (z_ref * w.double()).sum().backward()
        tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
        torch.testing.assert_close(z.detach().double(), z_ref.detach(), **tol)
        torch.testing.assert_close(loc.grad.double(), loc64.grad, **tol)
        torch.testing.assert_close(p.grad.double(), p64.grad, **tol)

        # and torch's own arithmetic in the input dtype, with looser float32 tolerances
        loc_t = loc.detach().clone().requires_grad_()
        p_t = p.detach().clone().requires_grad_()
        ((loc_t + SIGMA[name](p_t) * eps.to(dtype)) * w).sum().backward()
        tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
        torch.testing.assert_close(loc.grad, loc_t.grad, **tol)
        torch.testing.assert_close(p.grad, p_t.grad, **tol)


def test_gradcheck_float64() -> None:
    loc, p = inputs("logvar", torch.float64, (3, 2), (2,))

    def fn(a: Any, b: Any) -> Any:
        return rt.rsample(a, b, sample_shape=(4,), generator=7)  # a seed: the same noise on every call

    assert torch.autograd.gradcheck(fn, (loc, p))


def test_no_noise_tensor_is_kept_and_no_copies() -> None:
    """Forward allocates z alone and fills it in place; backward regenerates eps: beyond
    z, NumPy allocates nothing sample-sized on either side (tracemalloc sees NumPy's
    allocations), only a few batch-sized float64 sums."""
    loc, p = inputs("logvar", torch.float32, (256, 64), (256, 64))
    sample = (256,)
    z_bytes = 256 * 256 * 64 * 4
    warm = rt.rsample(loc, p, generator=0)  # torch imports modules on its first backward
    warm.backward(torch.ones_like(warm))
    loc.grad = p.grad = None
    tracemalloc.start()
    try:
        z = rt.rsample(loc, p, sample_shape=sample, generator=reparam.default_rng(3))
        _, fwd_peak = tracemalloc.get_traced_memory()
        # what the graph keeps: the inputs themselves and a Noise handle
        fn = z.grad_fn
        assert isinstance(fn.noise, reparam.Noise)
        saved = fn.saved_tensors
        assert len(saved) == 2
        assert saved[0].data_ptr() == loc.data_ptr() and saved[1].data_ptr() == p.data_ptr()
        del saved
        grad = torch.ones_like(z)
        tracemalloc.reset_peak()
        held, _ = tracemalloc.get_traced_memory()  # z itself
        z.backward(grad)
        _, bwd_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fwd_peak < z_bytes + z_bytes // 16, fwd_peak
    assert held >= z_bytes
    assert bwd_peak - held < z_bytes // 8, bwd_peak - held
    assert loc.grad is not None
    torch.testing.assert_close(loc.grad, torch.full_like(loc, 256.0))


def test_non_contiguous_inputs_and_gradients() -> None:
    base, pbase = inputs("softplus", torch.float64, (4, 6), (6, 4))
    loc = base.detach().t().requires_grad_()   # (6, 4), non-contiguous
    p = pbase.detach()[:, ::1].requires_grad_()
    assert not loc.is_contiguous()
    z = rt.rsample(loc, p, param_name="softplus", sample_shape=(5,), generator=2)
    expected = reparam.Normal(loc.detach().numpy().copy(), softplus=p.detach().numpy()).rsample(5, rng=2)
    assert np.array_equal(z.detach().numpy(), expected)
    z.sum().backward()  # an expanded (stride-0) incoming gradient
    assert loc.grad is not None
    torch.testing.assert_close(loc.grad, torch.full_like(loc, 5.0))
    # a non-contiguous incoming gradient
    loc2 = loc.detach().clone().requires_grad_()
    z2 = rt.rsample(loc2, p.detach(), param_name="softplus", sample_shape=(5,), generator=2)
    g = torch.randn(4, 6, 5, dtype=torch.float64).permute(2, 1, 0)
    z2.backward(g)
    assert loc2.grad is not None
    torch.testing.assert_close(loc2.grad, g.sum(0))


def test_expanded_gradient_equals_written_out() -> None:
    """z.sum().backward() hands backward an expanded (stride-0) gradient, which the
    reduction reads one row per sample: the same bits as the gradient written out."""
    grads = []
    for written in (False, True):
        loc = torch.linspace(-1, 1, 3000, dtype=torch.float32).requires_grad_()
        lv = torch.linspace(-2, 2, 3000, dtype=torch.float32).requires_grad_()
        z = rt.rsample(loc, lv, sample_shape=(9,), generator=11)
        if written:
            z.backward(torch.ones_like(z))
        else:
            z.sum().backward()
        assert loc.grad is not None and lv.grad is not None
        grads.append((loc.grad.clone(), lv.grad.clone()))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])


def test_generator_semantics() -> None:
    loc = torch.zeros(10)
    lv = torch.zeros(10)
    g = reparam.default_rng(5)
    a = rt.rsample(loc, lv, generator=g)
    b = rt.rsample(loc, lv, generator=g)
    h = reparam.default_rng(5)
    assert np.array_equal(a.numpy(), h.standard_normal(10, np.float32))
    assert np.array_equal(b.numpy(), h.standard_normal(10, np.float32))
    assert torch.equal(rt.rsample(loc, lv, generator=5), rt.rsample(loc, lv, generator=5))
    assert not torch.equal(rt.rsample(loc, lv), rt.rsample(loc, lv))
    assert torch.equal(rt.rsample(loc, lv, generator=reparam.Philox(5)), a)
    assert rt.rsample(loc, 0.0, param_name="scale", sample_shape=torch.Size([2])).abs().max() == 0


def test_no_grad_and_constant_param() -> None:
    loc = torch.zeros(3, requires_grad=True)
    with torch.no_grad():
        z = rt.rsample(loc, torch.zeros(3), sample_shape=(2,), generator=1)
    assert z.grad_fn is None and not z.requires_grad
    z = rt.rsample(loc, 0.5, sample_shape=(2,), generator=1)  # a number is a constant parameter
    z.sum().backward()
    assert loc.grad is not None
    torch.testing.assert_close(loc.grad, torch.full((3,), 2.0))
    lv = torch.zeros(3, requires_grad=True)
    z = rt.rsample(torch.zeros(3), lv, sample_shape=(2,), generator=1)
    z.sum().backward()
    assert lv.grad is not None and lv.grad.shape == (3,)


def test_double_backward_is_refused() -> None:
    loc, p = inputs("logvar", torch.float64, (3,), (3,))
    z = rt.rsample(loc, p, sample_shape=(2,), generator=0)
    _, gp = torch.autograd.grad((z * z).sum(), (loc, p), create_graph=True)
    with pytest.raises(RuntimeError, match=r"once_differentiable|twice"):
        gp.sum().backward()


def test_clear_errors() -> None:
    loc = torch.zeros(3)
    with pytest.raises(ValueError, match=r"CPU tensors only.*meta"):
        rt.rsample(torch.zeros(3, device="meta"), torch.zeros(3, device="meta"))
    with pytest.raises(ValueError, match="CPU tensors only"):
        rt.rsample(loc, torch.zeros(3, device="meta"))
    with pytest.raises(TypeError, match=r"float32 and float64.*float16.*\.float\(\)"):
        rt.rsample(torch.zeros(3, dtype=torch.float16, requires_grad=True), torch.zeros(3, dtype=torch.float16))
    with pytest.raises(TypeError, match=r"float32 and float64.*bfloat16"):
        rt.rsample(loc, torch.zeros(3, dtype=torch.bfloat16, requires_grad=True))
    with pytest.raises(TypeError, match=r"float32 and float64.*int64"):
        rt.rsample(torch.zeros(3, dtype=torch.int64), torch.zeros(3))
    with pytest.raises(TypeError, match="complex64"):
        rt.rsample(torch.zeros(3, dtype=torch.complex64, requires_grad=True), torch.zeros(3))
    with pytest.raises(TypeError, match="same dtype"):
        rt.rsample(loc, torch.zeros(3, dtype=torch.float64, requires_grad=True))
    with pytest.raises(ValueError, match="dense"):
        rt.rsample(loc, torch.zeros(3).to_sparse())
    with pytest.raises(TypeError, match=r"torch.Generator"):
        rt.rsample(loc, loc, generator=torch.Generator())
    with pytest.raises(TypeError, match=r"loc must be a torch.Tensor"):
        rt.rsample(np.zeros(3), loc)
    with pytest.raises(TypeError, match="param must be"):
        rt.rsample(loc, np.zeros(3))
    with pytest.raises(ValueError, match="param_name"):
        rt.rsample(loc, loc, param_name="std")
    with pytest.raises(ValueError, match="broadcast"):
        rt.rsample(loc, torch.zeros(4))
    with pytest.raises(ValueError, match="non-negative"):
        rt.rsample(loc, -torch.ones(3), param_name="scale")

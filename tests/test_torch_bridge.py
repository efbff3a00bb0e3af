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
    """Forward allocates z alone and fills it in place; backward regenerates eps and
    reads the incoming gradient in place (or, broadcast over the samples, one row per
    sample). tracemalloc sees NumPy's allocations (torch's own, such as the tensors of
    the incoming gradient and of loc.grad, it does not)."""
    shape, sample = (256, 256), (64,)
    batch_bytes = 256 * 256 * 4
    z_bytes = 64 * batch_bytes
    p = inputs("logvar", torch.float32, shape, shape)[1]
    # (loc shape, z.sum() or a dense gradient, batches forward and backward may allocate
    # besides z). The bounds leave half a batch (128 KiB) for Python objects (a few KiB),
    # so the first three fail on one batch-sized copy more than the bridge makes now:
    # forward, of the contiguous full-shape loc or param (read in place); backward, of
    # them or of the dense gradient, beyond the two results (one block of two batches)
    # and, for z.sum(), the one stride-0 row the kernel reads for every sample, made
    # contiguous. A broadcast loc (copied to batch size in forward) takes the float64
    # row-block reduction, whose batch-sized work arrays are bounded loosely. All fail
    # on a noise tensor or a gradient copied at sample size (64 batches).
    cases = [(shape, False, 0.5, 2.5), (shape, True, 0.5, 3.5), ((256, 1), True, 1.5, 32.0)]
    for loc_shape, expanded, fwd_batches, bwd_batches in cases:
        loc = inputs("logvar", torch.float32, loc_shape, loc_shape)[0]
        for _ in range(2):  # warm up: torch imports modules on its first backward
            warm = rt.rsample(loc, p, sample_shape=(2,), generator=0)
            warm.backward(torch.ones_like(warm))
            warm = rt.rsample(loc, p, sample_shape=(2,), generator=0)
            warm.sum().backward()
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
            del saved, fn
            grad = None if expanded else torch.ones_like(z)
            tracemalloc.reset_peak()
            held, _ = tracemalloc.get_traced_memory()  # z itself
            if grad is None:
                z.sum().backward()  # an incoming gradient of stride 0 along every axis
            else:
                z.backward(grad)
            _, bwd_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        case = (loc_shape, expanded)
        assert z_bytes <= fwd_peak < z_bytes + fwd_batches * batch_bytes, (case, (fwd_peak - z_bytes) / batch_bytes)
        assert held >= z_bytes
        assert bwd_peak - held < bwd_batches * batch_bytes, (case, (bwd_peak - held) / batch_bytes)
        assert loc.grad is not None and p.grad is not None
        torch.testing.assert_close(loc.grad, torch.full_like(loc, 64.0 * shape[1] // loc_shape[1]))


def test_non_contiguous_inputs_and_gradients() -> None:
    """Non-contiguous loc and param (a transposed and a strided view), of the full batch
    shape and broadcast, and non-contiguous incoming gradients: the samples are
    reparam.Normal's and the gradients autograd's on the same noise."""
    g0 = torch.Generator().manual_seed(3)
    base = torch.randn(4, 6, dtype=torch.float64, generator=g0)
    pbase = torch.empty(6, 8, dtype=torch.float64).uniform_(-1.5, 1.5, generator=g0)
    for loc_view, p_view in ((base.t(), pbase[:, ::2]),     # (6, 4) each: both copied for the kernel
                             (base.t(), pbase[0, ::2]),     # (4,): a strided param broadcast over rows
                             (base[:, :1].t(), pbase[:, 1::2])):  # (1, 4) loc broadcast, strided param
        loc = loc_view.detach().requires_grad_()
        p = p_view.detach().requires_grad_()
        assert not loc.is_contiguous() and not p.is_contiguous()
        batch = torch.broadcast_shapes(loc.shape, p.shape)
        z = rt.rsample(loc, p, param_name="softplus", sample_shape=(5,), generator=2)
        q = reparam.Normal(loc.detach().numpy().copy(), softplus=p.detach().numpy().copy())
        expected, noise = q.rsample(5, rng=2, return_noise=True)
        assert np.array_equal(z.detach().numpy(), expected)
        eps = torch.from_numpy(np.asarray(noise, dtype=np.float64))
        w = torch.randn(batch[1], batch[0], 5, dtype=torch.float64, generator=g0).permute(2, 1, 0)
        assert not w.is_contiguous()
        for incoming in ("expanded", "permuted"):
            loc.grad = p.grad = None
            if incoming == "expanded":
                z.sum().backward(retain_graph=True)  # an expanded (stride-0) incoming gradient
                weight = torch.ones(5, *batch, dtype=torch.float64)
            else:
                z.backward(w, retain_graph=True)  # a permuted incoming gradient
                weight = w
            loc_r = loc.detach().clone().requires_grad_()
            p_r = p.detach().clone().requires_grad_()
            ((loc_r + SIGMA["softplus"](p_r) * eps) * weight).sum().backward()
            assert loc.grad is not None and p.grad is not None
            assert loc.grad.shape == loc.shape and p.grad.shape == p.shape
            torch.testing.assert_close(loc.grad, loc_r.grad, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(p.grad, p_r.grad, rtol=1e-12, atol=1e-12)


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


def test_argument_errors_name_the_argument() -> None:
    """A bad sample_shape is reported as sample_shape (it was "size"); NumPy's float32
    scalars are numbers like float64's, and a bool is no scale parameter (True was
    accepted, np.float32(1.0) refused)."""
    loc = torch.zeros(3)
    for bad in ((2, -1), "3", (2.5,)):
        with pytest.raises((TypeError, ValueError), match="sample_shape"):
            rt.rsample(loc, loc, sample_shape=bad, generator=0)  # type: ignore[arg-type]
    ref = rt.rsample(loc, 1.0, generator=0)
    for number in (np.float32(1.0), np.float64(1.0), np.int64(1), 1):
        assert torch.equal(rt.rsample(loc, number, generator=0), ref)
    for flag in (True, np.True_):
        with pytest.raises(TypeError, match=r"param must be a torch\.Tensor or a real number"):
            rt.rsample(loc, flag, generator=0)


def test_default_noise_follows_torch_manual_seed() -> None:
    """generator=None keys the stream by torch's default generator: torch.manual_seed
    reproduces a run, and the key is what the docstring says."""
    loc = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    lv = torch.full((4, 3), -1.0, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(123)
    a = rt.rsample(loc, lv, sample_shape=(2,))
    a2 = rt.rsample(loc, lv, sample_shape=(2,))
    torch.manual_seed(123)
    b = rt.rsample(loc, lv, sample_shape=(2,))
    assert torch.equal(a, b) and not torch.equal(a, a2)
    torch.manual_seed(123)
    key = int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64))
    want = reparam.Normal(loc.detach().numpy(), logvar=lv.detach().numpy()).rsample(
        (2,), rng=reparam.Philox(key=key))
    assert torch.equal(a, torch.from_numpy(want))

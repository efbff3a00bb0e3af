"""A PyTorch autograd bridge to the fused reparameterized Normal (optional extra ``torch``).

:func:`rsample` is a ``torch.autograd.Function`` on CPU tensors of float32 or float64:

- forward: ``z = loc + sigma(param) * eps`` by the fused kernel of
  :meth:`reparam.Normal.rsample`, written straight into the new tensor's memory (loc,
  param and z are shared with NumPy through ``Tensor.numpy()``, no copy);
- backward: :meth:`reparam.Normal.pathwise_grad` with ``reduce="sum"``, which
  regenerates eps from the stream inside the reduction. Only a :class:`reparam.Noise`
  handle (a few integers) is kept for backward, never a noise tensor.

The gradients are those of autograd on ``loc + sigma(param) * eps`` with the same eps
(summed in float64, then rounded to the tensor's dtype).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as _torch

from . import _core
from ._arrays import _c_aligned
from ._generator import Generator, default_rng
from ._gradients import _handle_source as _noise_source
from ._normal import Noise, Normal, _check_nonnegative
from ._params import PARAMS, param_kind
from ._philox import Philox, _normalize_size
from ._shapes import broadcast_shapes, empty_pair

__all__ = ["rsample"]

_DTYPES = (_torch.float32, _torch.float64)


def _check_tensor(t: _torch.Tensor, what: str) -> None:
    if t.device.type != "cpu":
        raise ValueError(
            f"reparam.torch.rsample runs on CPU tensors only; {what} is on device {t.device} "
            f"(move it with {what}.cpu(), and the result back with .to(device))"
        )
    if t.layout != _torch.strided:
        raise ValueError(f"reparam.torch.rsample needs dense (strided) tensors; {what} has layout {t.layout}")
    if t.dtype not in _DTYPES:
        hint = " (cast it with .float())" if t.is_floating_point() or t.is_complex() else ""
        raise TypeError(
            f"reparam.torch.rsample supports float32 and float64 tensors; {what} has dtype {t.dtype}{hint}"
        )
    if t.is_conj() or t.is_neg():
        raise ValueError(f"{what} is a lazily conjugated or negated view: call .resolve_conj().resolve_neg()")


def _as_numpy(t: _torch.Tensor) -> np.ndarray[Any, Any]:
    """A NumPy view of a CPU tensor's memory (strided views stay views)."""
    return t.detach().numpy()


def _generator(generator: Any) -> Any:
    """The stream state to draw from: a Generator's, or a new one."""
    if type(generator) is Generator:
        return generator._state
    if generator is None:
        # a new stream keyed by torch's default CPU generator, so torch.manual_seed governs it
        key = int(_torch.randint(0, _KEY_HIGH, (), dtype=_torch.int64))
        return Philox(key=key)._state
    if isinstance(generator, _torch.Generator):
        raise TypeError(
            "generator must be a reparam.Generator, a reparam.Philox, an int seed, a SeedSequence or None, "
            "not a torch.Generator: the noise comes from reparam's Philox stream"
        )
    if isinstance(generator, Generator):
        return generator._state
    if isinstance(generator, Philox) or isinstance(generator, int | np.random.SeedSequence):
        return default_rng(generator)._state
    raise TypeError(
        "generator must be a reparam.Generator, a reparam.Philox, an int seed, a SeedSequence or None, "
        f"got {type(generator).__name__}"
    )


# keys from torch's generator are drawn in [0, 2**63 - 1): torch.randint's bound is an int64
_KEY_HIGH = (1 << 63) - 1


def _batch_views(loc: np.ndarray[Any, Any], par: np.ndarray[Any, Any],
                 shape: tuple[int, ...]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """loc and param as C-contiguous arrays of the batch shape (views when they are so)."""
    def batch(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if a.shape == shape and a.flags.c_contiguous:
            return a
        c = np.empty(shape, a.dtype)
        c[...] = a
        return c

    return batch(loc), batch(par)


class _RSample(_torch.autograd.Function):
    """z = loc + sigma(param) * eps, backward by the fused pathwise reduction."""

    @staticmethod
    def forward(ctx: Any, loc: _torch.Tensor, param: _torch.Tensor, kind: int,
                sample_shape: tuple[int, ...], batch_shape: tuple[int, ...], state: Any) -> _torch.Tensor:
        loc_b, par_b = _batch_views(loc.detach().numpy(), param.detach().numpy(), batch_shape)
        # NumPy allocates the sample (large buffers get transparent huge pages where the
        # OS offers them, which makes first touch several times cheaper); torch shares it.
        out = np.empty(sample_shape + batch_shape, dtype=loc_b.dtype)
        pos = _core.affine_normal(state, loc_b, par_b, kind, False, out)
        ctx.noise = Noise._from_core(pos, out.shape, out.dtype, False)
        ctx.kind = kind
        ctx.rows = out.size // max(par_b.size, 1)
        ctx.ns = len(sample_shape)
        # param as the kernel read it, for backward when nothing was broadcast (the saved
        # tensors are still unpacked there: torch's check that they were not changed in place)
        ctx.par_b = par_b if loc.shape == param.shape else None
        ctx.save_for_backward(loc, param)
        return _torch.from_numpy(out)

    @staticmethod
    @_torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_z: _torch.Tensor) -> tuple[_torch.Tensor | None, ...]:
        loc, param = ctx.saved_tensors
        need_loc, need_param = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if not (need_loc or need_param):
            return None, None, None, None, None, None
        g = grad_z.detach().numpy()
        par_b = ctx.par_b
        if par_b is None:
            # a broadcast loc or param: the general path sums the gradient down to its shape
            name = PARAMS[ctx.kind]
            q = Normal(loc.detach().numpy(), **{name: param.detach().numpy()})
            grads = q.pathwise_grad(g if g.dtype == q.dtype else g.astype(q.dtype), ctx.noise, reduce="sum")
            d_loc_n, d_par_n = grads["loc"], grads[name]
        else:
            dtype = par_b.dtype
            rows, ns = ctx.rows, ctx.ns
            if rows > 1 and not any(g.strides[:ns]):
                g = g[(0,) * ns]  # broadcast over the samples (z.sum()): the kernel reads one row
            g = _c_aligned(g, dtype)
            d_loc_n, d_par_n = empty_pair(par_b.shape, dtype)
            if rows and par_b.size:
                _core.pathwise_grad(_noise_source(ctx.noise), g, rows, par_b.size, par_b, ctx.kind, 1.0,
                                    d_loc_n, d_par_n)
            else:
                d_loc_n[...] = 0
                d_par_n[...] = 0
        d_loc = _torch.from_numpy(d_loc_n) if need_loc else None
        d_param = _torch.from_numpy(d_par_n) if need_param else None
        return d_loc, d_param, None, None, None, None


def rsample(loc: _torch.Tensor, param: Any, *, param_name: str = "logvar",
            sample_shape: int | tuple[int, ...] | _torch.Size = (), generator: Any = None) -> _torch.Tensor:
    """rsample(loc, param, *, param_name="logvar", sample_shape=(), generator=None)

    Differentiable samples ``z = loc + sigma(param) * eps`` of shape ``sample_shape +
    broadcast(loc, param).shape``, bit for bit ``reparam.Normal(loc, **{param_name:
    param}).rsample(sample_shape, rng=generator)``.

    Parameters
    ----------
    loc : torch.Tensor
        Mean: a CPU tensor of float32 or float64 (it may require grad).
    param : torch.Tensor or float
        The scale parameter in the form named by `param_name` (sigma = exp(param / 2)
        for "logvar"), of loc's dtype, broadcasting with loc. A number is a constant.
    param_name : {"logvar", "scale", "var", "logstd", "softplus"}
    sample_shape : int or tuple of ints
        Sample dimensions in front of the batch shape.
    generator : reparam.Generator, reparam.Philox, int, SeedSequence or None
        Where eps comes from (a Generator advances; an int or SeedSequence seeds a
        new stream on every call, so it gives the same noise each time). None, the
        default, keys a new stream by a number drawn from torch's default CPU
        generator (one ``torch.randint`` call), so ``torch.manual_seed(s)`` makes a
        run reproducible as it does for ``torch.randn``: the noise is then that of
        ``generator=reparam.Philox(key=k)`` with ``k = torch.randint(0, 2**63 - 1,
        ())`` drawn at that point. A ``torch.Generator`` is refused.

    Returns
    -------
    torch.Tensor
        A new CPU tensor of loc's dtype. Its backward regenerates eps from a few
        integers saved with the graph; no noise tensor is stored. The backward is not
        itself differentiable (``create_graph=True`` then raises).

    Raises
    ------
    ValueError
        For tensors on another device than the CPU, sparse tensors, an unknown
        `param_name`, or shapes that do not broadcast.
    TypeError
        For other dtypes than float32 and float64 (or loc and param of different
        dtypes), and for a ``torch.Generator``.

    Notes
    -----
    What is copied (the sample itself never is, and no noise tensor is ever made):

    - loc and param are read in place when they are C-contiguous and have the full
      batch shape; one that is broadcast or non-contiguous is copied into a contiguous
      batch-sized array, in forward and again in backward.
    - The incoming gradient ``g`` (shaped like z): when it is broadcast over the sample
      axes (stride 0 along each, as the gradient of ``z.sum()`` is, or of ``z.sum(0)``
      followed by a loss on the batch), the reduction reads its one batch row for
      every sample, and only that row is copied (batch size) when it is not
      C-contiguous itself (for ``z.sum()``, whose gradient has stride 0 along every
      axis, it is). Any other ``g`` is read in place when it is C-contiguous and copied
      at sample size otherwise (a permuted or sliced gradient). ``z.mean()`` and
      ``(z * w).sum()`` hand a dense gradient, which torch allocates at sample size.

    Backward also allocates the two batch-sized gradients (in one block), or, when loc
    or param is broadcast, a few batch-sized float64 arrays of sums.
    """
    kind = param_kind(param_name, "param_name")
    if not isinstance(loc, _torch.Tensor):
        raise TypeError(f"loc must be a torch.Tensor, got {type(loc).__name__}")
    _check_tensor(loc, "loc")
    if not isinstance(param, _torch.Tensor):
        # a real number: Python's or NumPy's (not a bool, which is no scale parameter)
        if isinstance(param, bool | np.bool_) or not isinstance(param, int | float | np.integer | np.floating):
            raise TypeError(f"param must be a torch.Tensor or a real number, got {type(param).__name__}")
        param = _torch.tensor(float(param), dtype=loc.dtype)
    _check_tensor(param, "param")
    if param.dtype != loc.dtype:
        raise TypeError(
            f"loc and param must have the same dtype, got {loc.dtype} and {param.dtype} "
            "(cast one with .to(other.dtype))"
        )
    lshape, pshape = tuple(loc.shape), tuple(param.shape)
    if lshape == pshape:
        bshape = lshape
    else:
        try:
            bshape = broadcast_shapes(lshape, pshape)
        except ValueError:
            raise ValueError(
                f"loc and param must broadcast together, got shapes {lshape} and {pshape}"
            ) from None
    if kind < 2:  # scale and var must be non-negative
        _check_nonnegative(param_name, param.detach().numpy())
    if type(sample_shape) is tuple and all(type(d) is int and d >= 0 for d in sample_shape):
        shape = sample_shape
    else:
        try:
            shape = _normalize_size(tuple(sample_shape) if isinstance(sample_shape, _torch.Size) else sample_shape)
        except (TypeError, ValueError) as exc:  # name this function's argument, not NumPy's
            raise type(exc)(str(exc).replace("size", "sample_shape", 1)) from None
    state = _generator(generator)
    z: _torch.Tensor = _RSample.apply(loc, param, kind, shape, bshape, state)  # type: ignore[no-untyped-call]
    return z

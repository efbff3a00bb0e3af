"""estimate_grad: draw, evaluate and estimate in one call (above Normal and the estimators)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ._gradients import pathwise_grad, score_grad
from ._normal import Normal

__all__ = ["estimate_grad"]

Array = npt.NDArray[Any]


def estimate_grad(fn: Callable[[Array], Any], q: Normal, n: int, *, method: str = "pathwise",
                  baseline: Any = None, antithetic: bool = False, rng: Any = None,
                  return_stats: bool = False) -> Any:
    """estimate_grad(fn, q, n, *, method="pathwise", baseline=None, antithetic=False, rng=None, return_stats=False)

    Monte Carlo gradient of ``E_q[f(z)]`` with respect to q's loc and raw parameter.

    Parameters
    ----------
    fn : callable
        ``fn(z)`` with z of shape ``(n,) + q.batch_shape``. For ``method="score"``
        it returns the values f(z) (shape ``(n,)`` plus a prefix of batch_shape); for
        ``method="pathwise"`` the pair ``(values, df/dz)``, df/dz shaped like z.
    q : Normal
    n : int
        Number of samples (even when `antithetic`).
    method : {"pathwise", "score"}
    baseline : None, number, array, "mean" or "loo"
        Score function only (see `Normal.score_grad`).
    antithetic : bool
        Use eps and -eps pairs.
    rng : Generator, seed or None
    return_stats : bool
        Also return, per element of loc and of the parameter, the sample variance
        (ddof=1) of the per-sample estimates, each summed down to that argument's shape
        (see `Normal.pathwise_grad`); it is the variance of one sample's estimate: the
        returned gradient (a mean over n samples) has about a 1/n of it.

    Returns
    -------
    dict
        ``{"loc": ..., <param_name>: ...}``, shaped like loc and the parameter (and the
        stats dict, shaped the same, with `return_stats`).
    """
    # every argument is checked before a sample is drawn (the stream does not move)
    if not isinstance(q, Normal):
        raise TypeError(f"q must be a reparam.Normal, got {type(q).__name__}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if method not in ("pathwise", "score"):
        raise ValueError(f"method must be 'pathwise' or 'score', got {method!r}")
    if method == "pathwise" and baseline is not None:
        raise ValueError("baseline applies to method='score' only")
    if isinstance(baseline, str) and baseline not in ("mean", "loo"):
        raise ValueError(f"baseline must be None, a number, an array, 'mean' or 'loo', got {baseline!r}")
    if isinstance(baseline, str) and baseline == "loo" and n < 2:
        raise ValueError("baseline='loo' needs n >= 2 samples")
    z, noise = q.rsample(n, rng=rng, antithetic=antithetic, return_noise=True)
    if method == "pathwise":
        if baseline is not None:
            raise ValueError("baseline applies to method='score' only")
        out = fn(z)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("for method='pathwise', fn(z) must return (values, df/dz)")
        return pathwise_grad(q, out[1], noise, return_stats=return_stats)
    if method == "score":
        values = fn(z)
        if isinstance(values, tuple):
            values = values[0]
        return score_grad(q, values, noise, baseline=baseline, return_stats=return_stats)
    raise ValueError(f"method must be 'pathwise' or 'score', got {method!r}")

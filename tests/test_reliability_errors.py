"""Issue 15, items 7, 8, 9 and 11: failed calls leave the stream where it was, 33 to 64
dimensions work, allocation failures say what could not be allocated, and the numerical
and pickling edges of `Normal` and `Philox` (warning-free `var`/`logvar`, a KL to N(0, 1)
that is never negative and accurate near sigma = 1, the canonical NaN from the closed
forms, clear errors for tampered Philox pickles)."""

from __future__ import annotations

import copy
import math
import pickle
import warnings
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pytest

import reparam
from reparam import Normal, reparameterize

SEED = 20261203
PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
HUGE = 2**59  # 4 EiB of float64: a valid size that no machine can allocate


def _state(g: reparam.Generator) -> dict[str, Any]:
    return copy.deepcopy(g.bit_generator.state)


def _assert_stream_unmoved(g: reparam.Generator, before: dict[str, Any]) -> None:
    assert g.bit_generator.state == before
    fresh = reparam.Generator(reparam.Philox(SEED))
    np.testing.assert_array_equal(g.standard_normal(5), fresh.standard_normal(5))


# -- item 7: every allocation before the stream reservation ------------------------------


class _CastFails(np.ndarray):
    """An array whose cast to float32 fails as an out-of-memory cast would."""

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        if np.dtype(dtype) == np.float32:
            raise MemoryError("simulated: no memory for the cast")
        return super().astype(dtype, *args, **kwargs)


@pytest.mark.parametrize("which", ["loc", "scale"])
@pytest.mark.parametrize("with_out", [False, True])
def test_failed_cast_in_normal_leaves_the_stream(which: str, with_out: bool) -> None:
    g = reparam.default_rng(SEED)
    before = _state(g)
    bad = np.ones(4).view(_CastFails)
    args = {"loc": np.zeros(4), "scale": np.ones(4)}
    args[which] = bad
    kwargs: dict[str, Any] = {"dtype": np.float32}
    if with_out:
        kwargs["out"] = np.empty(4, np.float32)
    with pytest.raises(MemoryError):
        g.normal(args["loc"], args["scale"], **kwargs)
    _assert_stream_unmoved(g, before)


@pytest.mark.parametrize("call", [
    lambda g: g.standard_normal(HUGE),
    lambda g: g.standard_normal((2**29, 2**30), dtype=np.float32),
    lambda g: g.random(HUGE),
    lambda g: g.normal(0.0, 1.0, HUGE),
    lambda g: g.normal(np.zeros(2), 1.0, (HUGE // 2, 2), dtype=np.float32),
    lambda g: g.normal(np.zeros(2), np.ones(2), (HUGE // 2, 2)),
    lambda g: Normal(np.zeros(2), logvar=np.zeros(2)).rsample(HUGE // 2, rng=g),
    lambda g: Normal(np.zeros(2), logvar=np.zeros(1)).rsample((HUGE // 4, 2), rng=g, return_noise=True),
    lambda g: reparameterize(np.zeros(2), np.zeros(2), size=HUGE // 2, rng=g),
    lambda g: reparam.estimate_grad(lambda z: (z, z), Normal(np.zeros(2), scale=1.0), HUGE // 2, rng=g),
    lambda g: g.bit_generator.random_raw(HUGE),
], ids=["standard_normal", "standard_normal-f4-2d", "random", "normal-scalar", "normal-f4", "normal-arrays",
        "rsample", "rsample-noise", "reparameterize", "estimate_grad", "random_raw"])
def test_unallocatable_output_names_the_call_and_leaves_the_stream(call: Any) -> None:
    """Item 9 with item 7: reparam's MemoryError (the call, the shape, the bytes), not
    NumPy's "Unable to allocate", and the stream has not moved."""
    g = reparam.default_rng(SEED)
    before = _state(g)
    with pytest.raises(MemoryError) as info:
        call(g)
    msg = str(info.value)
    assert "Unable to allocate" not in msg
    assert "cannot allocate an output of shape" in msg and "EiB" in msg, msg
    _assert_stream_unmoved(g, before)


def test_memory_error_message_names_method_shape_and_bytes() -> None:
    g = reparam.default_rng(SEED)
    with pytest.raises(MemoryError, match=r"^standard_normal: cannot allocate an output of shape "
                                          r"\(576460752303423488,\): 576460752303423488 float64 values "
                                          r"\(4\.00 EiB\)$"):
        g.standard_normal(HUGE)
    with pytest.raises(MemoryError, match=r"^normal: .* float32 values \(2\.00 EiB\)$"):
        g.normal(0.0, 1.0, HUGE, dtype=np.float32)
    with pytest.raises(MemoryError, match=r"^rsample: .*shape \(288230376151711744, 2\)"):
        Normal(np.zeros(2), scale=1.0).rsample(HUGE // 2, rng=g)


def test_impossible_output_is_a_value_error_naming_the_size() -> None:
    """More bytes than any array can have: ValueError, as NumPy (parity), but reparam's text."""
    g = reparam.default_rng(SEED)
    before = _state(g)
    for call in (lambda: g.standard_normal(2**62), lambda: g.random(2**62),
                 lambda: g.normal(0.0, 1.0, 2**62)):
        with pytest.raises(ValueError, match="size 4611686018427387904 is too big") as info:
            call()
        assert "arr.size" not in str(info.value)
    with pytest.raises(ValueError, match=r"^rsample: an output of shape \(288230376151711744, 64\) is too big"):
        Normal(np.zeros(64), scale=1.0).rsample(2**58, rng=g)
    _assert_stream_unmoved(g, before)


# -- item 8: 33 to 64 dimensions ----------------------------------------------------------


def _shapes(nd: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A batch shape of `nd` dimensions (size 1, then three of size 2) and a parameter
    shape broadcast onto it."""
    full = (1,) * (nd - 3) + (2, 2, 2)
    return full, (2, 1)


@pytest.mark.parametrize("nd", [33, 64])
def test_high_dimensional_generator(nd: int) -> None:
    full, small = _shapes(nd)
    g = reparam.default_rng(SEED)
    eps = reparam.default_rng(SEED).standard_normal(full)
    z = g.normal(0.0, 2.0, size=full)
    np.testing.assert_array_equal(z, 2.0 * eps)
    g = reparam.default_rng(SEED)
    loc, scale = np.arange(8.0).reshape(full), np.full(small, 3.0)
    z = g.normal(loc, scale)
    assert z.shape == full
    np.testing.assert_array_equal(z, loc + 3.0 * eps)
    g = reparam.default_rng(SEED)
    np.testing.assert_array_equal(g.normal(np.zeros(2), 1.0, size=full), eps)
    with pytest.raises(ValueError, match="shape mismatch"):
        g.normal(np.zeros(3), 1.0, size=full)


@pytest.mark.parametrize("nd", [33, 64])
def test_high_dimensional_normal(nd: int) -> None:
    full, small = _shapes(nd)
    r = np.random.default_rng(SEED)
    loc = r.normal(size=full)
    par = r.normal(size=small)
    q = Normal(loc, logvar=par)
    ref = Normal(loc.reshape(2, 2, 2), logvar=par)  # the same distribution in three dimensions
    assert q.batch_shape == full
    np.testing.assert_array_equal(q.rsample(rng=SEED), ref.rsample(rng=SEED).reshape(full))
    np.testing.assert_array_equal(reparameterize(loc, par, rng=SEED), ref.rsample(rng=SEED).reshape(full))
    z = r.normal(size=full)
    for name, a, b in (("log_prob", q.log_prob(z, grad=True), ref.log_prob(z.reshape(2, 2, 2), grad=True)),
                       ("entropy", q.entropy(grad=True), ref.entropy(grad=True)),
                       ("kl_standard_normal", q.kl_standard_normal(grad=True), ref.kl_standard_normal(grad=True)),
                       ("kl", q.kl(Normal(0.5, scale=2.0), grad=True), ref.kl(Normal(0.5, scale=2.0), grad=True))):
        np.testing.assert_array_equal(a[0], b[0].reshape(full), err_msg=name)
        np.testing.assert_array_equal(a[1]["loc"], b[1]["loc"].reshape(full), err_msg=name)
        np.testing.assert_array_equal(a[1]["logvar"], b[1]["logvar"], err_msg=name)
    np.testing.assert_array_equal(q.var, ref.var)
    with pytest.raises(ValueError, match="z of shape"):
        q.log_prob(np.zeros(3))
    with pytest.raises(ValueError, match="loc and scale must broadcast"):
        Normal(np.zeros(full), scale=np.ones(3))


@pytest.mark.parametrize("nd", [33, 64])
@pytest.mark.parametrize("par_full", [False, True])
def test_high_dimensional_gradients(nd: int, par_full: bool) -> None:
    full, small = _shapes(nd)
    r = np.random.default_rng(SEED)
    loc = r.normal(size=full)
    par = r.normal(size=full if par_full else small)
    q = Normal(loc, logvar=par)
    ref = Normal(loc.reshape(2, 2, 2), logvar=par.reshape(2, 2, 2) if par_full else par)
    # one sample (sample shape ()) keeps the samples at nd dimensions
    _, noise = q.rsample(rng=SEED, return_noise=True)
    _, noise_r = ref.rsample(rng=SEED, return_noise=True)
    gz = r.normal(size=full)
    fv = np.float64(r.normal())
    pairs = [
        (q.pathwise_grad(gz, noise), ref.pathwise_grad(gz.reshape(2, 2, 2), noise_r)),
        (q.pathwise_grad(gz, np.asarray(noise)), ref.pathwise_grad(gz.reshape(2, 2, 2), np.asarray(noise_r))),
        (q.pathwise_grad(gz, noise, return_stats=True)[0],
         ref.pathwise_grad(gz.reshape(2, 2, 2), noise_r, return_stats=True)[0]),
        (q.score_grad(fv, noise), ref.score_grad(fv, noise_r)),
        (q.score_grad(fv, noise, return_stats=True)[0], ref.score_grad(fv, noise_r, return_stats=True)[0]),
    ]
    for got, want in pairs:
        np.testing.assert_array_equal(got["loc"], want["loc"].reshape(full))
        np.testing.assert_array_equal(got["logvar"], want["logvar"].reshape(par.shape))
    if nd < 64:  # n samples add a dimension: 63 batch dimensions at most
        q2 = Normal(loc.reshape(full[1:]), logvar=par.reshape(par.shape[1:]) if par_full else par)
        got = reparam.estimate_grad(lambda z: (z, np.ones_like(z)), q2, 4, rng=SEED, return_stats=True)
        want = reparam.estimate_grad(lambda z: (z, np.ones_like(z)), ref, 4, rng=SEED, return_stats=True)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a["loc"], b["loc"].reshape(full[1:]))


def test_more_than_64_dimensions_are_refused_by_name() -> None:
    """Beyond NumPy's 64: a ValueError naming the argument and the limit, no stream moved."""
    g = reparam.default_rng(SEED)
    before = _state(g)
    for call in (lambda: g.standard_normal((1,) * 65), lambda: g.random((1,) * 65),
                 lambda: g.normal(0.0, 1.0, (1,) * 65), lambda: g.bit_generator.random_raw((1,) * 65)):
        with pytest.raises(ValueError, match=r"^size must have at most 64 dimensions, got 65"):
            call()
    with pytest.raises(ValueError, match=r"^rsample: an output of 66 dimensions: .*at most 64"):
        Normal(np.zeros((1,) * 64), scale=1.0).rsample((2, 2), rng=g)
    _assert_stream_unmoved(g, before)


@pytest.mark.parametrize("nd", [33, 64])
@pytest.mark.parametrize("par_full", [False, True])
def test_high_dimensional_torch_bridge(nd: int, par_full: bool) -> None:
    torch = pytest.importorskip("torch")
    import reparam.torch as rt

    full, small = _shapes(nd)
    grads = []
    for shape in (full, (2, 2, 2)):
        loc = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        par = torch.zeros(shape if par_full else small, dtype=torch.float64, requires_grad=True)
        z = rt.rsample(loc, par, generator=reparam.Philox(SEED))
        assert tuple(z.shape) == shape
        (z * z).sum().backward()
        assert loc.grad is not None and par.grad is not None
        grads.append((z.detach().numpy().reshape(-1), loc.grad.numpy().reshape(-1), par.grad.numpy().reshape(-1)))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


# -- item 11 (a): var and logvar overflow to inf without a warning --------------------------


@pytest.mark.parametrize("kind, p", [("logvar", 1000.0), ("logstd", 400.0), ("logstd", 1e308),
                                     ("scale", 1e200), ("softplus", 1e200), ("logvar", 1e308)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_var_and_logvar_overflow_without_warnings(kind: str, p: float, dtype: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        par = np.array([p, 0.5], dtype)  # float32 rounds p to inf: still a valid parameter
    q = Normal(np.zeros(2, dtype), **{kind: par})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        var, logvar = q.var, q.logvar
    assert var.dtype == logvar.dtype == np.dtype(dtype)
    assert var[0] == np.inf
    assert logvar[0] > 0 and not np.isnan(logvar[0])


# -- item 11 (c): KL(N(mu, sigma^2) || N(0, 1)) near sigma = 1 and everywhere ---------------


def _kl_reference(kind: str, p: float, mu: float) -> float:
    """0.5 (mu^2 + sigma^2 - 1 - log sigma^2) in 60-digit decimal arithmetic from the
    exact double parameter."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(p)
        if kind == "scale":
            s2 = d * d
        elif kind == "var":
            s2 = d
        elif kind == "logvar":
            s2 = d.exp()
        elif kind == "logstd":
            s2 = (2 * d).exp()
        else:
            s = (1 + d.exp()).ln()
            s2 = s * s
        return float((Decimal(mu) ** 2 + s2 - 1 - s2.ln()) / 2)


def _params_near_one(kind: str) -> np.ndarray:
    """Parameters whose sigma is within 1e-8 of 1 (and exactly 1), then a wide range."""
    t = np.concatenate([np.linspace(-1e-8, 1e-8, 41), [0.0, 2**-52, -(2**-53), 1e-12, -1e-15],
                        np.linspace(-0.5, 0.5, 37)])
    sigma = 1.0 + t
    wide = np.geomspace(1e-3, 1e3, 41)
    to_param = {"scale": lambda s: s, "var": lambda s: s * s, "logvar": lambda s: 2 * np.log(s),
                "logstd": np.log, "softplus": lambda s: s + np.log(-np.expm1(-s))}[kind]
    near = {"scale": 1.0 + t, "var": 1.0 + t, "logvar": t, "logstd": t,
            "softplus": np.log(np.e - 1) + t}[kind]
    return np.unique(np.concatenate([near, to_param(sigma), to_param(wide)]))


@pytest.mark.parametrize("kind", PARAMS)
@pytest.mark.parametrize("mu", [0.0, 1e-9, 0.75])
def test_kl_standard_normal_is_non_negative_and_accurate(kind: str, mu: float) -> None:
    p = _params_near_one(kind)
    v = Normal(np.full(p.shape, mu), **{kind: p}).kl_standard_normal()
    assert (v >= 0).all(), p[v < 0]
    ref = np.array([_kl_reference(kind, float(x), mu) for x in p])
    err = np.abs(v - ref) / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    ulps = err / np.finfo(np.float64).eps
    assert ulps.max() <= 6, (p[np.argmax(ulps)], v[np.argmax(ulps)], ref[np.argmax(ulps)], ulps.max())
    # the gradient stays the derivative of the value (sigma^2 - 1 per log sigma, near 1 too)
    value, g = Normal(np.full(p.shape, mu), **{kind: p}).kl_standard_normal(grad=True)
    np.testing.assert_array_equal(value, v)
    np.testing.assert_array_equal(g["loc"], np.full(p.shape, mu))


def test_kl_standard_normal_float32_is_non_negative() -> None:
    t = np.linspace(-1e-3, 1e-3, 201)
    for kind, p in (("logvar", t), ("scale", 1.0 + t), ("var", 1.0 + t), ("logstd", t)):
        v = Normal(np.zeros(p.shape, np.float32), **{kind: p.astype(np.float32)}).kl_standard_normal()
        assert v.dtype == np.float32 and (v >= 0).all()


# -- item 11 (d): the canonical quiet NaN -----------------------------------------------------

CANONICAL_NAN = 0x7FF8000000000000


def test_canonical_nan_bits() -> None:
    assert int(np.array(np.nan).view(np.uint64)) == CANONICAL_NAN


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_closed_forms_return_the_canonical_nan(dtype: Any) -> None:
    neg_nan = np.array(CANONICAL_NAN | (1 << 63), np.uint64).view(np.float64)
    cases = [
        Normal(np.array([0.0, 1.0]), scale=np.array([0.0, 0.0])).log_prob(np.array([0.0, 1.0]), grad=True),
        Normal(np.array([np.nan, 0.0]), scale=np.array([1.0, neg_nan])).log_prob(0.0, grad=True),
        Normal(np.array([np.inf, -np.inf]), logvar=np.array([np.inf, np.nan])).kl_standard_normal(grad=True),
        Normal(np.array([0.0, neg_nan]), var=np.array([np.nan, 1.0])).entropy(grad=True),
        Normal(np.array([np.inf, 0.0]), scale=np.array([1.0, np.inf])).kl(
            Normal(np.array([np.inf, 0.0]), scale=np.array([1.0, np.inf])), grad=True),
    ]
    if dtype == np.float32:
        canonical = 0x7FC00000
        q = Normal(np.array([0.0, neg_nan], np.float32), scale=np.array([0.0, 1.0], np.float32))
        cases.append(q.log_prob(np.float32(0.0), grad=True))
        cases = [c for c in cases if c[0].dtype == np.float32]
        view = np.uint32
    else:
        canonical = CANONICAL_NAN
        view = np.uint64
    seen = 0
    for value, grads in cases:
        for a in (value, grads["loc"], *[v for k, v in grads.items() if k != "loc"]):
            a = np.asarray(a)
            nan = np.isnan(a)
            seen += int(nan.sum())
            assert (a[nan].view(view) == canonical).all(), [hex(int(b)) for b in a[nan].view(view)]
    assert seen > 0


# -- item 11 (e): tampered Philox pickles -------------------------------------------------


class _Pickled:
    """Pickles as Philox does, with a state dict of the test's choosing."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.d = d

    def __reduce__(self) -> tuple[Any, ...]:
        reduced = reparam.Philox(SEED).__reduce__()
        return (reduced[0], (self.d,))


def _tampered(change: Any) -> bytes:
    d = copy.deepcopy(reparam.Philox(SEED).__reduce__()[1][0])
    change(d)
    return pickle.dumps(_Pickled(d))


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(d: dict[str, Any]) -> None:
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return change


def _drop(path: tuple[Any, ...]) -> Any:
    def change(d: dict[str, Any]) -> None:
        for k in path[:-1]:
            d = d[k]
        del d[path[-1]]
    return change


@pytest.mark.parametrize("change, exc, words", [
    (_drop(("state",)), ValueError, ("missing", "'state'")),
    (_drop(("seed_seq",)), ValueError, ("missing", "'seed_seq'")),
    (_drop(("state", "state")), ValueError, ("missing", "'state'")),
    (_drop(("state", "state", "key")), ValueError, ("missing", "'key'")),
    (_drop(("state", "state", "counter")), ValueError, ("missing", "'counter'")),
    (_drop(("state", "bit_generator")), ValueError, ("Philox",)),
    (_set(("state", "bit_generator"), "PCG64"), ValueError, ("Philox", "PCG64")),
    (_set(("state",), [1, 2]), TypeError, ("state", "dict", "list")),
    (_set(("state", "state"), None), TypeError, ("state", "dict", "NoneType")),
    (_set(("state", "state", "key"), "7"), TypeError, ("key", "integer", "str")),
    (_set(("state", "state", "key"), 2**64), ValueError, ("key", "2**64")),
    (_set(("state", "state", "key"), -1), ValueError, ("key",)),
    (_set(("state", "state", "counter"), 2**128), ValueError, ("counter", "2**128")),
    (_set(("state", "state", "counter"), 1.5), TypeError, ("counter", "integer", "float")),
    (_set(("state", "buffer_pos"), 4), ValueError, ("buffer_pos",)),
    (_set(("state", "buffer_pos"), None), TypeError, ("buffer_pos",)),
    (_set(("seed_seq",), 42), TypeError, ("seed_seq", "SeedSequence", "int")),
], ids=["no-state", "no-seed_seq", "no-inner-state", "no-key", "no-counter", "no-name", "wrong-name",
        "state-not-dict", "inner-not-dict", "key-str", "key-too-big", "key-negative", "counter-too-big",
        "counter-float", "buffer_pos-4", "buffer_pos-None", "seed_seq-int"])
def test_tampered_philox_pickle_raises_a_clear_error(change: Any, exc: type[Exception],
                                                     words: tuple[str, ...]) -> None:
    data = _tampered(change)
    with pytest.raises(exc) as info:
        pickle.loads(data)
    assert type(info.value) is exc
    msg = str(info.value)
    assert all(w in msg for w in words), msg


def test_philox_pickle_round_trip_still_works() -> None:
    p = reparam.Philox(SEED)
    p.random_raw(3)
    q = pickle.loads(pickle.dumps(p))
    assert q.state == p.state and q.seed_seq is not None
    np.testing.assert_array_equal(q.random_raw(9), p.random_raw(9))
    k = reparam.Philox(key=5, counter=7)
    assert pickle.loads(pickle.dumps(k)).seed_seq is None
    assert math.isfinite(float(reparam.Generator(q).standard_normal()))


# -- item 11b: one rule for -0.0 (NumPy's: refused) ------------------------------------
def test_negative_zero_scale_is_refused_everywhere_as_numpy_does() -> None:
    with pytest.raises(ValueError, match="scale < 0"):
        np.random.default_rng(0).normal(0.0, -0.0)
    with pytest.raises(ValueError, match="scale < 0"):
        reparam.default_rng(0).normal(0.0, -0.0)
    for kind in ("scale", "var"):
        with pytest.raises(ValueError, match=rf"{kind} must be non-negative, got -0\.0"):
            reparam.Normal(0.0, **{kind: -0.0})
        with pytest.raises(ValueError, match=rf"{kind} must be non-negative, got -0\.0"):
            reparam.reparameterize(0.0, np.array([1.0, -0.0]), kind, rng=0)
    reparam.Normal(0.0, scale=np.array([0.0, np.nan]))  # +0 and NaN are fine


def test_negative_zero_scale_torch() -> None:
    torch = pytest.importorskip("torch")
    import reparam.torch as rt

    with pytest.raises(ValueError, match=r"scale must be non-negative, got -0\.0"):
        rt.rsample(torch.zeros(2), torch.tensor([1.0, -0.0]), param_name="scale", generator=0)

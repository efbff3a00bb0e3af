"""The closed forms (log_prob, entropy, kl, kl_standard_normal and their gradients) on
every SIMD path: the same bits for all forms, all five parameterizations, float32 and
float64, over edge inputs (0, -0, tiny, subnormal, huge, inf, NaN, negative, sigma near 1).

They are SIMD kernels written once over the vector layer (csrc/closed_form_kernels.hpp)
with IEEE-exact steps only, so every target must agree with the portable one; float32
results are the float64 results rounded once, whatever the path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from stream_helpers import using_target

import reparam
from reparam import _core

TARGETS = tuple(_core.supported_targets())
SPECIAL = [0.0, 5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-200, 1e-20, 1e-12, 1e-8, 2**-52,
           2**-53, 0.25, 0.5, 0.5413248546129181, 1.0 - 2**-53, 1.0, 1.0 + 2**-52, 1.5, 2.0, 30.0, 36.0,
           349.9, 350.0, 354.0, 699.9, 700.0, 700.1, 709.0, 710.0, 745.0, 800.0, 1000.0, 1001.0, 1e4,
           1e20, 1e200, 1e300, 1.7976931348623157e308, np.inf, np.nan]
SPECIAL = SPECIAL + [-v for v in SPECIAL]
FORMS = {"log_prob": 0, "entropy": 1, "kl": 2, "kl_standard_normal": 3}


def edge_inputs(dtype: Any) -> tuple[np.ndarray, ...]:
    """loc, param, x, other_param: every special parameter with every special loc, sigma
    near 1 for each parameterization, and wide random values; a length that leaves a
    partial last vector on every target."""
    r = np.random.default_rng(14)
    s = np.array(SPECIAL)
    p1, l1 = (a.ravel() for a in np.meshgrid(s, s))
    t = np.concatenate([np.linspace(-1e-7, 1e-7, 41), np.linspace(-1.5, 1.5, 121)])
    near = np.concatenate([t, 1.0 + t, np.log(np.e - 1) + t])
    m = 600
    wide = np.concatenate([r.normal(0, 3, m), r.normal(0, 300, m),
                           10.0 ** r.uniform(-320, 308, m) * r.choice([-1.0, 1.0], m)])
    par = np.concatenate([p1, near, wide])
    k = len(par) - len(p1)
    loc = np.concatenate([l1, r.normal(0, 2, k) * 10.0 ** r.uniform(-10, 3, k)])
    x = np.concatenate([np.roll(l1, 7), loc[len(p1):] + r.normal(0, 3, k)])
    other = np.concatenate([np.roll(p1, 3), r.permutation(par[len(p1):])])
    with np.errstate(all="ignore"):
        out = tuple(np.ascontiguousarray(a[:-3].astype(dtype)) for a in (loc, par, x, other))
    assert len(out[0]) % 16 != 0
    return out


def run_all(dtype: Any) -> dict[tuple[int, int, int, str], bytes]:
    loc, par, x, other = edge_inputs(dtype)
    out = {}
    for form in FORMS.values():
        for kind in range(5):
            for other_kind in range(5) if form == 2 else (0,):
                res = _core.closed_form(form, kind, loc, par, x, other, other_kind, True)
                for name, a in zip(("value", "d_loc", "d_param"), res, strict=True):
                    assert a.dtype == np.dtype(dtype)
                    out[(form, kind, other_kind, name)] = a.tobytes()
                value = _core.closed_form(form, kind, loc, par, x, other, other_kind, False)[0]
                assert value.tobytes() == res[0].tobytes()  # the same value without gradients
                if dtype == np.float32:  # float64 results (wide) rounded once are the float32 ones
                    wide = _core.closed_form(form, kind, loc, par, x, other, other_kind, True, True)
                    for a, w in zip(res, wide, strict=True):
                        assert w.dtype == np.float64
                        with np.errstate(all="ignore"):
                            assert a.tobytes() == w.astype(np.float32).tobytes()
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_target_gives_the_same_bits(dtype: Any) -> None:
    with using_target("scalar"):
        ref = run_all(dtype)
    for target in TARGETS:
        with using_target(target):
            got = run_all(dtype)
        bad = [k for k in ref if got[k] != ref[k]]
        assert not bad, (target, bad[:5])


def test_nan_results_are_canonical_on_every_target() -> None:
    loc, par, x, other = edge_inputs(np.float64)
    for target in TARGETS:
        with using_target(target):
            for kind in range(5):
                for a in _core.closed_form(0, kind, loc, par, x, other, 0, True):
                    bits = a[np.isnan(a)].view(np.uint64)
                    assert (bits == 0x7FF8000000000000).all(), (target, kind)


@pytest.mark.parametrize("target", TARGETS)
def test_edge_values(target: str) -> None:
    """Where sigma or sigma^2 overflows (exp's low part overflowing too once gave NaN)."""
    with using_target(target):
        q = reparam.Normal(np.zeros(3), logvar=np.array([1e20, np.inf, 1500.0]))
        v, g = q.log_prob(np.zeros(3), grad=True)
        np.testing.assert_array_equal(v, [-5e19, -np.inf, -750.0 - 0.9189385332046727])
        np.testing.assert_array_equal(g["logvar"], [-0.5, -0.5, -0.5])
        v, g = q.kl_standard_normal(grad=True)
        np.testing.assert_array_equal(v, [np.inf, np.inf, np.inf])
        np.testing.assert_array_equal(g["logvar"], [np.inf, np.inf, np.inf])
        p = reparam.Normal(np.zeros(2), logstd=np.array([800.0, -800.0]))
        v, g = p.kl(reparam.Normal(np.zeros(2), logstd=np.array([0.0, 0.0])), grad=True)
        np.testing.assert_array_equal(g["logstd"], [np.inf, -1.0])
        assert v[0] == np.inf and v[1] == 799.5


def test_float32_inputs_give_float32_without_casts() -> None:
    """float32 Normals compute from their float32 inputs: the results are the float64
    Normal's of the same values, rounded once."""
    r = np.random.default_rng(3)
    loc = r.normal(size=(50, 7)).astype(np.float32)
    lv = r.normal(size=(50, 7)).astype(np.float32)
    z = r.normal(size=(50, 7)).astype(np.float32)
    q32 = reparam.Normal(loc, logvar=lv)
    q64 = reparam.Normal(loc.astype(np.float64), logvar=lv.astype(np.float64))
    for a, b in ((q32.kl_standard_normal(grad=True), q64.kl_standard_normal(grad=True)),
                 (q32.log_prob(z, grad=True), q64.log_prob(z.astype(np.float64), grad=True))):
        assert a[0].dtype == np.float32
        np.testing.assert_array_equal(a[0], b[0].astype(np.float32))
        for name in ("loc", "logvar"):
            np.testing.assert_array_equal(a[1][name], b[1][name].astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["scale", "var", "logvar", "logstd", "softplus"])
def test_one_call_path_equals_the_broadcasting_path(name: str, dtype: Any) -> None:
    """Inputs of one shape and dtype, C-contiguous, go to the core in one call
    (``_core.closed_form_same``); the same values given in another layout (Fortran
    order, a broadcast loc) go through the Python layer's broadcasting and flattening
    first. Both must give the same bits, values and gradients, for every form."""
    r = np.random.default_rng(1414)
    loc = r.normal(0.0, 2.0, (6, 20)).astype(dtype)
    par = r.uniform(0.1, 3.0, (6, 20)).astype(dtype)
    z = r.normal(0.0, 2.0, (6, 20)).astype(dtype)
    q = reparam.Normal(loc, **{name: par})
    q_f = reparam.Normal(np.asfortranarray(loc), **{name: np.asfortranarray(par)})
    other = reparam.Normal(z, logvar=par)
    assert _core.closed_form_same(0, q._kind, q._loc_src, q._par_src, z, None, 0, False) is not None
    assert _core.closed_form_same(0, q_f._kind, q_f._loc_src, q_f._par_src, z, None, 0, False) is None
    calls = [lambda d, g: d.log_prob(z, grad=g), lambda d, g: d.entropy(grad=g),
             lambda d, g: d.kl(other, grad=g), lambda d, g: d.kl_standard_normal(grad=g)]
    for call in calls:
        for grad in (False, True):
            a, b = call(q, grad), call(q_f, grad)
            if grad:
                np.testing.assert_array_equal(a[0], b[0])
                for key in a[1]:
                    assert a[1][key].dtype == b[1][key].dtype == dtype
                    np.testing.assert_array_equal(a[1][key], b[1][key])
            else:
                assert a.dtype == b.dtype == dtype and a.shape == b.shape == (6, 20)
                np.testing.assert_array_equal(a, b)
    # a broadcast row of loc: the general path; its rows equal the one-call path's
    q_b = reparam.Normal(loc[:1], **{name: par})
    q_1 = reparam.Normal(np.repeat(loc[:1], 6, axis=0), **{name: par})
    np.testing.assert_array_equal(q_b.log_prob(z), q_1.log_prob(z))

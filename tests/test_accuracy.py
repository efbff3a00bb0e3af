"""Accuracy of the normal transform against a higher-precision evaluation of its definition.

Each normal is recomputed from its raw Philox words:

- float32 at word position p: w_u = word 2 (p // 2), w_t = word 2 (p // 2) + 1,
  u1 = (w_u | 1) / 2**32, u2 = ((w_t >> 6) + 1/2) / 2**26;
- float64 at slot s: w0..w3 = words 4 (s // 2) .. 4 (s // 2) + 3,
  u1 = ((w1 << 32 | w0) | 1) / 2**64, u2 = (((w3 << 32 | w2) >> 9) + 1/2) / 2**55;

z = sqrt(-2 ln u1) * (cos(2 pi u2) for even p or s, sin(2 pi u2) for odd). The requirement is
|z - z_exact| <= 4 ulp of max(|z_exact|, 1) in the output dtype; in addition the error must
be at most 8 ulp of |z_exact| (see MAX_REL_ULP).

References: float32 in float64 and float64 in extended precision (x87 long double, 64-bit
significand), both with u1 and u2 exact and the angle reduced exactly to within pi/4 of a
multiple of pi/2 (integer arithmetic) before sin/cos, so that the reference itself is
accurate relative to |z| even next to the zeros of cos and sin. The long double reference is
checked against mpmath (40 digits) on 20000 values, and mpmath is the reference for the
extreme cases. Since every SIMD path must give the bits of the scalar path, the reference is
computed once and each target is checked for bit identity plus the error bound.

Extreme inputs: (1) a vectorized search over 1.6e7 raw words for tiny u1, u1 near 1, u1 near
the branch points of the log reduction and angles near octant boundaries; (2) blocks with
chosen words (including 0 and 2**32 - 1, i.e. the largest |z|), placed in a stream by inverting
Philox: for a fixed key each round is a bijection of the counter, so the counter that yields a
given block is computed exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest
from stream_helpers import fill, using_target

MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1
M32 = 0xFFFFFFFF
PHILOX_M0, PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
PHILOX_W0, PHILOX_W1 = 0x9E3779B9, 0xBB67AE85

MAX_ULP = 4.0
# The required bound is absolute near 0 (ulp of max(|z|, 1)), which cannot see a wrong radius
# when |z| is tiny (u1 near 1, or the angle next to a zero of cos or sin). The transform has
# no cancellation (exact angle reduction, log1p of the exact 1 - u1), so its error is also
# small relative to |z|; this looser relative bound guards those values.
MAX_REL_ULP = 8.0
KEY = 0xB5026F5AA96619E9
CTR = 2**127 + 12345

EXTENDED_LD = np.finfo(np.longdouble).nmant >= 63
U64 = np.uint64






# ------------------------------------------------------------------------ Philox inverse
_M0_INV = pow(PHILOX_M0, -1, 2**32)
_M1_INV = pow(PHILOX_M1, -1, 2**32)


def philox_inverse(block: tuple[int, int, int, int], key: int, rounds: int = 10) -> int:
    """The counter whose Philox4x32-R block under `key` is `block`.

    A round maps (x0, x1, x2, x3) to (hi(M1 x2) ^ x1 ^ k0, lo(M1 x2), hi(M0 x0) ^ x3 ^ k1,
    lo(M0 x0)); M0 and M1 are odd, so lo(M x) determines x, and then the xors undo."""
    y0, y1, y2, y3 = block
    k0, k1 = key & M32, key >> 32
    round_keys = [((k0 + r * PHILOX_W0) & M32, (k1 + r * PHILOX_W1) & M32) for r in range(rounds)]
    for rk0, rk1 in reversed(round_keys):
        x2 = (y1 * _M1_INV) & M32
        x1 = y0 ^ ((PHILOX_M1 * x2) >> 32) ^ rk0
        x0 = (y3 * _M0_INV) & M32
        x3 = y2 ^ ((PHILOX_M0 * x0) >> 32) ^ rk1
        y0, y1, y2, y3 = x0, x1, x2, x3
    return y0 | y1 << 32 | y2 << 64 | y3 << 96


def test_philox_inverse_places_chosen_blocks() -> None:
    rng = np.random.default_rng(11)
    blocks = [(0, 0, 0, 0), (M32, M32, M32, M32), (1, 2, 3, 4)] + [
        tuple(int(w) for w in rng.integers(0, 2**32, 4)) for _ in range(20)
    ]
    for key in (0, KEY, 2**64 - 1):
        for block in blocks:
            ctr = philox_inverse(block, key)
            assert tuple(int(w) for w in fill("raw", np.uint32, key, ctr, 0, 4)) == block


# ------------------------------------------------------------------------ the transform
@dataclass
class Inputs:
    """Exact transform inputs: u1 = t1 / 2**bits1, u2 = t2 / 2**bits2 (odd numerators)."""

    t1: np.ndarray  # uint64
    t2: np.ndarray  # uint64
    use_sin: np.ndarray  # bool
    bits1: int
    bits2: int

    def take(self, idx: np.ndarray) -> Inputs:
        return Inputs(self.t1[idx], self.t2[idx], self.use_sin[idx], self.bits1, self.bits2)


def inputs_f32(words: np.ndarray, positions: np.ndarray) -> Inputs:
    """float32 inputs at word positions `positions` of a stream whose words are `words`."""
    base = 2 * (positions // 2)
    w_u = words[base].astype(U64)
    w_t = words[base + 1].astype(U64)
    return Inputs(w_u | U64(1), ((w_t >> U64(6)) << U64(1)) | U64(1), positions % 2 == 1, 32, 27)


def inputs_f64(words: np.ndarray, slots: np.ndarray) -> Inputs:
    """float64 inputs at 64-bit slots `slots` of a stream whose words are `words`."""
    base = 4 * (slots // 2)
    w = [words[base + j].astype(U64) for j in range(4)]
    lo, hi = w[0] | (w[1] << U64(32)), w[2] | (w[3] << U64(32))
    return Inputs(lo | U64(1), ((hi >> U64(9)) << U64(1)) | U64(1), slots % 2 == 1, 64, 56)


def reference(inp: Inputs, ft: type) -> np.ndarray:
    """z in the float type ft (float64 or longdouble)."""
    t1, t2 = inp.t1, inp.t2
    n = t1.size
    # radius: ln u1, with u1 near 1 through log1p of the exact complement
    lower = t1 < (U64(1) << U64(inp.bits1 - 1))
    comp = (~t1 + U64(1)) if inp.bits1 == 64 else (U64(2**32) - t1)  # 2**bits1 - t1, exact
    scale1 = ft(2.0) ** -inp.bits1
    log_u1 = np.empty(n, ft)
    log_u1[lower] = np.log(t1[lower].astype(ft) * scale1)
    log_u1[~lower] = np.log1p(-(comp[~lower].astype(ft) * scale1))
    r = np.sqrt(ft(-2.0) * log_u1)
    # angle 2 pi u2 = q pi/2 + phi, q = round(4 u2), |phi| <= pi/4; 4 t2 - q 2**bits2 is exact
    nb = inp.bits2
    q = (U64(4) * t2 + (U64(1) << U64(nb - 1))) >> U64(nb)
    d = (U64(4) * t2).astype(np.int64) - (q << U64(nb)).astype(np.int64)
    phi = (2 * np.arctan(ft(1.0))) * (d.astype(ft) * ft(2.0) ** -nb)
    s, c = np.sin(phi), np.cos(phi)
    qm = (q % U64(4)).astype(np.int64)
    cos_t = np.choose(qm, [c, -s, -c, s])
    sin_t = np.choose(qm, [s, c, -s, -c])
    return r * np.where(inp.use_sin, sin_t, cos_t)


def mp_reference(inp: Inputs) -> list[mpmath.mpf]:
    out = []
    with mpmath.workdps(40):
        columns = (inp.t1.tolist(), inp.t2.tolist(), inp.use_sin.tolist())
        for t1, t2, use_sin in zip(*columns, strict=True):
            u1 = mpmath.ldexp(mpmath.mpf(t1), -inp.bits1)
            theta = 2 * mpmath.pi * mpmath.ldexp(mpmath.mpf(t2), -inp.bits2)
            r = mpmath.sqrt(-2 * mpmath.log(u1))
            out.append(r * (mpmath.sin(theta) if use_sin else mpmath.cos(theta)))
    return out


def ulp_errors(z: np.ndarray, zref: np.ndarray, relative: bool = False) -> np.ndarray:
    """|z - zref| in ulps (of z's dtype) of max(|zref|, 1), or of |zref| when `relative`;
    zref in a wider float type."""
    mag = np.abs(zref) if relative else np.maximum(np.abs(zref), 1)
    ulp = np.spacing(mag.astype(z.dtype)).astype(zref.dtype)
    return np.abs(z.astype(zref.dtype) - zref) / ulp


def mp_ulp_errors(z: np.ndarray, zref: list[mpmath.mpf], relative: bool = False) -> np.ndarray:
    errs = np.empty(len(zref))
    with mpmath.workdps(40):
        for i, (zi, ri) in enumerate(zip(z.tolist(), zref, strict=True)):
            mag = abs(float(ri)) if relative else max(abs(float(ri)), 1.0)
            errs[i] = float(abs(mpmath.mpf(zi) - ri)) / float(np.spacing(z.dtype.type(mag)))
    return errs


def check(errs: np.ndarray, what: str, bound: float = MAX_ULP, unit: str = "max(|z|, 1)") -> float:
    worst = float(errs.max()) if errs.size else 0.0
    assert worst <= bound, (
        f"{what}: max error {worst:.3f} ulp of {unit} > {bound} "
        f"(at {int(np.argmax(errs))} of {errs.size})"
    )
    return worst


def check_both(z: np.ndarray, zref: np.ndarray | list[mpmath.mpf], what: str) -> None:
    """The required bound, and the looser relative bound (see MAX_REL_ULP)."""
    errs = ulp_errors if isinstance(zref, np.ndarray) else mp_ulp_errors
    check(errs(z, zref), what)
    check(errs(z, zref, relative=True), what, MAX_REL_ULP, "|z|")


# ------------------------------------------------------------------------ bulk samples
N_SAMPLE = 200_000
N_MP = 20_000


@dataclass
class Sample:
    z: np.ndarray  # the scalar path's output
    inputs: Inputs
    zref: np.ndarray


@pytest.fixture(scope="module")
def sample_f32() -> Sample:
    with using_target("scalar"):
        z = fill("normal", np.float32, KEY, CTR, 0, N_SAMPLE)
        words = fill("raw", np.uint32, KEY, CTR, 0, N_SAMPLE)
    inp = inputs_f32(words, np.arange(N_SAMPLE))
    return Sample(z, inp, reference(inp, np.float64))


@pytest.fixture(scope="module")
def sample_f64() -> Sample:
    with using_target("scalar"):
        z = fill("normal", np.float64, KEY, CTR, 0, N_SAMPLE)
        words = fill("raw", np.uint32, KEY, CTR, 0, 2 * N_SAMPLE)
    inp = inputs_f64(words, np.arange(N_SAMPLE))
    zref = reference(inp, np.longdouble) if EXTENDED_LD else np.full(N_SAMPLE, np.nan)
    return Sample(z, inp, zref)


def test_float32_accuracy(simd_target: str, sample_f32: Sample) -> None:
    z = fill("normal", np.float32, KEY, CTR, 0, N_SAMPLE)
    np.testing.assert_array_equal(z, sample_f32.z, err_msg=f"{simd_target} differs from scalar")
    check_both(z, sample_f32.zref, f"float32 on {simd_target}")


@pytest.mark.skipif(
    not EXTENDED_LD,
    reason="long double is not extended precision here; the mpmath test covers float64",
)
def test_float64_accuracy(simd_target: str, sample_f64: Sample) -> None:
    z = fill("normal", np.float64, KEY, CTR, 0, N_SAMPLE)
    np.testing.assert_array_equal(z, sample_f64.z, err_msg=f"{simd_target} differs from scalar")
    check_both(z, sample_f64.zref, f"float64 on {simd_target}")


def test_float64_accuracy_mpmath(sample_f64: Sample, sample_f32: Sample) -> None:
    """The first 20000 float64 values against mpmath; the long double and float64 references
    agree with mpmath to 1/100 ulp (of the float64 resp. float32 output)."""
    idx = np.arange(N_MP)
    inp = sample_f64.inputs.take(idx)
    zmp = mp_reference(inp)
    check_both(sample_f64.z[idx], zmp, "float64 vs mpmath")
    if EXTENDED_LD:
        with mpmath.workdps(40):
            ref_err = [
                float(abs(_ld_to_mpf(a) - b))
                for a, b in zip(sample_f64.zref[idx], zmp, strict=True)
            ]
        ulp = np.spacing(np.maximum(np.abs(sample_f64.z[idx]), 1.0))
        assert np.max(np.array(ref_err) / ulp) < 1e-2
    idx32 = np.arange(2000)
    zmp32 = mp_reference(sample_f32.inputs.take(idx32))
    with mpmath.workdps(40):
        ref_err32 = [
            float(abs(mpmath.mpf(float(a)) - b))
            for a, b in zip(sample_f32.zref[idx32], zmp32, strict=True)
        ]
    ulp32 = np.spacing(np.maximum(np.abs(sample_f32.z[idx32]), 1).astype(np.float32))
    assert np.max(np.array(ref_err32) / ulp32) < 1e-2


def _ld_to_mpf(x: np.longdouble) -> mpmath.mpf:
    """Exact conversion of a long double: high double plus the (exact) remainder."""
    hi = float(x)
    lo = float(x - np.longdouble(hi))
    return mpmath.mpf(hi) + mpmath.mpf(lo)


# ------------------------------------------------------------------------ searched extremes
N_SEARCH_WORDS = 16 * 2**20
SEARCH_KEY, SEARCH_CTR = 0x6A09E667F3BCC908, 2**64 - 2**20


def _near_branch_points(w: np.ndarray) -> np.ndarray:
    """Words w (the top 32 bits of the u1 numerator) within a relative 2**-18 of a branch
    point of the log reduction: a power of two (u1 = 1/2 switches between log and log1p;
    the exponent of u1 changes) or sqrt(2) times one (the mantissa is halved or not, and
    u1 = sqrt(1/2) decides whether 1 - u1 is scaled by 2)."""
    m, _ = np.frexp(w.astype(np.float64))  # w = m 2**e, m in [1/2, 1)
    tol = 2.0**-18
    return (m < 0.5 + tol) | (m > 1 - tol) | (np.abs(m - math.sqrt(0.5)) < tol)


@pytest.fixture(scope="module")
def searched() -> dict[str, np.ndarray]:
    """Positions (float32 words, float64 slots) of extreme transform inputs in one stream."""
    words = fill("raw", np.uint32, SEARCH_KEY, SEARCH_CTR, 0, N_SEARCH_WORDS)
    low, high = np.uint32(2**12), np.uint32(2**32 - 2**12)
    edge, mid = np.uint32(2**11), np.uint32(2**29 - 2**11)

    def extreme(w_u: np.ndarray, w_t: np.ndarray) -> np.ndarray:
        frac = w_t & np.uint32(2**29 - 1)  # position of the angle inside its octant
        return (
            (w_u < low) | (w_u >= high) | _near_branch_points(w_u) | (frac < edge) | (frac >= mid)
        )

    # float32: pair j = words (2j, 2j + 1) makes the values at positions 2j and 2j + 1
    pairs = np.flatnonzero(extreme(words[0::2], words[1::2]))
    # float64: block b = words 4b..4b+3 makes the values at slots 2b and 2b + 1; the top
    # bits of u1 are word 1, those of u2 word 3
    blocks = np.flatnonzero(extreme(words[1::4], words[3::4]))
    return {
        "words": words,
        "f32": np.sort(np.concatenate([2 * pairs, 2 * pairs + 1])),
        "f64": np.sort(np.concatenate([2 * blocks, 2 * blocks + 1])),
    }


@pytest.fixture(scope="module")
def searched_references(searched: dict[str, np.ndarray]) -> dict[str, object]:
    inp32 = inputs_f32(searched["words"], searched["f32"])
    inp64 = inputs_f64(searched["words"], searched["f64"])
    return {"f32": reference(inp32, np.float64), "f64": mp_reference(inp64)}


def test_search_found_extremes(searched: dict[str, np.ndarray]) -> None:
    words = searched["words"]
    w_u = words[2 * (searched["f32"] // 2)]
    assert searched["f32"].size > 100
    assert searched["f64"].size > 100
    assert (w_u < 2**12).any()
    assert (w_u >= 2**32 - 2**12).any()
    w1 = words[4 * (searched["f64"] // 2) + 1]
    assert (w1 < 2**12).any()
    assert (w1 >= 2**32 - 2**12).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_searched_extremes_accuracy(
    dtype: type,
    simd_target: str,
    searched: dict[str, np.ndarray],
    searched_references: dict[str, object],
) -> None:
    """Each extreme value is computed alone (stream_fill at its position, n = 1, so through
    the partial-group path) and compared with the reference."""
    name = "f32" if dtype == np.float32 else "f64"
    positions = searched[name]
    z = np.array(
        [fill("normal", dtype, SEARCH_KEY, SEARCH_CTR, int(p), 1)[0] for p in positions],
        dtype=dtype,
    )
    assert np.all(np.isfinite(z))
    ref = searched_references[name]
    check_both(z, ref, f"searched extremes {name} on {simd_target}")


# ------------------------------------------------------------------------ constructed blocks
def _words_u32() -> list[int]:
    near = []
    for t in [math.isqrt(1 << 63)] + [math.isqrt(1 << (2 * (32 - k) + 1)) for k in (1, 2, 10, 31)]:
        near += [t - 1, t, t + 1]
    return [
        0,
        1,
        2,
        3,
        0xFFF,
        2**31 - 2,
        2**31 - 1,
        2**31,
        2**31 + 1,
        2**32 - 2**12,
        2**32 - 2,
        2**32 - 1,
        *near,
    ]


def _angle_words_u32() -> list[int]:
    return [(k * 2**29 + off) & M32 for k in range(8) for off in (0, 63, 64, 127, -1, -64, -65)]


def _u1_pairs_u64() -> list[tuple[int, int]]:
    """(w0, w1) pairs, u1 numerator w1 << 32 | w0."""
    vals = [
        0,
        1,
        2**32,
        2**32 - 1,
        2**40,
        2**63 - 2,
        2**63 - 1,
        2**63,
        2**63 + 1,
        2**64 - 2**12,
        2**64 - 2,
        2**64 - 1,
    ]
    for t in [math.isqrt(1 << 127)] + [math.isqrt(1 << (2 * (64 - k) + 1)) for k in (1, 2, 20, 63)]:
        vals += [t - 1, t, t + 1]
    return [(v & M32, v >> 32) for v in vals]


def _angle_pairs_u64() -> list[tuple[int, int]]:
    ws = [
        (k * 2**61 + off) & MASK64
        for k in range(8)
        for off in (0, 2**9 - 1, 2**9, 2**10 - 1, -1, -(2**9), -(2**9) - 1, 2**30)
    ]
    return [(w & M32, w >> 32) for w in ws]


@pytest.fixture(scope="module")
def constructed() -> dict[str, object]:
    """Blocks of chosen words and the counters that produce them under KEY."""
    wu, wt = _words_u32(), _angle_words_u32()
    pairs32 = [(a, b) for a in wu for b in wt]
    if len(pairs32) % 2:
        pairs32.append(pairs32[0])
    blocks32 = [
        (pairs32[i][0], pairs32[i][1], pairs32[i + 1][0], pairs32[i + 1][1])
        for i in range(0, len(pairs32), 2)
    ]
    blocks64 = [(a[0], a[1], b[0], b[1]) for a in _u1_pairs_u64() for b in _angle_pairs_u64()]
    out: dict[str, object] = {}
    for name, blocks, per_block in (("f32", blocks32, 4), ("f64", blocks64, 2)):
        words = np.array(blocks, dtype=np.uint32).ravel()
        # values j of block i are the values at position per_block * i + j of the
        # concatenation of the blocks (each block starts a stream of its own)
        positions = np.arange(per_block * len(blocks))
        inp = inputs_f32(words, positions) if name == "f32" else inputs_f64(words, positions)
        out[name] = {
            "ctrs": [philox_inverse(b, KEY) for b in blocks],
            "ref": reference(inp, np.float64) if name == "f32" else mp_reference(inp),
            "per_block": per_block,
        }
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_constructed_extremes_accuracy(
    dtype: type, simd_target: str, constructed: dict[str, dict[str, object]]
) -> None:
    """u1 in {2**-32, ..., 1 - 2**-32} (float32) / {2**-64, ..., 1 - 2**-64} (float64) and
    around every branch point, combined with angles at and next to every octant boundary."""
    name = "f32" if dtype == np.float32 else "f64"
    case = constructed[name]
    z = np.concatenate([fill("normal", dtype, KEY, c, 0, case["per_block"]) for c in case["ctrs"]])
    assert np.all(np.isfinite(z))
    check_both(z, case["ref"], f"constructed extremes {name} on {simd_target}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_largest_value_is_the_radius_bound(dtype: type, simd_target: str) -> None:
    """All-zero words give u1 = 2**-bits and an angle next to 0 (cos ~ 1): z is the largest
    value the transform can produce, sqrt(2 bits ln 2) (6.66 for float32, 9.42 for float64),
    and with the angle next to pi (w_t = 2**31) its negative."""
    bits = 32 if dtype == np.float32 else 64
    bound = math.sqrt(2 * bits * math.log(2))
    ulp = float(np.spacing(dtype(bound)))
    for top, sign in ((0, 1.0), (2**31, -1.0)):
        block = (0, 0, 0, top) if bits == 64 else (0, top, 0, top)
        z = fill("normal", dtype, KEY, philox_inverse(block, KEY), 0, 1)[0]
        assert abs(float(z) - sign * bound) <= MAX_ULP * ulp, (z, sign * bound)
        assert abs(float(z)) <= float(np.nextafter(dtype(bound), dtype(np.inf)))

// Box-Muller over the vector layer, written once for every target. The exact
// definition (which bits make which uniform) is documented in README.md, "The stream
// contract"; every operation here is an IEEE-exact or correctly rounded step, so all
// targets produce the same bits.
//
// radius: u1 = t / 2**W with t the odd integer (bits | 1), W = 32 (float32) or 64;
//         L = log(u1) is computed as log(x) for u1 < 1/2 (x = u1) and as log1p(-x)
//         for u1 >= 1/2 (x = 1 - u1, formed exactly in integers), so that u1 close
//         to 1 loses no accuracy; r = sqrt(-2 L).
// angle:  theta = 2 pi u2; the top 3 bits pick the octant, the rest an odd-centred
//         fraction y of it (exact in the float type); sin and cos of pi/4 * y by
//         fitted polynomials (tools/gen_transform_constants.py), then rotated into
//         the octant with sign flips and swaps.
#pragma once

#include "transform_constants.hpp"

// Included inside the target namespace, after the vector layer.

namespace c = ::reparam::constants;

// p[0] + x (p[1] + x (p[2] + ...)), evaluated as written (Horner, no FMA).
template <class V, class T, std::size_t K>
inline V horner(V x, const T (&p)[K], V (*splat)(T)) {
  V acc = splat(p[K - 1]);
  for (std::size_t k = K - 1; k-- > 0;) acc = add(splat(p[k]), mul(x, acc));
  return acc;
}

// ---------------------------------------------------------------- float32

// log(2**e * (1 + f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1], e integral.
inline F32 log_reduced(F32 e, F32 f) {
  const F32 s = div(f, add(set1_f32(2.0f), f));
  const F32 z = mul(s, s);
  const F32 R = mul(z, horner(z, c::kLogRF32, set1_f32));
  const F32 hfsq = mul(set1_f32(0.5f), mul(f, f));
  const F32 tail = add(mul(s, add(hfsq, R)), mul(e, set1_f32(c::kLn2LoF32)));
  return sub(mul(e, set1_f32(c::kLn2HiF32)), sub(sub(hfsq, tail), f));
}

// r = sqrt(-2 log(u1)), u1 = (w | 1) / 2**32.
inline F32 radius_f32(U32 w) {
  const U32 t = bor(w, set1_u32(1));
  const M32 upper = top_bit(t);                                       // u1 >= 1/2
  const U32 v = select(upper, sub(set1_u32(0), t), t);                // odd, < 2**31
  const F32 x = mul(to_f32(v), set1_f32(0x1p-32f));                   // (0, 1/2]
  // u1 < 1/2: x = 2**e * m, m in [sqrt(1/2), sqrt(2))
  const U32 bits = as_u32(x);
  F32 e_lo = sub(to_f32(srl<23>(bits)), set1_f32(127.0f));
  F32 m = as_f32(bor(band(bits, set1_u32(0x007FFFFFu)), set1_u32(0x3F800000u)));
  const M32 halve = gt(m, set1_f32(c::kSqrt2F32));
  m = select(halve, mul(m, set1_f32(0.5f)), m);
  e_lo = select(halve, add(e_lo, set1_f32(1.0f)), e_lo);
  const F32 f_lo = sub(m, set1_f32(1.0f));
  // u1 >= 1/2: 1 - x = 1 + (-x), or 2**-1 * (1 + (1 - 2x)) when 1 - x < sqrt(1/2); both exact
  const M32 far = gt(x, set1_f32(c::kOneMinusSqrtHalfF32));
  const F32 f_hi = select(far, sub(set1_f32(1.0f), add(x, x)), sub(set1_f32(0.0f), x));
  const F32 e_hi = select(far, set1_f32(-1.0f), set1_f32(0.0f));
  const F32 L = log_reduced(select(upper, e_hi, e_lo), select(upper, f_hi, f_lo));
  return sqrt(mul(L, set1_f32(-2.0f)));
}

// cos and sin of 2 pi u2, u2 = ((w >> 6) + 1/2) / 2**26.
inline void cos_sin_f32(U32 w, F32& cos_out, F32& sin_out) {
  const M32 odd = top_bit(sll<2>(w));                                 // octant is odd
  const U32 a0 = bor(sll<1>(band(srl<6>(w), set1_u32(0x7FFFFFu))), set1_u32(1));
  const U32 a = select(odd, sub(set1_u32(1u << 24), a0), a0);          // odd, < 2**24
  const F32 y = mul(to_f32(a), set1_f32(0x1p-24f));                    // exact, (0, 1)
  const F32 y2 = mul(y, y);
  const F32 S = mul(y, horner(y2, c::kSinF32, set1_f32));
  const F32 C = add(set1_f32(1.0f), mul(y2, horner(y2, c::kCosF32, set1_f32)));
  // theta = q pi/2 + d, d = +x (even octant) or -x (odd), q = (octant + 1) / 2
  const F32 sd = negate_if(odd, S);
  const U32 q = srl<1>(add(srl<29>(w), set1_u32(1)));
  const M32 swap = top_bit(sll<31>(q));
  const M32 flip = top_bit(sll<30>(q));
  cos_out = negate_if(flip, select(swap, sub(set1_f32(0.0f), sd), C));
  sin_out = negate_if(flip, select(swap, C, sd));
}

// ---------------------------------------------------------------- float64

inline F64 log_reduced(F64 e, F64 f) {
  const F64 s = div(f, add(set1_f64(2.0), f));
  const F64 z = mul(s, s);
  const F64 R = mul(z, horner(z, c::kLogRF64, set1_f64));
  const F64 hfsq = mul(set1_f64(0.5), mul(f, f));
  const F64 tail = add(mul(s, add(hfsq, R)), mul(e, set1_f64(c::kLn2LoF64)));
  return sub(mul(e, set1_f64(c::kLn2HiF64)), sub(sub(hfsq, tail), f));
}

// r = sqrt(-2 log(u1)), u1 = ((hi:lo) | 1) / 2**64, for the lower or upper half of lanes.
template <bool Upper>
inline F64 radius_f64(U32 vlo, U32 vhi, M32 upper32) {
  const F64 dlo = Upper ? to_f64_hi(vlo) : to_f64_lo(vlo);
  const F64 dhi = Upper ? to_f64_hi(vhi) : to_f64_lo(vhi);
  const F64 x = add(mul(dhi, set1_f64(0x1p-32)), mul(dlo, set1_f64(0x1p-64)));  // (0, 1/2]
  const M64 upper = Upper ? mask_hi(upper32) : mask_lo(upper32);
  const U64 bits = as_u64(x);
  F64 e_lo = sub(as_f64(bor(srl64<52>(bits), set1_u64(0x4330000000000000ull))),
                 set1_f64(4503599627370496.0 + 1023.0));
  F64 m = as_f64(bor(band(bits, set1_u64(0x000FFFFFFFFFFFFFull)), set1_u64(0x3FF0000000000000ull)));
  const M64 halve = gt(m, set1_f64(c::kSqrt2F64));
  m = select(halve, mul(m, set1_f64(0.5)), m);
  e_lo = select(halve, add(e_lo, set1_f64(1.0)), e_lo);
  const F64 f_lo = sub(m, set1_f64(1.0));
  const M64 far = gt(x, set1_f64(c::kOneMinusSqrtHalfF64));
  const F64 f_hi = select(far, sub(set1_f64(1.0), add(x, x)), sub(set1_f64(0.0), x));
  const F64 e_hi = select(far, set1_f64(-1.0), set1_f64(0.0));
  const F64 L = log_reduced(select(upper, e_hi, e_lo), select(upper, f_hi, f_lo));
  return sqrt(mul(L, set1_f64(-2.0)));
}

// cos and sin of 2 pi u2, u2 = (((hi:lo) >> 9) + 1/2) / 2**55.
template <bool Upper>
inline void cos_sin_f64(U32 whi, U32 wlo, F64& cos_out, F64& sin_out) {
  const M32 odd32 = top_bit(sll<2>(whi));
  const U32 top = band(whi, set1_u32(0x1FFFFFFFu));                   // 29 bits
  const U32 bottom = bor(sll<1>(srl<9>(wlo)), set1_u32(1));           // 24 bits, odd
  const U32 q32 = srl<1>(add(srl<29>(whi), set1_u32(1)));
  const M32 swap32 = top_bit(sll<31>(q32));
  const M32 flip32 = top_bit(sll<30>(q32));
  const M64 odd = Upper ? mask_hi(odd32) : mask_lo(odd32);
  const M64 swap = Upper ? mask_hi(swap32) : mask_lo(swap32);
  const M64 flip = Upper ? mask_hi(flip32) : mask_lo(flip32);
  const F64 dtop = Upper ? to_f64_hi(top) : to_f64_lo(top);
  const F64 dbottom = Upper ? to_f64_hi(bottom) : to_f64_lo(bottom);
  const F64 a0 = add(mul(dtop, set1_f64(0x1p24)), dbottom);           // odd, < 2**53, exact
  const F64 a = select(odd, sub(set1_f64(0x1p53), a0), a0);
  const F64 y = mul(a, set1_f64(0x1p-53));
  const F64 y2 = mul(y, y);
  const F64 S = mul(y, horner(y2, c::kSinF64, set1_f64));
  const F64 C = add(set1_f64(1.0), mul(y2, horner(y2, c::kCosF64, set1_f64)));
  const F64 sd = negate_if(odd, S);
  cos_out = negate_if(flip, select(swap, sub(set1_f64(0.0), sd), C));
  sin_out = negate_if(flip, select(swap, C, sd));
}

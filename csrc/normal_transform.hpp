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

// Functions below take a vector or a Pack of vectors (vec_pack.hpp) and return the same
// kind; the operations on each vector are the same either way.
template <class T>
struct BaseOf {
  using type = T;
};
template <class V, int N>
struct BaseOf<Pack<V, N>> {
  using type = V;
};
template <class V>
inline constexpr bool kIsF32 = std::is_same_v<typename BaseOf<V>::type, F32>;

// p[0] + x (p[1] + x (p[2] + ...)), evaluated as written (Horner, no FMA); unrolled at
// compile time (a loop kept by the compiler reloads each coefficient every step).
template <std::size_t J, class V, class T, std::size_t K, class S>
REPARAM_INLINE V horner_step(V x, const T (&p)[K], S splat, V acc) {
  if constexpr (J == 0) {
    return acc;
  } else {
    return horner_step<J - 1>(x, p, splat, V(add(splat(p[J - 1]), mul(x, acc))));
  }
}
template <class V, class T, std::size_t K, class S>
REPARAM_INLINE V horner(V x, const T (&p)[K], S splat) {
  return horner_step<K - 1>(x, p, splat, lift<V>(splat(p[K - 1])));
}

// The same as a loop the compiler keeps: each coefficient is loaded at its step instead
// of being held in a register, which suits long polynomials over wide packs (exp_f64 in
// the sigma kernels), where held coefficients would be spilled.
template <class V, class T, std::size_t K, class S>
REPARAM_INLINE V horner_rolled(V x, const T (&p)[K], S splat) {
  V acc = lift<V>(splat(p[K - 1]));
  for (std::size_t k = K - 1; k-- > 0;) acc = add(splat(p[k]), mul(x, acc));
  return acc;
}

// The constants of log_reduced for float32 or float64 vectors.
template <bool IsF32>
struct LogConstants {
  static constexpr const float (&kR)[3] = c::kLogRF32;
  static constexpr float kLn2Hi = c::kLn2HiF32, kLn2Lo = c::kLn2LoF32;
  static F32 splat(float x) { return set1_f32(x); }
};
template <>
struct LogConstants<false> {
  static constexpr const double (&kR)[7] = c::kLogRF64;
  static constexpr double kLn2Hi = c::kLn2HiF64, kLn2Lo = c::kLn2LoF64;
  static F64 splat(double x) { return set1_f64(x); }
};

// log(2**e * (1 + f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1], e integral; float32 or float64.
template <class E, class V>
REPARAM_INLINE V log_reduced(E e, V f) {
  using K = LogConstants<kIsF32<V>>;
  const V s = div(f, add(K::splat(2), f));
  const V z = mul(s, s);
  const V R = mul(z, horner(z, K::kR, K::splat));
  const V hfsq = mul(K::splat(0.5f), mul(f, f));
  const V tail = add(mul(s, add(hfsq, R)), mul(e, K::splat(K::kLn2Lo)));
  return sub(mul(e, K::splat(K::kLn2Hi)), sub(sub(hfsq, tail), f));
}

// ---------------------------------------------------------------- float32

// log(u1), u1 = (w | 1) / 2**32: the radius's logarithm, also the exponential
// sampler's (-log(u1) is an Exp(1) variate).
template <class U>
REPARAM_INLINE auto log_u1_f32(U w) {
  const U t = bor(w, set1_u32(1));
  const auto upper = top_bit(t);                                      // u1 >= 1/2
  const U v = select(upper, sub(set1_u32(0), t), t);                  // odd, < 2**31
  const auto x = mul(to_f32(v), set1_f32(0x1p-32f));                  // (0, 1/2]
  using V = std::remove_const_t<decltype(x)>;
  // u1 < 1/2: x = 2**e * m, m in [sqrt(1/2), sqrt(2))
  const U bits = as_u32(x);
  V e_lo = sub(to_f32(srl<23>(bits)), set1_f32(127.0f));
  V m = as_f32(bor(band(bits, set1_u32(0x007FFFFFu)), set1_u32(0x3F800000u)));
  const auto halve = gt(m, set1_f32(c::kSqrt2F32));
  m = select(halve, mul(m, set1_f32(0.5f)), m);
  e_lo = select(halve, add(e_lo, set1_f32(1.0f)), e_lo);
  const V f_lo = sub(m, set1_f32(1.0f));
  // u1 >= 1/2: 1 - x = 1 + (-x), or 2**-1 * (1 + (1 - 2x)) when 1 - x < sqrt(1/2); both exact
  const auto far = gt(x, set1_f32(c::kOneMinusSqrtHalfF32));
  const V f_hi = select(far, sub(set1_f32(1.0f), add(x, x)), sub(set1_f32(0.0f), x));
  const V e_hi = select(far, set1_f32(-1.0f), set1_f32(0.0f));
  return log_reduced(select(upper, e_hi, e_lo), select(upper, f_hi, f_lo));
}

// r = sqrt(-2 log(u1)), u1 = (w | 1) / 2**32.
template <class U>
REPARAM_INLINE auto radius_f32(U w) {
  return sqrt(mul(log_u1_f32(w), set1_f32(-2.0f)));
}

// cos and sin of 2 pi u2, u2 = ((w >> 6) + 1/2) / 2**26.
template <class U, class V>
REPARAM_INLINE void cos_sin_f32(U w, V& cos_out, V& sin_out) {
  const auto odd = top_bit(sll<2>(w));                                // octant is odd
  const U a0 = bor(sll<1>(band(srl<6>(w), set1_u32(0x7FFFFFu))), set1_u32(1));
  const U a = select(odd, sub(set1_u32(1u << 24), a0), a0);           // odd, < 2**24
  const V y = mul(to_f32(a), set1_f32(0x1p-24f));                     // exact, (0, 1)
  const V y2 = mul(y, y);
  const V S = mul(y, horner(y2, c::kSinF32, set1_f32));
  const V C = add(set1_f32(1.0f), mul(y2, horner(y2, c::kCosF32, set1_f32)));
  // theta = q pi/2 + d, d = +x (even octant) or -x (odd), q = (octant + 1) / 2
  const V sd = negate_if(odd, S);
  const U q = srl<1>(add(srl<29>(w), set1_u32(1)));
  const auto swap = top_bit(sll<31>(q));
  const auto flip = top_bit(sll<30>(q));
  cos_out = negate_if(flip, select(swap, sub(set1_f32(0.0f), sd), C));
  sin_out = negate_if(flip, select(swap, C, sd));
}

// ---------------------------------------------------------------- float64

// log(u1), u1 = ((hi:lo) | 1) / 2**64; dlo, dhi: the words vlo, vhi of u1_words as
// doubles, upper: u1 >= 1/2 (for the lower or upper half of the 32-bit lanes).
template <class V, class M>
REPARAM_INLINE V log_u1_f64(V dlo, V dhi, M upper) {
  const V x = add(mul(dhi, set1_f64(0x1p-32)), mul(dlo, set1_f64(0x1p-64)));  // (0, 1/2]
  const auto bits = as_u64(x);
  V e_lo = sub(as_f64(bor(srl64<52>(bits), set1_u64(0x4330000000000000ull))),
               set1_f64(4503599627370496.0 + 1023.0));
  V m = as_f64(bor(band(bits, set1_u64(0x000FFFFFFFFFFFFFull)), set1_u64(0x3FF0000000000000ull)));
  const auto halve = gt(m, set1_f64(c::kSqrt2F64));
  m = select(halve, mul(m, set1_f64(0.5)), m);
  e_lo = select(halve, add(e_lo, set1_f64(1.0)), e_lo);
  const V f_lo = sub(m, set1_f64(1.0));
  const auto far = gt(x, set1_f64(c::kOneMinusSqrtHalfF64));
  const V f_hi = select(far, sub(set1_f64(1.0), add(x, x)), sub(set1_f64(0.0), x));
  const V e_hi = select(far, set1_f64(-1.0), set1_f64(0.0));
  return log_reduced(select(upper, e_hi, e_lo), select(upper, f_hi, f_lo));
}

// r = sqrt(-2 log(u1)), arguments as log_u1_f64's.
template <class V, class M>
REPARAM_INLINE V radius_f64(V dlo, V dhi, M upper) {
  return sqrt(mul(log_u1_f64(dlo, dhi, upper), set1_f64(-2.0)));
}

// u1 = ((hi:lo) | 1) / 2**64 as the 32-bit words of min(u1, 1 - u1) * 2**64 (formed
// exactly: 2**64 - t for u1 >= 1/2) and the mask u1 >= 1/2.
template <class U>
struct U1Words {
  U vlo, vhi;
  decltype(top_bit(std::declval<U>())) upper;
};
template <class U>
REPARAM_INLINE U1Words<U> u1_words(U lo, U hi) {
  const U t = bor(lo, set1_u32(1));
  const auto upper = top_bit(hi);
  return {select(upper, sub(set1_u32(0), t), t), select(upper, bxor(hi, set1_u32(0xFFFFFFFFu)), hi), upper};
}

// The 32-bit-lane part of cos_sin_f64, shared by the lower and upper halves.
template <class U>
struct AngleWords {
  decltype(top_bit(U{})) odd, swap, flip;
  U top, bottom;
};
template <class U>
REPARAM_INLINE AngleWords<U> angle_words(U whi, U wlo) {
  AngleWords<U> a;
  a.odd = top_bit(sll<2>(whi));
  a.top = band(whi, set1_u32(0x1FFFFFFFu));                           // 29 bits
  a.bottom = bor(sll<1>(srl<9>(wlo)), set1_u32(1));                   // 24 bits, odd
  const U q = srl<1>(add(srl<29>(whi), set1_u32(1)));
  a.swap = top_bit(sll<31>(q));
  a.flip = top_bit(sll<30>(q));
  return a;
}

// cos and sin of 2 pi u2, u2 = (((hi:lo) >> 9) + 1/2) / 2**55, from angle_words as
// doubles and 64-bit lane masks (the lower or upper half of the 32-bit lanes).
template <class V, class M>
REPARAM_INLINE void cos_sin_f64(V dtop, V dbottom, M odd, M swap, M flip, V& cos_out, V& sin_out) {
  const V a0 = add(mul(dtop, set1_f64(0x1p24)), dbottom);             // odd, < 2**53, exact
  const V a = select(odd, sub(set1_f64(0x1p53), a0), a0);
  const V y = mul(a, set1_f64(0x1p-53));
  const V y2 = mul(y, y);
  const V S = mul(y, horner(y2, c::kSinF64, set1_f64));
  const V C = add(set1_f64(1.0), mul(y2, horner(y2, c::kCosF64, set1_f64)));
  const V sd = negate_if(odd, S);
  cos_out = negate_if(flip, select(swap, sub(set1_f64(0.0), sd), C));
  sin_out = negate_if(flip, select(swap, C, sd));
}

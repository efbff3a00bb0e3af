// exp and log1p in float64 over the vector layer, for turning a parameter into sigma.
// Written with IEEE-exact or correctly rounded steps only, so every target gives the
// same bits. NaN propagates through every function.
#pragma once

#include "transform_constants.hpp"

// Included inside the target namespace, after the vector layer and normal_transform.hpp
// (which provides `horner` and `log_reduced`).

// exp(x): x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, k ln2_hi exact), exp(r) by a
// fitted polynomial, then 2**k applied in two halves so that neither half leaves the
// normal exponent range. Inputs beyond +-1000 are clamped (exp is inf or 0 there
// already, and |k| <= 1443 keeps each half within +-722).
template <class V>
REPARAM_INLINE V exp_f64(V x) {
  const F64 lim = set1_f64(1000.0);
  x = min_lt(lim, x);                         // x > lim ? lim : x (NaN stays)
  x = max_gt(sub(set1_f64(0.0), lim), x);     // -lim > x ? -lim : x
  const F64 magic = set1_f64(0x1.8p52);  // adding it rounds to an integer, kept in the low bits
  const V kd = add(mul(x, set1_f64(c::kInvLn2F64)), magic);
  const V k = sub(kd, magic);
  const V r = sub(sub(x, mul(k, set1_f64(c::kLn2HiF64))), mul(k, set1_f64(c::kLn2LoF64)));
  const V p = add(set1_f64(1.0), add(r, mul(mul(r, r), horner_rolled(r, c::kExpF64, set1_f64))));
  // k as a signed integer: the low bits of kd minus those of magic
  const auto ki = sub64(as_u64(kd), as_u64(magic));
  if (all_lanes(gt(set1_f64(700.0), abs(x)))) {
    // |k| <= 1010 everywhere: p * 2**floor(k/2) * 2**(k - floor(k/2)) below is exact
    // and normal, so it equals p * 2**k, one exact product (the same bits, cheaper).
    return mul(p, as_f64(sll64<52>(add64(ki, set1_u64(1023)))));
  }
  const auto half = srl64<1>(add64(ki, set1_u64(0x8000000000000000ull)));  // (k + 2**63) / 2
  const auto k1 = sub64(half, set1_u64(0x4000000000000000ull));            // floor(k / 2)
  const auto k2 = sub64(ki, k1);
  const V s1 = as_f64(sll64<52>(add64(k1, set1_u64(1023))));
  const V s2 = as_f64(sll64<52>(add64(k2, set1_u64(1023))));
  return mul(mul(p, s1), s2);
}

// The reduction and polynomial of exp_f64_parts: x clamped in place, p + plo = exp(r)
// (Fast2Sum), ki = k as a signed integer (exp(x) = (p + plo) * 2**k).
template <class V, class K>
REPARAM_INLINE void exp_f64_core(V& x, V& p, V& plo, K& ki) {
  const F64 lim = set1_f64(1000.0);
  x = min_lt(lim, x);                         // x > lim ? lim : x (NaN stays)
  x = max_gt(sub(set1_f64(0.0), lim), x);     // -lim > x ? -lim : x
  const F64 magic = set1_f64(0x1.8p52);
  const V kd = add(mul(x, set1_f64(c::kInvLn2F64)), magic);
  const V k = sub(kd, magic);
  const V r = sub(sub(x, mul(k, set1_f64(c::kLn2HiF64))), mul(k, set1_f64(c::kLn2LoF64)));
  const F64 one = set1_f64(1.0);
  const V q = add(r, mul(mul(r, r), horner_rolled(r, c::kExpF64, set1_f64)));
  p = add(one, q);
  plo = sub(q, sub(p, one));  // Fast2Sum (|q| < 1): p + plo = 1 + q exactly
  ki = sub64(as_u64(kd), as_u64(magic));
}

// exp(x) = (hi + lo) * s for the fused sampler: hi + lo is exp of the reduced argument
// times 2**floor(k/2) as an unevaluated sum (|lo| <= ulp(hi); relative error ~2**-55 instead
// of exp_f64's ~1 ulp), and s = 2**(k - floor(k/2)) is kept apart, so that hi * eps can be
// formed exactly and scaled last (no intermediate overflow where exp(x) * eps is finite).
// hi * s is exactly exp_f64(x).
template <class V>
REPARAM_INLINE void exp_f64_parts(V x, V& hi, V& lo, V& s) {
  V p, plo;
  decltype(as_u64(x)) ki;
  exp_f64_core(x, p, plo, ki);
  const auto half = srl64<1>(add64(ki, set1_u64(0x8000000000000000ull)));
  const auto k1 = sub64(half, set1_u64(0x4000000000000000ull));
  const auto k2 = sub64(ki, k1);
  const V s1 = as_f64(sll64<52>(add64(k1, set1_u64(1023))));
  s = as_f64(sll64<52>(add64(k2, set1_u64(1023))));
  hi = mul(p, s1);
  lo = mul(plo, s1);
}

// hi * s and lo * s of exp_f64_parts(x), the same bits.
template <class V>
REPARAM_INLINE void exp_f64_scaled(V x, V& hs, V& ls) {
  V p, plo;
  decltype(as_u64(x)) ki;
  exp_f64_core(x, p, plo, ki);
  if (all_lanes(gt(set1_f64(700.0), abs(x)))) {
    // p * 2**floor(k/2) and plo * 2**floor(k/2) are exact (|plo| is 0 or above 2**-106),
    // so scaling them by 2**(k - floor(k/2)) rounds p * 2**k and plo * 2**k once: one
    // product each where 2**k is a normal double (|k| <= 1010 here).
    const V s = as_f64(sll64<52>(add64(ki, set1_u64(1023))));
    hs = mul(p, s);
    ls = mul(plo, s);
    return;
  }
  V hi, lo, s;
  exp_f64_parts(x, hi, lo, s);
  hs = mul(hi, s);
  ls = mul(lo, s);
}

// log(w) for w in [1, 2] (an argument that is 1 + t rounded).
template <class V>
REPARAM_INLINE V log_1_to_2(V w) {
  const auto halve = gt(w, set1_f64(c::kSqrt2F64));
  const V m = select(halve, mul(w, set1_f64(0.5)), w);
  const V e = select(halve, set1_f64(1.0), set1_f64(0.0));
  return log_reduced(e, sub(m, set1_f64(1.0)));
}

// log1p(t) for t in [0, 1]: log(1 + t rounded) plus the first-order correction for
// that rounding, (t - (w - 1)) / w.
template <class V>
REPARAM_INLINE V log1p_0_to_1(V t) {
  const V w = add(set1_f64(1.0), t);
  return add(log_1_to_2(w), div(sub(t, sub(w, set1_f64(1.0))), w));
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)) as an unevaluated sum hi + lo: exp from
// exp_f64_parts (its low part enters the log1p correction), and the two additions by
// TwoSum, so that hi + lo carries the rounding errors of the last steps.
template <class V>
REPARAM_INLINE void softplus_f64_parts(V x, V& hi, V& lo) {
  const F64 zero = set1_f64(0.0), one = set1_f64(1.0);
  const V pos = max_gt(x, zero);  // x > 0 ? x : 0 (0 for NaN)
  V t, tlo;
  exp_f64_scaled(sub(zero, abs(x)), t, tlo);
  const V w = add(one, t);
  const V lw = log_1_to_2(w);
  const V corr = div(add(sub(t, sub(w, one)), tlo), w);
  const V s = add(pos, lw);
  V bp = sub(s, pos);
  const V e = add(sub(pos, sub(s, bp)), sub(lw, bp));
  const V c2 = add(e, corr);
  hi = add(s, c2);
  bp = sub(hi, s);
  lo = add(sub(s, sub(hi, bp)), sub(c2, bp));
  const auto huge = gt(x, set1_f64(0x1p1000));  // softplus(x) = x (and inf - inf above)
  hi = select(huge, x, hi);
  lo = select(huge, zero, lo);
}

// softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <class V>
REPARAM_INLINE V softplus_f64(V x) {
  const V pos = max_gt(x, set1_f64(0.0));
  return add(pos, log1p_0_to_1(exp_f64(sub(set1_f64(0.0), abs(x)))));
}

// NEON vector layer (AArch64 Advanced SIMD): 4 x 32-bit lanes, 2 x 64-bit lanes.
// AArch64 division, square root and conversions are IEEE correctly rounded, so the
// results match vec_generic.hpp bit for bit (built with -ffp-contract=off).
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

inline constexpr std::size_t kLanes32 = 4;
inline constexpr std::size_t kLanes64 = 2;
inline constexpr const char* kTargetName = "neon";

// Groups per step in the fills and vectors per step in the sigma kernels (vec_pack.hpp):
// a moderate choice for 32 registers; not timed (no AArch64 hardware here).
#define REPARAM_FILL_GROUPS_F32 2
#define REPARAM_FILL_GROUPS_F64 2
#define REPARAM_SIGMA_PACK 4

struct U32 { uint32x4_t v; };
struct F32 { float32x4_t v; };
struct M32 { uint32x4_t v; };
struct U64 { uint64x2_t v; };
struct F64 { float64x2_t v; };
struct M64 { uint64x2_t v; };

inline U32 set1_u32(std::uint32_t x) { return {vdupq_n_u32(x)}; }
inline U32 iota_u32(std::uint32_t x) {
  static const std::uint32_t k[4] = {0, 1, 2, 3};
  return {vaddq_u32(vdupq_n_u32(x), vld1q_u32(k))};
}
inline U32 load(const std::uint32_t* p) { return {vld1q_u32(p)}; }
inline U32 add(U32 a, U32 b) { return {vaddq_u32(a.v, b.v)}; }
inline U32 sub(U32 a, U32 b) { return {vsubq_u32(a.v, b.v)}; }
inline U32 bxor(U32 a, U32 b) { return {veorq_u32(a.v, b.v)}; }
inline U32 band(U32 a, U32 b) { return {vandq_u32(a.v, b.v)}; }
inline U32 bor(U32 a, U32 b) { return {vorrq_u32(a.v, b.v)}; }
template <int K> inline U32 srl(U32 a) { return {vshrq_n_u32(a.v, K)}; }
template <int K> inline U32 sll(U32 a) { return {vshlq_n_u32(a.v, K)}; }
inline M32 top_bit(U32 a) { return {vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_u32(a.v), 31))}; }
inline U32 select(M32 m, U32 a, U32 b) { return {vbslq_u32(m.v, a.v, b.v)}; }
inline void mulhilo(U32 a, std::uint32_t m, U32& hi, U32& lo) {
  const uint32x2_t mv = vdup_n_u32(m);
  const uint64x2_t p01 = vmull_u32(vget_low_u32(a.v), mv);
  const uint64x2_t p23 = vmull_u32(vget_high_u32(a.v), mv);
  lo.v = vuzp1q_u32(vreinterpretq_u32_u64(p01), vreinterpretq_u32_u64(p23));
  hi.v = vuzp2q_u32(vreinterpretq_u32_u64(p01), vreinterpretq_u32_u64(p23));
}
inline void store(std::uint32_t* p, U32 a) { vst1q_u32(p, a.v); }
inline void store_interleave4(std::uint32_t* p, U32 a, U32 b, U32 c, U32 d) {
  uint32x4x4_t q;
  q.val[0] = a.v; q.val[1] = b.v; q.val[2] = c.v; q.val[3] = d.v;
  vst4q_u32(p, q);
}

inline F32 set1_f32(float x) { return {vdupq_n_f32(x)}; }
inline F32 to_f32(U32 a) { return {vcvtq_f32_s32(vreinterpretq_s32_u32(a.v))}; }
inline F32 as_f32(U32 a) { return {vreinterpretq_f32_u32(a.v)}; }
inline U32 as_u32(F32 a) { return {vreinterpretq_u32_f32(a.v)}; }
inline F32 add(F32 a, F32 b) { return {vaddq_f32(a.v, b.v)}; }
inline F32 sub(F32 a, F32 b) { return {vsubq_f32(a.v, b.v)}; }
inline F32 mul(F32 a, F32 b) { return {vmulq_f32(a.v, b.v)}; }
inline F32 div(F32 a, F32 b) { return {vdivq_f32(a.v, b.v)}; }
inline F32 sqrt(F32 a) { return {vsqrtq_f32(a.v)}; }
inline M32 gt(F32 a, F32 b) { return {vcgtq_f32(a.v, b.v)}; }
inline F32 select(M32 m, F32 a, F32 b) { return {vbslq_f32(m.v, a.v, b.v)}; }
inline F32 negate_if(M32 m, F32 a) {
  return {vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a.v), vandq_u32(m.v, vdupq_n_u32(0x80000000u))))};
}
inline void store(float* p, F32 a) { vst1q_f32(p, a.v); }
inline void store_interleave4(float* p, F32 a, F32 b, F32 c, F32 d) {
  float32x4x4_t q;
  q.val[0] = a.v; q.val[1] = b.v; q.val[2] = c.v; q.val[3] = d.v;
  vst4q_f32(p, q);
}

inline F64 set1_f64(double x) { return {vdupq_n_f64(x)}; }
inline F64 to_f64_lo(U32 a) { return {vcvtq_f64_u64(vmovl_u32(vget_low_u32(a.v)))}; }
inline F64 to_f64_hi(U32 a) { return {vcvtq_f64_u64(vmovl_u32(vget_high_u32(a.v)))}; }
inline M64 mask_lo(M32 m) { return {vreinterpretq_u64_s64(vmovl_s32(vreinterpret_s32_u32(vget_low_u32(m.v))))}; }
inline M64 mask_hi(M32 m) { return {vreinterpretq_u64_s64(vmovl_s32(vreinterpret_s32_u32(vget_high_u32(m.v))))}; }
inline F64 as_f64(U64 a) { return {vreinterpretq_f64_u64(a.v)}; }
inline U64 as_u64(F64 a) { return {vreinterpretq_u64_f64(a.v)}; }
inline U64 set1_u64(std::uint64_t x) { return {vdupq_n_u64(x)}; }
inline U64 band(U64 a, U64 b) { return {vandq_u64(a.v, b.v)}; }
inline U64 bor(U64 a, U64 b) { return {vorrq_u64(a.v, b.v)}; }
template <int K> inline U64 srl64(U64 a) { return {vshrq_n_u64(a.v, K)}; }
inline F64 add(F64 a, F64 b) { return {vaddq_f64(a.v, b.v)}; }
inline F64 sub(F64 a, F64 b) { return {vsubq_f64(a.v, b.v)}; }
inline F64 mul(F64 a, F64 b) { return {vmulq_f64(a.v, b.v)}; }
inline F64 div(F64 a, F64 b) { return {vdivq_f64(a.v, b.v)}; }
inline F64 sqrt(F64 a) { return {vsqrtq_f64(a.v)}; }
inline M64 gt(F64 a, F64 b) { return {vcgtq_f64(a.v, b.v)}; }
inline bool all_lanes(M64 m) { return (vgetq_lane_u64(m.v, 0) & vgetq_lane_u64(m.v, 1)) != 0; }
inline F64 select(M64 m, F64 a, F64 b) { return {vbslq_f64(m.v, a.v, b.v)}; }
inline F64 negate_if(M64 m, F64 a) {
  return {vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(a.v), vandq_u64(m.v, vdupq_n_u64(0x8000000000000000ull))))};
}
inline void store(double* p, F64 a) { vst1q_f64(p, a.v); }
inline void store_interleave2(double* p, F64 a, F64 b) {
  float64x2x2_t q;
  q.val[0] = a.v; q.val[1] = b.v;
  vst2q_f64(p, q);
}

// ---- loads, conversions and 64-bit integer steps used by the affine kernels
inline F64 load(const double* p) { return {vld1q_f64(p)}; }
inline F64 load_f32_as_f64(const float* p) { return {vcvt_f64_f32(vld1_f32(p))}; }
inline void store_f64_as_f32(float* p, F64 a) { vst1_f32(p, vcvt_f32_f64(a.v)); }
inline U64 add64(U64 a, U64 b) { return {vaddq_u64(a.v, b.v)}; }
inline U64 sub64(U64 a, U64 b) { return {vsubq_u64(a.v, b.v)}; }
template <int K> inline U64 sll64(U64 a) { return {vshlq_n_u64(a.v, K)}; }
// a > b ? a : b and a < b ? a : b exactly (NaN or equal: b); FMAX/FMIN differ for NaN.
inline F64 max_gt(F64 a, F64 b) { return select(gt(a, b), a, b); }
inline F64 min_lt(F64 a, F64 b) { return select(gt(b, a), a, b); }
inline F64 abs(F64 a) { return {vabsq_f64(a.v)}; }

#include "vec_no_streaming.hpp"

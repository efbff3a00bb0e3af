// SSE2 vector layer (x86-64 baseline): 4 x 32-bit lanes, 2 x 64-bit lanes.
// Same operations, same IEEE results as vec_generic.hpp.
#pragma once

#include <emmintrin.h>

#include <cstddef>
#include <cstdint>

inline constexpr std::size_t kLanes32 = 4;
inline constexpr std::size_t kLanes64 = 2;
inline constexpr const char* kTargetName = "sse2";

// Groups per step in the fills and vectors per step in the sigma kernels (vec_pack.hpp):
// measured best on Zen 5.
#define REPARAM_FILL_GROUPS_F32 3
#define REPARAM_FILL_GROUPS_F64 3
#define REPARAM_SIGMA_PACK 8

struct U32 { __m128i v; };
struct F32 { __m128 v; };
struct M32 { __m128i v; };
struct U64 { __m128i v; };
struct F64 { __m128d v; };
struct M64 { __m128i v; };

inline U32 set1_u32(std::uint32_t x) { return {_mm_set1_epi32(int(x))}; }
inline U32 iota_u32(std::uint32_t x) { return {_mm_add_epi32(_mm_set1_epi32(int(x)), _mm_setr_epi32(0, 1, 2, 3))}; }
inline U32 load(const std::uint32_t* p) { return {_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))}; }
inline U32 add(U32 a, U32 b) { return {_mm_add_epi32(a.v, b.v)}; }
inline U32 sub(U32 a, U32 b) { return {_mm_sub_epi32(a.v, b.v)}; }
inline U32 bxor(U32 a, U32 b) { return {_mm_xor_si128(a.v, b.v)}; }
inline U32 band(U32 a, U32 b) { return {_mm_and_si128(a.v, b.v)}; }
inline U32 bor(U32 a, U32 b) { return {_mm_or_si128(a.v, b.v)}; }
template <int K> inline U32 srl(U32 a) { return {_mm_srli_epi32(a.v, K)}; }
template <int K> inline U32 sll(U32 a) { return {_mm_slli_epi32(a.v, K)}; }
inline M32 top_bit(U32 a) { return {_mm_srai_epi32(a.v, 31)}; }
inline __m128i blend_bits(__m128i m, __m128i a, __m128i b) {
  return _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b));
}
inline U32 select(M32 m, U32 a, U32 b) { return {blend_bits(m.v, a.v, b.v)}; }
inline void mulhilo(U32 a, std::uint32_t m, U32& hi, U32& lo) {
  const __m128i mv = _mm_set1_epi32(int(m));
  const __m128i even = _mm_mul_epu32(a.v, mv);                      // lanes 0, 2
  const __m128i odd = _mm_mul_epu32(_mm_srli_epi64(a.v, 32), mv);   // lanes 1, 3
  const __m128i low_half = _mm_set1_epi64x(0xFFFFFFFFll);
  hi.v = _mm_or_si128(_mm_srli_epi64(even, 32), _mm_andnot_si128(low_half, odd));
  lo.v = _mm_or_si128(_mm_and_si128(even, low_half), _mm_slli_epi64(odd, 32));
}
inline void store(std::uint32_t* p, U32 a) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), a.v); }

inline F32 set1_f32(float x) { return {_mm_set1_ps(x)}; }
inline F32 to_f32(U32 a) { return {_mm_cvtepi32_ps(a.v)}; }
inline F32 as_f32(U32 a) { return {_mm_castsi128_ps(a.v)}; }
inline U32 as_u32(F32 a) { return {_mm_castps_si128(a.v)}; }
inline F32 add(F32 a, F32 b) { return {_mm_add_ps(a.v, b.v)}; }
inline F32 sub(F32 a, F32 b) { return {_mm_sub_ps(a.v, b.v)}; }
inline F32 mul(F32 a, F32 b) { return {_mm_mul_ps(a.v, b.v)}; }
inline F32 div(F32 a, F32 b) { return {_mm_div_ps(a.v, b.v)}; }
inline F32 sqrt(F32 a) { return {_mm_sqrt_ps(a.v)}; }
inline M32 gt(F32 a, F32 b) { return {_mm_castps_si128(_mm_cmpgt_ps(a.v, b.v))}; }
inline F32 select(M32 m, F32 a, F32 b) {
  return {_mm_castsi128_ps(blend_bits(m.v, _mm_castps_si128(a.v), _mm_castps_si128(b.v)))};
}
inline F32 negate_if(M32 m, F32 a) {
  return {_mm_xor_ps(a.v, _mm_castsi128_ps(_mm_and_si128(m.v, _mm_set1_epi32(int(0x80000000u)))))};
}
inline void store(float* p, F32 a) { _mm_storeu_ps(p, a.v); }
inline void store_interleave4(float* p, F32 a, F32 b, F32 c, F32 d) {
  const __m128 ab0 = _mm_unpacklo_ps(a.v, b.v), ab1 = _mm_unpackhi_ps(a.v, b.v);
  const __m128 cd0 = _mm_unpacklo_ps(c.v, d.v), cd1 = _mm_unpackhi_ps(c.v, d.v);
  _mm_storeu_ps(p, _mm_movelh_ps(ab0, cd0));
  _mm_storeu_ps(p + 4, _mm_movehl_ps(cd0, ab0));
  _mm_storeu_ps(p + 8, _mm_movelh_ps(ab1, cd1));
  _mm_storeu_ps(p + 12, _mm_movehl_ps(cd1, ab1));
}
inline void store_interleave4(std::uint32_t* p, U32 a, U32 b, U32 c, U32 d) {
  store_interleave4(reinterpret_cast<float*>(p), as_f32(a), as_f32(b), as_f32(c), as_f32(d));
}

// Unsigned 32-bit to double: flip the sign bit, convert signed, add 2**31 back (exact).
inline __m128d u32x2_to_f64(__m128i x) {
  const __m128i flipped = _mm_xor_si128(x, _mm_set1_epi32(int(0x80000000u)));
  return _mm_add_pd(_mm_cvtepi32_pd(flipped), _mm_set1_pd(2147483648.0));
}
inline F64 set1_f64(double x) { return {_mm_set1_pd(x)}; }
inline F64 to_f64_lo(U32 a) { return {u32x2_to_f64(a.v)}; }
inline F64 to_f64_hi(U32 a) { return {u32x2_to_f64(_mm_unpackhi_epi64(a.v, a.v))}; }
inline M64 mask_lo(M32 m) { return {_mm_unpacklo_epi32(m.v, m.v)}; }
inline M64 mask_hi(M32 m) { return {_mm_unpackhi_epi32(m.v, m.v)}; }
inline F64 as_f64(U64 a) { return {_mm_castsi128_pd(a.v)}; }
inline U64 as_u64(F64 a) { return {_mm_castpd_si128(a.v)}; }
inline U64 set1_u64(std::uint64_t x) { return {_mm_set1_epi64x(static_cast<long long>(x))}; }
inline U64 band(U64 a, U64 b) { return {_mm_and_si128(a.v, b.v)}; }
inline U64 bor(U64 a, U64 b) { return {_mm_or_si128(a.v, b.v)}; }
template <int K> inline U64 srl64(U64 a) { return {_mm_srli_epi64(a.v, K)}; }
inline F64 add(F64 a, F64 b) { return {_mm_add_pd(a.v, b.v)}; }
inline F64 sub(F64 a, F64 b) { return {_mm_sub_pd(a.v, b.v)}; }
inline F64 mul(F64 a, F64 b) { return {_mm_mul_pd(a.v, b.v)}; }
inline F64 div(F64 a, F64 b) { return {_mm_div_pd(a.v, b.v)}; }
inline F64 sqrt(F64 a) { return {_mm_sqrt_pd(a.v)}; }
inline M64 gt(F64 a, F64 b) { return {_mm_castpd_si128(_mm_cmpgt_pd(a.v, b.v))}; }
inline bool all_lanes(M64 m) { return _mm_movemask_pd(_mm_castsi128_pd(m.v)) == 0x3; }
inline F64 select(M64 m, F64 a, F64 b) {
  return {_mm_castsi128_pd(blend_bits(m.v, _mm_castpd_si128(a.v), _mm_castpd_si128(b.v)))};
}
inline F64 negate_if(M64 m, F64 a) {
  return {_mm_xor_pd(a.v, _mm_castsi128_pd(_mm_and_si128(m.v, _mm_set1_epi64x(static_cast<long long>(0x8000000000000000ull)))))};
}
inline void store(double* p, F64 a) { _mm_storeu_pd(p, a.v); }
inline void store_interleave2(double* p, F64 a, F64 b) {
  _mm_storeu_pd(p, _mm_unpacklo_pd(a.v, b.v));
  _mm_storeu_pd(p + 2, _mm_unpackhi_pd(a.v, b.v));
}

// ---- loads, conversions and 64-bit integer steps used by the affine kernels
inline F64 load(const double* p) { return {_mm_loadu_pd(p)}; }
inline F64 load_f32_as_f64(const float* p) {
  return {_mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))))};
}
inline void store_f64_as_f32(float* p, F64 a) {
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_castps_si128(_mm_cvtpd_ps(a.v)));
}
inline U64 add64(U64 a, U64 b) { return {_mm_add_epi64(a.v, b.v)}; }
inline U64 sub64(U64 a, U64 b) { return {_mm_sub_epi64(a.v, b.v)}; }
template <int K> inline U64 sll64(U64 a) { return {_mm_slli_epi64(a.v, K)}; }
// a > b ? a : b and a < b ? a : b exactly (NaN or equal: b), as MAXPD/MINPD define them.
inline F64 max_gt(F64 a, F64 b) { return {_mm_max_pd(a.v, b.v)}; }
inline F64 min_lt(F64 a, F64 b) { return {_mm_min_pd(a.v, b.v)}; }
inline F64 abs(F64 a) { return {_mm_andnot_pd(_mm_set1_pd(-0.0), a.v)}; }

// Streaming (non-temporal) stores of whole 64-byte lines, dst 64-byte aligned: a large
// output skips the read of each line before its write and leaves the caches to the
// working set. stream_fence() orders them before the kernel reports completion.
inline constexpr bool kStreamingStores = true;
inline void stream_lines(unsigned char* dst, const unsigned char* src, std::size_t lines) {
  for (std::size_t i = 0; i < 4 * lines; ++i)
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 16 * i),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * i)));
}
inline void stream_fence() { _mm_sfence(); }

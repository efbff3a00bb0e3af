// AVX2 vector layer: 8 x 32-bit lanes, 4 x 64-bit lanes. Compiled with -mavx2 -mfma
// but never contracts a*b+c into an FMA (-ffp-contract=off): results must match the
// other layers bit for bit.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

inline constexpr std::size_t kLanes32 = 8;
inline constexpr std::size_t kLanes64 = 4;
inline constexpr const char* kTargetName = "avx2";

// Groups per step in the fills and vectors per step in the sigma kernels (vec_pack.hpp):
// measured best on Zen 5; some spilling of the 16 registers costs less than idle pipes.
#define REPARAM_FILL_GROUPS_F32 3
#define REPARAM_FILL_GROUPS_F64 3
#define REPARAM_SIGMA_PACK 8

struct U32 { __m256i v; };
struct F32 { __m256 v; };
struct M32 { __m256i v; };
struct U64 { __m256i v; };
struct F64 { __m256d v; };
struct M64 { __m256i v; };

inline U32 set1_u32(std::uint32_t x) { return {_mm256_set1_epi32(int(x))}; }
inline U32 iota_u32(std::uint32_t x) {
  return {_mm256_add_epi32(_mm256_set1_epi32(int(x)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))};
}
inline U32 load(const std::uint32_t* p) { return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))}; }
inline U32 add(U32 a, U32 b) { return {_mm256_add_epi32(a.v, b.v)}; }
inline U32 sub(U32 a, U32 b) { return {_mm256_sub_epi32(a.v, b.v)}; }
inline U32 bxor(U32 a, U32 b) { return {_mm256_xor_si256(a.v, b.v)}; }
inline U32 band(U32 a, U32 b) { return {_mm256_and_si256(a.v, b.v)}; }
inline U32 bor(U32 a, U32 b) { return {_mm256_or_si256(a.v, b.v)}; }
template <int K> inline U32 srl(U32 a) { return {_mm256_srli_epi32(a.v, K)}; }
template <int K> inline U32 sll(U32 a) { return {_mm256_slli_epi32(a.v, K)}; }
inline M32 top_bit(U32 a) { return {_mm256_srai_epi32(a.v, 31)}; }
inline U32 select(M32 m, U32 a, U32 b) { return {_mm256_blendv_epi8(b.v, a.v, m.v)}; }
inline void mulhilo(U32 a, std::uint32_t m, U32& hi, U32& lo) {
  const __m256i mv = _mm256_set1_epi32(int(m));
  const __m256i even = _mm256_mul_epu32(a.v, mv);                        // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a.v, 32), mv);  // lanes 1, 3, 5, 7
  hi.v = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo.v = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}
inline void store(std::uint32_t* p, U32 a) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a.v); }

inline F32 set1_f32(float x) { return {_mm256_set1_ps(x)}; }
inline F32 to_f32(U32 a) { return {_mm256_cvtepi32_ps(a.v)}; }
inline F32 as_f32(U32 a) { return {_mm256_castsi256_ps(a.v)}; }
inline U32 as_u32(F32 a) { return {_mm256_castps_si256(a.v)}; }
inline F32 add(F32 a, F32 b) { return {_mm256_add_ps(a.v, b.v)}; }
inline F32 sub(F32 a, F32 b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline F32 mul(F32 a, F32 b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline F32 div(F32 a, F32 b) { return {_mm256_div_ps(a.v, b.v)}; }
inline F32 sqrt(F32 a) { return {_mm256_sqrt_ps(a.v)}; }
inline M32 gt(F32 a, F32 b) { return {_mm256_castps_si256(_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ))}; }
inline F32 select(M32 m, F32 a, F32 b) { return {_mm256_blendv_ps(b.v, a.v, _mm256_castsi256_ps(m.v))}; }
inline F32 negate_if(M32 m, F32 a) {
  return {_mm256_xor_ps(a.v, _mm256_castsi256_ps(_mm256_and_si256(m.v, _mm256_set1_epi32(int(0x80000000u)))))};
}
inline void store(float* p, F32 a) { _mm256_storeu_ps(p, a.v); }
inline void store_interleave4(float* p, F32 a, F32 b, F32 c, F32 d) {
  const __m256 ab0 = _mm256_unpacklo_ps(a.v, b.v), ab1 = _mm256_unpackhi_ps(a.v, b.v);
  const __m256 cd0 = _mm256_unpacklo_ps(c.v, d.v), cd1 = _mm256_unpackhi_ps(c.v, d.v);
  const __m256 r0 = _mm256_shuffle_ps(ab0, cd0, 0x44);  // element 0 (and 4) of each input
  const __m256 r1 = _mm256_shuffle_ps(ab0, cd0, 0xEE);  // element 1 (and 5)
  const __m256 r2 = _mm256_shuffle_ps(ab1, cd1, 0x44);  // element 2 (and 6)
  const __m256 r3 = _mm256_shuffle_ps(ab1, cd1, 0xEE);  // element 3 (and 7)
  _mm256_storeu_ps(p, _mm256_permute2f128_ps(r0, r1, 0x20));
  _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(r2, r3, 0x20));
  _mm256_storeu_ps(p + 16, _mm256_permute2f128_ps(r0, r1, 0x31));
  _mm256_storeu_ps(p + 24, _mm256_permute2f128_ps(r2, r3, 0x31));
}
inline void store_interleave4(std::uint32_t* p, U32 a, U32 b, U32 c, U32 d) {
  store_interleave4(reinterpret_cast<float*>(p), as_f32(a), as_f32(b), as_f32(c), as_f32(d));
}

// Unsigned 32-bit to double: flip the sign bit, convert signed, add 2**31 back (exact).
inline __m256d u32x4_to_f64(__m128i x) {
  const __m128i flipped = _mm_xor_si128(x, _mm_set1_epi32(int(0x80000000u)));
  return _mm256_add_pd(_mm256_cvtepi32_pd(flipped), _mm256_set1_pd(2147483648.0));
}
inline F64 set1_f64(double x) { return {_mm256_set1_pd(x)}; }
inline F64 to_f64_lo(U32 a) { return {u32x4_to_f64(_mm256_castsi256_si128(a.v))}; }
inline F64 to_f64_hi(U32 a) { return {u32x4_to_f64(_mm256_extracti128_si256(a.v, 1))}; }
inline M64 mask_lo(M32 m) { return {_mm256_cvtepi32_epi64(_mm256_castsi256_si128(m.v))}; }
inline M64 mask_hi(M32 m) { return {_mm256_cvtepi32_epi64(_mm256_extracti128_si256(m.v, 1))}; }
inline F64 as_f64(U64 a) { return {_mm256_castsi256_pd(a.v)}; }
inline U64 as_u64(F64 a) { return {_mm256_castpd_si256(a.v)}; }
inline U64 set1_u64(std::uint64_t x) { return {_mm256_set1_epi64x(static_cast<long long>(x))}; }
inline U64 band(U64 a, U64 b) { return {_mm256_and_si256(a.v, b.v)}; }
inline U64 bor(U64 a, U64 b) { return {_mm256_or_si256(a.v, b.v)}; }
template <int K> inline U64 srl64(U64 a) { return {_mm256_srli_epi64(a.v, K)}; }
inline F64 add(F64 a, F64 b) { return {_mm256_add_pd(a.v, b.v)}; }
inline F64 sub(F64 a, F64 b) { return {_mm256_sub_pd(a.v, b.v)}; }
inline F64 mul(F64 a, F64 b) { return {_mm256_mul_pd(a.v, b.v)}; }
inline F64 div(F64 a, F64 b) { return {_mm256_div_pd(a.v, b.v)}; }
inline F64 sqrt(F64 a) { return {_mm256_sqrt_pd(a.v)}; }
inline M64 gt(F64 a, F64 b) { return {_mm256_castpd_si256(_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ))}; }
inline bool all_lanes(M64 m) { return _mm256_movemask_pd(_mm256_castsi256_pd(m.v)) == 0xF; }
inline F64 select(M64 m, F64 a, F64 b) { return {_mm256_blendv_pd(b.v, a.v, _mm256_castsi256_pd(m.v))}; }
inline F64 negate_if(M64 m, F64 a) {
  return {_mm256_xor_pd(a.v, _mm256_castsi256_pd(_mm256_and_si256(
                                 m.v, _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull)))))};
}
inline void store(double* p, F64 a) { _mm256_storeu_pd(p, a.v); }
inline void store_interleave2(double* p, F64 a, F64 b) {
  const __m256d lo = _mm256_unpacklo_pd(a.v, b.v);  // a0 b0 | a2 b2
  const __m256d hi = _mm256_unpackhi_pd(a.v, b.v);  // a1 b1 | a3 b3
  _mm256_storeu_pd(p, _mm256_permute2f128_pd(lo, hi, 0x20));
  _mm256_storeu_pd(p + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
}

// ---- loads, conversions and 64-bit integer steps used by the affine kernels
inline F64 load(const double* p) { return {_mm256_loadu_pd(p)}; }
inline F64 load_f32_as_f64(const float* p) { return {_mm256_cvtps_pd(_mm_loadu_ps(p))}; }
inline void store_f64_as_f32(float* p, F64 a) { _mm_storeu_ps(p, _mm256_cvtpd_ps(a.v)); }
inline U64 add64(U64 a, U64 b) { return {_mm256_add_epi64(a.v, b.v)}; }
inline U64 sub64(U64 a, U64 b) { return {_mm256_sub_epi64(a.v, b.v)}; }
template <int K> inline U64 sll64(U64 a) { return {_mm256_slli_epi64(a.v, K)}; }
// a > b ? a : b and a < b ? a : b exactly (NaN or equal: b), as MAXPD/MINPD define them.
inline F64 max_gt(F64 a, F64 b) { return {_mm256_max_pd(a.v, b.v)}; }
inline F64 min_lt(F64 a, F64 b) { return {_mm256_min_pd(a.v, b.v)}; }
inline F64 abs(F64 a) { return {_mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v)}; }

// Streaming (non-temporal) stores of whole 64-byte lines, dst 64-byte aligned: a large
// output skips the read of each line before its write and leaves the caches to the
// working set. stream_fence() orders them before the kernel reports completion.
inline constexpr bool kStreamingStores = true;
inline void stream_lines(unsigned char* dst, const unsigned char* src, std::size_t lines) {
  for (std::size_t i = 0; i < 2 * lines; ++i)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 32 * i),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 * i)));
}
inline void stream_fence() { _mm_sfence(); }

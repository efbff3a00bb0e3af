// AVX-512 (F, DQ, BW, VL) vector layer: 16 x 32-bit lanes, 8 x 64-bit lanes, with
// mask registers for comparisons. Same IEEE results as vec_generic.hpp.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

inline constexpr std::size_t kLanes32 = 16;
inline constexpr std::size_t kLanes64 = 8;
inline constexpr const char* kTargetName = "avx512";

// Groups per step in the fills and vectors per step in the sigma kernels (vec_pack.hpp): enough
// independent chains to keep the pipes busy without spilling 32 registers.
#define REPARAM_FILL_GROUPS_F32 4
#define REPARAM_FILL_GROUPS_F64 3
#define REPARAM_SIGMA_PACK 8

struct U32 { __m512i v; };
struct F32 { __m512 v; };
struct M32 { __mmask16 v; };
struct U64 { __m512i v; };
struct F64 { __m512d v; };
struct M64 { __mmask8 v; };

inline U32 set1_u32(std::uint32_t x) { return {_mm512_set1_epi32(int(x))}; }
inline U32 iota_u32(std::uint32_t x) {
  return {_mm512_add_epi32(_mm512_set1_epi32(int(x)),
                           _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))};
}
inline U32 load(const std::uint32_t* p) { return {_mm512_loadu_si512(p)}; }
inline U32 add(U32 a, U32 b) { return {_mm512_add_epi32(a.v, b.v)}; }
inline U32 sub(U32 a, U32 b) { return {_mm512_sub_epi32(a.v, b.v)}; }
inline U32 bxor(U32 a, U32 b) { return {_mm512_xor_si512(a.v, b.v)}; }
inline U32 band(U32 a, U32 b) { return {_mm512_and_si512(a.v, b.v)}; }
inline U32 bor(U32 a, U32 b) { return {_mm512_or_si512(a.v, b.v)}; }
template <int K> inline U32 srl(U32 a) { return {_mm512_srli_epi32(a.v, K)}; }
template <int K> inline U32 sll(U32 a) { return {_mm512_slli_epi32(a.v, K)}; }
inline M32 top_bit(U32 a) { return {_mm512_movepi32_mask(a.v)}; }
inline U32 select(M32 m, U32 a, U32 b) { return {_mm512_mask_blend_epi32(m.v, b.v, a.v)}; }
inline void mulhilo(U32 a, std::uint32_t m, U32& hi, U32& lo) {
  const __m512i mv = _mm512_set1_epi32(int(m));
  const __m512i even = _mm512_mul_epu32(a.v, mv);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a.v, 32), mv);
  // Each product has one half in its lane already; a masked swap of 32-bit pairs
  // moves the other in (one instruction where a shift and a blend were two).
  hi.v = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
  lo.v = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
}
inline void store(std::uint32_t* p, U32 a) { _mm512_storeu_si512(p, a.v); }

inline F32 set1_f32(float x) { return {_mm512_set1_ps(x)}; }
inline F32 to_f32(U32 a) { return {_mm512_cvtepi32_ps(a.v)}; }
inline F32 as_f32(U32 a) { return {_mm512_castsi512_ps(a.v)}; }
inline U32 as_u32(F32 a) { return {_mm512_castps_si512(a.v)}; }
inline F32 add(F32 a, F32 b) { return {_mm512_add_ps(a.v, b.v)}; }
inline F32 sub(F32 a, F32 b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline F32 mul(F32 a, F32 b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline F32 div(F32 a, F32 b) { return {_mm512_div_ps(a.v, b.v)}; }
inline F32 sqrt(F32 a) { return {_mm512_sqrt_ps(a.v)}; }
inline M32 gt(F32 a, F32 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline F32 select(M32 m, F32 a, F32 b) { return {_mm512_mask_blend_ps(m.v, b.v, a.v)}; }
inline F32 negate_if(M32 m, F32 a) {
  return {_mm512_castsi512_ps(_mm512_mask_xor_epi32(_mm512_castps_si512(a.v), m.v, _mm512_castps_si512(a.v),
                                                    _mm512_set1_epi32(int(0x80000000u))))};
}
inline void store(float* p, F32 a) { _mm512_storeu_ps(p, a.v); }
inline void store_interleave4(float* p, F32 a, F32 b, F32 c, F32 d) {
  // Pair a with b and c with d as 32-bit elements, then the pairs as 64-bit elements.
  const __m512i lo2 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi2 = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512d ab0 = _mm512_castps_pd(_mm512_permutex2var_ps(a.v, lo2, b.v));
  const __m512d ab1 = _mm512_castps_pd(_mm512_permutex2var_ps(a.v, hi2, b.v));
  const __m512d cd0 = _mm512_castps_pd(_mm512_permutex2var_ps(c.v, lo2, d.v));
  const __m512d cd1 = _mm512_castps_pd(_mm512_permutex2var_ps(c.v, hi2, d.v));
  const __m512i lo4 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  const __m512i hi4 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  _mm512_storeu_pd(p, _mm512_permutex2var_pd(ab0, lo4, cd0));
  _mm512_storeu_pd(p + 16, _mm512_permutex2var_pd(ab0, hi4, cd0));
  _mm512_storeu_pd(p + 32, _mm512_permutex2var_pd(ab1, lo4, cd1));
  _mm512_storeu_pd(p + 48, _mm512_permutex2var_pd(ab1, hi4, cd1));
}
inline void store_interleave4(std::uint32_t* p, U32 a, U32 b, U32 c, U32 d) {
  store_interleave4(reinterpret_cast<float*>(p), as_f32(a), as_f32(b), as_f32(c), as_f32(d));
}

inline F64 set1_f64(double x) { return {_mm512_set1_pd(x)}; }
inline F64 to_f64_lo(U32 a) { return {_mm512_cvtepu32_pd(_mm512_castsi512_si256(a.v))}; }
inline F64 to_f64_hi(U32 a) { return {_mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(a.v, 1))}; }
inline M64 mask_lo(M32 m) { return {static_cast<__mmask8>(m.v & 0xFF)}; }
inline M64 mask_hi(M32 m) { return {static_cast<__mmask8>(m.v >> 8)}; }
inline F64 as_f64(U64 a) { return {_mm512_castsi512_pd(a.v)}; }
inline U64 as_u64(F64 a) { return {_mm512_castpd_si512(a.v)}; }
inline U64 set1_u64(std::uint64_t x) { return {_mm512_set1_epi64(static_cast<long long>(x))}; }
inline U64 band(U64 a, U64 b) { return {_mm512_and_si512(a.v, b.v)}; }
inline U64 bor(U64 a, U64 b) { return {_mm512_or_si512(a.v, b.v)}; }
template <int K> inline U64 srl64(U64 a) { return {_mm512_srli_epi64(a.v, K)}; }
inline F64 add(F64 a, F64 b) { return {_mm512_add_pd(a.v, b.v)}; }
inline F64 sub(F64 a, F64 b) { return {_mm512_sub_pd(a.v, b.v)}; }
inline F64 mul(F64 a, F64 b) { return {_mm512_mul_pd(a.v, b.v)}; }
inline F64 div(F64 a, F64 b) { return {_mm512_div_pd(a.v, b.v)}; }
inline F64 sqrt(F64 a) { return {_mm512_sqrt_pd(a.v)}; }
inline M64 gt(F64 a, F64 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline bool all_lanes(M64 m) { return m.v == 0xFF; }
inline F64 select(M64 m, F64 a, F64 b) { return {_mm512_mask_blend_pd(m.v, b.v, a.v)}; }
inline F64 negate_if(M64 m, F64 a) {
  return {_mm512_castsi512_pd(_mm512_mask_xor_epi64(_mm512_castpd_si512(a.v), m.v, _mm512_castpd_si512(a.v),
                                                    _mm512_set1_epi64(static_cast<long long>(0x8000000000000000ull))))};
}
inline void store(double* p, F64 a) { _mm512_storeu_pd(p, a.v); }
inline void store_interleave2(double* p, F64 a, F64 b) {
  const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
  const __m512i hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
  _mm512_storeu_pd(p, _mm512_permutex2var_pd(a.v, lo, b.v));
  _mm512_storeu_pd(p + 8, _mm512_permutex2var_pd(a.v, hi, b.v));
}

// ---- loads, conversions and 64-bit integer steps used by the affine kernels
inline F64 load(const double* p) { return {_mm512_loadu_pd(p)}; }
inline F64 load_f32_as_f64(const float* p) { return {_mm512_cvtps_pd(_mm256_loadu_ps(p))}; }
inline void store_f64_as_f32(float* p, F64 a) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(a.v)); }
inline U64 add64(U64 a, U64 b) { return {_mm512_add_epi64(a.v, b.v)}; }
inline U64 sub64(U64 a, U64 b) { return {_mm512_sub_epi64(a.v, b.v)}; }
template <int K> inline U64 sll64(U64 a) { return {_mm512_slli_epi64(a.v, K)}; }
// a > b ? a : b and a < b ? a : b exactly (NaN or equal: b), as MAXPD/MINPD define them.
inline F64 max_gt(F64 a, F64 b) { return {_mm512_max_pd(a.v, b.v)}; }
inline F64 min_lt(F64 a, F64 b) { return {_mm512_min_pd(a.v, b.v)}; }
inline F64 abs(F64 a) {
  return {_mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(a.v),
                                               _mm512_set1_epi64(0x7FFFFFFFFFFFFFFFll)))};
}

// Streaming (non-temporal) stores of whole 64-byte lines, dst 64-byte aligned: a large
// output skips the read of each line before its write and leaves the caches to the
// working set. stream_fence() orders them before the kernel reports completion.
inline constexpr bool kStreamingStores = true;
inline void stream_lines(unsigned char* dst, const unsigned char* src, std::size_t lines) {
  for (std::size_t i = 0; i < lines; ++i)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + 64 * i),
                        _mm512_loadu_si512(reinterpret_cast<const void*>(src + 64 * i)));
}
inline void stream_fence() { _mm_sfence(); }

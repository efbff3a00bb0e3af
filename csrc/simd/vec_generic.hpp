// Portable vector layer: arrays of lanes and plain loops. It is the reference that
// every instruction-set layer matches bit for bit, and the path for CPUs we have no
// intrinsics for. Included by a kernel translation unit inside its target namespace.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#define REPARAM_VEC_LOOP(expr)                 \
  for (std::size_t i = 0; i < kLanes32; ++i) { \
    expr;                                      \
  }
#define REPARAM_VEC_LOOP64(expr)               \
  for (std::size_t i = 0; i < kLanes64; ++i) { \
    expr;                                      \
  }

inline constexpr std::size_t kLanes32 = 4;
inline constexpr std::size_t kLanes64 = 2;
inline constexpr const char* kTargetName = "scalar";

struct U32 { std::uint32_t v[kLanes32]; };
struct F32 { float v[kLanes32]; };
struct M32 { bool v[kLanes32]; };
struct U64 { std::uint64_t v[kLanes64]; };
struct F64 { double v[kLanes64]; };
struct M64 { bool v[kLanes64]; };

// ---- 32-bit integer lanes
inline U32 set1_u32(std::uint32_t x) { U32 r; REPARAM_VEC_LOOP(r.v[i] = x) return r; }
inline U32 iota_u32(std::uint32_t x) { U32 r; REPARAM_VEC_LOOP(r.v[i] = x + std::uint32_t(i)) return r; }
inline U32 load(const std::uint32_t* p) { U32 r; std::memcpy(r.v, p, sizeof(r.v)); return r; }
inline U32 add(U32 a, U32 b) { U32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] + b.v[i]) return r; }
inline U32 sub(U32 a, U32 b) { U32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] - b.v[i]) return r; }
inline U32 bxor(U32 a, U32 b) { U32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] ^ b.v[i]) return r; }
inline U32 band(U32 a, U32 b) { U32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] & b.v[i]) return r; }
inline U32 bor(U32 a, U32 b) { U32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] | b.v[i]) return r; }
template <int K> inline U32 srl(U32 a) { U32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] >> K) return r; }
template <int K> inline U32 sll(U32 a) { U32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] << K) return r; }
// Lanes whose top bit is set.
inline M32 top_bit(U32 a) { M32 r; REPARAM_VEC_LOOP(r.v[i] = (a.v[i] >> 31) != 0) return r; }
inline U32 select(M32 m, U32 a, U32 b) { U32 r; REPARAM_VEC_LOOP(r.v[i] = m.v[i] ? a.v[i] : b.v[i]) return r; }
// 32x32 -> 64-bit product of each lane with a constant, split into halves.
inline void mulhilo(U32 a, std::uint32_t m, U32& hi, U32& lo) {
  REPARAM_VEC_LOOP(std::uint64_t p = std::uint64_t(a.v[i]) * m; hi.v[i] = std::uint32_t(p >> 32);
                   lo.v[i] = std::uint32_t(p))
}
inline void store(std::uint32_t* p, U32 a) { std::memcpy(p, a.v, sizeof(a.v)); }
inline void store_interleave4(std::uint32_t* p, U32 a, U32 b, U32 c, U32 d) {
  REPARAM_VEC_LOOP(p[4 * i] = a.v[i]; p[4 * i + 1] = b.v[i]; p[4 * i + 2] = c.v[i];
                   p[4 * i + 3] = d.v[i])
}

// ---- float lanes
inline F32 set1_f32(float x) { F32 r; REPARAM_VEC_LOOP(r.v[i] = x) return r; }
inline F32 to_f32(U32 a) { F32 r; REPARAM_VEC_LOOP(r.v[i] = float(std::int32_t(a.v[i]))) return r; }  // a < 2**31
inline F32 as_f32(U32 a) { F32 r; std::memcpy(r.v, a.v, sizeof(r.v)); return r; }
inline U32 as_u32(F32 a) { U32 r; std::memcpy(r.v, a.v, sizeof(r.v)); return r; }
inline F32 add(F32 a, F32 b) { F32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] + b.v[i]) return r; }
inline F32 sub(F32 a, F32 b) { F32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] - b.v[i]) return r; }
inline F32 mul(F32 a, F32 b) { F32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] * b.v[i]) return r; }
inline F32 div(F32 a, F32 b) { F32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] / b.v[i]) return r; }
inline F32 sqrt(F32 a) { F32 r; REPARAM_VEC_LOOP(r.v[i] = std::sqrt(a.v[i])) return r; }
inline M32 gt(F32 a, F32 b) { M32 r; REPARAM_VEC_LOOP(r.v[i] = a.v[i] > b.v[i]) return r; }
inline F32 select(M32 m, F32 a, F32 b) { F32 r; REPARAM_VEC_LOOP(r.v[i] = m.v[i] ? a.v[i] : b.v[i]) return r; }
inline F32 negate_if(M32 m, F32 a) { F32 r; REPARAM_VEC_LOOP(r.v[i] = m.v[i] ? -a.v[i] : a.v[i]) return r; }
inline void store(float* p, F32 a) { std::memcpy(p, a.v, sizeof(a.v)); }
inline void store_interleave4(float* p, F32 a, F32 b, F32 c, F32 d) {
  REPARAM_VEC_LOOP(p[4 * i] = a.v[i]; p[4 * i + 1] = b.v[i]; p[4 * i + 2] = c.v[i];
                   p[4 * i + 3] = d.v[i])
}

// ---- double lanes: half as many as 32-bit lanes; *_lo/*_hi take the lower/upper half
inline F64 set1_f64(double x) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = x) return r; }
inline F64 to_f64_lo(U32 a) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = double(a.v[i])) return r; }
inline F64 to_f64_hi(U32 a) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = double(a.v[i + kLanes64])) return r; }
inline M64 mask_lo(M32 m) { M64 r; REPARAM_VEC_LOOP64(r.v[i] = m.v[i]) return r; }
inline M64 mask_hi(M32 m) { M64 r; REPARAM_VEC_LOOP64(r.v[i] = m.v[i + kLanes64]) return r; }
inline F64 as_f64(U64 a) { F64 r; std::memcpy(r.v, a.v, sizeof(r.v)); return r; }
inline U64 as_u64(F64 a) { U64 r; std::memcpy(r.v, a.v, sizeof(r.v)); return r; }
inline U64 set1_u64(std::uint64_t x) { U64 r; REPARAM_VEC_LOOP64(r.v[i] = x) return r; }
inline U64 band(U64 a, U64 b) { U64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] & b.v[i]) return r; }
inline U64 bor(U64 a, U64 b) { U64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] | b.v[i]) return r; }
template <int K> inline U64 srl64(U64 a) { U64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] >> K) return r; }
inline F64 add(F64 a, F64 b) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] + b.v[i]) return r; }
inline F64 sub(F64 a, F64 b) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] - b.v[i]) return r; }
inline F64 mul(F64 a, F64 b) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] * b.v[i]) return r; }
inline F64 div(F64 a, F64 b) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] / b.v[i]) return r; }
inline F64 sqrt(F64 a) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = std::sqrt(a.v[i])) return r; }
inline M64 gt(F64 a, F64 b) { M64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] > b.v[i]) return r; }
inline bool all_lanes(M64 m) { bool r = true; REPARAM_VEC_LOOP64(r = r && m.v[i]) return r; }
inline F64 select(M64 m, F64 a, F64 b) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = m.v[i] ? a.v[i] : b.v[i]) return r; }
inline F64 negate_if(M64 m, F64 a) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = m.v[i] ? -a.v[i] : a.v[i]) return r; }
inline void store(double* p, F64 a) { std::memcpy(p, a.v, sizeof(a.v)); }
inline void store_interleave2(double* p, F64 a, F64 b) {
  REPARAM_VEC_LOOP64(p[2 * i] = a.v[i]; p[2 * i + 1] = b.v[i])
}


// ---- loads, conversions and 64-bit integer steps used by the affine kernels
inline F64 load(const double* p) { F64 r; std::memcpy(r.v, p, sizeof(r.v)); return r; }
inline F64 load_f32_as_f64(const float* p) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = double(p[i])) return r; }
inline void store_f64_as_f32(float* p, F64 a) { REPARAM_VEC_LOOP64(p[i] = float(a.v[i])) }
inline U64 add64(U64 a, U64 b) { U64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] + b.v[i]) return r; }
inline U64 sub64(U64 a, U64 b) { U64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] - b.v[i]) return r; }
template <int K> inline U64 sll64(U64 a) { U64 r; REPARAM_VEC_LOOP64(r.v[i] = a.v[i] << K) return r; }
// a > b ? a : b and a < b ? a : b exactly (NaN or equal: b).
inline F64 max_gt(F64 a, F64 b) { return select(gt(a, b), a, b); }
inline F64 min_lt(F64 a, F64 b) { return select(gt(b, a), a, b); }
inline F64 abs(F64 a) { F64 r; REPARAM_VEC_LOOP64(r.v[i] = std::fabs(a.v[i])) return r; }

#undef REPARAM_VEC_LOOP
#undef REPARAM_VEC_LOOP64

#include "vec_no_streaming.hpp"

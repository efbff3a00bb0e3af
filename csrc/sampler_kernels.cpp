// The sampling kernels, compiled once per target by CMakeLists.txt with that target's
// flags and REPARAM_TARGET_<NAME> defined. Each copy lives in its own namespace and
// exports one KernelTable, so no inline function is shared between targets.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>  // _mm_prefetch (gradient_kernels.hpp) on every x86 target
#endif

#include "kernel_table.hpp"
#include "philox4x32.hpp"
#include "transform_constants.hpp"

// Before Visual Studio 2022, MSVC's /fp:precise contracts a*b+c into an FMA when the
// target has one (/arch:AVX2, /arch:AVX512); the values must not depend on the target.
#if defined(_MSC_VER) && !defined(__clang__)
#pragma fp_contract(off)
#endif

#if defined(REPARAM_TARGET_AVX512)
#define REPARAM_NS target_avx512
#define REPARAM_TABLE_FN kernels_avx512
#define REPARAM_VEC_HEADER "simd/vec_avx512.hpp"
#include <immintrin.h>
#elif defined(REPARAM_TARGET_AVX2)
#define REPARAM_NS target_avx2
#define REPARAM_TABLE_FN kernels_avx2
#define REPARAM_VEC_HEADER "simd/vec_avx2.hpp"
#include <immintrin.h>
#elif defined(REPARAM_TARGET_SSE2)
#define REPARAM_NS target_sse2
#define REPARAM_TABLE_FN kernels_sse2
#define REPARAM_VEC_HEADER "simd/vec_sse2.hpp"
#include <emmintrin.h>
#elif defined(REPARAM_TARGET_NEON)
#define REPARAM_NS target_neon
#define REPARAM_TABLE_FN kernels_neon
#define REPARAM_VEC_HEADER "simd/vec_neon.hpp"
#include <arm_neon.h>
#else
#define REPARAM_NS target_scalar
#define REPARAM_TABLE_FN kernels_scalar
#define REPARAM_VEC_HEADER "simd/vec_generic.hpp"
#endif

// System and ISA-free headers are included above, so the includes below only add
// this target's inline functions to its namespace.
namespace reparam {
namespace REPARAM_NS {

#include REPARAM_VEC_HEADER
#include "philox_simd.hpp"
#include "normal_transform.hpp"
#include "elementary_f64.hpp"

namespace {

// Calls compute(first_block_counter, dst) for consecutive groups of kLanes32 blocks,
// each yielding PerBlock * kLanes32 values, and keeps positions [start, start + n).
// Partial groups at either end go through a small buffer; values depend only on their
// position, never on where a group starts.
template <int PerBlock, class T, class Compute>
void fill_positions(const StreamKey& sk, std::uint64_t start, std::size_t n, T* out, Compute compute) {
  constexpr std::size_t kGroup = PerBlock * kLanes32;
  std::uint64_t block = start / PerBlock;
  std::size_t skip = std::size_t(start % PerBlock);
  std::size_t done = 0;
  alignas(64) T buffer[kGroup];
  while (done < n) {
    const Counter128 c = counter_add(sk.ctr, block);
    if (skip == 0 && n - done >= kGroup) {
      compute(c, out + done);
      done += kGroup;
    } else {
      compute(c, buffer);
      const std::size_t take = std::min(kGroup - skip, n - done);
      std::memcpy(out + done, buffer + skip, take * sizeof(T));
      done += take;
      skip = 0;
    }
    block += kLanes32;
  }
}

void fill_raw(const StreamKey& sk, std::uint64_t start, std::size_t n, std::uint32_t* out) {
  fill_positions<4>(sk, start, n, out, [&](Counter128 c, std::uint32_t* dst) {
    const Words4 b = philox_lanes(c, sk.key);
    store_interleave4(dst, b.w[0], b.w[1], b.w[2], b.w[3]);
  });
}

void fill_normal_f32(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out) {
  fill_positions<4>(sk, start, n, out, [&](Counter128 c, float* dst) {
    const Words4 b = philox_lanes(c, sk.key);
    const F32 r01 = radius_f32(b.w[0]);
    const F32 r23 = radius_f32(b.w[2]);
    F32 c01, s01, c23, s23;
    cos_sin_f32(b.w[1], c01, s01);
    cos_sin_f32(b.w[3], c23, s23);
    store_interleave4(dst, mul(r01, c01), mul(r01, s01), mul(r23, c23), mul(r23, s23));
  });
}

void fill_uniform_f32(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out) {
  fill_positions<4>(sk, start, n, out, [&](Counter128 c, float* dst) {
    const Words4 b = philox_lanes(c, sk.key);
    const F32 scale = set1_f32(0x1p-24f);
    store_interleave4(dst, mul(to_f32(srl<8>(b.w[0])), scale), mul(to_f32(srl<8>(b.w[1])), scale),
                      mul(to_f32(srl<8>(b.w[2])), scale), mul(to_f32(srl<8>(b.w[3])), scale));
  });
}

template <bool Upper>
inline void normal_pair_f64(const Words4& b, U32 vlo, U32 vhi, M32 upper, double* dst) {
  const F64 r = radius_f64<Upper>(vlo, vhi, upper);
  F64 cs, sn;
  cos_sin_f64<Upper>(b.w[3], b.w[2], cs, sn);
  store_interleave2(dst, mul(r, cs), mul(r, sn));
}

void fill_normal_f64(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out) {
  fill_positions<2>(sk, start, n, out, [&](Counter128 c, double* dst) {
    const Words4 b = philox_lanes(c, sk.key);
    // u1 from words 0 (low) and 1 (high); for u1 >= 1/2 use 2**64 - t, formed exactly
    const U32 t = bor(b.w[0], set1_u32(1));
    const M32 upper = top_bit(b.w[1]);
    const U32 vlo = select(upper, sub(set1_u32(0), t), t);
    const U32 vhi = select(upper, bxor(b.w[1], set1_u32(0xFFFFFFFFu)), b.w[1]);
    normal_pair_f64<false>(b, vlo, vhi, upper, dst);
    normal_pair_f64<true>(b, vlo, vhi, upper, dst + kLanes32);
  });
}

template <bool Upper>
inline F64 uniform53(U32 lo, U32 hi) {
  const F64 dhi = Upper ? to_f64_hi(hi) : to_f64_lo(hi);
  const F64 dlo = Upper ? to_f64_hi(srl<11>(lo)) : to_f64_lo(srl<11>(lo));
  return mul(add(mul(dhi, set1_f64(0x1p21)), dlo), set1_f64(0x1p-53));
}

void fill_uniform_f64(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out) {
  fill_positions<2>(sk, start, n, out, [&](Counter128 c, double* dst) {
    const Words4 b = philox_lanes(c, sk.key);
    store_interleave2(dst, uniform53<false>(b.w[0], b.w[1]), uniform53<false>(b.w[2], b.w[3]));
    store_interleave2(dst + kLanes32, uniform53<true>(b.w[0], b.w[1]), uniform53<true>(b.w[2], b.w[3]));
  });
}

// Heap scratch for the kernels below. Defined here, not std::vector: a std:: template
// instantiated in this file would be compiled with this target's flags, and the linker
// may keep that copy for callers on CPUs without the instruction set.
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t n, T fill = T()) : p_(static_cast<T*>(std::malloc((n ? n : 1) * sizeof(T)))) {
    if (p_ == nullptr) throw std::bad_alloc();
    for (std::size_t i = 0; i < n; ++i) p_[i] = fill;
  }
  ~Scratch() { std::free(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() { return p_; }
  T& operator[](std::size_t i) { return p_[i]; }

 private:
  T* p_;
};

#include "affine_kernels.hpp"
#include "gradient_kernels.hpp"

const KernelTable kTable = {kTargetName,         fill_raw,           fill_normal_f32,    fill_uniform_f32,
                            fill_normal_f64,     fill_uniform_f64,   affine_normal_f32,  affine_normal_f64,
                            sigma_f32,           sigma_f64,          reduce_f32,         reduce_f64,
                            dsigma_f32,          dsigma_f64,         pathwise_finish_f32, pathwise_finish_f64};

}  // namespace
}  // namespace REPARAM_NS

const KernelTable* REPARAM_TABLE_FN() { return &REPARAM_NS::kTable; }

}  // namespace reparam

// The sampling kernels, compiled once per target by CMakeLists.txt with that target's
// flags and REPARAM_TARGET_<NAME> defined. Each copy lives in its own namespace and
// exports one KernelTable, so no inline function is shared between targets.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(_MSC_VER) && !defined(__clang__) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>  // _mm_prefetch (gradient_kernels.hpp) on every x86 target
#endif

#include "closed_forms.hpp"
#include "kernel_table.hpp"
#include "params.hpp"
#include "philox4x32.hpp"
#include "stream.hpp"
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

// How many groups of kLanes32 blocks the fills compute per step (their chains
// interleaved; see vec_pack.hpp), float32 and raw / float64: set per target by the
// vector layer.
#ifndef REPARAM_FILL_GROUPS_F32
#define REPARAM_FILL_GROUPS_F32 1
#endif
#ifndef REPARAM_FILL_GROUPS_F64
#define REPARAM_FILL_GROUPS_F64 1
#endif

template <int N>
using Groups = std::integral_constant<int, N>;

// Calls compute(Groups<G>, first_block_counter, dst) for consecutive runs of G groups of
// kLanes32 blocks, each group yielding PerBlock * kLanes32 values, and keeps positions
// [start, start + n): G = Wide while whole runs fit, else 1. Partial groups at either
// end go through a small buffer; values depend only on their position, never on where
// a group starts.
// The unit of a position (stream.hpp) of values taking PerBlock per block: 4 words or 2 slots.
template <int PerBlock>
constexpr int kUnitOf = PerBlock == 2 ? 2 : 1;

template <int PerBlock, int Wide, class T, class Compute>
void fill_positions(const StreamKey& sk, std::uint64_t start, std::size_t n, T* out, Compute compute) {
  constexpr std::size_t kGroup = PerBlock * kLanes32;
  const StreamPosition first = stream_at(sk, start, 0, kUnitOf<PerBlock>);  // start may be near 2**64
  std::uint64_t block = 0;  // blocks from first.sk.ctr (< n: no wrap)
  std::size_t skip = std::size_t(first.start);
  std::size_t done = 0;
  alignas(64) T buffer[kGroup];
  while (done < n) {
    const Counter128 c = counter_add(first.sk.ctr, block);
    if constexpr (Wide > 1) {
      if (skip == 0 && n - done >= Wide * kGroup) {
        compute(Groups<Wide>{}, c, out + done);
        done += Wide * kGroup;
        block += Wide * kLanes32;
        continue;
      }
    }
    if (skip == 0 && n - done >= kGroup) {
      compute(Groups<1>{}, c, out + done);
      done += kGroup;
    } else {
      compute(Groups<1>{}, c, buffer);
      const std::size_t take = std::min(kGroup - skip, n - done);
      std::memcpy(out + done, buffer + skip, take * sizeof(T));
      done += take;
      skip = 0;
    }
    block += kLanes32;
  }
}

// fill_positions for outputs too large for the caches: whole runs of Wide groups are
// computed into an L1-resident staging buffer and go on to `out` as whole 64-byte lines
// by streaming stores (the vector layer's stream_lines); the parts of a line at either
// end take ordinary stores. The values are those of fill_positions, bit for bit.
template <int PerBlock, int Wide, class T, class Compute>
void fill_positions_streaming(const StreamKey& sk0, std::uint64_t start0, std::size_t n, T* out,
                              Compute compute) {
  const StreamPosition first = stream_at(sk0, start0, 0, kUnitOf<PerBlock>);  // no 64-bit sum below wraps
  const StreamKey& sk = first.sk;
  const std::uint64_t start = first.start;
  constexpr std::size_t kRun = std::size_t(Wide) * PerBlock * kLanes32;  // values per compute
  constexpr std::size_t kRuns = kRun * sizeof(T) >= 2048 ? 2 : 4096 / (kRun * sizeof(T));
  const std::size_t head = std::min<std::size_t>(n, (PerBlock - start % PerBlock) % PerBlock);
  const std::size_t runs = (n - head) / kRun;
  if (!kStreamingStores || runs < 2 * kRuns || reinterpret_cast<std::uintptr_t>(out) % sizeof(T) != 0) {
    fill_positions<PerBlock, Wide>(sk, start, n, out, compute);
    return;
  }
  fill_positions<PerBlock, Wide>(sk, start, head, out, compute);
  // kRuns runs plus the part of a line (< 64 bytes) carried over from the step before.
  alignas(64) T stage[kRuns * kRun + 64 / sizeof(T)];
  auto* dst = reinterpret_cast<unsigned char*>(out + head);
  std::size_t have = (64 - reinterpret_cast<std::uintptr_t>(dst) % 64) % 64 / sizeof(T);
  std::uint64_t block = (start + head) / PerBlock;
  // The first step fills the lead (the values before dst's first line boundary) too.
  std::size_t lead = have;
  have = 0;
  for (std::size_t r = 0; r < runs;) {
    const std::size_t now = std::min(kRuns, runs - r);
    for (std::size_t k = 0; k < now; ++k, block += Wide * kLanes32)
      compute(Groups<Wide>{}, counter_add(sk.ctr, block), stage + have + k * kRun);
    r += now;
    have += now * kRun;
    const auto* src = reinterpret_cast<const unsigned char*>(stage);
    if (lead) {  // only on the first step: up to dst's first line boundary
      std::memcpy(dst, src, lead * sizeof(T));
      dst += lead * sizeof(T);
      src += lead * sizeof(T);
      have -= lead;
      lead = 0;
    }
    const std::size_t lines = have * sizeof(T) / 64;
    stream_lines(dst, src, lines);
    dst += 64 * lines;
    src += 64 * lines;
    have -= 64 * lines / sizeof(T);
    std::memmove(stage, src, have * sizeof(T));
  }
  std::memcpy(dst, stage, have * sizeof(T));
  stream_fence();
  const std::size_t done = head + runs * kRun;
  fill_positions<PerBlock, Wide>(sk, start + done, n - done, out + done, compute);
}

template <int PerBlock, int Wide, class T, class Compute>
void fill_with(bool streaming, const StreamKey& sk, std::uint64_t start, std::size_t n, T* out, Compute compute) {
  if (streaming) fill_positions_streaming<PerBlock, Wide>(sk, start, n, out, compute);
  else fill_positions<PerBlock, Wide>(sk, start, n, out, compute);
}

void fill_raw(const StreamKey& sk, std::uint64_t start, std::size_t n, std::uint32_t* out, bool streaming) {
  fill_with<4, REPARAM_FILL_GROUPS_F32>(streaming, sk, start, n, out, [&](auto groups, Counter128 c, std::uint32_t* dst) {
    constexpr int G = decltype(groups)::value;
    const Words4<G> b = philox_lanes<G>(c, sk.key);
    for_each_member<G>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      store_interleave4(dst + g * 4 * kLanes32, at<g>(b.w[0]), at<g>(b.w[1]), at<g>(b.w[2]), at<g>(b.w[3]));
    });
  });
}

void fill_normal_f32(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out, bool streaming) {
  fill_with<4, REPARAM_FILL_GROUPS_F32>(streaming, sk, start, n, out, [&](auto groups, Counter128 c, float* dst) {
    constexpr int G = decltype(groups)::value;
    const Words4<G> b = philox_lanes<G>(c, sk.key);
    const auto r01 = radius_f32(b.w[0]);
    const auto r23 = radius_f32(b.w[2]);
    std::remove_const_t<decltype(r01)> c01, s01, c23, s23;
    cos_sin_f32(b.w[1], c01, s01);
    cos_sin_f32(b.w[3], c23, s23);
    const auto z0 = mul(r01, c01), z1 = mul(r01, s01), z2 = mul(r23, c23), z3 = mul(r23, s23);
    for_each_member<G>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      store_interleave4(dst + g * 4 * kLanes32, at<g>(z0), at<g>(z1), at<g>(z2), at<g>(z3));
    });
  });
}

void fill_uniform_f32(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out, bool streaming) {
  fill_with<4, REPARAM_FILL_GROUPS_F32>(streaming, sk, start, n, out, [&](auto groups, Counter128 c, float* dst) {
    constexpr int G = decltype(groups)::value;
    const Words4<G> b = philox_lanes<G>(c, sk.key);
    const F32 scale = set1_f32(0x1p-24f);
    const auto u0 = mul(to_f32(srl<8>(b.w[0])), scale), u1 = mul(to_f32(srl<8>(b.w[1])), scale);
    const auto u2 = mul(to_f32(srl<8>(b.w[2])), scale), u3 = mul(to_f32(srl<8>(b.w[3])), scale);
    for_each_member<G>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      store_interleave4(dst + g * 4 * kLanes32, at<g>(u0), at<g>(u1), at<g>(u2), at<g>(u3));
    });
  });
}

// Members 2g and 2g + 1 of the result are the lower and upper halves of member g of u
// (as doubles, or as 64-bit lane masks), so that both halves share the interleaving.
template <class U, int... I>
REPARAM_INLINE auto halves_f64(PackIdx<I...>, const U& u) {
  return Pack<F64, int(sizeof...(I))>{{(I % 2 ? to_f64_hi(at<I / 2>(u)) : to_f64_lo(at<I / 2>(u)))...}};
}
template <class M, int... I>
REPARAM_INLINE auto halves_mask(PackIdx<I...>, const M& m) {
  return Pack<M64, int(sizeof...(I))>{{(I % 2 ? mask_hi(at<I / 2>(m)) : mask_lo(at<I / 2>(m)))...}};
}

void fill_normal_f64(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out, bool streaming) {
  fill_with<2, REPARAM_FILL_GROUPS_F64>(streaming, sk, start, n, out, [&](auto groups, Counter128 c, double* dst) {
    constexpr int G = decltype(groups)::value;
    using H = typename MakePackIdx<2 * G>::type;  // lower and upper halves of each group
    const Words4<G> b = philox_lanes<G>(c, sk.key);
    // u1 from words 0 (low) and 1 (high); for u1 >= 1/2 use 2**64 - t, formed exactly
    const auto u1 = u1_words(b.w[0], b.w[1]);
    const auto r = radius_f64(halves_f64(H{}, u1.vlo), halves_f64(H{}, u1.vhi), halves_mask(H{}, u1.upper));
    const auto aw = angle_words(b.w[3], b.w[2]);
    std::remove_const_t<decltype(r)> cs, sn;
    cos_sin_f64(halves_f64(H{}, aw.top), halves_f64(H{}, aw.bottom), halves_mask(H{}, aw.odd),
                halves_mask(H{}, aw.swap), halves_mask(H{}, aw.flip), cs, sn);
    const auto zc = mul(r, cs), zs = mul(r, sn);
    for_each_member<2 * G>([&](auto h_) {
      constexpr int h = decltype(h_)::value;
      store_interleave2(dst + h * kLanes64 * 2, at<h>(zc), at<h>(zs));
    });
  });
}

template <bool Upper, class U>
REPARAM_INLINE auto uniform53(U lo, U hi) {
  const auto dhi = Upper ? to_f64_hi(hi) : to_f64_lo(hi);
  const auto dlo = Upper ? to_f64_hi(srl<11>(lo)) : to_f64_lo(srl<11>(lo));
  return mul(add(mul(dhi, set1_f64(0x1p21)), dlo), set1_f64(0x1p-53));
}

void fill_uniform_f64(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out, bool streaming) {
  fill_with<2, REPARAM_FILL_GROUPS_F64>(streaming, sk, start, n, out, [&](auto groups, Counter128 c, double* dst) {
    constexpr int G = decltype(groups)::value;
    const Words4<G> b = philox_lanes<G>(c, sk.key);
    const auto a_lo = uniform53<false>(b.w[0], b.w[1]), b_lo = uniform53<false>(b.w[2], b.w[3]);
    const auto a_hi = uniform53<true>(b.w[0], b.w[1]), b_hi = uniform53<true>(b.w[2], b.w[3]);
    for_each_member<G>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      store_interleave2(dst + g * 2 * kLanes32, at<g>(a_lo), at<g>(b_lo));
      store_interleave2(dst + g * 2 * kLanes32 + kLanes32, at<g>(a_hi), at<g>(b_hi));
    });
  });
}

// Exp(1) variates by inversion, E = -log(u1) with the radius's u1 and logarithm: one
// value per word (float32, u1 = (w | 1) / 2**32) or per 64-bit slot (float64, u1 =
// ((hi:lo) | 1) / 2**64), so in (0, 22.2] and (0, 44.4]; never 0, inf or NaN.
void fill_exponential_f32(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out, bool streaming) {
  fill_with<4, REPARAM_FILL_GROUPS_F32>(streaming, sk, start, n, out, [&](auto groups, Counter128 c, float* dst) {
    constexpr int G = decltype(groups)::value;
    const Words4<G> b = philox_lanes<G>(c, sk.key);
    const F32 minus_one = set1_f32(-1.0f);
    const auto e0 = mul(log_u1_f32(b.w[0]), minus_one), e1 = mul(log_u1_f32(b.w[1]), minus_one);
    const auto e2 = mul(log_u1_f32(b.w[2]), minus_one), e3 = mul(log_u1_f32(b.w[3]), minus_one);
    for_each_member<G>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      store_interleave4(dst + g * 4 * kLanes32, at<g>(e0), at<g>(e1), at<g>(e2), at<g>(e3));
    });
  });
}

void fill_exponential_f64(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out, bool streaming) {
  fill_with<2, REPARAM_FILL_GROUPS_F64>(streaming, sk, start, n, out, [&](auto groups, Counter128 c, double* dst) {
    constexpr int G = decltype(groups)::value;
    using H = typename MakePackIdx<2 * G>::type;  // lower and upper halves of each group
    const Words4<G> b = philox_lanes<G>(c, sk.key);
    const auto a = u1_words(b.w[0], b.w[1]);  // slot 2k: words 0 (low) and 1 (high)
    const auto d = u1_words(b.w[2], b.w[3]);  // slot 2k + 1: words 2 and 3
    const F64 minus_one = set1_f64(-1.0);
    const auto ea = mul(log_u1_f64(halves_f64(H{}, a.vlo), halves_f64(H{}, a.vhi), halves_mask(H{}, a.upper)),
                        minus_one);
    const auto ed = mul(log_u1_f64(halves_f64(H{}, d.vlo), halves_f64(H{}, d.vhi), halves_mask(H{}, d.upper)),
                        minus_one);
    for_each_member<2 * G>([&](auto h_) {
      constexpr int h = decltype(h_)::value;
      store_interleave2(dst + h * kLanes64 * 2, at<h>(ea), at<h>(ed));
    });
  });
}

// x = exp(x) over n float64 values in place, with the closed forms' exp (the same bits on
// every target): lognormal variates from normal ones.
void exp_inplace_f64(std::size_t n, double* x) {
  std::size_t j = 0;
  for (; j + kLanes64 <= n; j += kLanes64) store(x + j, exp_f64(load(x + j)));
  if (j < n) {
    alignas(64) double t[kLanes64] = {};
    std::memcpy(t, x + j, (n - j) * sizeof(double));
    store(t, exp_f64(load(t)));
    std::memcpy(x + j, t, (n - j) * sizeof(double));
  }
}

#include "affine_kernels.hpp"
#include "gradient_kernels.hpp"
#include "closed_form_kernels.hpp"

const KernelTable kTable = {kTargetName,     fill_raw,         fill_normal_f32,        fill_uniform_f32,
                            fill_normal_f64, fill_uniform_f64, affine_normal_f32,      affine_normal_f64,
                            sigma_f32,       sigma_f64,        reduce_f32,             reduce_f64,
                            add_block_sums,
                            dsigma_f32,      dsigma_f64,       grad_finish_f32,        grad_finish_f64,
                            grad_finish_f32_to_f64,            grad_tiles_f32,         grad_tiles_f64,
                            closed_form_f32, closed_form_f32_to_f64,                   closed_form_f64,
                            fill_exponential_f32,              fill_exponential_f64,   exp_inplace_f64};

}  // namespace
}  // namespace REPARAM_NS

const KernelTable* REPARAM_TABLE_FN() { return &REPARAM_NS::kTable; }

}  // namespace reparam

// Philox4x32-10 over the vector layer: lane i computes block ctr + i, so a vector of
// blocks is the same words the scalar reference gives, whatever the lane count.
#pragma once

#include <cstdint>

#include "philox4x32.hpp"
#include "simd/vec_pack.hpp"

// Included inside the target namespace, after the vector layer.

// One vector (N = 1) or a Pack of N vectors.
template <class V, int N>
using VecN = std::conditional_t<N == 1, V, Pack<V, N>>;

// Calls f(std::integral_constant<int, I>) for I = 0 .. N-1 (member I of a pack).
template <class F, int... I>
REPARAM_INLINE void for_each_member_impl(PackIdx<I...>, F&& f) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, class F>
REPARAM_INLINE void for_each_member(F&& f) {
  for_each_member_impl(typename MakePackIdx<N>::type{}, f);
}
// A VecN<V, N> whose member I is f(I).
template <class V, class F, int... I>
REPARAM_INLINE auto make_members_impl(PackIdx<I...>, F&& f) {
  if constexpr (sizeof...(I) == 1) return f(0);
  else return Pack<V, int(sizeof...(I))>{{f(I)...}};
}
template <class V, int N, class F>
REPARAM_INLINE VecN<V, N> make_members(F&& f) {
  return make_members_impl<V>(typename MakePackIdx<N>::type{}, f);
}

template <int N = 1>
struct Words4 {
  VecN<U32, N> w[4];  // w[j] lane i of member g = word j of block (ctr + g * kLanes32 + i)
};

// N vectors of consecutive blocks from ctr (N * kLanes32 blocks), the N chains interleaved.
template <int N = 1>
REPARAM_INLINE Words4<N> philox_lanes(Counter128 c, const std::uint32_t key[2]) {
  using P = VecN<U32, N>;
  constexpr std::size_t kBlocks = N * kLanes32;
  P x0, x1, x2, x3;
  if (c.w[0] <= 0xFFFFFFFFu - std::uint32_t(kBlocks - 1)) {
    x0 = make_members<U32, N>([&](int g) { return iota_u32(c.w[0] + std::uint32_t(g * kLanes32)); });
    x1 = lift<P>(set1_u32(c.w[1]));
    x2 = lift<P>(set1_u32(c.w[2]));
    x3 = lift<P>(set1_u32(c.w[3]));
  } else {  // a carry out of word 0 inside these blocks: build the lanes one by one
    alignas(64) std::uint32_t lanes[4][kBlocks];
    for (std::size_t i = 0; i < kBlocks; ++i) {
      const Counter128 ci = counter_add(c, i);
      for (int j = 0; j < 4; ++j) lanes[j][i] = ci.w[j];
    }
    x0 = make_members<U32, N>([&](int g) { return load(lanes[0] + g * kLanes32); });
    x1 = make_members<U32, N>([&](int g) { return load(lanes[1] + g * kLanes32); });
    x2 = make_members<U32, N>([&](int g) { return load(lanes[2] + g * kLanes32); });
    x3 = make_members<U32, N>([&](int g) { return load(lanes[3] + g * kLanes32); });
  }
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; ++r) {
    P hi0, lo0, hi1, lo1;
    mulhilo(x0, kPhiloxM0, hi0, lo0);
    mulhilo(x2, kPhiloxM1, hi1, lo1);
    x0 = bxor(bxor(hi1, x1), set1_u32(k0));
    x1 = lo1;
    x2 = bxor(bxor(hi0, x3), set1_u32(k1));
    x3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return Words4<N>{{x0, x1, x2, x3}};
}

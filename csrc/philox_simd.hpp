// Philox4x32-10 over the vector layer: lane i computes block ctr + i, so a vector of
// blocks is the same words the scalar reference gives, whatever the lane count.
#pragma once

#include <cstdint>

#include "philox4x32.hpp"

// Included inside the target namespace, after the vector layer.

struct Words4 {
  U32 w[4];  // w[j] lane i = word j of block (ctr + i)
};

inline Words4 philox_lanes(Counter128 c, const std::uint32_t key[2]) {
  U32 x0, x1, x2, x3;
  if (c.w[0] <= 0xFFFFFFFFu - std::uint32_t(kLanes32 - 1)) {
    x0 = iota_u32(c.w[0]);
    x1 = set1_u32(c.w[1]);
    x2 = set1_u32(c.w[2]);
    x3 = set1_u32(c.w[3]);
  } else {  // a carry out of word 0 inside this vector: build the lanes one by one
    alignas(64) std::uint32_t lanes[4][kLanes32];
    for (std::size_t i = 0; i < kLanes32; ++i) {
      const Counter128 ci = counter_add(c, i);
      for (int j = 0; j < 4; ++j) lanes[j][i] = ci.w[j];
    }
    x0 = load(lanes[0]);
    x1 = load(lanes[1]);
    x2 = load(lanes[2]);
    x3 = load(lanes[3]);
  }
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; ++r) {
    U32 hi0, lo0, hi1, lo1;
    mulhilo(x0, kPhiloxM0, hi0, lo0);
    mulhilo(x2, kPhiloxM1, hi1, lo1);
    x0 = bxor(bxor(hi1, x1), set1_u32(k0));
    x1 = lo1;
    x2 = bxor(bxor(hi0, x3), set1_u32(k1));
    x3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return Words4{{x0, x1, x2, x3}};
}

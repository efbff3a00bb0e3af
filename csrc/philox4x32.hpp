// Philox4x32-R (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC11):
// the scalar reference used by the bit generator interface and the tests. The SIMD
// kernels evaluate the same rounds lane by lane (philox_simd.hpp).
#pragma once

#include <cstdint>

namespace reparam {

inline constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
inline constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
inline constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

struct Block4x32 {
  std::uint32_t v[4];
};

// A 128-bit block counter as four 32-bit words, word 0 lowest.
struct Counter128 {
  std::uint32_t w[4];
};

inline Counter128 counter_add(Counter128 c, std::uint64_t delta) {
  std::uint64_t lo = (std::uint64_t(c.w[1]) << 32) | c.w[0];
  std::uint64_t hi = (std::uint64_t(c.w[3]) << 32) | c.w[2];
  std::uint64_t nlo = lo + delta;
  if (nlo < lo) ++hi;  // carry; the counter wraps at 2**128
  return Counter128{{std::uint32_t(nlo), std::uint32_t(nlo >> 32), std::uint32_t(hi),
                     std::uint32_t(hi >> 32)}};
}

// c + delta for a 128-bit delta (the counter wraps at 2**128).
inline Counter128 counter_add(Counter128 c, Counter128 delta) {
  Counter128 r{};
  std::uint64_t carry = 0;
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t t = std::uint64_t(c.w[i]) + delta.w[i] + carry;
    r.w[i] = std::uint32_t(t);
    carry = t >> 32;
  }
  return r;
}

// The stream a kernel reads: word p of it is word (p mod 4) of philox(ctr + p / 4, key).
struct StreamKey {
  std::uint32_t key[2];
  Counter128 ctr;
};

template <int Rounds = 10>
inline Block4x32 philox4x32(Counter128 c, const std::uint32_t key[2]) {
  std::uint32_t x0 = c.w[0], x1 = c.w[1], x2 = c.w[2], x3 = c.w[3];
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < Rounds; ++r) {
    std::uint64_t p0 = std::uint64_t(kPhiloxM0) * x0;
    std::uint64_t p1 = std::uint64_t(kPhiloxM1) * x2;
    std::uint32_t n0 = std::uint32_t(p1 >> 32) ^ x1 ^ k0;
    std::uint32_t n2 = std::uint32_t(p0 >> 32) ^ x3 ^ k1;
    x1 = std::uint32_t(p1);
    x3 = std::uint32_t(p0);
    x0 = n0;
    x2 = n2;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return Block4x32{{x0, x1, x2, x3}};
}

}  // namespace reparam

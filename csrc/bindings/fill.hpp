// Reserving stream positions under the state's lock and filling them: shared by the
// pybind11 entry points (register_sampling.cpp) and the fast calls (fast_calls.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../dispatch.hpp"
#include "../philox_state.hpp"
#include "../stream.hpp"
#include "../thread_pool.hpp"
#include "gil.hpp"
#include "pybind11.hpp"
#include "stream_lock.hpp"

namespace reparam::bindings {

enum class Kind { Normal, Uniform, Exponential, Raw };

template <class T>
inline auto fill_kernel(const KernelTable& k, Kind kind) {
  if constexpr (std::is_same_v<T, float>) {
    return kind == Kind::Normal ? k.fill_normal_f32 : kind == Kind::Uniform ? k.fill_uniform_f32 : k.fill_exponential_f32;
  } else {
    return kind == Kind::Normal ? k.fill_normal_f64 : kind == Kind::Uniform ? k.fill_uniform_f64 : k.fill_exponential_f64;
  }
}

// Below this many values the kernel takes less time than releasing and re-taking
// the GIL, and nothing could run meanwhile anyway; at and above it the GIL is released.
constexpr std::size_t kReleaseGilAt = 256;

// Outputs of this many bytes or more are written with streaming stores: skipping the
// read of each line before its write is what lets two threads scale at n = 10**7 (40-80
// MB; measured, see README "Speed"). The threshold itself is a choice, not a measurement:
// above the L2 of common CPUs, so that outputs a caller may read back soon stay cached.
constexpr std::size_t kStreamingBytes = std::size_t(8) << 20;

template <class T, class Fn>
inline void run_fill(const Reservation& r, std::size_t n, T* data, Fn kernel) {
  if (n < kReleaseGilAt) {
    kernel(r.sk, r.start, n, data, false);
    return;
  }
  const bool streaming = n * sizeof(T) >= kStreamingBytes;
  ReleasedGil nogil;  // the kernel touches only `data` and the reservation
  parallel_ranges(n, [&](std::size_t off, std::size_t count) {
    const StreamPosition p = stream_at(r.sk, r.start, off, sizeof(T) == 8 ? 2 : 1);
    kernel(p.sk, p.start, count, data + off, streaming);
  });
}

// Reserve n values of T (float32 and raw words: one word each; float64: one 64-bit
// slot each) and fill them.
template <class T>
inline void fill_typed(PhiloxState& state, T* data, std::size_t n, Kind kind) {
  const KernelTable& k = active_kernels();
  Reservation r;
  {
    HeldLock hold(state.mutex());
    r = state.reserve(n, sizeof(T) == 8 ? 2 : 1);
  }
  if constexpr (std::is_same_v<T, std::uint32_t>) {
    run_fill(r, n, data, k.fill_raw);
  } else {
    run_fill(r, n, data, fill_kernel<T>(k, kind));
  }
}

}  // namespace reparam::bindings

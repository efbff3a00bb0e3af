// The Python face of a stream position (reparam._core.StreamPos): a key, a 128-bit block
// counter and a start in units (32-bit words or 64-bit slots) past that block's first
// word. Noise handles and Dask graphs hold one; Python never computes a position itself
// but asks this type (which calls stream_at) for the position `offset` units later.
#pragma once

#include <cstdint>

#include "../stream.hpp"
#include "pybind11.hpp"

namespace reparam::bindings {

struct PyStreamPos {
  StreamPosition pos;
  int unit;  // 1: float32 values and raw words, 2: float64 values
};

// Python ints to and from the core's 128-bit counters. `name` is the argument's name for
// errors; `bits` the exclusive bound (64 or 128), checked.
Counter128 counter_from_int(const py::handle& v, const char* name, int bits = 128);
py::int_ int_from_counter(const Counter128& c);

inline Counter128 counter_from_words(std::uint64_t lo, std::uint64_t hi) {
  return Counter128{{std::uint32_t(lo), std::uint32_t(lo >> 32), std::uint32_t(hi), std::uint32_t(hi >> 32)}};
}
inline std::uint64_t counter_lo(const Counter128& c) { return (std::uint64_t(c.w[1]) << 32) | c.w[0]; }
inline std::uint64_t counter_hi(const Counter128& c) { return (std::uint64_t(c.w[3]) << 32) | c.w[2]; }

// Fills `out` (float32/float64 for "normal"/"uniform", uint32 for "raw") with the values
// from position r on (register_sampling.cpp).
void fill_at(const std::string& kind, const StreamPosition& r, py::array& out);

}  // namespace reparam::bindings

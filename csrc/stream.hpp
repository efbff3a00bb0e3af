// Stream positions: the one place that turns "offset units past a start" into a Philox
// block counter and an index in that block. Every kernel, binding and the bit
// generator state call stream_at; nothing else adds to a position.
#pragma once

#include <cstdint>

#include "philox4x32.hpp"

namespace reparam {

// Where values are read: `start` units past the first word of block sk.ctr. A unit is
// one 32-bit word (unit = 1: float32 values and raw words) or one 64-bit slot of two
// words (unit = 2: float64 values). stream_at's results have start < 4 / unit; other
// callers may pass any start (a Noise handle's, up to 2**64 - 1).
struct StreamPosition {
  StreamKey sk;
  std::uint64_t start;
};

// Position `offset` units past `start` units past block base.ctr, as its block counter
// and its index in that block (< 4 / unit). The blocks carry into all 128 bits of the
// counter (which wraps at 2**128), and no 64-bit sum overflows for any start and offset
// below 2**64, so (ctr, start + offset) and stream_at(ctr, start, offset) name the same
// values whenever start + offset does not wrap, and stream_at is right when it would.
inline StreamPosition stream_at(const StreamKey& base, std::uint64_t start, std::uint64_t offset, int unit) {
  const std::uint64_t per = unit == 2 ? 2 : 4;  // units per block
  const std::uint64_t rest = start % per + offset % per;  // < 2 * per
  const std::uint64_t blocks = start / per + offset / per + rest / per;  // < 2**64 (see above)
  return StreamPosition{StreamKey{{base.key[0], base.key[1]}, counter_add(base.ctr, blocks)}, rest % per};
}

}  // namespace reparam

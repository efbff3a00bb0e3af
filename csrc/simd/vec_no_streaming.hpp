// The streaming-store interface for vector layers that have no such stores (the portable
// layer, and NEON, whose intrinsics expose no non-temporal store): kStreamingStores is
// false, so the kernels take their ordinary stores; stream_lines is a plain copy for the
// code that names it. Included at the end of those layers, inside the target namespace,
// after their <cstddef> and <cstring>.
#pragma once

inline constexpr bool kStreamingStores = false;
inline void stream_lines(unsigned char* dst, const unsigned char* src, std::size_t lines) {
  std::memcpy(dst, src, 64 * lines);
}
inline void stream_fence() {}

#include "cpu_features.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define REPARAM_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#include <cstdint>

#if defined(REPARAM_X86) && defined(__APPLE__)
#include <sys/sysctl.h>

#include <cstdio>
#endif

namespace reparam {
namespace {

#if defined(REPARAM_X86)
void cpuid(std::uint32_t leaf, std::uint32_t sub, std::uint32_t r[4]) {
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, int(leaf), int(sub));
  for (int i = 0; i < 4; ++i) r[i] = std::uint32_t(regs[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

std::uint64_t xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  std::uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t(hi) << 32) | lo;
#endif
}
#endif

#if defined(REPARAM_X86) && defined(__APPLE__)
// macOS enables AVX-512 state per thread on first use, so XCR0 shows no ZMM state until
// then: ask the kernel instead (Apple's documented way), and only from macOS 12.2 on,
// which fixed the kernel's loss of the opmask registers across context switches.
bool sysctl_flag(const char* name) {
  int value = 0;
  std::size_t size = sizeof(value);
  return sysctlbyname(name, &value, &size, nullptr, 0) == 0 && value != 0;
}

bool macos_avx512() {
  char version[32] = {};
  std::size_t size = sizeof(version) - 1;
  int major = 0, minor = 0;
  if (sysctlbyname("kern.osproductversion", version, &size, nullptr, 0) != 0 ||
      std::sscanf(version, "%d.%d", &major, &minor) < 1)
    return false;
  if (major < 12 || (major == 12 && minor < 2)) return false;
  return sysctl_flag("hw.optional.avx512f") && sysctl_flag("hw.optional.avx512cd") &&
         sysctl_flag("hw.optional.avx512dq") && sysctl_flag("hw.optional.avx512bw") &&
         sysctl_flag("hw.optional.avx512vl");
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(REPARAM_X86)
  std::uint32_t r[4];
  cpuid(0, 0, r);
  const std::uint32_t max_leaf = r[0];
  cpuid(0x80000000u, 0, r);
  const std::uint32_t max_ext_leaf = r[0];
  cpuid(1, 0, r);
  f.sse2 = (r[3] >> 26) & 1;
  const bool osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
  const bool movbe = (r[2] >> 22) & 1, f16c = (r[2] >> 29) & 1;
  if (!osxsave || !avx || max_leaf < 7) return f;
  const std::uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;
  bool lzcnt = false;
  if (max_ext_leaf >= 0x80000001u) {
    cpuid(0x80000001u, 0, r);
    lzcnt = (r[2] >> 5) & 1;
  }
  cpuid(7, 0, r);
  const bool avx2 = (r[1] >> 5) & 1, bmi1 = (r[1] >> 3) & 1, bmi2 = (r[1] >> 8) & 1;
  // F, DQ, CD, BW, VL: what MSVC's /arch:AVX512 may use (GCC's flags name all but CD).
  const bool avx512 = ((r[1] >> 16) & 1) && ((r[1] >> 17) & 1) && ((r[1] >> 28) & 1) &&
                      ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1);
  // The whole x86-64-v3 set, not just AVX2 and FMA: a compiler's AVX2 level (MSVC's
  // /arch:AVX2) may also use BMI1/2, LZCNT, MOVBE and F16C, which every AVX2 CPU has
  // (only some hypervisors hide them).
  f.avx2_fma = ymm_state && avx2 && fma && bmi1 && bmi2 && lzcnt && movbe && f16c;
#if defined(__APPLE__)
  f.avx512 = f.avx2_fma && avx512 && macos_avx512();
  (void)zmm_state;
#else
  f.avx512 = f.avx2_fma && zmm_state && avx512;
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
  f.neon = true;  // Advanced SIMD is part of the AArch64 base architecture
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace reparam

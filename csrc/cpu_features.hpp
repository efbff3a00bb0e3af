// What the CPU and operating system support, asked once: CPUID and XGETBV on x86-64
// (an instruction set counts only if the OS saves its registers), fixed on AArch64.
#pragma once

namespace reparam {

struct CpuFeatures {
  bool sse2 = false;
  bool avx2_fma = false;  // AVX2 + FMA with the rest of x86-64-v3 (BMI1/2, LZCNT, MOVBE, F16C)
  bool avx512 = false;    // F + CD + DQ + BW + VL with ZMM state enabled by the OS
  bool neon = false;
};

const CpuFeatures& cpu_features();

}  // namespace reparam

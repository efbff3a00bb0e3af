#include "dispatch.hpp"

#include <atomic>

#include "cpu_features.hpp"

namespace reparam {
namespace {

std::vector<TargetInfo> build_targets() {
  const CpuFeatures& f = cpu_features();
  std::vector<TargetInfo> t;
  t.push_back({"scalar", kernels_scalar(), true});
#if defined(REPARAM_HAVE_SSE2)
  t.push_back({"sse2", kernels_sse2(), f.sse2});
#endif
#if defined(REPARAM_HAVE_AVX2)
  t.push_back({"avx2", kernels_avx2(), f.avx2_fma});
#endif
#if defined(REPARAM_HAVE_AVX512)
  t.push_back({"avx512", kernels_avx512(), f.avx512});
#endif
#if defined(REPARAM_HAVE_NEON)
  t.push_back({"neon", kernels_neon(), f.neon});
#endif
  (void)f;
  return t;
}

const TargetInfo* best() {
  const TargetInfo* b = nullptr;
  for (const TargetInfo& t : compiled_targets())
    if (t.supported) b = &t;
  return b;
}

std::atomic<const KernelTable*> g_active{nullptr};

}  // namespace

const std::vector<TargetInfo>& compiled_targets() {
  static const std::vector<TargetInfo> targets = build_targets();
  return targets;
}

std::string best_supported_target() { return best()->name; }

const KernelTable& active_kernels() {
  const KernelTable* k = g_active.load(std::memory_order_acquire);
  if (k == nullptr) {
    k = best()->table;
    g_active.store(k, std::memory_order_release);
  }
  return *k;
}

bool select_target(const std::string& name) {
  for (const TargetInfo& t : compiled_targets()) {
    if (t.name == name && t.supported) {
      g_active.store(t.table, std::memory_order_release);
      return true;
    }
  }
  return false;
}

}  // namespace reparam

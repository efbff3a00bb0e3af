// Chooses the kernel table once at import: the best target this build has and this
// CPU supports, or a lower one named by REPARAM_CPU (read by the Python layer).
#pragma once

#include <string>
#include <vector>

#include "kernel_table.hpp"

namespace reparam {

struct TargetInfo {
  std::string name;
  const KernelTable* table;
  bool supported;  // by this CPU and operating system
};

// Compiled targets, lowest first ("scalar" is always there).
const std::vector<TargetInfo>& compiled_targets();
// The table every entry point uses.
const KernelTable& active_kernels();
// Switch to a compiled and supported target; returns false if it is neither.
bool select_target(const std::string& name);
std::string best_supported_target();

}  // namespace reparam

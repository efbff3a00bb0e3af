// The parameterizations of a Normal's spread: which raw parameter gives sigma. The one
// table of them: the kernels, the closed forms and the bindings use these values, and
// Python reads the names from reparam._core.PARAM_NAMES.
#pragma once

namespace reparam {

enum ParamKind : int { kScale = 0, kVar = 1, kLogvar = 2, kLogstd = 3, kSoftplus = 4 };

inline constexpr int kParamCount = 5;
inline constexpr const char* kParamNames[kParamCount] = {"scale", "var", "logvar", "logstd", "softplus"};

inline constexpr bool is_param_kind(int kind) { return kind >= 0 && kind < kParamCount; }

}  // namespace reparam

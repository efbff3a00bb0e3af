// Checking a parameterization argument once, at the boundary: kernels trust it.
#pragma once

#include <string>

#include "../params.hpp"
#include "pybind11.hpp"

namespace reparam::bindings {

inline int checked_kind(int kind, const char* name = "kind") {
  if (!is_param_kind(kind))
    throw py::value_error(std::string(name) + " must be a parameterization in [0, " + std::to_string(kParamCount - 1) +
                          "], got " + std::to_string(kind));
  return kind;
}

}  // namespace reparam::bindings

// Closed forms of the diagonal Normal and their gradients, elementwise over arrays
// that the caller has broadcast to one shape. Computed in float64 from the raw
// parameter, with log(sigma) and dsigma/dparam taken in stable forms per
// parameterization (no SIMD: these are not on the sampling hot path).
#pragma once

#include <cstddef>

namespace reparam {

enum class ClosedForm : int { LogProb = 0, Entropy = 1, Kl = 2, KlStandard = 3 };

// Inputs (each n elements): loc, param (kind: 0 scale, 1 var, 2 logvar, 3 logstd,
// 4 softplus), x = z for LogProb or the other distribution's loc for Kl, other_param
// with other_kind for Kl (unused otherwise: may be null). Outputs: value, and when
// d_loc/d_param are non-null the derivatives of value with respect to loc and param.
void normal_closed_form(ClosedForm form, int kind, std::size_t n, const double* loc, const double* param,
                        const double* x, const double* other_param, int other_kind, double* value,
                        double* d_loc, double* d_param);

}  // namespace reparam

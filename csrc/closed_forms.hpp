// The closed forms of the diagonal Normal: which one a kernel table's closed_form_*
// entry computes (closed_form_kernels.hpp, per target).
#pragma once

namespace reparam {

enum class ClosedForm : int { LogProb = 0, Entropy = 1, Kl = 2, KlStandard = 3 };

}  // namespace reparam

#include "closed_forms.hpp"

#include <cmath>

namespace reparam {
namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2

struct Sigma {
  double sigma, log_sigma, dlog;  // sigma, log(sigma), dlog(sigma) / dparam
};

// Gradients go through log(sigma): its derivative is finite wherever the parameter
// is (logstd = -1000 has sigma = 0 but dlog(sigma)/dparam = 1).
Sigma sigma_of(int kind, double p) {
  switch (kind) {
    case 0:
      return {p, std::log(p), 1.0 / p};
    case 1:
      return {std::sqrt(p), 0.5 * std::log(p), 0.5 / p};
    case 2:
      return {std::exp(0.5 * p), 0.5 * p, 0.5};
    case 3:
      return {std::exp(p), p, 1.0};
    default: {
      // softplus(p) = max(p, 0) + log1p(exp(-|p|)); for p << 0 it is exp(p) (1 - exp(p)/2)
      const double s = (p > 0 ? p : 0.0) + std::log1p(std::exp(-std::fabs(p)));
      const double ls = p < -30 ? p - 0.5 * std::exp(p) : std::log(s);
      const double sig = 1.0 / (1.0 + std::exp(-p));  // sigmoid = dsoftplus/dp
      return {s, ls, p < -30 ? 1.0 - 0.5 * std::exp(p) : sig / s};
    }
  }
}

}  // namespace

void normal_closed_form(ClosedForm form, int kind, std::size_t n, const double* loc, const double* param,
                        const double* x, const double* other_param, int other_kind, double* value,
                        double* d_loc, double* d_param) {
  const bool grad = d_loc != nullptr && d_param != nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const Sigma s = sigma_of(kind, param[i]);
    double v = 0, gl = 0, gs = 0;  // value, d/dloc, d/dlog(sigma)
    switch (form) {
      case ClosedForm::LogProb: {
        const double t = (x[i] - loc[i]) / s.sigma;
        v = -0.5 * t * t - s.log_sigma - kHalfLog2Pi;
        gl = t / s.sigma;
        gs = t * t - 1.0;
        break;
      }
      case ClosedForm::Entropy:
        v = s.log_sigma + 0.5 + kHalfLog2Pi;
        gs = 1.0;
        break;
      case ClosedForm::Kl: {
        const Sigma o = sigma_of(other_kind, other_param[i]);
        const double d = loc[i] - x[i];
        const double o2 = o.sigma * o.sigma;
        const double ratio2 = std::exp(2.0 * (s.log_sigma - o.log_sigma));  // sigma^2 / sigma_o^2
        // equal means contribute nothing, even when sigma_o underflows to 0
        v = o.log_sigma - s.log_sigma + 0.5 * ratio2 + (d == 0 ? 0.0 : d * d / (2.0 * o2)) - 0.5;
        gl = d == 0 ? 0.0 : d / o2;
        gs = ratio2 - 1.0;
        break;
      }
      case ClosedForm::KlStandard:
        v = 0.5 * (s.sigma * s.sigma + loc[i] * loc[i] - 1.0) - s.log_sigma;
        gl = loc[i];
        gs = s.sigma * s.sigma - 1.0;
        break;
    }
    value[i] = v;
    if (grad) {
      d_loc[i] = gl;
      d_param[i] = gs * s.dlog;
    }
  }
}

}  // namespace reparam

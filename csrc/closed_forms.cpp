#include "closed_forms.hpp"

#include <cmath>

namespace reparam {
namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2

struct Sigma {
  double sigma, log_sigma, dsigma;  // sigma, log(sigma), dsigma / dparam
};

Sigma sigma_of(int kind, double p) {
  switch (kind) {
    case 0:
      return {p, std::log(p), 1.0};
    case 1: {
      const double s = std::sqrt(p);
      return {s, 0.5 * std::log(p), 0.5 / s};
    }
    case 2: {
      const double s = std::exp(0.5 * p);
      return {s, 0.5 * p, 0.5 * s};
    }
    case 3: {
      const double s = std::exp(p);
      return {s, p, s};
    }
    default: {
      // softplus(p) = max(p, 0) + log1p(exp(-|p|)); log of it stays finite for p << 0
      const double s = (p > 0 ? p : 0.0) + std::log1p(std::exp(-std::fabs(p)));
      const double ls = p < -30 ? p - 0.5 * std::exp(p) : std::log(s);
      return {s, ls, 1.0 / (1.0 + std::exp(-p))};
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
    double v = 0, gl = 0, gs = 0;  // value, d/dloc, d/dsigma
    switch (form) {
      case ClosedForm::LogProb: {
        const double t = (x[i] - loc[i]) / s.sigma;
        v = -0.5 * t * t - s.log_sigma - kHalfLog2Pi;
        gl = t / s.sigma;
        gs = (t * t - 1.0) / s.sigma;
        break;
      }
      case ClosedForm::Entropy:
        v = s.log_sigma + 0.5 + kHalfLog2Pi;
        gs = 1.0 / s.sigma;
        break;
      case ClosedForm::Kl: {
        const Sigma o = sigma_of(other_kind, other_param[i]);
        const double d = loc[i] - x[i];
        const double o2 = o.sigma * o.sigma;
        v = o.log_sigma - s.log_sigma + (s.sigma * s.sigma + d * d) / (2.0 * o2) - 0.5;
        gl = d / o2;
        gs = s.sigma / o2 - 1.0 / s.sigma;
        break;
      }
      case ClosedForm::KlStandard:
        v = 0.5 * (s.sigma * s.sigma + loc[i] * loc[i] - 1.0) - s.log_sigma;
        gl = loc[i];
        gs = s.sigma - 1.0 / s.sigma;
        break;
    }
    value[i] = v;
    if (grad) {
      d_loc[i] = gl;
      d_param[i] = gs * s.dsigma;
    }
  }
}

}  // namespace reparam

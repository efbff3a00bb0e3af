#include "closed_forms.hpp"

#include <cmath>
#include <limits>

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

// log(sigma^2) from the raw parameter, accurate relative to itself near sigma = 1 (where
// KL to N(0, 1) is its square over 4): exact for logvar and logstd, log of the exact
// parameter for scale and var. For softplus, log(s) of the rounded s = softplus(p) has an
// absolute error of an ulp of 1, as large as the result near p0 = log(e - 1) (sigma = 1):
// there softplus(p) = 1 + log1p((1 - 1/e) expm1(p - p0)), with p - p0 taken against p0 in
// two parts (the first subtraction is exact near p0).
double log_sigma2(int kind, double p, const Sigma& s) {
  switch (kind) {
    case 0:
      return 2.0 * std::log(p);
    case 1:
      return std::log(p);
    case 2:
      return p;
    case 3:
      return 2.0 * p;
    default: {
      constexpr double kP0Hi = 0.5413248546129181;       // log(e - 1) rounded
      constexpr double kP0Lo = -1.8138570925507326e-17;  // log(e - 1) - kP0Hi
      constexpr double kCHi = 0.6321205588285577;      // 1 - 1/e rounded
      constexpr double kCLo = 1.2428753672788363e-17;  // 1 - 1/e - kCHi
      const double d = (p - kP0Hi) - kP0Lo;
      // (the interval where this is the more accurate of the two: a few ulps of the KL at most)
      if (d > -0.6 && d < 0.75) {
        const double e = std::expm1(d);
        return 2.0 * std::log1p(std::log1p(kCHi * e + kCLo * e));
      }
      return 2.0 * s.log_sigma;
    }
  }
}

// sigma^2 / 2 from the raw parameter, finite wherever it is representable (sigma^2 itself
// overflows first): halved before the last product.
double half_sigma2(int kind, double p, const Sigma& s) {
  switch (kind) {
    case 1:
      return 0.5 * p;
    case 2:
      if (p < 700.0) return 0.5 * std::exp(p);
      return (0.5 * std::exp(0.5 * p)) * std::exp(0.5 * p);
    case 3:
      if (p < 350.0) return 0.5 * std::exp(2.0 * p);
      return (0.5 * std::exp(p)) * std::exp(p);
    default:  // scale, softplus: sigma itself
      return (0.5 * s.sigma) * s.sigma;
  }
}

// (sigma^2 - 1 - log sigma^2) / 2 >= 0 for u = log sigma^2 and h = sigma^2 / 2, without
// the cancellation of the terms near sigma = 1: for |u| < 1, (expm1(u) - u) / 2 by its
// Taylor series u^2 / 2 * sum_j u^j / (j + 2)! (terms below 2**-60 of the first dropped);
// else the terms directly (they cancel by at most a factor of 4 there).
double half_excess(double u, double h) {
  if (std::fabs(u) < 1.0) {
    // 1 / k! for k = 2 .. 20
    static constexpr double kInvFact[] = {
        1.0 / 2,
        1.0 / 6,
        1.0 / 24,
        1.0 / 120,
        1.0 / 720,
        1.0 / 5040,
        1.0 / 40320,
        1.0 / 362880,
        1.0 / 3628800,
        1.0 / 39916800,
        1.0 / 479001600,
        1.0 / 6227020800,
        1.0 / 87178291200,
        1.0 / 1307674368000,
        1.0 / 20922789888000,
        1.0 / 355687428096000,
        1.0 / 6402373705728000,
        1.0 / 121645100408832000,
        1.0 / 2432902008176640000,
    };
    constexpr int kTerms = sizeof(kInvFact) / sizeof(kInvFact[0]);
    double acc = kInvFact[kTerms - 1];
    for (int k = kTerms - 2; k >= 0; --k) acc = acc * u + kInvFact[k];
    return 0.5 * (u * u) * acc;
  }
  if (u > 700.0) return h;  // (1 + u) / 2 is below an ulp of h
  return h - 0.5 * (1.0 + u);
}

// NaN results as the canonical quiet NaN (0x7FF8000000000000, NumPy's np.nan): x86
// produces its default NaN, with the sign bit set, for invalid operations.
inline double canonical(double x) { return x != x ? std::numeric_limits<double>::quiet_NaN() : x; }

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
      case ClosedForm::KlStandard: {
        // loc^2 / 2 + (sigma^2 - 1 - log sigma^2) / 2: two non-negative terms, the second
        // free of cancellation near sigma = 1 (it is never below 0)
        const double u = log_sigma2(kind, param[i], s);
        const double h = half_sigma2(kind, param[i], s);
        v = 0.5 * loc[i] * loc[i] + half_excess(u, h);
        gl = loc[i];
        gs = std::fabs(u) < 1.0 ? std::expm1(u) : 2.0 * h - 1.0;  // sigma^2 - 1
        break;
      }
    }
    value[i] = canonical(v);
    if (grad) {
      d_loc[i] = canonical(gl);
      d_param[i] = canonical(gs * s.dlog);
    }
  }
}

}  // namespace reparam

// The fused reparameterization z = loc + sigma(param) * eps: noise generated in small
// tiles on the stack (never a sample-sized temporary), sigma computed from the raw
// parameter in float64, z rounded once to the output type. Included inside the target
// namespace by sampler_kernels.cpp, after the fill kernels it calls.
#pragma once

#include <cstring>

// Which raw parameter gives sigma (values match reparam._core.PARAM_*).
enum ParamKind : int { kScale = 0, kVar = 1, kLogvar = 2, kLogstd = 3, kSoftplus = 4 };

template <int Kind>
inline F64 sigma_from(F64 p) {
  if constexpr (Kind == kScale) return p;
  if constexpr (Kind == kVar) return sqrt(p);
  if constexpr (Kind == kLogvar) return exp_f64(mul(p, set1_f64(0.5)));
  if constexpr (Kind == kLogstd) return exp_f64(p);
  if constexpr (Kind == kSoftplus) return softplus_f64(p);
}

template <class T>
inline F64 load_as_f64(const T* p) {
  if constexpr (sizeof(T) == 4) return load_f32_as_f64(p); else return load(p);
}
template <class T>
inline void store_from_f64(T* p, F64 v) {
  if constexpr (sizeof(T) == 4) store_f64_as_f32(p, v); else store(p, v);
}

inline void fill_normal_any(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out) {
  fill_normal_f32(sk, start, n, out);
}
inline void fill_normal_any(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out) {
  fill_normal_f64(sk, start, n, out);
}

// Elements [first, first + n) of the flattened (rows, batch) output: element i uses
// stream position start + i and batch entry i % batch. With mirror > 0 (antithetic),
// out[i + mirror] = loc - sigma * eps as well.
template <int Kind, class T>
void affine_normal(const StreamKey& sk, std::uint64_t start, std::size_t first, std::size_t n,
                   std::size_t batch, const T* loc, const T* param, T* out, std::size_t mirror) {
  constexpr std::size_t kTile = 1024;
  alignas(64) T eps[kTile + kLanes64];
  std::size_t i = first;
  const std::size_t end = first + n;
  while (i < end) {
    const std::size_t b = i % batch;
    const std::size_t seg = std::min({batch - b, end - i, kTile});
    fill_normal_any(sk, start + i, seg, eps);
    const T* lp = loc + b;
    const T* pp = param + b;
    std::size_t j = 0;
    for (; j + kLanes64 <= seg; j += kLanes64) {
      const F64 sigma = sigma_from<Kind>(load_as_f64(pp + j));
      const F64 se = mul(sigma, load_as_f64(eps + j));
      const F64 l = load_as_f64(lp + j);
      store_from_f64(out + i + j, add(l, se));
      if (mirror) store_from_f64(out + i + j + mirror, sub(l, se));
    }
    if (j < seg) {  // the last few: the same vector arithmetic on padded copies
      alignas(64) T lt[kLanes64] = {}, pt[kLanes64] = {}, zt[kLanes64], mt[kLanes64];
      const std::size_t rest = seg - j;
      std::memcpy(lt, lp + j, rest * sizeof(T));
      std::memcpy(pt, pp + j, rest * sizeof(T));
      for (std::size_t q = rest; q < kLanes64; ++q) eps[j + q] = T(0);
      const F64 sigma = sigma_from<Kind>(load_as_f64(pt));
      const F64 se = mul(sigma, load_as_f64(eps + j));
      const F64 l = load_as_f64(lt);
      store_from_f64(zt, add(l, se));
      store_from_f64(mt, sub(l, se));
      std::memcpy(out + i + j, zt, rest * sizeof(T));
      if (mirror) std::memcpy(out + i + j + mirror, mt, rest * sizeof(T));
    }
    i += seg;
  }
}

template <class T>
void affine_normal_dispatch(const StreamKey& sk, std::uint64_t start, std::size_t first, std::size_t n,
                            std::size_t batch, const T* loc, const T* param, int kind, T* out,
                            std::size_t mirror) {
  switch (kind) {
    case kScale: return affine_normal<kScale>(sk, start, first, n, batch, loc, param, out, mirror);
    case kVar: return affine_normal<kVar>(sk, start, first, n, batch, loc, param, out, mirror);
    case kLogvar: return affine_normal<kLogvar>(sk, start, first, n, batch, loc, param, out, mirror);
    case kLogstd: return affine_normal<kLogstd>(sk, start, first, n, batch, loc, param, out, mirror);
    default: return affine_normal<kSoftplus>(sk, start, first, n, batch, loc, param, out, mirror);
  }
}

void affine_normal_f32(const StreamKey& sk, std::uint64_t start, std::size_t first, std::size_t n,
                       std::size_t batch, const float* loc, const float* param, int kind, float* out,
                       std::size_t mirror) {
  affine_normal_dispatch(sk, start, first, n, batch, loc, param, kind, out, mirror);
}
void affine_normal_f64(const StreamKey& sk, std::uint64_t start, std::size_t first, std::size_t n,
                       std::size_t batch, const double* loc, const double* param, int kind, double* out,
                       std::size_t mirror) {
  affine_normal_dispatch(sk, start, first, n, batch, loc, param, kind, out, mirror);
}

// sigma itself, for the Python layer's closed forms and for tests: out[i] = sigma(param[i]).
template <class T>
void sigma_values(const T* param, int kind, std::size_t n, T* out) {
  std::size_t j = 0;
  auto one = [&](const T* src, T* dst) {
    const F64 p = load_as_f64(src);
    F64 s;
    switch (kind) {
      case kScale: s = sigma_from<kScale>(p); break;
      case kVar: s = sigma_from<kVar>(p); break;
      case kLogvar: s = sigma_from<kLogvar>(p); break;
      case kLogstd: s = sigma_from<kLogstd>(p); break;
      default: s = sigma_from<kSoftplus>(p); break;
    }
    store_from_f64(dst, s);
  };
  for (; j + kLanes64 <= n; j += kLanes64) one(param + j, out + j);
  if (j < n) {
    alignas(64) T pt[kLanes64] = {}, st[kLanes64];
    std::memcpy(pt, param + j, (n - j) * sizeof(T));
    one(pt, st);
    std::memcpy(out + j, st, (n - j) * sizeof(T));
  }
}
void sigma_f32(const float* p, int kind, std::size_t n, float* out) { sigma_values(p, kind, n, out); }
void sigma_f64(const double* p, int kind, std::size_t n, double* out) { sigma_values(p, kind, n, out); }

// The fused reparameterization z = loc + sigma(param) * eps: noise generated in small
// tiles on the stack (never a sample-sized temporary), sigma computed from the raw
// parameter in float64, z rounded once to the output type. Included inside the target
// namespace by sampler_kernels.cpp, after the fill kernels it calls.
#pragma once

// (std headers: included by sampler_kernels.cpp before the target namespace)

// ParamKind (which raw parameter gives sigma): params.hpp, included by sampler_kernels.cpp.

// fn(std::integral_constant<int, kind>{}): a parameterization chosen at run time, as the
// compile-time one the kernels are written for (the bindings admit only ParamKind values).
template <class Fn>
REPARAM_INLINE void with_kind(int kind, Fn fn) {
  switch (kind) {
    case kScale: return fn(std::integral_constant<int, kScale>{});
    case kVar: return fn(std::integral_constant<int, kVar>{});
    case kLogvar: return fn(std::integral_constant<int, kLogvar>{});
    case kLogstd: return fn(std::integral_constant<int, kLogstd>{});
    default: return fn(std::integral_constant<int, kSoftplus>{});
  }
}

template <int Kind, class V>
REPARAM_INLINE V sigma_from(V p) {
  if constexpr (Kind == kScale) return p;
  if constexpr (Kind == kVar) return sqrt(p);
  if constexpr (Kind == kLogvar) return exp_f64(mul(p, set1_f64(0.5)));
  if constexpr (Kind == kLogstd) return exp_f64(p);
  if constexpr (Kind == kSoftplus) {
    V hi, lo;
    softplus_f64_parts(p, hi, lo);
    return hi;
  }
}

// sigma = (hi + lo) * s with s a power of two and |hi| in [2**-600, 2**600] (or 0, inf,
// NaN), so that hi * eps can be split exactly; hi * s is exactly sigma_from<Kind>.
template <int Kind, class V>
REPARAM_INLINE void sigma_parts(V p, V& hi, V& lo, V& s) {
  if constexpr (Kind == kLogvar || Kind == kLogstd) {
    exp_f64_parts(Kind == kLogvar ? mul(p, set1_f64(0.5)) : p, hi, lo, s);
  } else {
    V sigma, rest = lift<V>(set1_f64(0.0));
    if constexpr (Kind == kSoftplus) softplus_f64_parts(p, sigma, rest); else sigma = sigma_from<Kind>(p);
    const V a = abs(sigma);
    const auto big = gt(a, set1_f64(0x1p600));
    const auto small = gt(set1_f64(0x1p-600), a);
    const V f = select(big, set1_f64(0x1p-600), select(small, set1_f64(0x1p600), set1_f64(1.0)));
    hi = mul(sigma, f);
    lo = mul(rest, f);
    s = select(big, set1_f64(0x1p600), select(small, set1_f64(0x1p-600), set1_f64(1.0)));
  }
}

// a * b = hi + lo exactly (Dekker; no FMA, so every target gives the same bits), for
// |a|, |b| < 2**995 and products away from the subnormal range.
REPARAM_INLINE void two_prod(F64 a, F64 b, F64& hi, F64& lo) {
  const F64 c = set1_f64(134217729.0);  // 2**27 + 1
  hi = mul(a, b);
  F64 t = mul(c, a);
  const F64 ah = sub(t, sub(t, a));
  const F64 al = sub(a, ah);
  t = mul(c, b);
  const F64 bh = sub(t, sub(t, b));
  const F64 bl = sub(b, bh);
  lo = add(add(add(sub(mul(ah, bh), hi), mul(ah, bl)), mul(al, bh)), mul(al, bl));
}

// l + (hi + lo)*s rounded (nearly) once: TwoSum(l, hi*s) and the two error terms added.
// Where hi*s or lo*s is not finite (inf or NaN sigma, an overflowing product) it is the
// plain l + hi*s, as before.
REPARAM_INLINE F64 fused_sum(F64 l, F64 hs, F64 ls, F64 plain) {
  const F64 z = add(l, hs);
  const F64 bp = sub(z, l);
  const F64 err = add(sub(l, sub(z, bp)), sub(hs, bp));
  const F64 inf = set1_f64(HUGE_VAL);
  const M64 ok = gt(inf, abs(add(z, add(hs, ls))));  // false for inf and NaN
  return select(ok, add(z, add(err, ls)), plain);
}

// Every NaN result as the one quiet NaN 0x7FF8000000000000 (0x7FC00000 in float32).
// Which NaN an operation with two NaN operands returns depends on the operand order the
// compiler picked (x86) or on signalling-first rules (AArch64); a NaN made by inf - inf
// or inf * 0 is negative on x86 and positive on AArch64; and a float32 -> float64 -> float32
// round trip the compiler folds keeps a signalling NaN that a vector conversion quiets.
// Canonical NaNs keep the outputs bit-identical on every target and machine.
inline F64 canonical_nan(F64 v) {
  return select(gt(abs(v), set1_f64(-1.0)), v, as_f64(set1_u64(0x7FF8000000000000ull)));  // false only for NaN
}

template <class T>
inline F64 load_as_f64(const T* p) {
  if constexpr (sizeof(T) == 4) return load_f32_as_f64(p); else return load(p);
}
template <class T>
inline void store_from_f64(T* p, F64 v) {  // the outputs of the affine and sigma kernels
  v = canonical_nan(v);
  if constexpr (sizeof(T) == 4) store_f64_as_f32(p, v); else store(p, v);
}

// How many vectors the sigma kernels compute per step (their chains interleaved).
#ifndef REPARAM_SIGMA_PACK
#define REPARAM_SIGMA_PACK 1
#endif
constexpr int kSigmaPack = REPARAM_SIGMA_PACK;

// N consecutive vectors from p as float64 (a Pack for N > 1).
template <int N, class T>
REPARAM_INLINE VecN<F64, N> load_members(const T* p) {
  return make_members<F64, N>([&](int g) { return load_as_f64(p + g * kLanes64); });
}

// n normals from position `offset` past `start` (stream_at: start + offset may pass 2**64).
inline void fill_normal_any(const StreamKey& sk, std::uint64_t start, std::uint64_t offset, std::size_t n,
                            float* out) {
  const StreamPosition p = stream_at(sk, start, offset, 1);
  fill_normal_f32(p.sk, p.start, n, out, false);
}
inline void fill_normal_any(const StreamKey& sk, std::uint64_t start, std::uint64_t offset, std::size_t n,
                            double* out) {
  const StreamPosition p = stream_at(sk, start, offset, 2);
  fill_normal_f64(p.sk, p.start, n, out, false);
}

// z = loc + sigma * eps and loc - sigma * eps for one vector of an affine_normal tile.
template <class T>
REPARAM_INLINE void affine_z(const T* eps, const double* mean, const double* sigma, const double* sig_lo,
                             const double* sig_s, F64& zp, F64& zm) {
  const F64 e = load_as_f64(eps);
  const F64 l = load(mean);
  if constexpr (sizeof(T) == 4) {  // the one rounding to float32 dominates: as before
    const F64 se = mul(load(sigma), e);
    zp = add(l, se);
    zm = sub(l, se);
  } else {  // float64: the exact product sigma * eps, then (nearly) one rounding
    const F64 sc = load(sig_s);
    F64 ph, pl;
    two_prod(load(sigma), e, ph, pl);
    pl = add(pl, mul(load(sig_lo), e));
    const F64 hs = mul(ph, sc), ls = mul(pl, sc);
    const M64 all = gt(set1_f64(1.0), set1_f64(0.0));
    zp = fused_sum(l, hs, ls, add(l, mul(mul(load(sigma), e), sc)));
    zm = fused_sum(l, negate_if(all, hs), negate_if(all, ls), sub(l, mul(mul(load(sigma), e), sc)));
  }
}

// Rows [r0, r1) and columns [c0, c1) (c1 - c0 <= kAffineTile) of the (rows, batch)
// output: element (r, c) uses stream position start + r * batch + c and batch entry c;
// sigma is computed once per column for all rows. With mirror > 0 (antithetic),
// out[i + mirror] = loc - sigma * eps as well (i the flat index).
constexpr std::size_t kAffineTile = 1024;

// One row of a float32 tile, whole steps of kSigmaPack vectors: sigma, eps and z in one
// pass, sigma kept in registers (the same operations as the table path below). Returns
// how many of the width columns it did.
template <int Kind>
std::size_t affine_row_f32(const StreamKey& sk, std::uint64_t start, std::size_t offset, std::size_t width,
                           const float* loc, const float* param, float* out, std::size_t mirror) {
  constexpr std::size_t kStep = kSigmaPack * kLanes64;
  const std::size_t done = width / kStep * kStep;  // width <= kAffineTile
  if (done == 0) return 0;
  alignas(64) float eps[kAffineTile];
  fill_normal_any(sk, start, offset, done, eps);
  auto run = [&](auto with_mirror) {
    for (std::size_t j = 0; j < done; j += kStep) {
      const auto sg = sigma_from<Kind>(load_members<kSigmaPack>(param + j));
      for_each_member<kSigmaPack>([&](auto g_) {
        constexpr int g = decltype(g_)::value;
        const std::size_t q = j + g * kLanes64;
        const F64 se = mul(at<g>(sg), load_as_f64(eps + q));
        const F64 l = load_as_f64(loc + q);
        store_from_f64(out + q, add(l, se));
        if constexpr (decltype(with_mirror)::value) store_from_f64(out + q + mirror, sub(l, se));
      });
    }
  };
  if (mirror) run(std::true_type{}); else run(std::false_type{});
  return done;
}

// n values from src (an L1 staging buffer) to dst as whole 64-byte lines by streaming
// stores (no read of the lines first, no eviction of the working set for them), the
// parts of a line at either end by ordinary stores. The caller ends with stream_fence().
template <class T>
void copy_streaming(T* dst, const T* src, std::size_t n) {
  auto* d = reinterpret_cast<unsigned char*>(dst);
  const auto* s = reinterpret_cast<const unsigned char*>(src);
  std::size_t bytes = n * sizeof(T);
  const std::size_t lead = std::min(bytes, (64 - reinterpret_cast<std::uintptr_t>(d) % 64) % 64);
  std::memcpy(d, s, lead);
  d += lead;
  s += lead;
  bytes -= lead;
  stream_lines(d, s, bytes / 64);
  std::memcpy(d + bytes / 64 * 64, s + bytes / 64 * 64, bytes % 64);
}

template <int Kind, class T>
void affine_normal(const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1, std::size_t c0,
                   std::size_t c1, std::size_t batch, const T* loc, const T* param, T* out, std::size_t mirror,
                   bool streaming) {
  // streaming stores where the vector layer has them and out is aligned to its values
  streaming = streaming && kStreamingStores && reinterpret_cast<std::uintptr_t>(out) % sizeof(T) == 0;
  // A narrow batch spanning all columns: take several rows per step (they are
  // contiguous), with sigma and loc repeated, so each step still fills ~1024 values.
  // (never more rows than the task has: sigma is not computed for rows that are not there)
  std::size_t reps = (c0 == 0 && c1 == batch)
                         ? std::max<std::size_t>(1, std::min(r1 - r0, kAffineTile / (c1 - c0)))
                         : 1;
  if constexpr (sizeof(T) == 4) {
    if (reps == 1 && r1 - r0 == 1 && !streaming) {  // sigma used once: no sigma table (the rest below)
      const std::size_t i = r0 * batch + c0;
      const std::size_t done = affine_row_f32<Kind>(sk, start, i, c1 - c0, loc + c0, param + c0, out + i, mirror);
      if (done == c1 - c0) return;
      c0 += done;
      reps = 1;
    }
  }
  const std::size_t width = c1 - c0;
  const std::size_t span = reps * width;
  const std::size_t padded = (span + kLanes64 - 1) / kLanes64 * kLanes64;
  alignas(64) double sigma[kAffineTile + kLanes64];
  alignas(64) double sig_lo[kAffineTile + kLanes64];
  alignas(64) double sig_s[kAffineTile + kLanes64];
  alignas(64) double mean[kAffineTile + kLanes64];
  alignas(64) T eps[kAffineTile + kLanes64];
  // sigma and loc of the width columns once (elementwise, so the same bits as per row),
  // then repeated for the other rows of a step
  const std::size_t cpadded = (width + kLanes64 - 1) / kLanes64 * kLanes64;
  {
    std::size_t j = 0;
    {  // whole vectors of one row, kSigmaPack at a time (chains interleaved)
      for (; j + kSigmaPack * kLanes64 <= width; j += kSigmaPack * kLanes64) {
        const auto p = load_members<kSigmaPack>(param + c0 + j);
        const auto l = load_members<kSigmaPack>(loc + c0 + j);
        if constexpr (sizeof(T) == 4) {
          const auto sg = sigma_from<Kind>(p);
          for_each_member<kSigmaPack>([&](auto g_) {
            constexpr int g = decltype(g_)::value;
            store(sigma + j + g * kLanes64, at<g>(sg));
          });
        } else {
          std::remove_const_t<decltype(p)> hi, lo, sc;
          sigma_parts<Kind>(p, hi, lo, sc);
          for_each_member<kSigmaPack>([&](auto g_) {
            constexpr int g = decltype(g_)::value;
            store(sigma + j + g * kLanes64, at<g>(hi));
            store(sig_lo + j + g * kLanes64, at<g>(lo));
            store(sig_s + j + g * kLanes64, at<g>(sc));
          });
        }
        for_each_member<kSigmaPack>([&](auto g_) {
          constexpr int g = decltype(g_)::value;
          store(mean + j + g * kLanes64, at<g>(l));
        });
      }
    }
    alignas(64) T lt[kLanes64], pt[kLanes64];
    for (; j < cpadded; j += kLanes64) {
      const T* lsrc = loc + c0 + j;  // whole vectors of one row are read in place
      const T* psrc = param + c0 + j;
      if (j + kLanes64 > width) {  // the padded last vector
        for (std::size_t q = 0; q < kLanes64; ++q) {
          const std::size_t at = j + q;
          lt[q] = at < width ? loc[c0 + at] : T(0);
          pt[q] = at < width ? param[c0 + at] : T(0);
        }
        lsrc = lt;
        psrc = pt;
      }
      if constexpr (sizeof(T) == 4) {
        store(sigma + j, sigma_from<Kind>(load_as_f64(psrc)));
      } else {
        F64 hi, lo, sc;
        sigma_parts<Kind>(load_as_f64(psrc), hi, lo, sc);
        store(sigma + j, hi);
        store(sig_lo + j, lo);
        store(sig_s + j, sc);
      }
      store(mean + j, load_as_f64(lsrc));
    }
  }
  for (std::size_t q = width; q < padded; ++q) {  // the repeated rows (and the padded lanes)
    sigma[q] = sigma[q - width];
    mean[q] = mean[q - width];
    if constexpr (sizeof(T) == 8) {
      sig_lo[q] = sig_lo[q - width];
      sig_s[q] = sig_s[q - width];
    }
  }
  for (std::size_t r = r0; r < r1; r += reps) {
    const std::size_t i = r * batch + c0;
    const std::size_t seg = std::min(reps, r1 - r) * width;
    fill_normal_any(sk, start, i, seg, eps);
    for (std::size_t q = seg; q < padded; ++q) eps[q] = T(0);
    const std::size_t full = seg - seg % kLanes64;
    // whole vectors; the mirror test hoisted (without it, zm is never computed)
    auto whole = [&](auto with_mirror) {
      for (std::size_t j = 0; j < full; j += kLanes64) {
        F64 zp, zm;
        affine_z(eps + j, mean + j, sigma + j, sig_lo + j, sig_s + j, zp, zm);
        store_from_f64(out + i + j, zp);
        if constexpr (decltype(with_mirror)::value) store_from_f64(out + i + j + mirror, zm);
      }
    };
    if (streaming) {  // z (and the mirror's) into staging rows, then streamed out
      alignas(64) T zs[kAffineTile + kLanes64], ms[kAffineTile + kLanes64];
      for (std::size_t j = 0; j < padded; j += kLanes64) {  // the padded last vector too
        F64 zp, zm;
        affine_z(eps + j, mean + j, sigma + j, sig_lo + j, sig_s + j, zp, zm);
        store_from_f64(zs + j, zp);
        if (mirror) store_from_f64(ms + j, zm);
      }
      copy_streaming(out + i, zs, seg);
      if (mirror) copy_streaming(out + i + mirror, ms, seg);
      continue;
    }
    if (mirror) whole(std::true_type{}); else whole(std::false_type{});
    if (full < seg) {  // the last few values go through a padded copy
      F64 zp, zm;
      affine_z(eps + full, mean + full, sigma + full, sig_lo + full, sig_s + full, zp, zm);
      alignas(64) T zt[kLanes64], mt[kLanes64];
      store_from_f64(zt, zp);
      store_from_f64(mt, zm);
      std::memcpy(out + i + full, zt, (seg - full) * sizeof(T));
      if (mirror) std::memcpy(out + i + full + mirror, mt, (seg - full) * sizeof(T));
    }
  }
  if (streaming) stream_fence();
}

template <class T>
void affine_normal_dispatch(const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1,
                            std::size_t c0, std::size_t c1, std::size_t batch, const T* loc, const T* param,
                            int kind, T* out, std::size_t mirror, bool streaming) {
  with_kind(kind, [&](auto k) {
    affine_normal<decltype(k)::value>(sk, start, r0, r1, c0, c1, batch, loc, param, out, mirror, streaming);
  });
}

void affine_normal_f32(const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1, std::size_t c0,
                       std::size_t c1, std::size_t batch, const float* loc, const float* param, int kind,
                       float* out, std::size_t mirror, bool streaming) {
  affine_normal_dispatch(sk, start, r0, r1, c0, c1, batch, loc, param, kind, out, mirror, streaming);
}
void affine_normal_f64(const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1, std::size_t c0,
                       std::size_t c1, std::size_t batch, const double* loc, const double* param, int kind,
                       double* out, std::size_t mirror, bool streaming) {
  affine_normal_dispatch(sk, start, r0, r1, c0, c1, batch, loc, param, kind, out, mirror, streaming);
}

// sigma itself, for the Python layer's closed forms and for tests: out[i] = sigma(param[i]).
template <int Kind, class T>
void sigma_values_of(const T* param, std::size_t n, T* out) {
  std::size_t j = 0;
  for (; j + kSigmaPack * kLanes64 <= n; j += kSigmaPack * kLanes64) {
    const auto s = sigma_from<Kind>(load_members<kSigmaPack>(param + j));
    for_each_member<kSigmaPack>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      store_from_f64(out + j + g * kLanes64, at<g>(s));
    });
  }
  for (; j + kLanes64 <= n; j += kLanes64) store_from_f64(out + j, sigma_from<Kind>(load_as_f64(param + j)));
  if (j < n) {
    alignas(64) T pt[kLanes64] = {}, st[kLanes64];
    std::memcpy(pt, param + j, (n - j) * sizeof(T));
    store_from_f64(st, sigma_from<Kind>(load_as_f64(pt)));
    std::memcpy(out + j, st, (n - j) * sizeof(T));
  }
}
template <class T>
void sigma_values(const T* param, int kind, std::size_t n, T* out) {
  with_kind(kind, [&](auto k) { sigma_values_of<decltype(k)::value>(param, n, out); });
}
void sigma_f32(const float* p, int kind, std::size_t n, float* out) { sigma_values(p, kind, n, out); }
void sigma_f64(const double* p, int kind, std::size_t n, double* out) { sigma_values(p, kind, n, out); }

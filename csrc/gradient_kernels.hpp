// Fused reductions for gradient estimators: read grad_z (pathwise) or per-sample
// weights (score function), regenerate eps from the stream (or read it), and add up
// per-column sums in float64. Columns are SIMD lanes and each column's rows are added
// in row order, so every column's sums are the same on every target. Included inside
// the target namespace by sampler_kernels.cpp, after the fill kernels.
#pragma once

// (std headers: included by sampler_kernels.cpp before the target namespace)

constexpr std::size_t kReduceTile = 1024;  // columns per call at most
constexpr std::size_t kChunkValues = 4096; // eps values generated per call (rows of a chunk)
constexpr std::size_t kPrefetchRows = 2;   // rows ahead whose columns are prefetched

// Sums over rows [r0, r1) and columns [c0, c1) of a (rows, batch) layout, added to
// acc[k * acc_stride + (c - c0)], k = 0..3 (rows 1 and 3 only with Stats):
//   pathwise (Score = false): x = g[r*batch + c],            y = x * eps
//   score    (Score = true):  x = w[r*wcols + c/inner] * eps, y = w * (eps*eps - 1)
//   acc0 += x, acc1 += x*x, acc2 += y, acc3 += y*y.
// eps: eps_in[r*batch + c] if eps_in, else the stream at start + i for flat index i,
// or -eps(start + i - mirror) for i >= mirror when mirror > 0 (antithetic halves).
// Sums are stored with canonical NaNs (see canonical_nan): whether a column's sum is NaN
// does not depend on the order of operands, which NaN it is does.

// A hint to start loading the line at p (never faults, changes no value).
inline void prefetch(const void* p) {
#if defined(_MSC_VER) && !defined(__clang__)
#if defined(_M_X64) || defined(_M_IX86)
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#endif
#else
  __builtin_prefetch(p);
#endif
}

// Adds one row to the sums of columns [0, n) (n a multiple of kLanes64), the sums kept
// in a[] (one tile: they stay in L1); each column's rows are added in order whatever
// the loop order, so the sums are those of any other order of the loops. pe and px,
// when not null, are prefetched for columns [0, pf_n): a row a few rows ahead, since
// each row of a tile is a short run in another page that the hardware prefetchers do
// not follow.
template <bool Score, bool Stats, class T>
inline void accumulate_row(const T* e, const T* x, bool negated, std::size_t n, double* const* a, const T* pe,
                           const T* px, std::size_t pf_n) {
  const F64 one = set1_f64(1.0), zero = set1_f64(0.0);
  constexpr std::size_t kLineValues = 64 / sizeof(T);
  for (std::size_t c = 0; c < n; c += kLanes64) {
    if (c % kLineValues == 0 && c < pf_n) {
      if (pe != nullptr) prefetch(pe + c);
      if (px != nullptr) prefetch(px + c);
    }
    F64 ev = load_as_f64(e + c);
    if (negated) ev = sub(zero, ev);
    const F64 xv = load_as_f64(x + c);
    F64 p, q;
    if constexpr (Score) {
      p = mul(xv, ev);
      q = mul(xv, sub(mul(ev, ev), one));
    } else {
      p = xv;
      q = mul(xv, ev);
    }
    store(a[0] + c, add(load(a[0] + c), p));
    store(a[2] + c, add(load(a[2] + c), q));
    if constexpr (Stats) {
      store(a[1] + c, add(load(a[1] + c), mul(p, p)));
      store(a[3] + c, add(load(a[3] + c), mul(q, q)));
    }
  }
}

template <bool Score, bool Stats, class T>
void reduce_rows(const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                 std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1,
                 std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride) {
  const std::size_t width = c1 - c0;
  const std::size_t full = width - width % kLanes64;
  const std::size_t padded = full < width ? full + kLanes64 : full;
  // Rows per chunk: the eps of a chunk are generated together, about kChunkValues of
  // them (one call for narrow tiles, a few rows of a wide one: they stay in cache).
  const std::size_t chunk = std::max<std::size_t>(1, kChunkValues / width);
  Scratch<T> ebuf(eps_in ? 0 : chunk * width + kLanes64), xbuf(Score ? padded : 0);
  Scratch<T> et(kLanes64, T(0)), xt(kLanes64, T(0));  // the last partial vector, zero-padded
  const bool contiguous = c0 == 0 && c1 == batch;  // a chunk's rows are adjacent in the stream
  double* const a[4] = {acc, acc + acc_stride, acc + 2 * acc_stride, acc + 3 * acc_stride};
  // The tail columns [full, width) are summed in a padded copy of their sums.
  alignas(64) double t[4][kLanes64] = {};
  double* const at[4] = {t[0], t[1], t[2], t[3]};
  if (full < width)
    for (int q = 0; q < 4; ++q)
      if (q % 2 == 0 || Stats) std::memcpy(t[q], a[q] + full, (width - full) * sizeof(double));

  // What to prefetch while on row r: the same columns kPrefetchRows rows on, or past
  // the last row the first rows of the next tile (read in place: g for the pathwise
  // estimator, eps when given).
  auto ahead = [&](const T* base, std::size_t r, std::size_t& n) -> const T* {
    if (base == nullptr) return nullptr;
    const std::size_t rt = r + kPrefetchRows;
    if (rt < r1) {
      n = width;
      return base + rt * batch + c0;
    }
    const std::size_t rn = r0 + (rt - r1);
    if (rn >= r1 || c1 >= batch) return nullptr;
    n = std::min(width, batch - c1);
    return base + rn * batch + c1;
  };
  const T* const pf_e_base = eps_in;
  const T* const pf_x_base = Score ? nullptr : g;

  for (std::size_t rc = r0; rc < r1; rc += chunk) {
    const std::size_t nr = std::min(chunk, r1 - rc);
    const std::size_t i0 = rc * batch + c0;
    // eps rows generated (the whole chunk in one call when its rows are adjacent in the
    // stream and on one side of the antithetic mirror)
    const bool one_side = mirror == 0 || i0 + nr * batch <= mirror || i0 >= mirror;
    bool chunk_neg = false;
    if (eps_in == nullptr) {
      if (contiguous && one_side) {
        chunk_neg = mirror > 0 && i0 >= mirror;
        fill_normal_any(sk, start + i0 - (chunk_neg ? mirror : 0), nr * width, ebuf.data());
      } else {
        for (std::size_t k = 0; k < nr; ++k) {
          const std::size_t i = i0 + k * batch;
          const bool neg = mirror > 0 && i >= mirror;
          fill_normal_any(sk, start + i - (neg ? mirror : 0), width, ebuf.data() + k * width);
        }
      }
    }
    for (std::size_t k = 0; k < nr; ++k) {
      const std::size_t r = rc + k, i = i0 + k * batch;
      const T* e = eps_in != nullptr ? eps_in + i : ebuf.data() + k * width;
      const bool neg = eps_in == nullptr && (contiguous && one_side ? chunk_neg : mirror > 0 && i >= mirror);
      const T* x = g + i;
      if constexpr (Score) {
        const T* w = g + r * wcols;
        for (std::size_t q = 0; q < width; ++q) xbuf[q] = w[(c0 + q) / inner];
        x = xbuf.data();
      }
      std::size_t ne = 0, nx = 0;
      const T* pe = ahead(pf_e_base, r, ne);
      const T* px = ahead(pf_x_base, r, nx);
      accumulate_row<Score, Stats, T>(e, x, neg, full, a, pe, px, std::min(pe ? ne : width, px ? nx : width));
      if (full < width) {  // the last few columns, through zero-padded copies
        std::memcpy(et.data(), e + full, (width - full) * sizeof(T));
        std::memcpy(xt.data(), x + full, (width - full) * sizeof(T));
        accumulate_row<Score, Stats, T>(et.data(), xt.data(), neg, kLanes64, at, nullptr, nullptr, 0);
      }
    }
  }
  // canonical NaNs, once at the end (NaN stays NaN through later additions)
  auto canonical = [&](double* p, std::size_t n) {
    for (std::size_t c = 0; c < n; c += kLanes64) store(p + c, canonical_nan(load(p + c)));
  };
  for (int q = 0; q < 4; ++q) {
    if (q % 2 == 1 && !Stats) continue;
    canonical(a[q], full);
    if (full < width) {
      canonical(t[q], kLanes64);
      std::memcpy(a[q] + full, t[q], (width - full) * sizeof(double));
    }
  }
}

template <class T>
void reduce_any(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1,
                std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride) {
  switch (mode) {  // bit 0: score function, bit 1: also the sums of squares
    case 0: return reduce_rows<false, false>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride);
    case 1: return reduce_rows<true, false>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride);
    case 2: return reduce_rows<false, true>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride);
    default: return reduce_rows<true, true>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride);
  }
}

void reduce_f32(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const float* eps_in,
                const float* g, std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0,
                std::size_t r1, std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride) {
  reduce_any(mode, sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride);
}
void reduce_f64(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const double* eps_in,
                const double* g, std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0,
                std::size_t r1, std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride) {
  reduce_any(mode, sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride);
}

// dsigma/dparam of each parameterization in float64, from the parameter itself; the
// same sigma the affine kernels use. V: a vector or a pack of vectors.
template <int Kind, class V>
REPARAM_INLINE V dsigma_dparam(V p) {
  if constexpr (Kind == kScale) return lift<V>(set1_f64(1.0));
  if constexpr (Kind == kVar) return div(lift<V>(set1_f64(0.5)), sigma_from<kVar>(p));
  if constexpr (Kind == kLogvar) return mul(sigma_from<kLogvar>(p), set1_f64(0.5));
  if constexpr (Kind == kLogstd) return sigma_from<kLogstd>(p);
  if constexpr (Kind == kSoftplus)  // the logistic function 1 / (1 + exp(-p))
    return div(lift<V>(set1_f64(1.0)), add(exp_f64(sub(lift<V>(set1_f64(0.0)), p)), set1_f64(1.0)));
}

// dsigma/dparam for the vectors of param[0, n): kSigmaPack at a time (their chains
// interleaved), then one at a time; calls put(j, chain) for each whole vector at j and
// returns where the last partial vector starts (n when there is none).
template <int Kind, class T, class Put>
REPARAM_INLINE std::size_t chain_vectors(const T* param, std::size_t n, Put put) {
  constexpr std::size_t kStep = kSigmaPack * kLanes64;
  std::size_t j = 0;
  for (; j + kStep <= n; j += kStep) {
    const auto v = dsigma_dparam<Kind>(load_members<kSigmaPack>(param + j));
    for_each_member<kSigmaPack>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      put(j + g * kLanes64, at<g>(v));
    });
  }
  for (; j + kLanes64 <= n; j += kLanes64) put(j, dsigma_dparam<Kind>(load_as_f64(param + j)));
  return j;
}

template <int Kind, class T>
void dsigma_kind(const T* param, std::size_t n, double* out) {
  const std::size_t j = chain_vectors<Kind>(param, n, [&](std::size_t i, F64 d) { store(out + i, canonical_nan(d)); });
  if (j < n) {  // the last few values, through zero-padded copies
    alignas(64) T pt[kLanes64] = {};
    alignas(64) double ot[kLanes64];
    std::memcpy(pt, param + j, (n - j) * sizeof(T));
    chain_vectors<Kind>(pt, kLanes64, [&](std::size_t, F64 d) { store(ot, canonical_nan(d)); });
    std::memcpy(out + j, ot, (n - j) * sizeof(double));
  }
}

// The pathwise gradient from the column sums sx = sum g and sy = sum g * eps:
// d_loc = sx * scale and d_param = sy * (dsigma/dparam * scale), each rounded once to T
// (the same operations as the Python layer's chain rule on dsigma_values).
template <int Kind, class T>
void pathwise_finish_kind(const double* sx, const double* sy, const T* param, double scale, std::size_t n, T* d_loc,
                          T* d_param) {
  const F64 sc = set1_f64(scale);
  auto put = [&](const double* x, const double* y, T* l, T* d, F64 chain) {
    store_from_f64(l, mul(load(x), sc));
    store_from_f64(d, mul(load(y), mul(chain, sc)));
  };
  const std::size_t j = chain_vectors<Kind>(param, n, [&](std::size_t i, F64 chain) {
    put(sx + i, sy + i, d_loc + i, d_param + i, chain);
  });
  if (j < n) {  // the last few values, through zero-padded copies
    alignas(64) T pt[kLanes64] = {}, lt[kLanes64], dt[kLanes64];
    alignas(64) double xt[kLanes64] = {}, yt[kLanes64] = {};
    std::memcpy(pt, param + j, (n - j) * sizeof(T));
    std::memcpy(xt, sx + j, (n - j) * sizeof(double));
    std::memcpy(yt, sy + j, (n - j) * sizeof(double));
    chain_vectors<Kind>(pt, kLanes64, [&](std::size_t, F64 chain) { put(xt, yt, lt, dt, chain); });
    std::memcpy(d_loc + j, lt, (n - j) * sizeof(T));
    std::memcpy(d_param + j, dt, (n - j) * sizeof(T));
  }
}

template <class T>
void dsigma_any(const T* param, int kind, std::size_t n, double* out) {
  with_kind(kind, [&](auto k) { dsigma_kind<decltype(k)::value>(param, n, out); });
}

template <class T>
void pathwise_finish_any(const double* sx, const double* sy, const T* param, int kind, double scale, std::size_t n,
                         T* d_loc, T* d_param) {
  with_kind(kind, [&](auto k) { pathwise_finish_kind<decltype(k)::value>(sx, sy, param, scale, n, d_loc, d_param); });
}

void dsigma_f32(const float* param, int kind, std::size_t n, double* out) { dsigma_any(param, kind, n, out); }
void dsigma_f64(const double* param, int kind, std::size_t n, double* out) { dsigma_any(param, kind, n, out); }
void pathwise_finish_f32(const double* sx, const double* sy, const float* param, int kind, double scale,
                         std::size_t n, float* d_loc, float* d_param) {
  pathwise_finish_any(sx, sy, param, kind, scale, n, d_loc, d_param);
}
void pathwise_finish_f64(const double* sx, const double* sy, const double* param, int kind, double scale,
                         std::size_t n, double* d_loc, double* d_param) {
  pathwise_finish_any(sx, sy, param, kind, scale, n, d_loc, d_param);
}

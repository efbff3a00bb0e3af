// Fused reductions for gradient estimators: read grad_z (pathwise) or per-sample
// weights (score function), regenerate eps from the stream (or read it), and add up
// per-column sums in float64. Columns are SIMD lanes and each column's rows are added
// in row order, so every column's sums are the same on every target. Included inside
// the target namespace by sampler_kernels.cpp, after the fill kernels.
#pragma once

// (std headers: included by sampler_kernels.cpp before the target namespace)

constexpr std::size_t kReduceTile = 1024;  // columns per call at most
constexpr std::size_t kChunkValues = kReduceChunkValues; // eps values generated per call (rows of a chunk)
static_assert(kLanes64 <= kMaxLanes64, "reduce_scratch (kernel_table.hpp) is sized for kMaxLanes64");
constexpr std::size_t kPrefetchBytes = 1536; // how far ahead in each input row to prefetch
constexpr std::size_t kSegment = 256;        // columns of a pass between calls of between()

// Sums over rows [r0, r1) and columns [c0, c1) of a (rows, batch) layout, added to
// acc[k * acc_stride + (c - c0)], k = 0..3 (rows 1 and 3 only with Stats):
//   pathwise (Score = false): x = g[r*batch + c],            y = x * eps
//   score    (Score = true):  x = w[r*wcols + c/inner] * eps, y = w * (eps*eps - 1)
//   acc0 += x, acc1 += x*x, acc2 += y, acc3 += y*y.
// eps: eps_in[r*batch + c] if eps_in, else the stream at start + i for flat index i,
// or -eps(start + i - mirror) for i >= mirror when mirror > 0 (antithetic halves).
// Sums are stored with canonical NaNs (see canonical_nan): whether a column's sum is NaN
// does not depend on the order of operands, which NaN it is does.

// A hint to start loading the line at address a (never faults, changes no value).
// Addresses are integers here: one kPrefetchBytes ahead may lie past the array's end.
inline void prefetch_at(std::uintptr_t a) {
  const void* q = reinterpret_cast<const void*>(a);
#if defined(_MSC_VER) && !defined(__clang__)
#if defined(_M_X64) || defined(_M_IX86)
  _mm_prefetch(static_cast<const char*>(q), _MM_HINT_T0);
#endif
#else
  __builtin_prefetch(q);
#endif
}
inline std::uintptr_t address_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Adds Rows (1 or 2) consecutive rows to the sums of columns [0, n) (n a multiple of
// kLanes64), the sums kept in a[] (one tile: they stay in L1). Each column's rows are
// added in row order, ((a + row r) + row r+1), so the sums are the same as one row at
// a time. Two rows a pass halve the loads and stores of the sums, and keep four input
// streams open rather than two (in a C probe on the development machine, not in the
// repository, 8 rows a pass were slower than 2: 9.3 against 5.1-5.5 ms for 128 MiB).
// pf_e and pf_x: whether e and x are read in place (a tile's row is a short run in
// another page, which the hardware prefetchers do not follow far enough): then each is
// prefetched kPrefetchBytes ahead; buffers of generated eps are in cache already.
template <int Rows, bool Score, bool Stats, class T>
inline void accumulate_rows(const T* const* e, const T* const* x, const bool* negated, std::size_t n,
                            double* const* a, bool pf_e, bool pf_x, const std::uintptr_t* next = nullptr,
                            int n_next = 0) {
  const F64 one = set1_f64(1.0), zero = set1_f64(0.0);
  constexpr std::size_t kLineValues = 64 / sizeof(T);
  for (std::size_t c = 0; c < n; c += kLanes64) {
    if (c % kLineValues == 0) {
      for (int k = 0; k < Rows; ++k) {
        if (pf_e) prefetch_at(address_of(e[k] + c) + kPrefetchBytes);
        if (pf_x) prefetch_at(address_of(x[k] + c) + kPrefetchBytes);
      }
      for (int k = 0; k < n_next; ++k) prefetch_at(next[k] + c * sizeof(T));
    }
    F64 s0 = load(a[0] + c), s2 = load(a[2] + c), s1, s3;
    if constexpr (Stats) {
      s1 = load(a[1] + c);
      s3 = load(a[3] + c);
    }
    for (int k = 0; k < Rows; ++k) {
      F64 ev = load_as_f64(e[k] + c);
      if (negated[k]) ev = sub(zero, ev);
      const F64 xv = load_as_f64(x[k] + c);
      F64 p, q;
      if constexpr (Score) {
        p = mul(xv, ev);
        q = mul(xv, sub(mul(ev, ev), one));
      } else {
        p = xv;
        q = mul(xv, ev);
      }
      s0 = add(s0, p);
      s2 = add(s2, q);
      if constexpr (Stats) {
        s1 = add(s1, mul(p, p));
        s3 = add(s3, mul(q, q));
      }
    }
    store(a[0] + c, s0);
    store(a[2] + c, s2);
    if constexpr (Stats) {
      store(a[1] + c, s1);
      store(a[3] + c, s3);
    }
  }
}

struct NothingBetween {
  void operator()() const {}
};

// between() runs after each pass over one or two rows (the pathwise tiles below put
// a slice of the previous tile's chain rule there). g_stride: values from one row of g
// to the next for the pathwise estimator (batch; 0 when every row is the same row).
template <bool Score, bool Stats, class T, class Between = NothingBetween>
void reduce_rows_in_order(const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                          std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1,
                          std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride, std::size_t g_stride,
                          void* scratch, const Centring& cen = {}, Between between = {}) {
  const std::size_t width = c1 - c0;
  const std::size_t full = width - width % kLanes64;
  const std::size_t padded = full < width ? full + kLanes64 : full;
  // Rows per chunk: the eps of a chunk are generated together, about kChunkValues of
  // them (one call for narrow tiles, a few rows of a wide one: they stay in cache), an
  // even number when it can be, for the two-row passes. Eps read in place: one chunk.
  const std::size_t per_chunk = std::max<std::size_t>(1, kChunkValues / width);
  const std::size_t chunk = eps_in != nullptr ? std::max<std::size_t>(1, r1 - r0)
                                              : (per_chunk > 1 ? per_chunk - per_chunk % 2 : 1);
  // eps generated (eps_in == nullptr) and weights spread over the columns (Score), in
  // the caller's scratch (reduce_scratch: at most max(kChunkValues, width) + kLanes64
  // and 2 * padded values)
  unsigned char* const base = static_cast<unsigned char*>(scratch);
  T* const ebuf = reinterpret_cast<T*>(base + reduce_scratch(width, sizeof(T)).eps);
  T* const xbuf = reinterpret_cast<T*>(base + reduce_scratch(width, sizeof(T)).weights);
  alignas(64) T et[kLanes64] = {}, xt[kLanes64] = {};  // the last partial vector, zero-padded
  const bool contiguous = c0 == 0 && c1 == batch;  // a chunk's rows are adjacent in the stream
  // (rows 1 and 3 only with Stats: without, acc may end after row 2)
  double* const a[4] = {acc, Stats ? acc + acc_stride : nullptr, acc + 2 * acc_stride,
                        Stats ? acc + 3 * acc_stride : nullptr};
  // The tail columns [full, width) are summed in a padded copy of their sums.
  alignas(64) double t[4][kLanes64] = {};
  double* const at[4] = {t[0], t[1], t[2], t[3]};
  if (full < width)
    for (int q = 0; q < 4; ++q)
      if (q % 2 == 0 || Stats) std::memcpy(t[q], a[q] + full, (width - full) * sizeof(double));

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
        fill_normal_any(sk, start, i0 - (chunk_neg ? mirror : 0), nr * width, ebuf);
      } else {
        for (std::size_t k = 0; k < nr; ++k) {
          const std::size_t i = i0 + k * batch;
          const bool neg = mirror > 0 && i >= mirror;
          fill_normal_any(sk, start, i - (neg ? mirror : 0), width, ebuf + k * width);
        }
      }
    }
    // One row's inputs: eps, x (g, or the per-sample weights spread over the columns
    // into xbuf[slot]) and whether eps is negated (the antithetic half).
    auto row = [&](std::size_t k, int slot, const T*& e, const T*& x, bool& neg) {
      const std::size_t r = rc + k, i = i0 + k * batch;
      e = eps_in != nullptr ? eps_in + i : ebuf + k * width;
      neg = eps_in == nullptr && (contiguous && one_side ? chunk_neg : mirror > 0 && i >= mirror);
      x = g + r * g_stride + c0;
      if constexpr (Score) {
        const T* w = g + r * wcols;
        T* xb = xbuf + slot * padded;
        if (inner == 1) {  // a weight per column
          if (cen.b == nullptr) {
            x = w + c0;  // read in place
          } else {  // centred a vector at a time: the same operations as one at a time below
            const T* f = w + c0;
            const double* b = cen.b + c0;
            const bool plain = cen.a == 1.0 && cen.c == 1.0;
            std::size_t q = 0;
            for (; q + kLanes64 <= width; q += kLanes64) {
              const F64 v = plain ? sub(load_as_f64(f + q), load(b + q))
                                  : div(sub(mul(load_as_f64(f + q), set1_f64(cen.a)), load(b + q)), set1_f64(cen.c));
              store_from_f64(xb + q, v);
            }
            for (; q < width; ++q) xb[q] = plain ? T(double(f[q]) - b[q]) : T((double(f[q]) * cen.a - b[q]) / cen.c);
            x = xb;
          }
          return;
        }
        // weight column j covers columns [j * inner, (j + 1) * inner): one weight per run
        // of columns (no integer division per column), centred once per run
        std::size_t j = c0 / inner, left = inner - c0 % inner;
        for (std::size_t q = 0; q < width; ++j, left = inner) {
          const std::size_t n = std::min(left, width - q);
          T v = w[j];
          if (cen.b != nullptr)  // (f * 1 - b) / 1 is f - b exactly: skip the no-ops
            v = cen.a == 1.0 && cen.c == 1.0 ? T(double(w[j]) - cen.b[j])
                                             : T((double(w[j]) * cen.a - cen.b[j]) / cen.c);
          std::fill(xb + q, xb + q + n, v);
          q += n;
        }
        x = xb;
      }
    };
    const bool pf_e = eps_in != nullptr, pf_x = !Score || (inner == 1 && cen.b == nullptr);
    for (std::size_t k = 0; k < nr;) {
      const int rows = k + 1 < nr ? 2 : 1;
      const T* e[2] = {};
      const T* x[2] = {};
      bool neg[2] = {};
      for (int j = 0; j < rows; ++j) row(k + j, j, e[j], x[j], neg[j]);
      // the last pass of the tile also starts loading the first rows of the next tile
      std::uintptr_t next[4];
      int n_next = 0;
      if (rc + k + rows == r1 && c1 < batch) {
        for (std::size_t j = 0; j < 2 && r0 + j < r1; ++j) {
          const std::size_t i = (r0 + j) * batch + c1;
          if (pf_x) next[n_next++] = address_of(g + (r0 + j) * g_stride + c1);
          if (pf_e) next[n_next++] = address_of(eps_in + i);
        }
      }
      // in segments of kSegment columns with between() after each (several short
      // slices of other work overlap the loads better than one long one)
      for (std::size_t s0 = 0; s0 < full; s0 += kSegment) {
        const std::size_t m = std::min(kSegment, full - s0);
        const T* es[2] = {e[0] + s0, rows == 2 ? e[1] + s0 : nullptr};
        const T* xs[2] = {x[0] + s0, rows == 2 ? x[1] + s0 : nullptr};
        std::uintptr_t ns[4];
        for (int j = 0; j < n_next; ++j) ns[j] = next[j] + s0 * sizeof(T);
        double* const as[4] = {a[0] + s0, Stats ? a[1] + s0 : nullptr, a[2] + s0, Stats ? a[3] + s0 : nullptr};
        if (rows == 2)
          accumulate_rows<2, Score, Stats, T>(es, xs, neg, m, as, pf_e, pf_x, ns, n_next);
        else
          accumulate_rows<1, Score, Stats, T>(es, xs, neg, m, as, pf_e, pf_x, ns, n_next);
        between();
      }
      if (full < width) {  // the last few columns, through zero-padded copies, a row at a time
        for (int j = 0; j < rows; ++j) {
          std::memcpy(et, e[j] + full, (width - full) * sizeof(T));
          std::memcpy(xt, x[j] + full, (width - full) * sizeof(T));
          const T* te[1] = {et};
          const T* tx[1] = {xt};
          accumulate_rows<1, Score, Stats, T>(te, tx, &neg[j], kLanes64, at, false, false);
        }
      }
      k += rows;
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

// acc[c] += part[c] for c < n, a NaN result stored as the one quiet NaN (canonical_nan:
// whether a sum is NaN does not depend on the order of its operands, which NaN it is
// does, and inf - inf has a different sign on x86 and ARM). How every row block's sums
// join the sums before it, here and in the bindings' row-block tasks.
void add_block_sums(double* acc, const double* part, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) {
    const double v = acc[c] + part[c];
    acc[c] = v != v ? std::numeric_limits<double>::quiet_NaN() : v;
  }
}

// reduce_rows_in_order over at most kReduceRowBlock rows; over more, each block of
// kReduceRowBlock rows from r0 is summed from zero and the block sums are added to acc
// in block order. The binding's row-block tasks add the same block sums in the same
// order, so every path gives the same bits, and the rounding error of a sum over n rows
// grows with kReduceRowBlock + n / kReduceRowBlock instead of with n (README, "Accuracy
// of the gradient sums").
template <bool Score, bool Stats, class T, class Between = NothingBetween>
void reduce_rows(const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                 std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1,
                 std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride, std::size_t g_stride,
                 void* scratch, const Centring& cen = {}, Between between = {}) {
  if (r1 - r0 <= kReduceRowBlock) {
    reduce_rows_in_order<Score, Stats>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc,
                                       acc_stride, g_stride, scratch, cen, between);
    return;
  }
  const std::size_t width = c1 - c0;
  double* const part = static_cast<double*>(scratch);  // at offset 0 (reduce_scratch)
  for (std::size_t b0 = r0; b0 < r1; b0 += kReduceRowBlock) {
    const std::size_t b1 = std::min(r1, b0 + kReduceRowBlock);
    for (std::size_t i = 0; i < 4 * width; ++i) part[i] = 0.0;
    reduce_rows_in_order<Score, Stats>(sk, start, mirror, eps_in, g, wcols, inner, batch, b0, b1, c0, c1,
                                       part, width, g_stride, scratch, cen, between);
    for (std::size_t q = 0; q < 4; ++q)
      if (q % 2 == 0 || Stats) add_block_sums(acc + q * acc_stride, part + q * width, width);
  }
}

template <class T>
void reduce_any(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1,
                std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride, std::size_t g_stride,
                const Centring& cen, void* scratch) {
  switch (mode) {  // bit 0: score function, bit 1: also the sums of squares
    case 0: return reduce_rows<false, false>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride, g_stride, scratch, cen);
    case 1: return reduce_rows<true, false>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride, g_stride, scratch, cen);
    case 2: return reduce_rows<false, true>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride, g_stride, scratch, cen);
    default: return reduce_rows<true, true>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride, g_stride, scratch, cen);
  }
}

void reduce_f32(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const float* eps_in,
                const float* g, std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0,
                std::size_t r1, std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride,
                std::size_t g_stride, const Centring& cen, void* scratch) {
  reduce_any(mode, sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride, g_stride, cen,
             scratch);
}
void reduce_f64(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const double* eps_in,
                const double* g, std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0,
                std::size_t r1, std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride,
                std::size_t g_stride, const Centring& cen, void* scratch) {
  reduce_any(mode, sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, acc_stride, g_stride, cen,
             scratch);
}

// dsigma/dparam of each parameterization in float64 from the parameter p and its
// sigma = sigma_from<Kind>(p) (the same sigma the affine kernels use); V: a vector or a
// pack of vectors. (softplus's is the logistic function of p alone.)
template <int Kind, class V>
REPARAM_INLINE V dsigma_given_sigma(V p, V sigma) {
  if constexpr (Kind == kScale) return lift<V>(set1_f64(1.0));
  if constexpr (Kind == kVar) return div(lift<V>(set1_f64(0.5)), sigma);
  if constexpr (Kind == kLogvar) return mul(sigma, set1_f64(0.5));
  if constexpr (Kind == kLogstd) return sigma;
  if constexpr (Kind == kSoftplus)  // the logistic function 1 / (1 + exp(-p))
    return div(lift<V>(set1_f64(1.0)), add(exp_f64(sub(lift<V>(set1_f64(0.0)), p)), set1_f64(1.0)));
}

template <int Kind, class V>
REPARAM_INLINE V dsigma_dparam(V p) {
  if constexpr (Kind == kScale || Kind == kSoftplus) return dsigma_given_sigma<Kind>(p, p);  // (sigma unused)
  else return dsigma_given_sigma<Kind>(p, sigma_from<Kind>(p));
}

// The chain-rule factors of one vector (or pack) of parameters: chain = dsigma/dparam
// and, for the score function, inv = 1 / sigma (sigma computed once for both).
template <bool Score, int Kind, class V>
REPARAM_INLINE void chain_factors(V p, V& chain, V& inv) {
  if constexpr (Score) {
    const V sigma = sigma_from<Kind>(p);
    inv = div(lift<V>(set1_f64(1.0)), sigma);
    chain = dsigma_given_sigma<Kind>(p, sigma);
  } else {
    chain = dsigma_dparam<Kind>(p);
    inv = chain;  // (unused)
  }
}

// The factors for the vectors of param[0, n): kSigmaPack at a time (their chains
// interleaved), then one at a time; calls put(j, chain, inv) for each whole vector at j
// and returns where the last partial vector starts (n when there is none).
template <bool Score, int Kind, class T, class Put>
REPARAM_INLINE std::size_t chain_vectors(const T* param, std::size_t n, Put put) {
  constexpr std::size_t kStep = kSigmaPack * kLanes64;
  std::size_t j = 0;
  for (; j + kStep <= n; j += kStep) {
    VecN<F64, kSigmaPack> chain, inv;
    chain_factors<Score, Kind>(load_members<kSigmaPack>(param + j), chain, inv);
    for_each_member<kSigmaPack>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      put(j + g * kLanes64, at<g>(chain), at<g>(inv));
    });
  }
  for (; j + kLanes64 <= n; j += kLanes64) {
    F64 chain, inv;
    chain_factors<Score, Kind>(load_as_f64(param + j), chain, inv);
    put(j, chain, inv);
  }
  return j;
}

template <int Kind, class T>
void dsigma_kind(const T* param, std::size_t n, double* out) {
  auto put = [](double* o, F64 d) { store(o, canonical_nan(d)); };
  const std::size_t j = chain_vectors<false, Kind>(param, n, [&](std::size_t i, F64 d, F64) { put(out + i, d); });
  if (j < n) {  // the last few values, through zero-padded copies
    alignas(64) T pt[kLanes64] = {};
    alignas(64) double ot[kLanes64];
    std::memcpy(pt, param + j, (n - j) * sizeof(T));
    chain_vectors<false, Kind>(pt, kLanes64, [&](std::size_t, F64 d, F64) { put(ot, d); });
    std::memcpy(out + j, ot, (n - j) * sizeof(double));
  }
}

// The gradient from the column sums sx and sy, each result rounded once to T:
//   pathwise (sx = sum g, sy = sum g * eps):
//     d_loc = sx * scale, d_param = sy * (dsigma/dparam * scale);
//   score function (sx = sum w * eps, sy = sum w * (eps^2 - 1)), inv = 1 / sigma:
//     d_loc = (sx * inv) * scale, d_param = (sy * inv) * (dsigma/dparam * scale),
//     NaN results as the one quiet NaN.
// sigma and dsigma/dparam in float64 from the parameter as float64 (the same operations
// as the Python layer's variances use). U: the output type, T or float64 (results not
// rounded: for a caller that sums them over broadcast axes first).
template <bool Score, int Kind, class T, class U = T>
void grad_finish_kind(const double* sx, const double* sy, const T* param, double scale, std::size_t n, U* d_loc,
                      U* d_param) {
  const F64 sc = set1_f64(scale);
  auto put = [&](const double* x, const double* y, U* l, U* d, F64 chain, F64 inv) {
    if constexpr (Score) {
      store_from_f64(l, canonical_nan(mul(mul(load(x), inv), sc)));
      store_from_f64(d, canonical_nan(mul(mul(load(y), inv), mul(chain, sc))));
    } else {
      store_from_f64(l, mul(load(x), sc));
      store_from_f64(d, mul(load(y), mul(chain, sc)));
    }
  };
  const std::size_t j = chain_vectors<Score, Kind>(param, n, [&](std::size_t i, F64 chain, F64 inv) {
    put(sx + i, sy + i, d_loc + i, d_param + i, chain, inv);
  });
  if (j < n) {  // the last few values, through zero-padded copies
    alignas(64) T pt[kLanes64] = {};
    alignas(64) U lt[kLanes64], dt[kLanes64];
    alignas(64) double xt[kLanes64] = {}, yt[kLanes64] = {};
    std::memcpy(pt, param + j, (n - j) * sizeof(T));
    std::memcpy(xt, sx + j, (n - j) * sizeof(double));
    std::memcpy(yt, sy + j, (n - j) * sizeof(double));
    chain_vectors<Score, Kind>(pt, kLanes64, [&](std::size_t, F64 chain, F64 inv) { put(xt, yt, lt, dt, chain, inv); });
    std::memcpy(d_loc + j, lt, (n - j) * sizeof(U));
    std::memcpy(d_param + j, dt, (n - j) * sizeof(U));
  }
}

// The gradient of the column tiles [t0, t1) (kReduceTile columns each) of a (rows, batch)
// layout, written to d_loc and d_param: a tile's sums (reduce_rows over all rows), then
// its chain rule (grad_finish_kind). The chain rule is compute (an exp per column) and
// the sums are memory reads, so a tile's chain rule runs in slices between the row
// passes of the next tile, while that tile's rows load: the same operations on the same
// values, the same bits as finishing each tile at once. Nothing of size (4, batch).
template <bool Score, int Kind, class T>
void grad_tiles_kind(const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                     std::size_t g_stride, std::size_t wcols, std::size_t inner, const Centring& cen,
                     std::size_t rows, std::size_t batch, std::size_t t0, std::size_t t1, const T* param,
                     double scale, T* d_loc, T* d_param, void* scratch) {
  // per tile parity: sum x at [0, kReduceTile), sum y at [2 * kReduceTile, ...)
  alignas(64) double sums[2][3 * kReduceTile];
  const std::size_t passes = (rows + 1) / 2 * ((kReduceTile + kSegment - 1) / kSegment);
  std::size_t prev_c0 = 0, prev_n = 0, done = 0, slice = 0;
  const double* prev = nullptr;
  auto finish_upto = [&](std::size_t end) {  // the previous tile's columns [done, end)
    if (prev == nullptr || end <= done) return;
    grad_finish_kind<Score, Kind>(prev + done, prev + 2 * kReduceTile + done, param + prev_c0 + done, scale,
                                  end - done, d_loc + prev_c0 + done, d_param + prev_c0 + done);
    done = end;
  };
  for (std::size_t t = t0; t < t1; ++t) {
    const std::size_t c0 = t * kReduceTile, c1 = std::min(batch, c0 + kReduceTile);
    double* cur = sums[t % 2];
    std::fill(cur, cur + (c1 - c0), 0.0);
    std::fill(cur + 2 * kReduceTile, cur + 2 * kReduceTile + (c1 - c0), 0.0);
    reduce_rows<Score, false>(sk, start, mirror, eps_in, g, wcols, inner, batch, 0, rows, c0, c1, cur, kReduceTile,
                              g_stride, scratch, cen, [&] { finish_upto(std::min(prev_n, done + slice)); });
    finish_upto(prev_n);  // what the slices left
    prev = cur;
    prev_c0 = c0;
    prev_n = c1 - c0;
    done = 0;
    slice = (prev_n + passes - 1) / passes;
    slice += (kLanes64 - slice % kLanes64) % kLanes64;  // whole vectors but the last slice
  }
  finish_upto(prev_n);
}

template <class T>
void grad_tiles_any(int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in,
                    const T* g, std::size_t g_stride, std::size_t wcols, std::size_t inner, const Centring& cen,
                    std::size_t rows, std::size_t batch, std::size_t t0, std::size_t t1, const T* param, int kind,
                    double scale, T* d_loc, T* d_param, void* scratch) {
  with_kind(kind, [&](auto k) {
    constexpr int K = decltype(k)::value;
    if (score)
      grad_tiles_kind<true, K>(sk, start, mirror, eps_in, g, g_stride, wcols, inner, cen, rows, batch, t0, t1, param,
                               scale, d_loc, d_param, scratch);
    else
      grad_tiles_kind<false, K>(sk, start, mirror, eps_in, g, g_stride, wcols, inner, cen, rows, batch, t0, t1,
                                param, scale, d_loc, d_param, scratch);
  });
}

void grad_tiles_f32(int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const float* eps_in,
                    const float* g, std::size_t g_stride, std::size_t wcols, std::size_t inner, const Centring& cen,
                    std::size_t rows, std::size_t batch, std::size_t t0, std::size_t t1, const float* param, int kind,
                    double scale, float* d_loc, float* d_param, void* scratch) {
  grad_tiles_any(score, sk, start, mirror, eps_in, g, g_stride, wcols, inner, cen, rows, batch, t0, t1, param, kind,
                 scale, d_loc, d_param, scratch);
}
void grad_tiles_f64(int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const double* eps_in,
                    const double* g, std::size_t g_stride, std::size_t wcols, std::size_t inner, const Centring& cen,
                    std::size_t rows, std::size_t batch, std::size_t t0, std::size_t t1, const double* param,
                    int kind, double scale, double* d_loc, double* d_param, void* scratch) {
  grad_tiles_any(score, sk, start, mirror, eps_in, g, g_stride, wcols, inner, cen, rows, batch, t0, t1, param, kind,
                 scale, d_loc, d_param, scratch);
}

template <class T>
void dsigma_any(const T* param, int kind, std::size_t n, double* out) {
  with_kind(kind, [&](auto k) { dsigma_kind<decltype(k)::value>(param, n, out); });
}

template <class T, class U>
void grad_finish_any(int score, const double* sx, const double* sy, const T* param, int kind, double scale,
                     std::size_t n, U* d_loc, U* d_param) {
  with_kind(kind, [&](auto k) {
    constexpr int K = decltype(k)::value;
    if (score)
      grad_finish_kind<true, K>(sx, sy, param, scale, n, d_loc, d_param);
    else
      grad_finish_kind<false, K>(sx, sy, param, scale, n, d_loc, d_param);
  });
}

void dsigma_f32(const float* param, int kind, std::size_t n, double* out) { dsigma_any(param, kind, n, out); }
void dsigma_f64(const double* param, int kind, std::size_t n, double* out) { dsigma_any(param, kind, n, out); }
void grad_finish_f32(int score, const double* sx, const double* sy, const float* param, int kind, double scale,
                     std::size_t n, float* d_loc, float* d_param) {
  grad_finish_any(score, sx, sy, param, kind, scale, n, d_loc, d_param);
}
void grad_finish_f64(int score, const double* sx, const double* sy, const double* param, int kind, double scale,
                     std::size_t n, double* d_loc, double* d_param) {
  grad_finish_any(score, sx, sy, param, kind, scale, n, d_loc, d_param);
}
void grad_finish_f32_to_f64(int score, const double* sx, const double* sy, const float* param, int kind,
                            double scale, std::size_t n, double* d_loc, double* d_param) {
  grad_finish_any(score, sx, sy, param, kind, scale, n, d_loc, d_param);
}

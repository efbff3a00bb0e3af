// Fused reductions for gradient estimators: read grad_z (pathwise) or per-sample
// weights (score function), regenerate eps from the stream (or read it), and add up
// four sums per column in float64. Columns are SIMD lanes and rows are added in
// order, so every column's sums are the same on every target. Included inside the
// target namespace by sampler_kernels.cpp, after the fill kernels.
#pragma once

#include <cstring>

// Sums over rows [r0, r1) and columns [c0, c1) of a (rows, batch) layout, into
// acc[k * width + (c - c0)], width = c1 - c0, k = 0..3:
//   pathwise (Score = false): x = g[r*batch + c],            y = x * eps
//   score    (Score = true):  x = w[r*wcols + c/inner] * eps, y = w * (eps*eps - 1)
//   acc0 += x, acc1 += x*x, acc2 += y, acc3 += y*y.
// eps: eps_in[r*batch + c] if eps_in, else the stream at start + i for flat index i,
// or -eps(start + i - mirror) for i >= mirror when mirror > 0 (antithetic halves).
template <bool Score, class T>
void reduce_rows(const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                 std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1,
                 std::size_t c0, std::size_t c1, double* acc) {
  constexpr std::size_t kMaxWidth = 1024;
  const std::size_t width = c1 - c0;
  alignas(64) T eps_row[kMaxWidth + kLanes64];
  alignas(64) T x_row[kMaxWidth + kLanes64];
  double* const a0 = acc;
  double* const a1 = acc + width;
  double* const a2 = acc + 2 * width;
  double* const a3 = acc + 3 * width;
  const F64 one = set1_f64(1.0);
  for (std::size_t r = r0; r < r1; ++r) {
    const std::size_t i = r * batch + c0;
    const T* eps;
    bool negate = false;
    if (eps_in != nullptr) {
      eps = eps_in + i;
    } else {
      std::uint64_t pos = start + i;
      if (mirror > 0 && i >= mirror) {
        pos -= mirror;
        negate = true;
      }
      fill_normal_any(sk, pos, width, eps_row);
      eps = eps_row;
    }
    const T* x;
    if constexpr (Score) {
      for (std::size_t c = 0; c < width; ++c) x_row[c] = g[r * wcols + (c0 + c) / inner];
      x = x_row;
    } else {
      x = g + i;
    }
    // Adds one vector of columns into the four accumulators at a0..a3.
    auto step = [&](F64 xv, F64 ev, double* s0, double* s1, double* s2, double* s3) {
      if (negate) ev = sub(set1_f64(0.0), ev);
      F64 p, q;
      if constexpr (Score) {
        p = mul(xv, ev);
        q = mul(xv, sub(mul(ev, ev), one));
      } else {
        p = xv;
        q = mul(xv, ev);
      }
      store(s0, add(load(s0), p));
      store(s1, add(load(s1), mul(p, p)));
      store(s2, add(load(s2), q));
      store(s3, add(load(s3), mul(q, q)));
    };
    std::size_t c = 0;
    for (; c + kLanes64 <= width; c += kLanes64)
      step(load_as_f64(x + c), load_as_f64(eps + c), a0 + c, a1 + c, a2 + c, a3 + c);
    if (c < width) {  // the last few columns, through zero-padded copies
      alignas(64) T xt[kLanes64] = {}, et[kLanes64] = {};
      alignas(64) double t[4][kLanes64] = {};
      const std::size_t rest = width - c;
      std::memcpy(xt, x + c, rest * sizeof(T));
      std::memcpy(et, eps + c, rest * sizeof(T));
      double* const a[4] = {a0, a1, a2, a3};
      for (int k = 0; k < 4; ++k) std::memcpy(t[k], a[k] + c, rest * sizeof(double));
      step(load_as_f64(xt), load_as_f64(et), t[0], t[1], t[2], t[3]);
      for (int k = 0; k < 4; ++k) std::memcpy(a[k] + c, t[k], rest * sizeof(double));
    }
  }
}

void reduce_f32(int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const float* eps_in,
                const float* g, std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0,
                std::size_t r1, std::size_t c0, std::size_t c1, double* acc) {
  if (score) return reduce_rows<true>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc);
  reduce_rows<false>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc);
}
void reduce_f64(int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const double* eps_in,
                const double* g, std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0,
                std::size_t r1, std::size_t c0, std::size_t c1, double* acc) {
  if (score) return reduce_rows<true>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc);
  reduce_rows<false>(sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc);
}

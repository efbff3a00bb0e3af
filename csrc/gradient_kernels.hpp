// Fused reductions for gradient estimators: read grad_z (pathwise) or per-sample
// weights (score function), regenerate eps from the stream (or read it), and add up
// per-column sums in float64. Columns are SIMD lanes and each column's rows are added
// in row order, so every column's sums are the same on every target. Included inside
// the target namespace by sampler_kernels.cpp, after the fill kernels.
#pragma once

// (std headers: included by sampler_kernels.cpp before the target namespace)

constexpr std::size_t kReduceTile = 1024;  // columns per call at most
constexpr std::size_t kRowChunk = 16;      // rows whose eps are generated together

// Sums over rows [r0, r1) and columns [c0, c1) of a (rows, batch) layout, added to
// acc[k * acc_stride + (c - c0)], k = 0..3 (rows 1 and 3 only with Stats):
//   pathwise (Score = false): x = g[r*batch + c],            y = x * eps
//   score    (Score = true):  x = w[r*wcols + c/inner] * eps, y = w * (eps*eps - 1)
//   acc0 += x, acc1 += x*x, acc2 += y, acc3 += y*y.
// eps: eps_in[r*batch + c] if eps_in, else the stream at start + i for flat index i,
// or -eps(start + i - mirror) for i >= mirror when mirror > 0 (antithetic halves).
// Sums are stored with canonical NaNs (see canonical_nan): whether a column's sum is NaN
// does not depend on the order of operands, which NaN it is does.
inline void store_sum(double* p, F64 v) { store(p, canonical_nan(v)); }

// Adds rows [0, nr) into s[v] for the V vectors of columns at c + v * kLanes64 of
// e[k] and x[k]; several independent vectors keep several add chains in flight, and
// each column still adds its rows in order.
template <bool Score, bool Stats, int V, class T>
inline void accumulate(std::size_t nr, const T* const* e, const T* const* x, const char* negated, std::size_t c,
                       F64 (&s)[V][4]) {
  const F64 one = set1_f64(1.0), zero = set1_f64(0.0);
  for (std::size_t k = 0; k < nr; ++k) {
    for (int v = 0; v < V; ++v) {
      F64 ev = load_as_f64(e[k] + c + v * kLanes64);
      if (negated[k]) ev = sub(zero, ev);
      const F64 xv = load_as_f64(x[k] + c + v * kLanes64);
      F64 p, q;
      if constexpr (Score) {
        p = mul(xv, ev);
        q = mul(xv, sub(mul(ev, ev), one));
      } else {
        p = xv;
        q = mul(xv, ev);
      }
      s[v][0] = add(s[v][0], p);
      s[v][2] = add(s[v][2], q);
      if constexpr (Stats) {
        s[v][1] = add(s[v][1], mul(p, p));
        s[v][3] = add(s[v][3], mul(q, q));
      }
    }
  }
}

template <bool Score, bool Stats, class T>
void reduce_rows(const StreamKey& sk, std::uint64_t start, std::size_t mirror, const T* eps_in, const T* g,
                 std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1,
                 std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride) {
  const std::size_t width = c1 - c0;
  const std::size_t full = width - width % kLanes64;
  // Rows per chunk: at least kRowChunk, more for narrow tiles so that each chunk's
  // noise is generated in one call of about a thousand values.
  const std::size_t chunk = std::max(kRowChunk, std::min<std::size_t>(4096, kReduceTile / width));
  Scratch<T> ebuf(eps_in ? 0 : chunk * width), xbuf(Score ? chunk * width : 0);
  Scratch<const T*> erow(chunk, nullptr), xrow(chunk, nullptr);
  Scratch<char> negated(chunk, 0);
  const bool contiguous = c0 == 0 && c1 == batch;  // a chunk's rows are adjacent in the stream
  const F64 zero = set1_f64(0.0);
  double* const a[4] = {acc, acc + acc_stride, acc + 2 * acc_stride, acc + 3 * acc_stride};

  for (std::size_t rc = r0; rc < r1; rc += chunk) {
    const std::size_t nr = std::min(chunk, r1 - rc);
    const std::size_t i0 = rc * batch + c0;
    // eps rows: read in place, or generated (the whole chunk in one call when its rows
    // are adjacent in the stream and on one side of the antithetic mirror)
    const bool one_side = mirror == 0 || i0 + nr * batch <= mirror || i0 >= mirror;
    if (eps_in != nullptr) {
      for (std::size_t k = 0; k < nr; ++k) {
        erow[k] = eps_in + i0 + k * batch;
        negated[k] = 0;
      }
    } else if (contiguous && one_side) {
      const bool neg = mirror > 0 && i0 >= mirror;
      fill_normal_any(sk, start + i0 - (neg ? mirror : 0), nr * width, ebuf.data());
      for (std::size_t k = 0; k < nr; ++k) {
        erow[k] = ebuf.data() + k * width;
        negated[k] = neg;
      }
    } else {
      for (std::size_t k = 0; k < nr; ++k) {
        const std::size_t i = i0 + k * batch;
        const bool neg = mirror > 0 && i >= mirror;
        fill_normal_any(sk, start + i - (neg ? mirror : 0), width, ebuf.data() + k * width);
        erow[k] = ebuf.data() + k * width;
        negated[k] = neg;
      }
    }
    for (std::size_t k = 0; k < nr; ++k) {
      if constexpr (Score) {
        const T* w = g + (rc + k) * wcols;
        T* xr = xbuf.data() + k * width;
        for (std::size_t q = 0; q < width; ++q) xr[q] = w[(c0 + q) / inner];
        xrow[k] = xr;
      } else {
        xrow[k] = g + i0 + k * batch;
      }
    }
    // Four vectors of columns at a time, then one, accumulated in registers.
    auto columns = [&](auto vectors, std::size_t c) {
      constexpr int V = decltype(vectors)::value;
      F64 s[V][4];
      for (int v = 0; v < V; ++v) {
        const std::size_t cv = c + v * kLanes64;
        s[v][0] = load(a[0] + cv);
        s[v][1] = Stats ? load(a[1] + cv) : zero;
        s[v][2] = load(a[2] + cv);
        s[v][3] = Stats ? load(a[3] + cv) : zero;
      }
      accumulate<Score, Stats, V>(nr, erow.data(), xrow.data(), negated.data(), c, s);
      for (int v = 0; v < V; ++v) {
        const std::size_t cv = c + v * kLanes64;
        store_sum(a[0] + cv, s[v][0]);
        store_sum(a[2] + cv, s[v][2]);
        if constexpr (Stats) {
          store_sum(a[1] + cv, s[v][1]);
          store_sum(a[3] + cv, s[v][3]);
        }
      }
    };
    std::size_t c = 0;
    for (; c + 4 * kLanes64 <= full; c += 4 * kLanes64) columns(std::integral_constant<int, 4>(), c);
    for (; c < full; c += kLanes64) columns(std::integral_constant<int, 1>(), c);
    if (full < width) {  // the last few columns, through zero-padded copies
      const std::size_t rest = width - full;
      Scratch<T> et(nr * kLanes64, T(0)), xt(nr * kLanes64, T(0));
      Scratch<const T*> ep(nr, nullptr), xp(nr, nullptr);
      for (std::size_t k = 0; k < nr; ++k) {
        std::memcpy(&et[k * kLanes64], erow[k] + full, rest * sizeof(T));
        std::memcpy(&xt[k * kLanes64], xrow[k] + full, rest * sizeof(T));
        ep[k] = &et[k * kLanes64];
        xp[k] = &xt[k * kLanes64];
      }
      alignas(64) double t[4][kLanes64] = {};
      for (int q = 0; q < 4; ++q)
        if (q % 2 == 0 || Stats) std::memcpy(t[q], a[q] + full, rest * sizeof(double));
      F64 s[1][4] = {{load(t[0]), load(t[1]), load(t[2]), load(t[3])}};
      accumulate<Score, Stats, 1>(nr, ep.data(), xp.data(), negated.data(), 0, s);
      for (int q = 0; q < 4; ++q) {
        store_sum(t[q], s[0][q]);
        if (q % 2 == 0 || Stats) std::memcpy(a[q] + full, t[q], rest * sizeof(double));
      }
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

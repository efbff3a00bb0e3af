// Closed forms of the diagonal Normal (closed_forms.hpp: ClosedForm) and their gradients,
// elementwise over the vector layer: float64 arithmetic from the raw parameter, with
// log(sigma) and dlog(sigma)/dparam in stable forms per parameterization. Every step is
// an IEEE-exact or correctly rounded operation (no libm, no FMA), so every target gives
// the same bits. Included inside the target namespace by sampler_kernels.cpp, after
// affine_kernels.hpp (with_kind, load_as_f64, canonical_nan).
#pragma once

// (std headers: included by sampler_kernels.cpp before the target namespace)

namespace closed {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2

// Lanes that are not NaN.
template <class V>
REPARAM_INLINE auto not_nan(V x) {
  return gt(abs(x), set1_f64(-1.0));
}

// log(x) for every double: -inf at +-0, NaN below 0 and for NaN, inf at inf; subnormals
// scaled into the normal range first. x = 2**e * m with m in [sqrt(1/2), sqrt(2)), then
// log_reduced as the Box-Muller radius uses it.
template <class V>
REPARAM_INLINE V log_f64(V x) {
  const F64 zero = set1_f64(0.0);
  const auto small = gt(set1_f64(0x1p-1022), x);  // subnormal, zero or negative
  const V xs = select(small, mul(x, set1_f64(0x1p54)), x);
  const auto bits = as_u64(xs);
  V e = sub(as_f64(bor(srl64<52>(bits), set1_u64(0x4330000000000000ull))), set1_f64(4503599627370496.0 + 1023.0));
  e = select(small, sub(e, set1_f64(54.0)), e);
  V m = as_f64(bor(band(bits, set1_u64(0x000FFFFFFFFFFFFFull)), set1_u64(0x3FF0000000000000ull)));
  const auto halve = gt(m, set1_f64(c::kSqrt2F64));
  m = select(halve, mul(m, set1_f64(0.5)), m);
  e = select(halve, add(e, set1_f64(1.0)), e);
  V r = log_reduced(e, sub(m, set1_f64(1.0)));
  r = select(gt(x, zero), r, set1_f64(-HUGE_VAL));                      // +-0
  r = select(gt(zero, x), as_f64(set1_u64(0x7FF8000000000000ull)), r);  // below 0
  r = select(gt(x, set1_f64(std::numeric_limits<double>::max())), x, r);  // inf
  return select(not_nan(x), r, x);
}

// exp(x) rounded (nearly) once: the sum of exp_f64_scaled's two parts; inf where the
// high part overflows (the low part may overflow too, to either sign).
template <class V>
REPARAM_INLINE V exp_acc(V x) {
  V hs, ls;
  exp_f64_scaled(x, hs, ls);
  return select(gt(abs(hs), set1_f64(std::numeric_limits<double>::max())), hs, add(hs, ls));
}

// expm1(x) for |x| < 1 (other lanes: unspecified): exp(x) = (p + plo) * 2**k with k in
// {-1, 0, 1}, so p * 2**k - 1 is formed by Fast2Sum with its error (exact for p 2**k > 1)
// and plo * 2**k added last; below 2**-54, expm1(x) rounds to x itself (signed zeros kept).
template <class V>
REPARAM_INLINE V expm1_small(V x) {
  V xc = x, p, plo;
  decltype(as_u64(x)) ki;
  exp_f64_core(xc, p, plo, ki);
  const F64 one = set1_f64(1.0);
  const V s = as_f64(sll64<52>(add64(ki, set1_u64(1023))));
  const V pk = mul(p, s);
  const V d = sub(pk, one);
  const V e = sub(pk, add(d, one));
  return select(gt(abs(x), set1_f64(0x1p-54)), add(d, add(e, mul(plo, s))), x);
}

// log1p(t) for t in (-1/2, 1): log(1 + t rounded) plus the first-order correction.
template <class V>
REPARAM_INLINE V log1p_mid(V t) {
  const F64 one = set1_f64(1.0);
  const V w = add(one, t);
  return add(log_f64(w), div(sub(t, sub(w, one)), w));
}

// sigma, log(sigma) and dlog(sigma)/dparam of a parameterization. Gradients go through
// log(sigma): its derivative is finite wherever the parameter is (logstd = -1000 has
// sigma = 0 but dlog(sigma)/dparam = 1).
template <class V>
struct Sigma {
  V sigma, log_sigma, dlog;
};

template <int Kind, class V>
REPARAM_INLINE Sigma<V> sigma_of(V p) {
  const F64 half = set1_f64(0.5), one = set1_f64(1.0);
  if constexpr (Kind == kScale) {
    return {p, log_f64(p), div(lift<V>(one), p)};
  } else if constexpr (Kind == kVar) {
    return {sqrt(p), mul(half, log_f64(p)), div(lift<V>(half), p)};
  } else if constexpr (Kind == kLogvar) {
    const V lp = mul(half, p);
    return {exp_acc(lp), lp, lift<V>(half)};
  } else if constexpr (Kind == kLogstd) {
    return {exp_acc(p), p, lift<V>(one)};
  } else {
    // softplus(p) = log(1 + exp(p)); for p < -30 it is exp(p) (1 - exp(p)/2), whose log
    // and dlog are taken from exp(p) (log of the rounded s would lose them)
    V s, lo;
    softplus_f64_parts(p, s, lo);
    const V sig = div(lift<V>(one), add(one, exp_acc(sub(set1_f64(0.0), p))));  // dsoftplus/dp
    V ls = log_f64(s), dl = div(sig, s);
    const auto tiny = gt(set1_f64(-30.0), p);
    if (!all_lanes(gt(p, set1_f64(-30.0)))) {
      const V ep = exp_acc(p);
      ls = select(tiny, sub(p, mul(half, ep)), ls);
      dl = select(tiny, sub(one, mul(half, ep)), dl);
    }
    return {s, ls, dl};
  }
}

// log(sigma^2) from the raw parameter, accurate relative to itself near sigma = 1 (where
// KL to N(0, 1) is its square over 4): exact for logvar and logstd, log of the exact
// parameter for scale and var. For softplus, log(s) of the rounded s = softplus(p) has an
// absolute error of an ulp of 1, as large as the result near p0 = log(e - 1) (sigma = 1):
// there softplus(p) = 1 + log1p((1 - 1/e) expm1(p - p0)), with p - p0 taken against p0 in
// two parts (the first subtraction is exact near p0).
template <int Kind, class V>
REPARAM_INLINE V log_sigma2(V p, const Sigma<V>& s) {
  const F64 two = set1_f64(2.0);
  if constexpr (Kind == kScale || Kind == kVar) return mul(two, s.log_sigma);  // 2 log(p), log(p)
  if constexpr (Kind == kLogvar) return p;
  if constexpr (Kind == kLogstd) return mul(two, p);
  if constexpr (Kind == kSoftplus) {
    constexpr double kP0Hi = 0.5413248546129181;       // log(e - 1) rounded
    constexpr double kP0Lo = -1.8138570925507326e-17;  // log(e - 1) - kP0Hi
    constexpr double kCHi = 0.6321205588285577;        // 1 - 1/e rounded
    constexpr double kCLo = 1.2428753672788363e-17;    // 1 - 1/e - kCHi
    const V d = sub(sub(p, set1_f64(kP0Hi)), set1_f64(kP0Lo));
    const V far = mul(two, s.log_sigma);
    // (the interval where this is the more accurate of the two: a few ulps of the KL at most)
    const F64 zero = set1_f64(0.0), one = set1_f64(1.0);
    const auto near = gt(select(gt(d, set1_f64(-0.6)), select(gt(set1_f64(0.75), d), one, zero), zero), zero);
    if (all_lanes(gt(select(near, zero, one), zero))) return far;  // no lane near p0
    const V dn = select(near, d, zero);
    const V e = expm1_small(dn);
    return select(near, mul(two, log1p_mid(log1p_mid(add(mul(set1_f64(kCHi), e), mul(set1_f64(kCLo), e))))), far);
  }
}

// exp_acc(x) and expm1_small(x) from one reduction and polynomial: the same operations,
// so the same bits, as the two calls (expm1 meaningful where |x| < 1).
template <class V>
REPARAM_INLINE void exp_acc_expm1(V x, V& ex, V& em1) {
  V xc = x, p, plo;
  decltype(as_u64(x)) ki;
  exp_f64_core(xc, p, plo, ki);
  const F64 one = set1_f64(1.0);
  const V s = as_f64(sll64<52>(add64(ki, set1_u64(1023))));
  const V pk = mul(p, s), pl = mul(plo, s);
  V hs = pk, ls = pl;  // exp_f64_scaled's parts where |x| < 700 everywhere
  if (!all_lanes(gt(set1_f64(700.0), abs(xc)))) {
    V hi, lo, s2;
    exp_f64_parts(xc, hi, lo, s2);
    hs = mul(hi, s2);
    ls = mul(lo, s2);
  }
  ex = select(gt(abs(hs), set1_f64(std::numeric_limits<double>::max())), hs, add(hs, ls));
  const V d = sub(pk, one);
  const V e = sub(pk, add(d, one));
  em1 = select(gt(abs(x), set1_f64(0x1p-54)), add(d, add(e, pl)), x);
}

// sigma^2 / 2 from the raw parameter, finite wherever it is representable (sigma^2 itself
// overflows first): halved before the last product. For logvar and logstd from
// ex = exp_acc(log sigma^2) (p, 2p), and sigma itself only where that overflows.
template <int Kind, class V>
REPARAM_INLINE V half_sigma2_of_exp(V p, V ex) {
  static_assert(Kind == kLogvar || Kind == kLogstd, "logvar and logstd only");
  const F64 half = set1_f64(0.5);
  constexpr double kLimit = Kind == kLogvar ? 700.0 : 350.0;
  const auto ok = gt(set1_f64(kLimit), p);
  const V direct = mul(half, ex);
  if (all_lanes(ok)) return direct;
  const V sg = exp_acc(Kind == kLogvar ? mul(half, p) : p);  // sigma_of's sigma
  return select(ok, direct, mul(mul(half, sg), sg));
}

// The other parameterizations: from the parameter (var) or from sigma.
template <int Kind, class V>
REPARAM_INLINE V half_sigma2(V p, const Sigma<V>& s) {
  static_assert(Kind == kScale || Kind == kVar || Kind == kSoftplus, "logvar, logstd: half_sigma2_of_exp");
  const F64 half = set1_f64(0.5);
  if constexpr (Kind == kVar) return mul(half, p);
  else return mul(mul(half, s.sigma), s.sigma);
}

// What a form reads of sigma_of: kl_standard_normal under logvar and logstd needs only
// dlog (a constant; log sigma^2 and sigma^2 come from the parameter itself), so sigma's
// exp is not computed there (sigma and log_sigma are left as the parameter: unused).
template <int Form, int Kind, class V>
REPARAM_INLINE Sigma<V> sigma_for(V p) {
  if constexpr (Form == int(ClosedForm::KlStandard) && (Kind == kLogvar || Kind == kLogstd))
    return {p, p, lift<V>(set1_f64(Kind == kLogvar ? 0.5 : 1.0))};
  else
    return sigma_of<Kind>(p);
}

// 1 / k! for k = 2 .. 20, the Taylor series of (expm1(u) - u) / u^2
inline constexpr double kInvFact[] = {
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

// (sigma^2 - 1 - log sigma^2) / 2 >= 0 for u = log sigma^2 and h = sigma^2 / 2, without
// the cancellation of the terms near sigma = 1: for |u| < 1, (expm1(u) - u) / 2 by its
// Taylor series u^2 / 2 * sum_j u^j / (j + 2)! (terms below 2**-60 of the first dropped);
// else the terms directly (they cancel by at most a factor of 4 there).
template <class V, class M>
REPARAM_INLINE V half_excess(V u, V h, M small) {
  const F64 half = set1_f64(0.5);
  const V series = mul(mul(half, mul(u, u)), horner(u, kInvFact, set1_f64));
  const V direct = select(gt(u, set1_f64(700.0)), h, sub(h, mul(half, add(set1_f64(1.0), u))));
  return select(small, series, direct);
}

// Equal means contribute nothing, even when sigma_o underflows to 0: t where d != 0 (or
// is NaN), else 0.
template <class V>
REPARAM_INLINE V unless_zero(V d, V t) {
  return select(gt(abs(d), set1_f64(0.0)), t, select(not_nan(d), lift<V>(set1_f64(0.0)), d));
}

// One vector of a closed form: the value v and, with Grad, dv/dloc and dv/dparam.
// x: z (LogProb) or the other's loc (Kl); osig, olog: the other's sigma and log sigma.
template <int Form, int Kind, bool Grad, class V>
REPARAM_INLINE void closed_vector(V l, V p, V x, V osig, V olog, V& v, V& gl, V& gp) {
  const F64 half = set1_f64(0.5), one = set1_f64(1.0), zero = set1_f64(0.0);
  const Sigma<V> s = sigma_for<Form, Kind>(p);
  V gs;  // d/dlog(sigma)
  if constexpr (Form == int(ClosedForm::LogProb)) {
    const V t = div(sub(x, l), s.sigma);
    v = sub(sub(mul(mul(set1_f64(-0.5), t), t), s.log_sigma), set1_f64(kHalfLog2Pi));
    if constexpr (Grad) {
      gl = div(t, s.sigma);
      gs = sub(mul(t, t), one);
    }
  } else if constexpr (Form == int(ClosedForm::Entropy)) {
    v = add(add(s.log_sigma, half), set1_f64(kHalfLog2Pi));
    gl = lift<V>(zero);
    gs = lift<V>(one);
  } else if constexpr (Form == int(ClosedForm::Kl)) {
    const V d = sub(l, x);
    const V o2 = mul(osig, osig);
    const V ratio2 = exp_acc(mul(set1_f64(2.0), sub(s.log_sigma, olog)));  // sigma^2 / sigma_o^2
    v = sub(add(add(sub(olog, s.log_sigma), mul(half, ratio2)), unless_zero(d, div(mul(d, d), mul(set1_f64(2.0), o2)))),
            half);
    if constexpr (Grad) {
      gl = unless_zero(d, div(d, o2));
      gs = sub(ratio2, one);
    }
  } else {
    // loc^2 / 2 + (sigma^2 - 1 - log sigma^2) / 2: two non-negative terms, the second
    // free of cancellation near sigma = 1 (it is never below 0)
    const V u = log_sigma2<Kind>(p, s);
    V h, em1;  // sigma^2 / 2, and expm1(u) where |u| < 1 (with Grad)
    if constexpr (Kind == kLogvar || Kind == kLogstd) {  // one exp of u for both
      V ex;
      exp_acc_expm1(u, ex, em1);
      h = half_sigma2_of_exp<Kind>(p, ex);
    } else {
      h = half_sigma2<Kind>(p, s);
      if constexpr (Grad) em1 = expm1_small(u);
    }
    const auto small = gt(one, abs(u));
    v = add(mul(mul(half, l), l), half_excess(u, h, small));
    if constexpr (Grad) {
      gl = l;
      gs = select(small, em1, sub(mul(set1_f64(2.0), h), one));  // sigma^2 - 1
    }
  }
  if constexpr (Grad) gp = mul(gs, s.dlog);
}

constexpr std::size_t kTile = 512;  // values per step (the other's sigma buffered per step)

// Vectors per step of the closed forms (their chains interleaved): the sigma kernels' pack
// size, at most 4 (the closed forms hold more values per vector).
constexpr int kPack = kSigmaPack < 4 ? kSigmaPack : 4;

// The other distribution's sigma and log sigma for n <= kTile parameters (Kl), into
// buffers padded to whole vectors.
template <int Kind, class T>
void other_sigma(const T* param, std::size_t n, double* osig, double* olog) {
  for (std::size_t j = 0; j < n; j += kLanes64) {
    alignas(64) T pt[kLanes64] = {};
    const T* src = param + j;
    if (j + kLanes64 > n) {
      std::memcpy(pt, src, (n - j) * sizeof(T));
      src = pt;
    }
    const Sigma<F64> s = sigma_of<Kind>(load_as_f64(src));
    store(osig + j, s.sigma);
    store(olog + j, s.log_sigma);
  }
}

// n values of a closed form (n <= kTile) to float64 outputs (canonical NaNs).
template <int Form, int Kind, bool Grad, class T>
void closed_tile(std::size_t n, const T* loc, const T* param, const T* x, const double* osig, const double* olog,
                 double* value, double* d_loc, double* d_param) {
  constexpr bool kX = Form == int(ClosedForm::LogProb) || Form == int(ClosedForm::Kl);
  constexpr bool kOther = Form == int(ClosedForm::Kl);
  const F64 zero = set1_f64(0.0);
  auto one_vector = [&](const T* l, const T* p, const T* xs, const double* os, const double* ol, double* v,
                        double* gl, double* gp) {
    F64 rv, rl = zero, rp = zero;
    closed_vector<Form, Kind, Grad>(load_as_f64(l), load_as_f64(p), kX ? load_as_f64(xs) : zero,
                                    kOther ? load(os) : zero, kOther ? load(ol) : zero, rv, rl, rp);
    store(v, canonical_nan(rv));
    if constexpr (Grad) {
      store(gl, canonical_nan(rl));
      store(gp, canonical_nan(rp));
    }
  };
  std::size_t j = 0;
  // kPack vectors at a time (their long dependency chains interleaved; vec_pack.hpp)
  for (; j + kPack * kLanes64 <= n; j += kPack * kLanes64) {
    using P = VecN<F64, kPack>;
    P rv, rl = lift<P>(zero), rp = lift<P>(zero);
    const P xv = kX ? load_members<kPack>(x + j) : lift<P>(zero);
    const P ov = kOther ? load_members<kPack>(osig + j) : lift<P>(zero);
    const P lv = kOther ? load_members<kPack>(olog + j) : lift<P>(zero);
    closed_vector<Form, Kind, Grad>(load_members<kPack>(loc + j), load_members<kPack>(param + j), xv, ov, lv, rv, rl,
                                    rp);
    for_each_member<kPack>([&](auto g_) {
      constexpr int g = decltype(g_)::value;
      const std::size_t q = j + g * kLanes64;
      store(value + q, canonical_nan(at<g>(rv)));
      if constexpr (Grad) {
        store(d_loc + q, canonical_nan(at<g>(rl)));
        store(d_param + q, canonical_nan(at<g>(rp)));
      }
    });
  }
  for (; j + kLanes64 <= n; j += kLanes64)
    one_vector(loc + j, param + j, kX ? x + j : nullptr, osig + j, olog + j, value + j, Grad ? d_loc + j : nullptr,
               Grad ? d_param + j : nullptr);
  if (j < n) {  // the last few values, through zero-padded copies
    const std::size_t m = n - j;
    alignas(64) T lt[kLanes64] = {}, pt[kLanes64] = {}, xt[kLanes64] = {};
    alignas(64) double vt[kLanes64], glt[kLanes64], gpt[kLanes64];
    std::memcpy(lt, loc + j, m * sizeof(T));
    std::memcpy(pt, param + j, m * sizeof(T));
    if (kX) std::memcpy(xt, x + j, m * sizeof(T));
    one_vector(lt, pt, xt, osig + j, olog + j, vt, glt, gpt);
    std::memcpy(value + j, vt, m * sizeof(double));
    if constexpr (Grad) {
      std::memcpy(d_loc + j, glt, m * sizeof(double));
      std::memcpy(d_param + j, gpt, m * sizeof(double));
    }
  }
}

// float64 results to the output type U (float32: rounded once, as NumPy's astype).
template <class U>
void put_tile(const double* src, std::size_t n, U* dst) {
  if constexpr (sizeof(U) == 8) {
    if (src != dst) std::memcpy(dst, src, n * sizeof(double));
  } else {
    std::size_t j = 0;
    for (; j + kLanes64 <= n; j += kLanes64) store_f64_as_f32(dst + j, load(src + j));
    if (j < n) {
      alignas(64) double t[kLanes64] = {};
      alignas(64) float f[kLanes64];
      std::memcpy(t, src + j, (n - j) * sizeof(double));
      store_f64_as_f32(f, load(t));
      std::memcpy(dst + j, f, (n - j) * sizeof(float));
    }
  }
}

// m <= kTile inputs as float64: float64 ones in place, float32 ones converted (exactly) into
// buf, so that the closed forms are compiled for float64 inputs only (a third of the
// template instances, and of the kernels' compile time, of one per input type).
template <class T>
const double* f64_tile(const T* src, std::size_t m, double* buf) {
  if constexpr (sizeof(T) == 8) {
    (void)m;
    (void)buf;
    return reinterpret_cast<const double*>(src);
  } else {
    if (src == nullptr) return nullptr;
    for (std::size_t j = 0; j < m; ++j) buf[j] = static_cast<double>(src[j]);
    return buf;
  }
}

template <int Form, int Kind, bool Grad, class T, class U>
void closed_run(int other_kind, std::size_t n, const T* loc, const T* param, const T* x, const T* other, U* value,
                U* d_loc, U* d_param) {
  constexpr bool kStage = sizeof(T) != 8;
  alignas(64) double lt[kStage ? kTile : 1], pt[kStage ? kTile : 1], xt[kStage ? kTile : 1];
  void (*other_fn)(const T*, std::size_t, double*, double*) = nullptr;
  if constexpr (Form == int(ClosedForm::Kl))
    with_kind(other_kind, [&](auto k) { other_fn = &other_sigma<decltype(k)::value, T>; });
  constexpr bool kDirect = sizeof(U) == 8;  // float64 results go straight to the outputs
  alignas(64) double osig[kTile], olog[kTile];
  alignas(64) double vb[kDirect ? 1 : kTile], lb[kDirect ? 1 : kTile], pb[kDirect ? 1 : kTile];
  for (std::size_t i = 0; i < n; i += kTile) {
    const std::size_t m = std::min(kTile, n - i);
    if constexpr (Form == int(ClosedForm::Kl)) other_fn(other + i, m, osig, olog);
    double* v = kDirect ? reinterpret_cast<double*>(value + i) : vb;
    double* gl = kDirect ? reinterpret_cast<double*>(Grad ? d_loc + i : nullptr) : lb;
    double* gp = kDirect ? reinterpret_cast<double*>(Grad ? d_param + i : nullptr) : pb;
    closed_tile<Form, Kind, Grad>(m, f64_tile(loc + i, m, lt), f64_tile(param + i, m, pt),
                                  f64_tile(x ? x + i : nullptr, m, xt), osig, olog, v, gl, gp);
    if constexpr (!kDirect) {
      put_tile(v, m, value + i);
      if constexpr (Grad) {
        put_tile(gl, m, d_loc + i);
        put_tile(gp, m, d_param + i);
      }
    }
  }
}

template <class T, class U>
void closed_form_any(int form, int kind, int other_kind, std::size_t n, const T* loc, const T* param, const T* x,
                     const T* other, U* value, U* d_loc, U* d_param) {
  const bool grad = d_loc != nullptr && d_param != nullptr;
  auto run = [&](auto f, auto g) {
    constexpr int F = decltype(f)::value;
    constexpr bool G = decltype(g)::value;
    with_kind(kind, [&](auto k) {
      closed_run<F, decltype(k)::value, G>(other_kind, n, loc, param, x, other, value, d_loc, d_param);
    });
  };
  auto with_grad = [&](auto f) {
    if (grad) run(f, std::true_type{}); else run(f, std::false_type{});
  };
  switch (static_cast<ClosedForm>(form)) {
    case ClosedForm::LogProb: return with_grad(std::integral_constant<int, int(ClosedForm::LogProb)>{});
    case ClosedForm::Entropy: return with_grad(std::integral_constant<int, int(ClosedForm::Entropy)>{});
    case ClosedForm::Kl: return with_grad(std::integral_constant<int, int(ClosedForm::Kl)>{});
    default: return with_grad(std::integral_constant<int, int(ClosedForm::KlStandard)>{});
  }
}

}  // namespace closed

void closed_form_f32(int form, int kind, int other_kind, std::size_t n, const float* loc, const float* param,
                     const float* x, const float* other, float* value, float* d_loc, float* d_param) {
  closed::closed_form_any(form, kind, other_kind, n, loc, param, x, other, value, d_loc, d_param);
}
void closed_form_f32_to_f64(int form, int kind, int other_kind, std::size_t n, const float* loc, const float* param,
                            const float* x, const float* other, double* value, double* d_loc, double* d_param) {
  closed::closed_form_any(form, kind, other_kind, n, loc, param, x, other, value, d_loc, d_param);
}
void closed_form_f64(int form, int kind, int other_kind, std::size_t n, const double* loc, const double* param,
                     const double* x, const double* other, double* value, double* d_loc, double* d_param) {
  closed::closed_form_any(form, kind, other_kind, n, loc, param, x, other, value, d_loc, d_param);
}

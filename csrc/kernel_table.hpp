// The ISA-free interface between the dispatcher and the per-target kernels. Every
// kernel computes positions [start, start + n) of the stream of `sk` and knows nothing
// of Python: pointers and counts in, values out. A position `start + i` is taken by
// stream_at (stream.hpp), so start may be any 64-bit value: past 2**64 it carries into
// the 128-bit block counter.
#pragma once

#include <cstddef>
#include <cstdint>

#include "philox4x32.hpp"

namespace reparam {

// Rows of one block of the gradient sums (reduce_f32/f64): longer sums are added up
// block by block, so their rounding error grows with the block size plus the number of
// blocks, not with the row count.
constexpr std::size_t kReduceRowBlock = 4096;

// eps values a reduction generates at a time (one row of a tile at least).
constexpr std::size_t kReduceChunkValues = 4096;
// float64 lanes of the widest target's vectors (AVX-512).
constexpr std::size_t kMaxLanes64 = 8;

// The scratch space of one reduction call (reduce_*, grad_tiles_*) over tiles of at
// most `width` columns of values of value_size bytes: a block of `bytes` bytes that the
// caller allocates (kernels do not allocate) and gives to one call at a time, holding
// the row-block sums (4 * width float64) at offset 0, the generated eps at `eps` and two
// rows of score-function weights at `weights`. Every part grows with width, so a block
// for a width holds the parts of any narrower tile. The kernels write each part before
// they read it: what a block held before never changes a result.
struct ReduceScratch {
  std::size_t eps, weights, bytes;
};
constexpr std::size_t round_up64(std::size_t n) { return (n + 63) / 64 * 64; }
constexpr ReduceScratch reduce_scratch(std::size_t width, std::size_t value_size) {
  const std::size_t part = round_up64(4 * width * sizeof(double));
  const std::size_t eps = round_up64(((width > kReduceChunkValues ? width : kReduceChunkValues) + kMaxLanes64) * value_size);
  const std::size_t weights = round_up64(2 * (width + kMaxLanes64) * value_size);
  return {part, part + eps, part + eps + weights};
}

// The score function's weight of sample row r and weight column j from the values f:
// w = T((f * a - b[j]) / c) when b is given (a baseline: the mean of f is a = 1, c = 1;
// leave-one-out is a = rows, b = sum f, c = rows - 1), else f itself. In float64, each
// operation rounded once, then rounded to T: the same as forming w = f - baseline in
// NumPy, without a centred copy of f of sample size.
struct Centring {
  const double* b = nullptr;
  double a = 1.0, c = 1.0;
};

struct KernelTable {
  const char* name;
  // streaming: the caller's whole output is too large for the caches (see
  // bindings/fill.hpp): whole lines are written by streaming stores where the target has
  // them. The values never depend on it.
  // 32-bit words; position p is word p.
  void (*fill_raw)(const StreamKey& sk, std::uint64_t start, std::size_t n, std::uint32_t* out,
                bool streaming);
  // float32 values; position p uses word p (normals: words 2*(p/2) and 2*(p/2)+1).
  void (*fill_normal_f32)(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out,
                bool streaming);
  void (*fill_uniform_f32)(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out,
                bool streaming);
  // float64 values; position s is the 64-bit slot of words 2s and 2s+1.
  void (*fill_normal_f64)(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out,
                bool streaming);
  void (*fill_uniform_f64)(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out,
                bool streaming);
  // Fused z = loc + sigma(param) * eps over rows [r0, r1) and columns [c0, c1)
  // (c1 - c0 <= 1024) of a (rows, batch) output; element (r, c) uses stream position
  // start + r * batch + c (units as above) and batch entry c; kind: 0 scale, 1 var,
  // 2 logvar, 3 logstd, 4 softplus. mirror > 0 also writes loc - sigma * eps at flat
  // index + mirror (antithetic pairs). streaming: write rows by streaming stores where
  // the target has them (for outputs larger than the caches; the same values).
  void (*affine_normal_f32)(const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1,
                            std::size_t c0, std::size_t c1, std::size_t batch, const float* loc,
                            const float* param, int kind, float* out, std::size_t mirror, bool streaming);
  void (*affine_normal_f64)(const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1,
                            std::size_t c0, std::size_t c1, std::size_t batch, const double* loc,
                            const double* param, int kind, double* out, std::size_t mirror, bool streaming);
  // sigma(param) elementwise, the same values the affine kernels use.
  void (*sigma_f32)(const float* param, int kind, std::size_t n, float* out);
  void (*sigma_f64)(const double* param, int kind, std::size_t n, double* out);
  // Gradient-estimator sums over rows [r0, r1), columns [c0, c1) (c1 - c0 <= 1024) of a
  // (rows, batch) layout, added to acc[k * acc_stride + c - c0]: up to kReduceRowBlock
  // rows added in order; more, in blocks of kReduceRowBlock rows from r0, each block
  // summed from zero in row order and the block sums added in order. mode bit 0 clear
  // (pathwise): x = g[r * g_stride + c], y = x * eps; set (score function): x = w * eps,
  // y = w * (eps^2 - 1) with w = g[r * wcols + c / inner] centred by cen; acc rows: sum x, sum x^2,
  // sum y, sum y^2 (the squares only with mode bit 1). eps is read from eps_in, or
  // regenerated at start + flat index (negated past mirror > 0). g_stride: batch, or 0
  // when every row of the upstream gradient is the same row. scratch: a block of
  // reduce_scratch(c1 - c0, sizeof(T)).bytes bytes, this call's alone.
  void (*reduce_f32)(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror, const float* eps_in,
                     const float* g, std::size_t wcols, std::size_t inner, std::size_t batch, std::size_t r0,
                     std::size_t r1, std::size_t c0, std::size_t c1, double* acc, std::size_t acc_stride,
                     std::size_t g_stride, const Centring& cen, void* scratch);
  void (*reduce_f64)(int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror,
                     const double* eps_in, const double* g, std::size_t wcols, std::size_t inner,
                     std::size_t batch, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1,
                     double* acc, std::size_t acc_stride, std::size_t g_stride, const Centring& cen,
                     void* scratch);
  // acc[c] += part[c] for c < n, NaN results as the canonical quiet NaN: how the sums of
  // one block of kReduceRowBlock rows join those of the blocks before it.
  void (*add_block_sums)(double* acc, const double* part, std::size_t n);
  // dsigma/dparam(param) in float64, elementwise (kind as above).
  void (*dsigma_f32)(const float* param, int kind, std::size_t n, double* out);
  void (*dsigma_f64)(const double* param, int kind, std::size_t n, double* out);
  // A gradient estimator's result from its column sums (reduce_*: sx = acc row 0, sy =
  // acc row 2), each value rounded once to T. score = 0 (pathwise): d_loc = sx * scale,
  // d_param = sy * (dsigma/dparam(param) * scale); score = 1 (score function), with
  // inv = 1 / sigma(param): d_loc = (sx * inv) * scale, d_param = (sy * inv) *
  // (dsigma/dparam(param) * scale), NaN results as the canonical quiet NaN.
  void (*grad_finish_f32)(int score, const double* sx, const double* sy, const float* param, int kind, double scale,
                          std::size_t n, float* d_loc, float* d_param);
  void (*grad_finish_f64)(int score, const double* sx, const double* sy, const double* param, int kind, double scale,
                          std::size_t n, double* d_loc, double* d_param);
  // the same from float32 parameters, the results in float64 (not rounded to float32)
  void (*grad_finish_f32_to_f64)(int score, const double* sx, const double* sy, const float* param, int kind,
                                 double scale, std::size_t n, double* d_loc, double* d_param);
  // A gradient estimator in one pass over column tiles [t0, t1) of 1024 columns
  // (reduce_* with mode = score over all rows, then grad_finish_* of the tile: the same
  // bits), written to d_loc[c] and d_param[c] for the tiles' columns c. g, g_stride,
  // wcols, inner and cen as for reduce_*. scratch: a block of
  // reduce_scratch(min(batch, 1024), sizeof(T)).bytes bytes, this call's alone.
  void (*grad_tiles_f32)(int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror,
                         const float* eps_in, const float* g, std::size_t g_stride, std::size_t wcols,
                         std::size_t inner, const Centring& cen, std::size_t rows, std::size_t batch, std::size_t t0,
                         std::size_t t1, const float* param, int kind, double scale, float* d_loc, float* d_param,
                         void* scratch);
  void (*grad_tiles_f64)(int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror,
                         const double* eps_in, const double* g, std::size_t g_stride, std::size_t wcols,
                         std::size_t inner, const Centring& cen, std::size_t rows, std::size_t batch, std::size_t t0,
                         std::size_t t1, const double* param, int kind, double scale, double* d_loc,
                         double* d_param, void* scratch);
  // The closed forms of the Normal over n values (closed_forms.hpp: form, the
  // ClosedForm; kind and other_kind: ParamKind), float64 arithmetic from the inputs as
  // they are: loc, param, x (z for log_prob, the other's loc for kl; else unused),
  // other (the other's parameter for kl). Outputs: value and, when d_loc and d_param
  // are both non-null, the derivatives by loc and param; float32 outputs are the
  // float64 results rounded once. NaN results are the canonical quiet NaN.
  void (*closed_form_f32)(int form, int kind, int other_kind, std::size_t n, const float* loc, const float* param,
                          const float* x, const float* other, float* value, float* d_loc, float* d_param);
  void (*closed_form_f32_to_f64)(int form, int kind, int other_kind, std::size_t n, const float* loc,
                                 const float* param, const float* x, const float* other, double* value,
                                 double* d_loc, double* d_param);
  void (*closed_form_f64)(int form, int kind, int other_kind, std::size_t n, const double* loc, const double* param,
                          const double* x, const double* other, double* value, double* d_loc, double* d_param);
  // Exp(1) variates -log(u1) (units as the fills above: float32 one word per value,
  // float64 one 64-bit slot; u1 as the normals' radius forms it).
  void (*fill_exponential_f32)(const StreamKey& sk, std::uint64_t start, std::size_t n, float* out,
                               bool streaming);
  void (*fill_exponential_f64)(const StreamKey& sk, std::uint64_t start, std::size_t n, double* out,
                               bool streaming);
  // x = exp(x) in place over n values (the closed forms' exp_f64).
  void (*exp_inplace_f64)(std::size_t n, double* x);
};

// One table per compiled target; nullptr for targets this build does not have.
const KernelTable* kernels_scalar();
const KernelTable* kernels_sse2();
const KernelTable* kernels_avx2();
const KernelTable* kernels_avx512();
const KernelTable* kernels_neon();

}  // namespace reparam

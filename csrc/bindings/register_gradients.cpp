// Gradient-estimator reductions: check buffers, then split the (rows, batch) layout
// into fixed tiles, reduce each with the dispatched kernel on the thread pool (GIL
// released), and combine partial sums in row-block order. The tiling depends only on
// the shape, so results are the same for every thread count.
#include "pybind11.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../dispatch.hpp"
#include "../thread_pool.hpp"
#include "gil.hpp"
#include "param_kind.hpp"
#include "stream_pos.hpp"

namespace reparam::bindings {
namespace {

constexpr std::size_t kColTile = 1024;  // columns per task (the kernel's maximum)

template <class T>
const T* input(const py::array& a, const char* what, std::size_t size) {
  if (!has_dtype<T>(a))
    throw py::type_error(std::string(what) + " must have dtype " + std::string(py::str(py::dtype::of<T>())) +
                         ", got " + std::string(py::str(a.dtype())));
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  if (!(flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) || !(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(std::string(what) + " must be C-contiguous and aligned");
  if (std::size_t(a.size()) != size)
    throw py::value_error(std::string(what) + " must have " + std::to_string(size) + " elements, got " +
                          std::to_string(a.size()));
  return reinterpret_cast<const T*>(py::detail::array_proxy(a.ptr())->data);
}

// Where eps comes from: a stream position (regenerated) or an array read in place.
template <class T>
struct NoiseSource {
  StreamKey sk{};
  std::uint64_t start = 0;
  std::size_t mirror = 0;
  const T* eps_in = nullptr;
  py::array eps_arr;  // keeps eps_in alive
};

template <class T>
NoiseSource<T> noise_source(const py::object& noise, std::size_t size) {
  NoiseSource<T> src;
  if (py::isinstance<py::tuple>(noise) && py::len(noise) == 2) {  // (StreamPos, mirror)
    const auto t = noise.cast<py::tuple>();
    const auto& p = t[0].cast<const PyStreamPos&>();
    src.sk = p.pos.sk;
    src.start = p.pos.start;
    src.mirror = t[1].cast<std::size_t>();
  } else if (py::isinstance<py::tuple>(noise)) {
    const auto t = noise.cast<py::tuple>();
    const auto key = t[0].cast<std::uint64_t>();
    const auto lo = t[1].cast<std::uint64_t>(), hi = t[2].cast<std::uint64_t>();
    src.sk = StreamKey{{std::uint32_t(key), std::uint32_t(key >> 32)},
                       Counter128{{std::uint32_t(lo), std::uint32_t(lo >> 32), std::uint32_t(hi), std::uint32_t(hi >> 32)}}};
    src.start = t[3].cast<std::uint64_t>();
    src.mirror = t[4].cast<std::size_t>();
  } else {
    src.eps_arr = noise.cast<py::array>();
    src.eps_in = input<T>(src.eps_arr, "noise", size);
  }
  return src;
}

template <class T>
void call_reduce(const KernelTable& k, int mode, const NoiseSource<T>& src, const T* g, std::size_t wcols,
                 std::size_t inner, std::size_t batch, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1,
                 double* acc, std::size_t stride, std::size_t g_stride, const Centring& cen, void* scratch) {
  if constexpr (sizeof(T) == 8)
    k.reduce_f64(mode, src.sk, src.start, src.mirror, src.eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, stride,
                 g_stride, cen, scratch);
  else
    k.reduce_f32(mode, src.sk, src.start, src.mirror, src.eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, stride,
                 g_stride, cen, scratch);
}

// The kernels' scratch for one call (kernels do not allocate): a block per thread slot
// (parallel_for_slots), each for tiles of up to `width` columns of T. Allocated before
// the parallel region, so a failed allocation is a MemoryError before any work.
template <class T>
class SlotScratch {
 public:
  SlotScratch(std::size_t slots, std::size_t width)
      : bytes_(reduce_scratch(width, sizeof(T)).bytes),
        block_(new double[(slots * bytes_ + sizeof(double) - 1) / sizeof(double)]) {}
  void* slot(std::size_t s) { return reinterpret_cast<unsigned char*>(block_.get()) + s * bytes_; }

 private:
  std::size_t bytes_;
  std::unique_ptr<double[]> block_;  // not zeroed: the kernels write before they read
};

// Threads a parallel call of `tasks` tasks may use (one scratch slot each).
std::size_t slots_for(std::size_t tasks) {
  return std::max<std::size_t>(1, std::min<std::size_t>(tasks, std::size_t(get_num_threads())));
}

// Rows per task: all of them when there are enough column tiles to share out (the
// kernel then adds its kReduceRowBlock-row blocks in order), else one block of
// kReduceRowBlock rows, whose partial sums are added here in block order: the same
// sums either way. Depends on the shape only, so results are the same for every
// thread count.
std::size_t row_block(std::size_t rows, std::size_t batch) {
  const std::size_t col_tiles = (batch + kColTile - 1) / kColTile;
  return col_tiles >= 8 ? rows : std::min(rows, kReduceRowBlock);
}

// Column sums (4, batch) into res (zeroed) with the GIL released by the caller.
// g_stride (pathwise): batch, or 0 when gp is one row that every sample row repeats;
// cen (score function): how the weights are formed from gp.
template <class T>
void reduce_sums(int mode, const NoiseSource<T>& src, const T* gp, std::size_t rows, std::size_t batch,
                 std::size_t wcols, std::size_t inner, double* res, std::size_t g_stride, const Centring& cen = {}) {
  const KernelTable& k = active_kernels();
  const std::size_t nsums = (mode & 2) ? 4 : 2;  // x and y sums; their squares with stats
  const std::size_t col_tiles = (batch + kColTile - 1) / kColTile;
  const std::size_t rblock = row_block(rows, batch);
  const std::size_t row_blocks = (rows + rblock - 1) / rblock;
  std::vector<double> partial(row_blocks > 1 ? row_blocks * 4 * batch : 0, 0.0);
  const std::size_t tasks = row_blocks * col_tiles;
  const bool parallel = rows * batch >= kParallelThreshold;
  const std::size_t slots = parallel ? slots_for(tasks) : 1;
  SlotScratch<T> scratch(slots, std::min(batch, kColTile));
  auto task = [&](std::size_t t, std::size_t slot) {
    const std::size_t rb = t / col_tiles, ct = t % col_tiles;
    const std::size_t r0 = rb * rblock, r1 = std::min(rows, r0 + rblock);
    const std::size_t c0 = ct * kColTile, c1 = std::min(batch, c0 + kColTile);
    double* dst = (row_blocks > 1 ? partial.data() + rb * 4 * batch : res) + c0;
    call_reduce(k, mode, src, gp, wcols, inner, batch, r0, r1, c0, c1, dst, batch, g_stride, cen, scratch.slot(slot));
  };
  if (!parallel) {
    for (std::size_t t = 0; t < tasks; ++t) task(t, 0);
  } else {
    parallel_for_slots(tasks, slots, task);
  }
  for (std::size_t rb = 0; rb < (row_blocks > 1 ? row_blocks : 0); ++rb)  // in block order
    for (std::size_t q = 0; q < nsums; ++q) {
      const std::size_t row = nsums == 4 ? q : 2 * q;
      k.add_block_sums(res + row * batch, partial.data() + (rb * 4 + row) * batch, batch);
    }
}

// Centring of the score function's weights from the Python arguments (centre_b: None
// or wcols float64 values); arr keeps the values alive.
Centring centring_of(const py::object& centre_b, double centre_a, double centre_c, std::size_t wcols,
                     py::array& arr) {
  if (centre_b.is_none()) return {};
  arr = centre_b.cast<py::array>();
  return Centring{input<double>(arr, "centre_b", wcols), centre_a, centre_c};
}

template <class T>
py::array_t<double> reduce(int score, bool stats, const py::object& noise, const py::array& g, std::size_t rows,
                           std::size_t batch, std::size_t wcols, std::size_t inner, const py::object& centre_b,
                           double centre_a, double centre_c) {
  // pathwise g: rows x batch values, or one row of batch values that every row repeats
  const bool one_row = !score && rows > 1 && std::size_t(g.size()) == batch;
  const T* gp = input<T>(g, score ? "f_values" : "grad_z", score ? rows * wcols : one_row ? batch : rows * batch);
  const NoiseSource<T> src = noise_source<T>(noise, rows * batch);
  if (!score && !centre_b.is_none()) throw py::value_error("centre_b applies to the score function only");
  py::array centre_arr;  // keeps cen.b alive
  const Centring cen = centring_of(centre_b, centre_a, centre_c, wcols, centre_arr);
  py::array_t<double> result({std::size_t(4), batch});
  double* res = result.mutable_data();
  std::fill(res, res + 4 * batch, 0.0);
  if (rows == 0 || batch == 0) return result;
  ReleasedGil nogil;  // the kernels read g/eps and write their own tiles only
  reduce_sums(score | (stats ? 2 : 0), src, gp, rows, batch, wcols, inner, res, one_row ? 0 : batch, cen);
  return result;
}

template <class T>
T* output(const py::array& a, const char* what, std::size_t size) {
  const T* p = input<T>(a, what, size);
  if (!(py::detail::array_proxy(a.ptr())->flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))
    throw py::value_error(std::string(what) + " must be writeable");
  return const_cast<T*>(p);
}

// A gradient estimator written straight to d_loc and d_param (T, batch elements):
// column sums per tile on the stack of the task, then the chain rule of the tile (the
// core's grad_tiles), so nothing of size (4, batch) in float64 is allocated when one
// task holds all rows. Pathwise (score = 0), g: rows x batch values, or batch values
// when every row of the upstream gradient is that one row (a broadcast grad_z, as
// z.sum().backward() gives): read with row stride 0, the same sums as of the rows
// written out. Score function (score = 1), g: the values f (rows x wcols), weights
// centred by cen.
template <class T>
void fused_grad(int score, const py::object& noise, const py::array& g, std::size_t rows, std::size_t batch,
                std::size_t wcols, std::size_t inner, const Centring& cen, const py::array& param, int kind,
                double scale, const py::array& d_loc, const py::array& d_param) {
  const bool one_row = !score && std::size_t(g.size()) == batch && rows > 1;
  const T* gp = input<T>(g, score ? "f_values" : "grad_z", score ? rows * wcols : one_row ? batch : rows * batch);
  const std::size_t g_stride = one_row ? 0 : batch;
  const T* pp = input<T>(param, "param", batch);
  T* lp = output<T>(d_loc, "d_loc", batch);
  T* dp = output<T>(d_param, "d_param", batch);
  if (rows == 0) throw py::value_error("a gradient estimate needs at least one sample row");
  const NoiseSource<T> src = noise_source<T>(noise, rows * batch);
  const KernelTable& k = active_kernels();
  ReleasedGil nogil;
  if (row_block(rows, batch) < rows) {  // partial sums by row block, then the chain rule
    std::vector<double> res(4 * batch, 0.0);
    reduce_sums(score, src, gp, rows, batch, wcols, inner, res.data(), g_stride, cen);
    if constexpr (sizeof(T) == 8)
      k.grad_finish_f64(score, res.data(), res.data() + 2 * batch, pp, kind, scale, batch, lp, dp);
    else
      k.grad_finish_f32(score, res.data(), res.data() + 2 * batch, pp, kind, scale, batch, lp, dp);
    return;
  }
  // Runs of column tiles per task (the kernel overlaps a tile's chain rule with the next
  // tile's reads): a few tasks per thread, so that threads even out. Each column's
  // values do not depend on the runs.
  const std::size_t col_tiles = (batch + kColTile - 1) / kColTile;
  const bool parallel = rows * batch >= kParallelThreshold;
  const std::size_t per_task =
      parallel ? std::clamp<std::size_t>(col_tiles / (4 * std::size_t(get_num_threads())), 1, 16) : col_tiles;
  const std::size_t tasks = (col_tiles + per_task - 1) / per_task;
  const std::size_t slots = parallel && tasks > 1 ? slots_for(tasks) : 1;
  SlotScratch<T> scratch(slots, std::min(batch, kColTile));
  auto task = [&](std::size_t t, std::size_t slot) {
    const std::size_t t0 = t * per_task, t1 = std::min(col_tiles, t0 + per_task);
    if constexpr (sizeof(T) == 8)
      k.grad_tiles_f64(score, src.sk, src.start, src.mirror, src.eps_in, gp, g_stride, wcols, inner, cen, rows, batch,
                       t0, t1, pp, kind, scale, lp, dp, scratch.slot(slot));
    else
      k.grad_tiles_f32(score, src.sk, src.start, src.mirror, src.eps_in, gp, g_stride, wcols, inner, cen, rows, batch,
                       t0, t1, pp, kind, scale, lp, dp, scratch.slot(slot));
  };
  if (slots > 1) {
    parallel_for_slots(tasks, slots, task);
  } else {
    for (std::size_t t = 0; t < tasks; ++t) task(t, 0);
  }
}

// A gradient estimator's chain rule from reduce_estimator's sums (4, n) (the core's
// grad_finish, the operations of the fused estimators): d_loc and d_param of param's
// dtype (rounded once), or float64 for a float32 param (not rounded: for a caller that
// sums them over broadcast axes first).
template <class T>
void finish(int score, const py::array& sums, const py::array& param, int kind, double scale, const py::array& d_loc,
            const py::array& d_param) {
  const std::size_t n = std::size_t(param.size());
  const double* sp = input<double>(sums, "sums", 4 * n);
  const T* pp = input<T>(param, "param", n);
  const KernelTable& k = active_kernels();
  if constexpr (sizeof(T) == 4) {
    if (has_dtype<double>(d_loc)) {
      double* lp = output<double>(d_loc, "d_loc", n);
      double* dp = output<double>(d_param, "d_param", n);
      ReleasedGil nogil;
      k.grad_finish_f32_to_f64(score, sp, sp + 2 * n, pp, kind, scale, n, lp, dp);
      return;
    }
  }
  T* lp = output<T>(d_loc, "d_loc", n);
  T* dp = output<T>(d_param, "d_param", n);
  ReleasedGil nogil;
  if constexpr (sizeof(T) == 8) k.grad_finish_f64(score, sp, sp + 2 * n, pp, kind, scale, n, lp, dp);
  else k.grad_finish_f32(score, sp, sp + 2 * n, pp, kind, scale, n, lp, dp);
}

template <class T>
void dsigma(const py::array& param, int kind, const py::array& out) {
  const std::size_t n = std::size_t(param.size());
  const T* pp = input<T>(param, "param", n);
  double* op = output<double>(out, "out", n);
  const KernelTable& k = active_kernels();
  ReleasedGil nogil;
  if constexpr (sizeof(T) == 8) k.dsigma_f64(pp, kind, n, op); else k.dsigma_f32(pp, kind, n, op);
}

}  // namespace

void register_gradients(py::module_& m) {
  m.def("reduce_estimator",
        [](int score, bool stats, const py::object& noise, const py::array& g, std::size_t rows,
           std::size_t batch, std::size_t wcols, std::size_t inner, const py::object& centre_b, double centre_a,
           double centre_c) {
          if (score != 0 && score != 1) throw py::value_error("score must be 0 or 1");
          if (score && (inner == 0 || wcols * inner != batch))
            throw py::value_error("f_values columns times inner must equal the batch size");
          if (has_dtype<float>(g))
            return reduce<float>(score, stats, noise, g, rows, batch, wcols, inner, centre_b, centre_a, centre_c);
          return reduce<double>(score, stats, noise, g, rows, batch, wcols, inner, centre_b, centre_a, centre_c);
        },
        py::arg("score"), py::arg("stats"), py::arg("noise"), py::arg("g"), py::arg("rows"), py::arg("batch"), py::arg("wcols"),
        py::arg("inner"), py::arg("centre_b") = py::none(), py::arg("centre_a") = 1.0, py::arg("centre_c") = 1.0,
        "Sums (4, batch) in float64: x, x^2, y, y^2 (the squares only with stats, else 0) with pathwise x = g, y = g*eps or score "
        "x = w*eps, y = w*(eps^2 - 1). noise: (key, ctr_lo, ctr_hi, start, mirror) or an eps array. Pathwise g: rows x batch "
        "values, or batch values that every row repeats. Score: g holds f (rows x wcols), and w = f, or with centre_b "
        "(wcols float64 values) w = T((f * centre_a - centre_b[j]) / centre_c), in float64.");
  m.def("pathwise_grad",
        [](const py::object& noise, const py::array& g, std::size_t rows, std::size_t batch, const py::array& param,
           int kind, double scale, const py::array& d_loc, const py::array& d_param) {
          checked_kind(kind);
          if (has_dtype<float>(g))
            return fused_grad<float>(0, noise, g, rows, batch, 1, 1, {}, param, kind, scale, d_loc, d_param);
          return fused_grad<double>(0, noise, g, rows, batch, 1, 1, {}, param, kind, scale, d_loc, d_param);
        },
        py::arg("noise"), py::arg("g"), py::arg("rows"), py::arg("batch"), py::arg("param"), py::arg("kind"),
        py::arg("scale"), py::arg("d_loc"), py::arg("d_param"),
        "The pathwise gradient in one pass: d_loc = scale * sum_rows g, d_param = sum_rows(g * eps) * "
        "(dsigma/dparam * scale), written to d_loc and d_param (dtype of g, batch elements each). g: rows x batch "
        "values, or batch values that every row repeats.");
  m.def("score_grad",
        [](const py::object& noise, const py::array& f, std::size_t rows, std::size_t batch, std::size_t wcols,
           std::size_t inner, const py::object& centre_b, double centre_a, double centre_c, const py::array& param,
           int kind, double scale, const py::array& d_loc, const py::array& d_param) {
          checked_kind(kind);
          if (inner == 0 || wcols * inner != batch)
            throw py::value_error("f_values columns times inner must equal the batch size");
          py::array centre_arr;  // keeps cen.b alive
          const Centring cen = centring_of(centre_b, centre_a, centre_c, wcols, centre_arr);
          if (has_dtype<float>(f))
            return fused_grad<float>(1, noise, f, rows, batch, wcols, inner, cen, param, kind, scale, d_loc, d_param);
          return fused_grad<double>(1, noise, f, rows, batch, wcols, inner, cen, param, kind, scale, d_loc, d_param);
        },
        py::arg("noise"), py::arg("f"), py::arg("rows"), py::arg("batch"), py::arg("wcols"), py::arg("inner"),
        py::arg("centre_b"), py::arg("centre_a"), py::arg("centre_c"), py::arg("param"), py::arg("kind"),
        py::arg("scale"), py::arg("d_loc"), py::arg("d_param"),
        "The score-function gradient in one pass: reduce_estimator's score sums (weights w from f as there), then "
        "the chain rule d_loc = (sum w eps / sigma) * scale, d_param = (sum w (eps^2 - 1) / sigma) * "
        "(dsigma/dparam * scale), written to d_loc and d_param (dtype of f, batch elements each).");
  m.def("grad_finish",
        [](int score, const py::array& sums, const py::array& param, int kind, double scale, const py::array& d_loc,
           const py::array& d_param) {
          if (score != 0 && score != 1) throw py::value_error("score must be 0 or 1");
          checked_kind(kind);
          if (has_dtype<float>(param)) return finish<float>(score, sums, param, kind, scale, d_loc, d_param);
          return finish<double>(score, sums, param, kind, scale, d_loc, d_param);
        },
        py::arg("score"), py::arg("sums"), py::arg("param"), py::arg("kind"), py::arg("scale"), py::arg("d_loc"),
        py::arg("d_param"),
        "A gradient estimator from reduce_estimator's sums (4, n): pathwise (score 0) d_loc = sums[0] * scale, "
        "d_param = sums[2] * (dsigma/dparam * scale); score function (1) the same with sums[0] / sigma and "
        "sums[2] / sigma. Into d_loc and d_param: param's dtype, or float64 for a float32 param.");
  m.def("dsigma",
        [](const py::array& param, int kind, const py::array& out) {
          checked_kind(kind);
          if (has_dtype<float>(param)) return dsigma<float>(param, kind, out);
          return dsigma<double>(param, kind, out);
        },
        py::arg("param"), py::arg("kind"), py::arg("out"),
        "dsigma/dparam(param) in float64 into out (the chain-rule factor of each parameterization).");
}

}  // namespace reparam::bindings

// Gradient-estimator reductions: check buffers, then split the (rows, batch) layout
// into fixed tiles, reduce each with the dispatched kernel on the thread pool (GIL
// released), and combine partial sums in row-block order. The tiling depends only on
// the shape, so results are the same for every thread count.
#include "pybind11.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../dispatch.hpp"
#include "../thread_pool.hpp"

namespace reparam::bindings {
namespace {

constexpr std::size_t kColTile = 1024;   // columns per task (the kernel's maximum)
constexpr std::size_t kRowBlock = 4096;  // rows per task when there are few column tiles

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

template <class T>
py::array_t<double> reduce(int score, bool stats, const py::object& noise, const py::array& g, std::size_t rows,
                           std::size_t batch, std::size_t wcols, std::size_t inner) {
  const T* gp = input<T>(g, score ? "f_values" : "grad_z", score ? rows * wcols : rows * batch);
  StreamKey sk{};
  std::uint64_t start = 0;
  std::size_t mirror = 0;
  const T* eps_in = nullptr;
  py::array eps_arr;
  if (py::isinstance<py::tuple>(noise)) {
    const auto t = noise.cast<py::tuple>();
    const auto key = t[0].cast<std::uint64_t>();
    const auto lo = t[1].cast<std::uint64_t>(), hi = t[2].cast<std::uint64_t>();
    sk = StreamKey{{std::uint32_t(key), std::uint32_t(key >> 32)},
                   Counter128{{std::uint32_t(lo), std::uint32_t(lo >> 32), std::uint32_t(hi), std::uint32_t(hi >> 32)}}};
    start = t[3].cast<std::uint64_t>();
    mirror = t[4].cast<std::size_t>();
  } else {
    eps_arr = noise.cast<py::array>();
    eps_in = input<T>(eps_arr, "noise", rows * batch);
  }
  const std::size_t nsums = stats ? 4 : 2;  // x and y sums; their squares with stats
  py::array_t<double> result({std::size_t(4), batch});
  double* res = result.mutable_data();
  std::fill(res, res + 4 * batch, 0.0);
  if (rows == 0 || batch == 0) return result;

  const KernelTable& k = active_kernels();
  const std::size_t col_tiles = (batch + kColTile - 1) / kColTile;
  const std::size_t rblock = col_tiles >= 8 ? rows : kRowBlock;
  const std::size_t row_blocks = (rows + rblock - 1) / rblock;
  std::vector<double> partial(row_blocks > 1 ? row_blocks * 4 * batch : 0, 0.0);
  {
    py::gil_scoped_release nogil;  // the kernels read g/eps and write their own tiles only
    auto task = [&](std::size_t t) {
      const std::size_t rb = t / col_tiles, ct = t % col_tiles;
      const std::size_t r0 = rb * rblock, r1 = std::min(rows, r0 + rblock);
      const std::size_t c0 = ct * kColTile, c1 = std::min(batch, c0 + kColTile);
      double* dst = (row_blocks > 1 ? partial.data() + rb * 4 * batch : res) + c0;
      const int mode = score | (stats ? 2 : 0);
      if constexpr (sizeof(T) == 8)
        k.reduce_f64(mode, sk, start, mirror, eps_in, gp, wcols, inner, batch, r0, r1, c0, c1, dst, batch);
      else
        k.reduce_f32(mode, sk, start, mirror, eps_in, gp, wcols, inner, batch, r0, r1, c0, c1, dst, batch);
    };
    const std::size_t tasks = row_blocks * col_tiles;
    if (rows * batch < kParallelThreshold) {
      for (std::size_t t = 0; t < tasks; ++t) task(t);
    } else {
      parallel_for(tasks, task);
    }
    for (std::size_t rb = 0; rb < (row_blocks > 1 ? row_blocks : 0); ++rb)  // in block order
      for (std::size_t q = 0; q < nsums; ++q) {
        const std::size_t row = stats ? q : 2 * q;
        for (std::size_t c = 0; c < batch; ++c) {
          const double v = res[row * batch + c] + partial[(rb * 4 + row) * batch + c];
          // one NaN for every machine (inf - inf has a different sign on x86 and ARM)
          res[row * batch + c] = std::isnan(v) ? std::numeric_limits<double>::quiet_NaN() : v;
        }
      }
  }
  return result;
}

}  // namespace

void register_gradients(py::module_& m) {
  m.def("reduce_estimator",
        [](int score, bool stats, const py::object& noise, const py::array& g, std::size_t rows,
           std::size_t batch, std::size_t wcols, std::size_t inner) {
          if (score != 0 && score != 1) throw py::value_error("score must be 0 or 1");
          if (score && (inner == 0 || wcols * inner != batch))
            throw py::value_error("f_values columns times inner must equal the batch size");
          if (has_dtype<float>(g)) return reduce<float>(score, stats, noise, g, rows, batch, wcols, inner);
          return reduce<double>(score, stats, noise, g, rows, batch, wcols, inner);
        },
        py::arg("score"), py::arg("stats"), py::arg("noise"), py::arg("g"), py::arg("rows"), py::arg("batch"), py::arg("wcols"),
        py::arg("inner"),
        "Sums (4, batch) in float64: x, x^2, y, y^2 (the squares only with stats, else 0) with pathwise x = g, y = g*eps or score "
        "x = w*eps, y = w*(eps^2 - 1). noise: (key, ctr_lo, ctr_hi, start, mirror) or an eps array.");
}

}  // namespace reparam::bindings

// Fill entry points: check the output array, reserve stream positions under the
// state's lock, then run one dispatched kernel over threads with the GIL released.
#include "pybind11.hpp"

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../dispatch.hpp"
#include "../philox_state.hpp"
#include "../thread_pool.hpp"
#include "fill.hpp"
#include "stream_pos.hpp"

namespace reparam::bindings {
namespace {

// A writable, aligned, native-order array whose elements are contiguous in memory
// (C or Fortran order): values are written in memory order.
template <class T>
void* checked_buffer(const py::array& out, const char* what) {
  if (!has_dtype<T>(out)) {
    const py::dtype expected = py::dtype::of<T>();
    throw py::type_error(std::string(what) + " must have dtype " + std::string(py::str(expected)) + ", got " +
                         std::string(py::str(out.dtype())));
  }
  const int flags = py::detail::array_proxy(out.ptr())->flags;
  const bool contiguous = (flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) ||
                          (flags & py::detail::npy_api::NPY_ARRAY_F_CONTIGUOUS_);
  if (!contiguous || !(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_) ||
      !(flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_)) {
    throw py::value_error(std::string(what) + " must be contiguous, writable, aligned and in machine byte order");
  }
  return py::detail::array_proxy(out.ptr())->data;
}

void fill(PhiloxState& state, py::array& out, Kind kind) {
  const std::size_t n = std::size_t(out.size());
  const py::dtype dt = out.dtype();
  if (kind == Kind::Raw) {
    fill_typed(state, static_cast<std::uint32_t*>(checked_buffer<std::uint32_t>(out, "out")), n,
               kind);
  } else if (has_dtype<float>(out)) {
    fill_typed(state, static_cast<float*>(checked_buffer<float>(out, "out")), n, kind);
  } else if (has_dtype<double>(out)) {
    fill_typed(state, static_cast<double*>(checked_buffer<double>(out, "out")), n, kind);
  } else {
    throw py::type_error("out must have dtype float32 or float64, got " + std::string(py::str(dt)));
  }
}

// Values at explicit positions of a stream, with no state: for tests and for chunked
// (Dask) generation. start counts words (float32, raw) or 64-bit slots (float64) from
// the block with counter (ctr_lo, ctr_hi); offset values later than that.
void stream_fill(const std::string& kind, std::uint64_t key, std::uint64_t ctr_lo, std::uint64_t ctr_hi,
                 std::uint64_t start, py::array& out, std::uint64_t offset) {
  const StreamKey base{{std::uint32_t(key), std::uint32_t(key >> 32)}, counter_from_words(ctr_lo, ctr_hi)};
  const int unit = has_dtype<double>(out) ? 2 : 1;
  fill_at(kind, stream_at(base, start, offset, unit), out);
}

// x = exp(x) in place (float64), by the closed forms' exp: lognormal variates.
void exp_inplace(py::array& x) {
  double* d = static_cast<double*>(checked_buffer<double>(x, "x"));
  const std::size_t n = std::size_t(x.size());
  const KernelTable& k = active_kernels();
  if (n < kReleaseGilAt) {
    k.exp_inplace_f64(n, d);
    return;
  }
  ReleasedGil nogil;  // the kernel touches only x
  parallel_ranges(n, [&](std::size_t off, std::size_t count) { k.exp_inplace_f64(count, d + off); });
}

}  // namespace

void register_sampling(py::module_& m) {
  m.def("exp_inplace", &exp_inplace, py::arg("x"));
  m.def("fill_normal", [](PhiloxState& s, py::array& out) { fill(s, out, Kind::Normal); }, py::arg("state"),
        py::arg("out"));
  m.def("fill_uniform", [](PhiloxState& s, py::array& out) { fill(s, out, Kind::Uniform); }, py::arg("state"),
        py::arg("out"));
  m.def("fill_exponential", [](PhiloxState& s, py::array& out) { fill(s, out, Kind::Exponential); },
        py::arg("state"), py::arg("out"));
  m.def("fill_raw", [](PhiloxState& s, py::array& out) { fill(s, out, Kind::Raw); }, py::arg("state"),
        py::arg("out"));
  m.def("stream_fill", &stream_fill, py::arg("kind"), py::arg("key"), py::arg("ctr_lo"), py::arg("ctr_hi"),
        py::arg("start"), py::arg("out"), py::arg("offset") = 0);
}

void fill_at(const std::string& kind, const StreamPosition& r, py::array& out) {
  const KernelTable& k = active_kernels();
  const std::size_t n = std::size_t(out.size());
  if (kind == "raw") {
    run_fill(r, n, static_cast<std::uint32_t*>(checked_buffer<std::uint32_t>(out, "out")),
             k.fill_raw);
  } else if (kind == "normal" || kind == "uniform" || kind == "exponential") {
    const Kind fk = kind == "normal" ? Kind::Normal : kind == "uniform" ? Kind::Uniform : Kind::Exponential;
    if (has_dtype<float>(out)) {
      run_fill(r, n, static_cast<float*>(checked_buffer<float>(out, "out")), fill_kernel<float>(k, fk));
    } else {
      run_fill(r, n, static_cast<double*>(checked_buffer<double>(out, "out")), fill_kernel<double>(k, fk));
    }
  } else {
    throw py::value_error("kind must be 'normal', 'uniform', 'exponential' or 'raw', got '" + kind + "'");
  }
}

}  // namespace reparam::bindings

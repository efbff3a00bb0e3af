// The fused reparameterized sample and sigma(param): argument checks, then one
// dispatched kernel over threads with the GIL released.
#include "pybind11.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "../closed_forms.hpp"
#include "../dispatch.hpp"
#include "../philox_state.hpp"
#include "../thread_pool.hpp"
#include "fill.hpp"
#include "stream_lock.hpp"
#include "param_kind.hpp"
#include "stream_pos.hpp"

namespace reparam::bindings {
namespace {

template <class T>
T* contiguous_data(py::array& a, const char* what, bool writable) {
  if (!has_dtype<T>(a)) {
    throw py::type_error(std::string(what) + " must have dtype " + std::string(py::str(py::dtype::of<T>())) +
                         ", got " + std::string(py::str(a.dtype())));
  }
  const int flags = py::detail::array_proxy(a.ptr())->flags;
  if (!(flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) || !(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_) ||
      (writable && !(flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))) {
    throw py::value_error(std::string(what) + " must be C-contiguous, aligned" + (writable ? " and writable" : ""));
  }
  return reinterpret_cast<T*>(py::detail::array_proxy(a.ptr())->data);
}

template <class T>
py::object affine(PhiloxState& state, py::array& loc, py::array& param, int kind, bool antithetic, py::array& out,
                 const py::object& streaming_opt) {
  checked_kind(kind);
  const T* l = contiguous_data<T>(loc, "loc", false);
  const T* p = contiguous_data<T>(param, "param", false);
  T* o = contiguous_data<T>(out, "out", true);
  const std::size_t batch = std::size_t(loc.size());
  if (std::size_t(param.size()) != batch) {
    throw py::value_error("loc and param must have the same size, got " + std::to_string(batch) + " and " +
                          std::to_string(param.size()));
  }
  const std::size_t total = std::size_t(out.size());
  if (batch == 0 ? total != 0 : total % batch != 0) {
    throw py::value_error("out size " + std::to_string(total) + " is not a multiple of the batch size " +
                          std::to_string(batch));
  }
  if (antithetic && (total / std::max<std::size_t>(batch, 1)) % 2 != 0) {
    throw py::value_error("antithetic sampling needs an even number of sample rows");
  }
  const std::size_t noise = antithetic ? total / 2 : total;
  Reservation r;
  {
    HeldLock hold(state.mutex());
    r = state.reserve(noise, sizeof(T) == 8 ? 2 : 1);
  }
  if (noise > 0) {
    // Tasks: tiles of up to 1024 columns times blocks of rows, fixed by the shape.
    const KernelTable& k = active_kernels();
    const std::size_t rows = noise / batch;
    const std::size_t tile = 1024;
    const std::size_t col_tiles = (batch + tile - 1) / tile;
    const std::size_t rblock = std::max<std::size_t>(1, (std::size_t(1) << 15) / std::min(batch, tile));
    const std::size_t row_blocks = (rows + rblock - 1) / rblock;
    const std::size_t mirror = antithetic ? noise : 0;
    // streaming stores for outputs larger than the caches (as the fills), unless told
    const bool streaming =
        streaming_opt.is_none() ? total * sizeof(T) >= kStreamingBytes : streaming_opt.cast<bool>();
    ReleasedGil nogil;  // kernels touch only these buffers
    auto task = [&](std::size_t t) {
      const std::size_t rb = t / col_tiles, ct = t % col_tiles;
      const std::size_t r0 = rb * rblock, r1 = std::min(rows, r0 + rblock);
      const std::size_t c0 = ct * tile, c1 = std::min(batch, c0 + tile);
      if constexpr (sizeof(T) == 8)
        k.affine_normal_f64(r.sk, r.start, r0, r1, c0, c1, batch, l, p, kind, o, mirror, streaming);
      else
        k.affine_normal_f32(r.sk, r.start, r0, r1, c0, c1, batch, l, p, kind, o, mirror, streaming);
    };
    const std::size_t tasks = row_blocks * col_tiles;
    if (noise < kParallelThreshold) {
      for (std::size_t t = 0; t < tasks; ++t) task(t);
    } else {
      parallel_for(tasks, task);
    }
  }
  return py::cast(PyStreamPos{r, sizeof(T) == 8 ? 2 : 1});  // where the noise starts
}

template <class T>
void sigma(py::array& param, int kind, py::array& out) {
  checked_kind(kind);
  const T* p = contiguous_data<T>(param, "param", false);
  T* o = contiguous_data<T>(out, "out", true);
  if (param.size() != out.size()) throw py::value_error("param and out must have the same size");
  const KernelTable& k = active_kernels();
  const std::size_t n = std::size_t(param.size());
  ReleasedGil nogil;
  if constexpr (sizeof(T) == 8) k.sigma_f64(p, kind, n, o); else k.sigma_f32(p, kind, n, o);
}

// The closed forms: inputs of one dtype T (float32 or float64), C-contiguous, of one
// size n (the caller broadcasts them); outputs of dtype T, or float64 with wide (for a
// caller that sums float32 gradients over broadcast axes in float64 first).
template <class T>
py::tuple closed_form_t(int form, int kind, py::array& loc, py::array& param, const py::object& x,
                        const py::object& other_param, int other_kind, bool grad, bool wide) {
  const std::size_t n = std::size_t(loc.size());
  auto input = [n](py::array& a, const char* what) {
    if (std::size_t(a.size()) != n) throw py::value_error(std::string(what) + " must have the size of loc");
    return contiguous_data<T>(a, what, false);
  };
  const T* l = input(loc, "loc");
  const T* p = input(param, "param");
  py::array xa, oa;
  const T* xp = nullptr;
  const T* op = nullptr;
  if (!x.is_none()) {
    xa = py::array(x);
    xp = input(xa, "x");
  }
  if (!other_param.is_none()) {
    oa = py::array(other_param);
    op = input(oa, "other_param");
  }
  if ((form == int(ClosedForm::LogProb) || form == int(ClosedForm::Kl)) && xp == nullptr)
    throw py::value_error("x is required for this form");
  if (form == int(ClosedForm::Kl) && op == nullptr) throw py::value_error("other_param is required for kl");
  const KernelTable& k = active_kernels();
  auto run = [&](auto* tag) {
    using U = std::remove_pointer_t<decltype(tag)>;
    // shaped like loc (the callers give inputs of one shape)
    const std::vector<py::ssize_t> shape(loc.shape(), loc.shape() + loc.ndim());
    const std::vector<py::ssize_t> none{0};
    py::array_t<U> value(shape), d_loc(grad ? shape : none), d_param(grad ? shape : none);
    U* v = value.mutable_data();
    U* gl = grad ? d_loc.mutable_data() : nullptr;
    U* gp = grad ? d_param.mutable_data() : nullptr;
    {
      ReleasedGil nogil;  // the kernels touch only these buffers
      // elementwise: any split gives the same values
      parallel_ranges(n, [&](std::size_t i, std::size_t m) {
        auto at = [i](auto* ptr) { return ptr ? ptr + i : nullptr; };
        if constexpr (sizeof(T) == 8 && sizeof(U) == 8)
          k.closed_form_f64(form, kind, other_kind, m, l + i, p + i, at(xp), at(op), v + i, at(gl), at(gp));
        else if constexpr (sizeof(U) == 8)
          k.closed_form_f32_to_f64(form, kind, other_kind, m, l + i, p + i, at(xp), at(op), v + i, at(gl), at(gp));
        else if constexpr (sizeof(T) == 4)
          k.closed_form_f32(form, kind, other_kind, m, l + i, p + i, at(xp), at(op), v + i, at(gl), at(gp));
      });
    }
    return py::make_tuple(value, d_loc, d_param);
  };
  if constexpr (sizeof(T) == 4) {
    if (!wide) return run(static_cast<float*>(nullptr));
  }
  return run(static_cast<double*>(nullptr));
}

// The closed forms' form and parameterization arguments, checked once for both entries.
void check_closed_form_args(int form, int kind, int other_kind) {
  if (form < 0 || form > 3) throw py::value_error("form must be in [0, 3], got " + std::to_string(form));
  checked_kind(kind);
  checked_kind(other_kind, "other_kind");
}

py::tuple closed_form(int form, int kind, py::array& loc, py::array& param, const py::object& x,
                      const py::object& other_param, int other_kind, bool grad, bool wide) {
  check_closed_form_args(form, kind, other_kind);
  if (has_dtype<float>(loc)) return closed_form_t<float>(form, kind, loc, param, x, other_param, other_kind, grad, wide);
  return closed_form_t<double>(form, kind, loc, param, x, other_param, other_kind, grad, wide);
}

// The same closed form for the common call: loc, param and x (and other_param) of one
// shape and one dtype (float32 or float64), C-contiguous and aligned. Returns the value,
// or (value, d_loc, d_param) with grad, shaped like loc; None for any other inputs
// (the caller broadcasts and casts them, then calls closed_form).
py::object closed_form_same(int form, int kind, py::array& loc, py::array& param, const py::object& x,
                            const py::object& other_param, int other_kind, bool grad) {
  check_closed_form_args(form, kind, other_kind);
  const bool f32 = has_dtype<float>(loc);
  if (!f32 && !has_dtype<double>(loc)) return py::none();
  const bool needs_x = form == int(ClosedForm::LogProb) || form == int(ClosedForm::Kl);
  const bool needs_other = form == int(ClosedForm::Kl);
  if (needs_x == x.is_none() || needs_other == other_param.is_none()) return py::none();
  auto same = [&](const py::handle& h) {
    if (!py::isinstance<py::array>(h)) return false;
    const auto* a = py::detail::array_proxy(h.ptr());
    const auto* l = py::detail::array_proxy(loc.ptr());
    constexpr int kFlags = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
    if ((a->flags & kFlags) != kFlags || a->nd != l->nd ||
        !std::equal(a->dimensions, a->dimensions + a->nd, l->dimensions))
      return false;
    const auto arr = py::reinterpret_borrow<py::array>(h);
    return f32 ? has_dtype<float>(arr) : has_dtype<double>(arr);
  };
  if (!same(loc) || !same(param) || (needs_x && !same(x)) || (needs_other && !same(other_param))) return py::none();
  py::tuple r = f32 ? closed_form_t<float>(form, kind, loc, param, x, other_param, other_kind, grad, false)
                    : closed_form_t<double>(form, kind, loc, param, x, other_param, other_kind, grad, false);
  if (!grad) return r[0];
  return std::move(r);
}

}  // namespace

void register_normal(py::module_& m) {
  m.def("closed_form", &closed_form, py::arg("form"), py::arg("kind"), py::arg("loc"), py::arg("param"),
        py::arg("x"), py::arg("other_param"), py::arg("other_kind"), py::arg("grad"), py::arg("wide") = false,
        "Elementwise log_prob (0), entropy (1), kl (2), kl_standard_normal (3) and gradients, computed in "
        "float64 from float32 or float64 inputs (all of loc's dtype); results of that dtype, or float64 with wide.");
  m.def("closed_form_same", &closed_form_same, py::arg("form"), py::arg("kind"), py::arg("loc"), py::arg("param"),
        py::arg("x"), py::arg("other_param"), py::arg("other_kind"), py::arg("grad"),
        "closed_form for inputs of one shape and dtype, C-contiguous: the value, or (value, d_loc, d_param) with "
        "grad, shaped like loc; None for other inputs.");
  py::tuple names(kParamCount);
  for (int i = 0; i < kParamCount; ++i) names[i] = py::str(kParamNames[i]);
  m.attr("PARAM_NAMES") = names;  // index = the kind value
  m.attr("PARAM_SCALE") = int(kScale);
  m.attr("PARAM_VAR") = int(kVar);
  m.attr("PARAM_LOGVAR") = int(kLogvar);
  m.attr("PARAM_LOGSTD") = int(kLogstd);
  m.attr("PARAM_SOFTPLUS") = int(kSoftplus);
  m.def("affine_normal",
        [](PhiloxState& s, py::array& loc, py::array& param, int kind, bool antithetic, py::array& out,
           const py::object& streaming) {
          if (has_dtype<float>(out)) return affine<float>(s, loc, param, kind, antithetic, out, streaming);
          return affine<double>(s, loc, param, kind, antithetic, out, streaming);
        },
        py::arg("state"), py::arg("loc"), py::arg("param"), py::arg("kind"), py::arg("antithetic"), py::arg("out"),
        py::arg("streaming") = py::none(),
        "Fill out (rows x batch, C order) with loc + sigma(param) * eps; returns the noise position "
        "(key, ctr_lo, ctr_hi, start).");
  m.def("sigma",
        [](py::array& param, int kind, py::array& out) {
          if (has_dtype<float>(out)) return sigma<float>(param, kind, out);
          sigma<double>(param, kind, out);
        },
        py::arg("param"), py::arg("kind"), py::arg("out"));
}

}  // namespace reparam::bindings

// Generator's common draws (standard_normal and random, with or without `out`, and
// normal with scalar loc and scale) as plain CPython METH_FASTCALL functions bound to
// one stream. For small
// draws pybind11's dispatcher (argument loaders, py::arg handling) and py::array_t
// construction cost more than the values: these skip both, read the common dtype and
// size spellings directly, and hand everything else back to the Python helpers that
// define the behaviour (errors included).
#include "pybind11.hpp"

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "fill.hpp"

namespace reparam::bindings {
namespace {

constexpr const char* kCapsuleName = "reparam._core.FastCalls";

// What the bound functions share: the stream and the Python fallbacks.
struct Bound {
  std::shared_ptr<PhiloxState> state;
  py::object is_single;       // is_single(dtype, method) -> bool, or raises: dtypes not known below
  py::object normalize_size;  // normalize_size(size) -> tuple of ints, or raises: sizes not known below
};

// Objects compared by identity; looked up once at import and kept for the process.
struct Known {
  PyObject* f64_type = nullptr;   // np.float64
  PyObject* f32_type = nullptr;   // np.float32
  PyObject* f64_descr = nullptr;  // np.dtype(np.float64)
  PyObject* f32_descr = nullptr;  // np.dtype(np.float32)
};
Known g_known;

// 0 float64, 1 float32, -1 neither.
int known_single(PyObject* dtype) {
  if (dtype == g_known.f64_type || dtype == reinterpret_cast<PyObject*>(&PyFloat_Type) || dtype == g_known.f64_descr)
    return 0;
  if (dtype == g_known.f32_type || dtype == g_known.f32_descr) return 1;
  return -1;
}

// 0 float64, 1 float32, -1 with a Python error set.
int resolve_single(const Bound& b, PyObject* dtype, const char* method) {
  const int known = known_single(dtype);
  if (known >= 0) return known;
  PyObject* res = PyObject_CallFunction(b.is_single.ptr(), "Os", dtype, method);
  if (res == nullptr) return -1;
  const int single = PyObject_IsTrue(res);
  Py_DECREF(res);
  return single;
}

// An output shape; up to kInline dimensions without allocating.
class Shape {
 public:
  static constexpr Py_ssize_t kInline = 16;
  void resize(Py_ssize_t nd) {
    nd_ = nd;
    if (nd > kInline) heap_.resize(std::size_t(nd));
  }
  Py_intptr_t& operator[](Py_ssize_t i) { return data()[i]; }
  Py_intptr_t* data() { return nd_ > kInline ? heap_.data() : inline_; }
  int nd() const { return int(nd_); }
  std::size_t count() {
    std::size_t n = 1;
    for (Py_ssize_t i = 0; i < nd_; ++i) n *= std::size_t(data()[i]);
    return n;
  }

 private:
  Py_ssize_t nd_ = 0;
  Py_intptr_t inline_[kInline];
  std::vector<Py_intptr_t> heap_;
};

// Reads the sizes that need no Python: an exact int in [0, int_max], or a tuple of at
// most Shape::kInline exact non-negative ints whose product is at most the number of
// 8-byte values an array can hold (what _normalize_size accepts). Returns false, with no
// error set, for anything else.
bool fast_shape(PyObject* size, Py_ssize_t int_max, Shape& shape) {
  if (PyLong_CheckExact(size)) {
    const Py_ssize_t v = PyLong_AsSsize_t(size);
    if (v == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    if (v < 0 || v > int_max) return false;
    shape.resize(1);
    shape[0] = v;
    return true;
  }
  if (!PyTuple_CheckExact(size)) return false;
  const Py_ssize_t nd = PyTuple_GET_SIZE(size);
  if (nd > Shape::kInline) return false;
  shape.resize(nd);
  constexpr Py_ssize_t kLimit = PY_SSIZE_T_MAX / 8;
  Py_ssize_t total = 1;
  for (Py_ssize_t i = 0; i < nd; ++i) {
    PyObject* d = PyTuple_GET_ITEM(size, i);
    if (!PyLong_CheckExact(d)) return false;
    const Py_ssize_t v = PyLong_AsSsize_t(d);
    if (v == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    if (v < 0 || (v != 0 && total > kLimit / v)) return false;
    total *= v;
    shape[i] = v;
  }
  return true;
}

// Any size: the fast spellings here, the rest through normalize_size. False with a
// Python error set if the size is refused.
bool any_shape(const Bound& b, PyObject* size, Shape& shape) {
  // the bound of normalize_size: a larger int gets its error (it names the size)
  if (fast_shape(size, PY_SSIZE_T_MAX / 8, shape)) return true;
  PyObject* dims = PyObject_CallOneArg(b.normalize_size.ptr(), size);
  if (dims == nullptr) return false;
  if (!PyTuple_Check(dims)) {
    Py_DECREF(dims);
    PyErr_SetString(PyExc_SystemError, "normalize_size must return a tuple");
    return false;
  }
  const Py_ssize_t nd = PyTuple_GET_SIZE(dims);
  shape.resize(nd);
  for (Py_ssize_t i = 0; i < nd; ++i) {
    shape[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(dims, i));  // validated: 0 <= d <= intp max
    if (shape[i] == -1 && PyErr_Occurred()) {
      Py_DECREF(dims);
      return false;
    }
  }
  Py_DECREF(dims);
  return true;
}

// Runs f(), turning a C++ exception into the Python error pybind11 would raise.
template <class F>
bool guarded(F&& f) {
  try {
    f();
    return true;
  } catch (...) {
    py::detail::try_translate_exceptions();
    return false;
  }
}

template <class T>
bool fill_values(const Bound& b, T* data, std::size_t n, Kind kind) {
  return guarded([&] { fill_typed(*b.state, data, n, kind); });
}

// A new C-order array of `shape`, not filled. Null with a Python error set, or null
// with no error set when there was no memory for it: the caller then returns
// NotImplemented, and the Python method allocates again and raises reparam's
// MemoryError (which names the call and the size) before the stream moves.
PyObject* new_array(Shape& shape, bool single) {
  auto& api = py::detail::npy_api::get();
  PyObject* descr = single ? g_known.f32_descr : g_known.f64_descr;
  Py_INCREF(descr);  // stolen by PyArray_NewFromDescr
  PyObject* arr =
      api.PyArray_NewFromDescr_(api.PyArray_Type_, descr, shape.nd(), shape.data(), nullptr, nullptr, 0, nullptr);
  if (arr == nullptr && PyErr_ExceptionMatches(PyExc_MemoryError)) PyErr_Clear();
  return arr;
}

void* array_data(PyObject* arr) { return py::detail::array_proxy(arr)->data; }

PyObject* draw(PyObject* self, PyObject* const* args, Py_ssize_t nargs, Kind kind, const char* method) {
  auto* b = static_cast<Bound*>(PyCapsule_GetPointer(self, kCapsuleName));
  if (b == nullptr) return nullptr;
  if (nargs != 2) {
    PyErr_Format(PyExc_TypeError, "%s fast call takes (size, dtype)", method);
    return nullptr;
  }
  PyObject* size = args[0];
  const int single = resolve_single(*b, args[1], method);
  if (single < 0) return nullptr;
  if (size == Py_None) {  // one value, as a Python float
    if (single) {
      float v;
      if (!fill_values(*b, &v, 1, kind)) return nullptr;
      return PyFloat_FromDouble(double(v));
    }
    double v;
    if (!fill_values(*b, &v, 1, kind)) return nullptr;
    return PyFloat_FromDouble(v);
  }
  Shape shape;
  if (!any_shape(*b, size, shape)) return nullptr;
  PyObject* arr = new_array(shape, single != 0);
  if (arr == nullptr) {
    if (PyErr_Occurred()) return nullptr;
    Py_RETURN_NOTIMPLEMENTED;
  }
  const std::size_t n = shape.count();
  const bool ok = single ? fill_values(*b, static_cast<float*>(array_data(arr)), n, kind)
                         : fill_values(*b, static_cast<double*>(array_data(arr)), n, kind);
  if (!ok) {
    Py_DECREF(arr);
    return nullptr;
  }
  return arr;
}

PyObject* fast_standard_normal(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return draw(self, args, nargs, Kind::Normal, "standard_normal");
}

PyObject* fast_random(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return draw(self, args, nargs, Kind::Uniform, "random");
}

// A Python float or an int small enough to be exact in float64 (|v| <= 2**53).
bool exact_real(PyObject* x, double& out) {
  if (PyFloat_CheckExact(x)) {
    out = PyFloat_AS_DOUBLE(x);
    return true;
  }
  if (!PyLong_CheckExact(x)) return false;
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(x, &overflow);
  constexpr long long kExact = 1LL << 53;
  if (overflow != 0 || v < -kExact || v > kExact) return false;
  out = double(v);
  return true;
}

// z = loc + scale * eps as Generator.normal's array path computes it: the product,
// rounded to T, then the sum, rounded to T (no FMA: _core is built without contraction).
template <class T>
void affine(T* x, std::size_t n, T loc, T scale) {
  for (std::size_t i = 0; i < n; ++i) {
    const T prod = x[i] * scale;
    x[i] = prod + loc;
  }
}

// normal(loc, scale, size, dtype) for finite scalar loc and scale >= +0.0, size None or
// a fast_shape size, dtype float64 or float32 by a known spelling. NotImplemented for
// anything else: the Python method then takes its general path, which also raises
// every error.
PyObject* fast_normal(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  auto* b = static_cast<Bound*>(PyCapsule_GetPointer(self, kCapsuleName));
  if (b == nullptr) return nullptr;
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "normal fast call takes (loc, scale, size, dtype)");
    return nullptr;
  }
  const int single = known_single(args[3]);
  double loc = 0.0;
  double scale = 0.0;
  if (single < 0 || !exact_real(args[0], loc) || !exact_real(args[1], scale) || !std::isfinite(loc) ||
      !std::isfinite(scale) || std::signbit(scale)) {
    Py_RETURN_NOTIMPLEMENTED;
  }
  if (single && (std::fabs(loc) > double(FLT_MAX) || std::fabs(scale) > double(FLT_MAX))) {
    Py_RETURN_NOTIMPLEMENTED;  // float32 conversion would overflow: leave it to NumPy
  }
  PyObject* size = args[2];
  if (size == Py_None) {
    if (single) {
      float v;
      if (!fill_values(*b, &v, 1, Kind::Normal)) return nullptr;
      affine(&v, 1, float(loc), float(scale));
      return PyFloat_FromDouble(double(v));
    }
    double v;
    if (!fill_values(*b, &v, 1, Kind::Normal)) return nullptr;
    affine(&v, 1, loc, scale);
    return PyFloat_FromDouble(v);
  }
  Shape shape;
  // The general path checks every size with _normalize_size: accept only what it accepts.
  if (!fast_shape(size, PY_SSIZE_T_MAX / 8, shape)) Py_RETURN_NOTIMPLEMENTED;
  PyObject* arr = new_array(shape, single != 0);
  if (arr == nullptr) {
    if (PyErr_Occurred()) return nullptr;
    Py_RETURN_NOTIMPLEMENTED;
  }
  const std::size_t n = shape.count();
  bool ok;
  if (single) {
    auto* data = static_cast<float*>(array_data(arr));
    ok = fill_values(*b, data, n, Kind::Normal);
    if (ok) affine(data, n, float(loc), float(scale));
  } else {
    auto* data = static_cast<double*>(array_data(arr));
    ok = fill_values(*b, data, n, Kind::Normal);
    if (ok) affine(data, n, loc, scale);
  }
  if (!ok) {
    Py_DECREF(arr);
    return nullptr;
  }
  return arr;
}

// standard_normal / random into `out` with size None: `out` an ndarray of the dtype
// (the process-wide float64 or float32 descriptor, by identity, and a known spelling
// of it), C or Fortran contiguous, writable and aligned. NotImplemented for anything
// else: the Python method then checks and raises as it always has.
PyObject* fill_out(PyObject* self, PyObject* const* args, Py_ssize_t nargs, Kind kind) {
  auto* b = static_cast<Bound*>(PyCapsule_GetPointer(self, kCapsuleName));
  if (b == nullptr) return nullptr;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "fill fast call takes (out, dtype)");
    return nullptr;
  }
  PyObject* out = args[0];
  const int single = known_single(args[1]);
  auto& api = py::detail::npy_api::get();
  if (single < 0 || !api.PyArray_Check_(out)) Py_RETURN_NOTIMPLEMENTED;
  const auto* arr = py::detail::array_proxy(out);
  if (arr->descr != (single ? g_known.f32_descr : g_known.f64_descr)) Py_RETURN_NOTIMPLEMENTED;
  const int flags = arr->flags;
  const bool contiguous = (flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) ||
                          (flags & py::detail::npy_api::NPY_ARRAY_F_CONTIGUOUS_);
  if (!contiguous || !(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_) ||
      !(flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_)) {
    Py_RETURN_NOTIMPLEMENTED;
  }
  std::size_t n = 1;
  for (int i = 0; i < arr->nd; ++i) n *= std::size_t(arr->dimensions[i]);
  const bool ok = single ? fill_values(*b, static_cast<float*>(static_cast<void*>(arr->data)), n, kind)
                         : fill_values(*b, static_cast<double*>(static_cast<void*>(arr->data)), n, kind);
  if (!ok) return nullptr;
  Py_INCREF(out);
  return out;
}

PyObject* fast_standard_normal_out(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return fill_out(self, args, nargs, Kind::Normal);
}

PyObject* fast_random_out(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return fill_out(self, args, nargs, Kind::Uniform);
}

PyMethodDef g_defs[] = {
    {"standard_normal", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_standard_normal)),
     METH_FASTCALL, "standard_normal(size, dtype) without out"},
    {"random", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_random)), METH_FASTCALL,
     "random(size, dtype) without out"},
    {"normal", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_normal)), METH_FASTCALL,
     "normal(loc, scale, size, dtype) without out, or NotImplemented"},
    {"standard_normal_out", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_standard_normal_out)),
     METH_FASTCALL, "standard_normal into out (size None), or NotImplemented"},
    {"random_out", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_random_out)), METH_FASTCALL,
     "random into out (size None), or NotImplemented"},
};
constexpr std::size_t kNumDefs = sizeof(g_defs) / sizeof(g_defs[0]);

void destroy_bound(PyObject* capsule) {
  delete static_cast<Bound*>(PyCapsule_GetPointer(capsule, kCapsuleName));
}

}  // namespace

void register_fast_calls(py::module_& m) {
  auto& api = py::detail::npy_api::get();
  g_known.f64_type = api.PyArray_TypeObjectFromType_(py::detail::npy_api::NPY_DOUBLE_);
  g_known.f32_type = api.PyArray_TypeObjectFromType_(py::detail::npy_api::NPY_FLOAT_);
  g_known.f64_descr = api.PyArray_DescrFromType_(py::detail::npy_api::NPY_DOUBLE_);
  g_known.f32_descr = api.PyArray_DescrFromType_(py::detail::npy_api::NPY_FLOAT_);
  if (!g_known.f64_type || !g_known.f32_type || !g_known.f64_descr || !g_known.f32_descr)
    throw py::error_already_set();

  m.def(
      "bind_fast_calls",
      [](std::shared_ptr<PhiloxState> state, py::object is_single, py::object normalize_size) {
        auto bound = std::make_unique<Bound>(Bound{std::move(state), std::move(is_single), std::move(normalize_size)});
        PyObject* cap = PyCapsule_New(bound.get(), kCapsuleName, destroy_bound);
        if (cap == nullptr) throw py::error_already_set();
        bound.release();  // owned by the capsule now
        py::object owner = py::reinterpret_steal<py::object>(cap);
        py::tuple fns(kNumDefs);
        for (std::size_t i = 0; i < kNumDefs; ++i) {
          PyObject* f = PyCFunction_NewEx(&g_defs[i], owner.ptr(), nullptr);
          if (f == nullptr) throw py::error_already_set();
          PyTuple_SET_ITEM(fns.ptr(), Py_ssize_t(i), f);
        }
        return fns;
      },
      py::arg("state"), py::arg("is_single"), py::arg("normalize_size"),
      "(standard_normal(size, dtype), random(size, dtype), normal(loc, scale, size, dtype), "
      "standard_normal_out(out, dtype), random_out(out, dtype)) bound to `state`: Generator's common calls. "
      "Each returns NotImplemented when there is no memory for its result; normal also unless loc and scale "
      "are finite Python scalars, scale >= +0.0, size is None, an int or a tuple of ints, and dtype a known "
      "float64/float32 spelling; the _out calls unless out is a contiguous, writable, aligned array of that "
      "dtype.");
}

}  // namespace reparam::bindings

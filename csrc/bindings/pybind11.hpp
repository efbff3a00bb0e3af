// Included first by every binding file, so all of them see the same pybind11 setup.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace reparam::bindings {

// Whether `a` holds native-order values of type T. Compares the type number and byte
// order, not descriptor identity: a dtype that went through pickle (as on a Dask
// worker) is an equal but distinct object.
template <class T>
bool has_dtype(const py::array& a) {
  const py::dtype dt = a.dtype();
  const char order = dt.byteorder();
  return dt.num() == py::dtype::of<T>().num() && (order == '=' || order == '|' ||
                                                  order == py::dtype::of<T>().byteorder());
}

void register_philox(py::module_& m);
void register_sampling(py::module_& m);
void register_runtime(py::module_& m);
void register_normal(py::module_& m);
void register_gradients(py::module_& m);
void register_stream(py::module_& m);
void register_fast_calls(py::module_& m);

}  // namespace reparam::bindings

// Included first by every binding file, so all of them see the same pybind11 setup.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace reparam::bindings {

void register_philox(py::module_& m);
void register_sampling(py::module_& m);
void register_runtime(py::module_& m);
void register_normal(py::module_& m);
void register_gradients(py::module_& m);

}  // namespace reparam::bindings

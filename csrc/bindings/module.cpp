// reparam._core: only creates the module; each area registers itself.
#include "pybind11.hpp"

// mod_gil_not_used: the module is safe without the GIL (each stream's state has its own
// mutex, the thread pool its own locks), so a free-threaded CPython (3.14t) keeps the GIL
// disabled on import instead of re-enabling it with a RuntimeWarning. pybind11 >= 2.13.
PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "reparam's compiled core (private; use the reparam package)";
  reparam::bindings::register_runtime(m);
  reparam::bindings::register_philox(m);
  reparam::bindings::register_sampling(m);
  reparam::bindings::register_stream(m);
  reparam::bindings::register_fast_calls(m);
  reparam::bindings::register_normal(m);
  reparam::bindings::register_gradients(m);
}

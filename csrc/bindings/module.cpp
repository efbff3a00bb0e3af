// reparam._core: only creates the module; each area registers itself.
#include "pybind11.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "reparam's compiled core (private; use the reparam package)";
  reparam::bindings::register_runtime(m);
  reparam::bindings::register_philox(m);
  reparam::bindings::register_sampling(m);
  reparam::bindings::register_normal(m);
  reparam::bindings::register_gradients(m);
}

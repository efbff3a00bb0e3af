// Which kernels run and on how many threads.
#include "pybind11.hpp"

#include <string>
#include <system_error>

#include "../dispatch.hpp"
#include "../thread_pool.hpp"
#include "fill.hpp"
#include "gil.hpp"

namespace reparam::bindings {

void register_runtime(py::module_& m) {
  m.def("compiled_targets", [] {
    py::list names;
    for (const TargetInfo& t : compiled_targets()) names.append(t.name);
    return names;
  });
  m.def("supported_targets", [] {
    py::list names;
    for (const TargetInfo& t : compiled_targets())
      if (t.supported) names.append(t.name);
    return names;
  });
  m.def("best_target", &best_supported_target);
  m.def("selected_target", [] { return std::string(active_kernels().name); });
  m.def("select_target", &select_target, py::arg("name"),
        "Use the kernels of a compiled and supported target; False if there is none by that name.");
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("number of threads must be at least 1, got " + std::to_string(n));
    try {
      ReleasedGil nogil;  // joining workers may wait
      set_num_threads(n);
    } catch (const std::system_error& e) {
      throw py::value_error("n=" + std::to_string(n) + ": cannot start that many threads (" + e.what() +
                            "); the pool keeps " + std::to_string(get_num_threads()) + " threads");
    }
  }, py::arg("n"));
  m.def("available_cores", &available_cores);
  m.attr("parallel_threshold") = kParallelThreshold;
  m.attr("task_size") = kTaskSize;
  m.attr("streaming_bytes") = kStreamingBytes;
}

}  // namespace reparam::bindings

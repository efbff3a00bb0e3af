// Which kernels run and on how many threads.
#include "pybind11.hpp"

#include <atomic>
#include <stdexcept>
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
  // Test-only (tests/test_pool_exceptions.py): parallel_for over n_tasks tasks of a little
  // work each, task throw_at throwing std::runtime_error; checks that no task still runs
  // when the exception reaches the caller. Returns the number of tasks that ran.
  m.def("_test_parallel_throw", [](std::size_t n_tasks, std::size_t throw_at) {
    std::atomic<int> running{0};
    std::atomic<std::size_t> ran{0};
    struct Running {
      std::atomic<int>& n;
      explicit Running(std::atomic<int>& c) : n(c) { n.fetch_add(1); }
      ~Running() { n.fetch_sub(1); }
    };
    try {
      parallel_for(n_tasks, [&](std::size_t i) {
        const Running in_task(running);
        volatile double x = 0;  // enough work that the workers take part
        for (int k = 0; k < 20000; ++k) x = x + k;
        ran.fetch_add(1);
        if (i == throw_at) throw std::runtime_error("task " + std::to_string(i) + " failed");
      });
    } catch (...) {
      if (running.load() != 0) throw std::logic_error("parallel_for returned while a task still ran");
      throw;
    }
    return ran.load();
  }, py::arg("n_tasks"), py::arg("throw_at"));
  m.attr("parallel_threshold") = kParallelThreshold;
  m.attr("task_size") = kTaskSize;
  m.attr("streaming_bytes") = kStreamingBytes;
}

}  // namespace reparam::bindings

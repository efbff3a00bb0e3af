// Releasing the GIL around work that touches no Python object, safely for daemon
// threads that come back while the interpreter finalizes.
//
// Why not py::gil_scoped_release: CPython 3.8 to 3.13 end a thread that calls
// PyEval_RestoreThread once finalization has started (a daemon thread when the main
// thread exits) with pthread_exit, which on glibc unwinds the C++ stack with a forced
// unwind. Started from gil_scoped_release's noexcept destructor, that unwind aborts the
// process (std::terminate: "terminate called without an active exception", exit 134).
// CPython 3.14 hangs such threads instead, which is what this header does on every
// version: a thread that would be ended never touches Python again and sleeps until
// the process exits, so the exit stays clean (code 0, as NumPy's) and no destructor of
// an object on its stack runs without the GIL.
#pragma once

#include <chrono>
#include <thread>
#include <utility>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

#include "pybind11.hpp"

namespace reparam::bindings {

// Readable without the GIL (an atomic read in CPython).
inline bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// Sleeps until the process exits; the thread holds nothing of Python's.
[[noreturn]] inline void hang_thread() noexcept {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

// Re-takes the GIL released into `ts`, or hangs the thread if the interpreter is
// finalizing: before the call, or while the call waits for the GIL (where CPython
// starts pthread_exit's forced unwind; caught here, in this frame, so it never crosses
// a noexcept frame; the GIL is not held then). before_hang() runs first, to give back
// what another thread may still need (a stream mutex).
template <class F>
void retake_gil(PyThreadState* ts, F&& before_hang) noexcept {
  if (interpreter_finalizing()) {
    before_hang();
    hang_thread();
  }
#if defined(__GLIBCXX__)
  try {
    PyEval_RestoreThread(ts);
  } catch (abi::__forced_unwind&) {
    before_hang();
    hang_thread();
  }
#else
  PyEval_RestoreThread(ts);
#endif
}

// RAII: releases the GIL on construction (the caller holds it), re-takes it at
// retake() or at the end of the scope (also when a C++ exception leaves it, so the
// exception reaches pybind11 with the GIL held), with retake_gil's finalization rule.
class ReleasedGil {
 public:
  ReleasedGil() : ts_(PyEval_SaveThread()) {}
  ~ReleasedGil() { retake([] {}); }
  ReleasedGil(const ReleasedGil&) = delete;
  ReleasedGil& operator=(const ReleasedGil&) = delete;

  template <class F>
  void retake(F&& before_hang) noexcept {
    if (ts_ == nullptr) return;
    PyThreadState* ts = std::exchange(ts_, nullptr);
    retake_gil(ts, std::forward<F>(before_hang));
  }

 private:
  PyThreadState* ts_;
};

}  // namespace reparam::bindings

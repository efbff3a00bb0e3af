// Taking a PhiloxState's mutex from code that holds the GIL: try first, and only if
// that fails wait with the GIL released, so a thread that holds the mutex and needs
// the GIL to give it back can always run. The wait is cut into slices; between two,
// the GIL is re-taken and signal handlers run, so Ctrl-C interrupts a thread blocked
// on a lock that another thread holds (KeyboardInterrupt, nothing taken).
#pragma once

#include <algorithm>
#include <chrono>

#include "../philox_state.hpp"
#include "gil.hpp"
#include "pybind11.hpp"

namespace reparam::bindings {

// How long a waiter sleeps between two signal checks: short for Ctrl-C, long enough
// that waiters do not take the GIL from its holder often. A release wakes a waiter at
// once whatever the slice.
constexpr std::chrono::milliseconds kLockWaitSlice{20};

// Takes m (again, if this thread holds it: the mutex is recursive). timeout in
// seconds; negative waits without limit. False if the timeout passed first; throws
// py::error_already_set if a signal handler raised.
inline bool lock_interruptibly(StreamMutex& m, double timeout = -1.0) {
  if (m.try_lock()) return true;
  using Clock = std::chrono::steady_clock;
  // Above 1e9 s (31 years) as without limit, which also keeps the sum from overflowing.
  const bool limited = timeout >= 0 && timeout <= 1e9;
  const Clock::time_point deadline =
      limited ? Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout))
              : Clock::time_point::max();
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) return false;
    const Clock::duration slice = std::min<Clock::duration>(kLockWaitSlice, deadline - now);
    bool got = false;
    {
      ReleasedGil nogil;
      got = m.try_lock_for(slice);
      // A thread hung at exit gives the mutex back: the finalizing thread may still draw.
      nogil.retake([&] {
        if (got) m.unlock();
      });
    }
    if (got) return true;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

class HeldLock {
 public:
  explicit HeldLock(StreamMutex& m) : m_(m) { lock_interruptibly(m_); }
  ~HeldLock() { m_.unlock(); }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

 private:
  StreamMutex& m_;
};

}  // namespace reparam::bindings

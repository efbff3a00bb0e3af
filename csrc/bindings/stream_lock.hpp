// Taking a PhiloxState's mutex from code that holds the GIL: try first, and only if
// that fails wait with the GIL released, so a thread that holds the mutex and needs
// the GIL to give it back can always run.
#pragma once

#include <mutex>

#include "gil.hpp"
#include "pybind11.hpp"

namespace reparam::bindings {

inline void lock_without_deadlock(std::mutex& m) {
  if (m.try_lock()) return;
  ReleasedGil nogil;
  m.lock();
}

class HeldLock {
 public:
  explicit HeldLock(std::mutex& m) : m_(m) { lock_without_deadlock(m_); }
  ~HeldLock() { m_.unlock(); }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

 private:
  std::mutex& m_;
};

}  // namespace reparam::bindings

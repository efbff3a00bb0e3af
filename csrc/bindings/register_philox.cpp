// reparam._core.PhiloxState and its lock: the bit generator state behind
// reparam.Philox, exposed to NumPy through a "BitGenerator" capsule.
#include "pybind11.hpp"

#include <atomic>
#include <cmath>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <thread>

#include "../philox_state.hpp"
#include "stream_lock.hpp"

namespace reparam::bindings {
namespace {

// Python face of the state's mutex: NumPy's Generator runs `with bit_generator.lock:`
// around its calls into the capsule, and reparam's own calls take the same mutex. Like
// threading.RLock: the holding thread may take it again (and call anything that takes
// it), only the holder may release it, and waits are interruptible (stream_lock.hpp).
class StateLock {
 public:
  explicit StateLock(std::shared_ptr<PhiloxState> s) : s_(std::move(s)) {}

  bool acquire(bool blocking, double timeout) {
    if (std::isnan(timeout)) throw py::value_error("timeout must be a number of seconds, got nan");
    StreamMutex& m = s_->mutex();
    const bool got = blocking ? lock_interruptibly(m, timeout) : m.try_lock();
    if (got) {
      owner_.store(std::this_thread::get_id());
      depth_.fetch_add(1);
    }
    return got;
  }
  void release() {
    if (depth_.load() == 0 || owner_.load() != std::this_thread::get_id())
      throw std::runtime_error("cannot release un-acquired lock");
    if (depth_.fetch_sub(1) == 1) owner_.store(std::thread::id());
    s_->mutex().unlock();
  }
  bool locked() {
    if (depth_.load() > 0) return true;
    // Not held through this object: held by a call on another thread, if at all.
    if (s_->mutex().try_lock()) {
      s_->mutex().unlock();
      return false;
    }
    return true;
  }

 private:
  std::shared_ptr<PhiloxState> s_;
  // Taken through acquire() and not yet released: by whom, how many times. Written
  // only by the holder, under the mutex; atomic for locked() and release() elsewhere.
  std::atomic<std::thread::id> owner_{};
  std::atomic<std::size_t> depth_{0};
};

Counter128 counter_from(std::uint64_t lo, std::uint64_t hi) {
  return Counter128{{std::uint32_t(lo), std::uint32_t(lo >> 32), std::uint32_t(hi), std::uint32_t(hi >> 32)}};
}

}  // namespace

void register_philox(py::module_& m) {
  py::class_<StateLock, std::shared_ptr<StateLock>>(m, "StateLock", "The lock of one Philox stream (threading.Lock protocol).")
      .def("acquire", &StateLock::acquire, py::arg("blocking") = true, py::arg("timeout") = -1.0)
      .def("release", &StateLock::release)
      .def("locked", &StateLock::locked)
      .def("__enter__", [](StateLock& l) { return l.acquire(true, -1.0); })
      .def("__exit__", [](StateLock& l, py::args) { l.release(); return false; });

  py::class_<PhiloxState, std::shared_ptr<PhiloxState>>(m, "PhiloxState")
      .def(py::init([](std::uint64_t key, std::uint64_t ctr_lo, std::uint64_t ctr_hi, std::uint32_t word) {
             if (word > 3) throw py::value_error("word must be in [0, 3], got " + std::to_string(word));
             return std::make_shared<PhiloxState>(key, counter_from(ctr_lo, ctr_hi), word);
           }),
           py::arg("key"), py::arg("ctr_lo"), py::arg("ctr_hi"), py::arg("word"))
      .def("make_lock", [](std::shared_ptr<PhiloxState> s) { return std::make_shared<StateLock>(std::move(s)); })
      .def("capsule",
           [](PhiloxState& s) {
             // The capsule does not own the state: the Python Philox keeps it alive, and
             // numpy.random.Generator keeps the Philox alive.
             PyObject* cap = PyCapsule_New(s.bitgen(), "BitGenerator", nullptr);
             if (cap == nullptr) throw py::error_already_set();
             return py::reinterpret_steal<py::object>(cap);
           })
      .def("get",
           [](PhiloxState& s) {
             HeldLock hold(s.mutex());
             const Counter128 c = s.next_block();
             const std::uint64_t lo = (std::uint64_t(c.w[1]) << 32) | c.w[0];
             const std::uint64_t hi = (std::uint64_t(c.w[3]) << 32) | c.w[2];
             return py::make_tuple(s.key(), lo, hi, s.word());
           },
           "(key, next block counter low 64 bits, high 64 bits, next word index)")
      .def("set",
           [](PhiloxState& s, std::uint64_t key, std::uint64_t ctr_lo, std::uint64_t ctr_hi, std::uint32_t word) {
             if (word > 3) throw py::value_error("word must be in [0, 3], got " + std::to_string(word));
             HeldLock hold(s.mutex());
             s.set(key, counter_from(ctr_lo, ctr_hi), word);
           },
           py::arg("key"), py::arg("ctr_lo"), py::arg("ctr_hi"), py::arg("word"))
      // The same, for a caller that already holds the lock (a `with state_lock:` block).
      .def("get_unlocked",
           [](PhiloxState& s) {
             const Counter128 c = s.next_block();
             const std::uint64_t lo = (std::uint64_t(c.w[1]) << 32) | c.w[0];
             const std::uint64_t hi = (std::uint64_t(c.w[3]) << 32) | c.w[2];
             return py::make_tuple(s.key(), lo, hi, s.word());
           })
      .def("set_unlocked",
           [](PhiloxState& s, std::uint64_t key, std::uint64_t ctr_lo, std::uint64_t ctr_hi, std::uint32_t word) {
             if (word > 3) throw py::value_error("word must be in [0, 3], got " + std::to_string(word));
             s.set(key, counter_from(ctr_lo, ctr_hi), word);
           },
           py::arg("key"), py::arg("ctr_lo"), py::arg("ctr_hi"), py::arg("word"));
}

}  // namespace reparam::bindings

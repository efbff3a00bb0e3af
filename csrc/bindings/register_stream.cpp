// Positions of a stream, for Python: reparam._core.StreamPos and the operations on a
// Philox state that move or read its position (reserve, advance, jump, the state dict's
// counter). Every sum of positions here is stream_at's or PhiloxState's, so Python,
// Dask and torch code only pass positions around.
#include "pybind11.hpp"

#include <memory>
#include <string>

#include "../philox_state.hpp"
#include "../stream.hpp"
#include "stream_lock.hpp"
#include "stream_pos.hpp"

namespace reparam::bindings {

Counter128 counter_from_int(const py::handle& v, const char* name, int bits) {
  if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr()))
    throw py::type_error(std::string(name) + " must be an int, got " +
                         std::string(py::str(py::type::handle_of(v).attr("__name__"))));
  const py::int_ zero(0);
  const py::int_ limit = py::reinterpret_steal<py::int_>(PyNumber_Lshift(py::int_(1).ptr(), py::int_(bits).ptr()));
  if (v < zero || !(v < limit))
    throw py::value_error(std::string(name) + " must be in [0, 2**" + std::to_string(bits) + "), got " +
                          std::string(py::str(v)));
  const std::uint64_t lo = PyLong_AsUnsignedLongLongMask(v.ptr());
  const py::object high = py::reinterpret_steal<py::object>(PyNumber_Rshift(v.ptr(), py::int_(64).ptr()));
  const std::uint64_t hi = PyLong_AsUnsignedLongLongMask(high.ptr());
  return counter_from_words(lo, hi);
}

py::int_ int_from_counter(const Counter128& c) {
  const py::int_ hi(counter_hi(c)), lo(counter_lo(c));
  const py::object shifted = py::reinterpret_steal<py::object>(PyNumber_Lshift(hi.ptr(), py::int_(64).ptr()));
  return py::reinterpret_steal<py::int_>(PyNumber_Or(shifted.ptr(), lo.ptr()));
}

namespace {

std::uint64_t key_of(const StreamKey& sk) { return (std::uint64_t(sk.key[1]) << 32) | sk.key[0]; }

StreamKey stream_key(std::uint64_t key, Counter128 ctr) {
  return StreamKey{{std::uint32_t(key), std::uint32_t(key >> 32)}, ctr};
}

int checked_unit(int unit) {
  if (unit != 1 && unit != 2) throw py::value_error("unit must be 1 (32-bit values) or 2 (64-bit values), got " +
                                                    std::to_string(unit));
  return unit;
}

// The same position with start < 4 / unit (the form a PhiloxState can hold).
StreamPosition normalized(const PyStreamPos& p) { return stream_at(p.pos.sk, p.pos.start, 0, p.unit); }

py::tuple state_tuple(const PyStreamPos& p) {
  return py::make_tuple(key_of(p.pos.sk), int_from_counter(p.pos.sk.ctr), p.pos.start, p.unit);
}

}  // namespace

void register_stream(py::module_& m) {
  py::class_<PyStreamPos>(m, "StreamPos",
                          "A position in a Philox stream: key, block counter, start units past that block.")
      .def(py::init([](std::uint64_t key, const py::object& counter, std::uint64_t start, int unit) {
             return PyStreamPos{StreamPosition{stream_key(key, counter_from_int(counter, "counter")), start},
                                checked_unit(unit)};
           }),
           py::arg("key"), py::arg("counter"), py::arg("start"), py::arg("unit"))
      .def_property_readonly("key", [](const PyStreamPos& p) { return key_of(p.pos.sk); })
      .def_property_readonly("counter", [](const PyStreamPos& p) { return int_from_counter(p.pos.sk.ctr); })
      .def_property_readonly("start", [](const PyStreamPos& p) { return p.pos.start; })
      .def_property_readonly("unit", [](const PyStreamPos& p) { return p.unit; })
      .def("at",
           [](const PyStreamPos& p, std::uint64_t offset) {
             return PyStreamPos{stream_at(p.pos.sk, p.pos.start, offset, p.unit), p.unit};
           },
           py::arg("offset"), "The position `offset` units later.")
      .def("state",
           [](const PyStreamPos& p) {
             const StreamPosition n = normalized(p);
             return std::make_shared<PhiloxState>(key_of(n.sk), n.sk.ctr, std::uint32_t(n.start) * p.unit);
           },
           "A new PhiloxState whose next value is at this position.")
      .def("noise",
           [](const PyStreamPos& p, std::uint64_t mirror) {
             return py::make_tuple(key_of(p.pos.sk), counter_lo(p.pos.sk.ctr), counter_hi(p.pos.sk.ctr), p.pos.start,
                                   mirror);
           },
           py::arg("mirror") = 0, "The gradient kernels' noise argument (key, ctr_lo, ctr_hi, start, mirror).")
      .def("fill", [](const PyStreamPos& p, const std::string& kind, py::array& out) { fill_at(kind, p.pos, out); },
           py::arg("kind"), py::arg("out"), "Fill `out` with the values from this position on.")
      .def("__eq__",
           [](const PyStreamPos& a, const py::object& other) -> py::object {
             if (!py::isinstance<PyStreamPos>(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
             return py::bool_(state_tuple(a).equal(state_tuple(other.cast<const PyStreamPos&>())));
           })
      .def("__hash__", [](const PyStreamPos& p) { return py::hash(state_tuple(p)); })
      .def("__repr__",
           [](const PyStreamPos& p) {
             return "StreamPos(key=" + std::string(py::str(py::int_(key_of(p.pos.sk)))) +
                    ", counter=" + std::string(py::str(int_from_counter(p.pos.sk.ctr))) +
                    ", start=" + std::to_string(p.pos.start) + ", unit=" + std::to_string(p.unit) + ")";
           })
      // Dask names graphs by this (a deterministic token), and pickles positions to workers.
      .def("__dask_tokenize__", [](const PyStreamPos& p) { return state_tuple(p); })
      // The constructor's arguments: every pickle protocol (pybind11's py::pickle aborts
      // under protocols 0 and 1, which go through copyreg).
      .def("__reduce__", [](const py::object& self) {
        return py::make_tuple(self.attr("__class__"), state_tuple(self.cast<const PyStreamPos&>()));
      });

  m.def(
      "stream_reserve",
      [](PhiloxState& s, std::uint64_t n, int unit) {
        checked_unit(unit);
        Reservation r;
        {
          HeldLock hold(s.mutex());
          r = s.reserve(n, unit);
        }
        return PyStreamPos{r, unit};
      },
      py::arg("state"), py::arg("n"), py::arg("unit"),
      "Reserve n values of `unit` words (as a draw of n values would) and return where they start.");
  m.def(
      "stream_advance",
      [](PhiloxState& s, const py::int_& delta) {
        // delta words = delta // 4 blocks and delta % 4 words; blocks wrap at 2**128.
        const py::object blocks_int = py::reinterpret_steal<py::object>(PyNumber_Rshift(delta.ptr(), py::int_(2).ptr()));
        const py::object top = py::reinterpret_steal<py::object>(
            PyNumber_Lshift(py::int_(1).ptr(), py::int_(128).ptr()));
        const py::object wrapped = py::reinterpret_steal<py::object>(PyNumber_Remainder(blocks_int.ptr(), top.ptr()));
        const Counter128 blocks = counter_from_int(wrapped, "delta");
        const auto words = std::uint32_t(PyLong_AsUnsignedLongLongMask(delta.ptr()) & 3u);
        HeldLock hold(s.mutex());
        s.advance(blocks, words);
      },
      py::arg("state"), py::arg("delta"), "Advance the state by `delta` (>= 0) 32-bit words.");
  m.def(
      "stream_jumped",
      [](PhiloxState& s, const py::int_& jumps) {
        // jumps * 2**64 blocks: j mod 2**64 added to the counter's high half.
        const auto j = std::uint64_t(PyLong_AsUnsignedLongLongMask(jumps.ptr()));
        std::uint64_t key;
        Counter128 next;
        std::uint32_t word;
        {
          HeldLock hold(s.mutex());
          key = s.key();
          next = s.next_block();
          word = s.word();
        }
        return std::make_shared<PhiloxState>(key, counter_add(next, counter_from_words(0, j)), word);
      },
      py::arg("state"), py::arg("jumps"), "A new state `jumps` * 2**64 blocks ahead of this one.");
  m.def(
      "philox_get_state",
      [](PhiloxState& s) {
        HeldLock hold(s.mutex());
        return py::make_tuple(s.key(), int_from_counter(PhiloxState::counter_of(s.next_block())), s.word());
      },
      py::arg("state"), "(key, counter, buffer_pos) as in NumPy's and randomgen's state dict.");
  m.def(
      "philox_set_state",
      [](PhiloxState& s, std::uint64_t key, const py::int_& counter, std::uint32_t word) {
        if (word > 3) throw py::value_error("buffer_pos must be in [0, 3], got " + std::to_string(word));
        const Counter128 next = PhiloxState::next_block_of(counter_from_int(counter, "counter"));
        HeldLock hold(s.mutex());
        s.set(key, next, word);
      },
      py::arg("state"), py::arg("key"), py::arg("counter"), py::arg("word"),
      "Set the state from (key, counter, buffer_pos) as in NumPy's and randomgen's state dict.");
}

}  // namespace reparam::bindings

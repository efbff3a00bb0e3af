// The state of one Philox stream: key, the block holding the next word and the word's
// index in it. Callers reserve ranges of positions under the mutex and generate them
// without it. It also implements NumPy's bit generator interface (bitgen_t), whose
// callers hold the same mutex through the Python `lock` object.
#pragma once

#include <cstdint>
#include <mutex>

#include "philox4x32.hpp"
#include "stream.hpp"

namespace reparam {

// Layout of NumPy's `bitgen_t` (numpy/random/bitgen.h), the C interface any bit
// generator offers to numpy.random.Generator through a capsule named "BitGenerator".
struct NumpyBitgen {
  void* state;
  std::uint64_t (*next_uint64)(void* st);
  std::uint32_t (*next_uint32)(void* st);
  double (*next_double)(void* st);
  std::uint64_t (*next_raw)(void* st);
};

// The state's lock. Recursive: a thread that holds it (a user's `with bit_generator.lock:`)
// can still call everything that takes it (state, draws, NumPy's Generator); timed: the
// bindings wait in slices, to handle signals in between.
using StreamMutex = std::recursive_timed_mutex;

// A reserved range starts here (start in the caller's unit: words, or 64-bit slots).
using Reservation = StreamPosition;

class PhiloxState {
 public:
  PhiloxState(std::uint64_t key, Counter128 next_block, std::uint32_t word);

  StreamMutex& mutex() { return mutex_; }

  // Reserves n words (Unit = 1) or n 64-bit slots (Unit = 2; a pending odd word is
  // skipped so slots start at an even word). Caller holds mutex().
  Reservation reserve(std::uint64_t n, int unit);

  // Accessors; caller holds mutex().
  std::uint64_t key() const { return (std::uint64_t(key_[1]) << 32) | key_[0]; }
  Counter128 next_block() const { return ctr_; }
  std::uint32_t word() const { return word_; }
  void set(std::uint64_t key, Counter128 next_block, std::uint32_t word);

  // Moves the next word `blocks` blocks and `words` words (< 4) ahead, as drawing that
  // many words would (caller holds mutex()).
  void advance(Counter128 blocks, std::uint32_t words);

  // NumPy's and randomgen's state dict names the counter of the block before the next
  // one: next_block = counter + 1 (mod 2**128). The one place that knows it.
  static Counter128 next_block_of(Counter128 counter) { return counter_add(counter, 1); }
  static Counter128 counter_of(Counter128 next_block) {
    return counter_add(next_block, Counter128{{~0u, ~0u, ~0u, ~0u}});  // - 1 mod 2**128
  }

  NumpyBitgen* bitgen() { return &bitgen_; }

  // One word at a time, for the NumPy interface (caller holds mutex()).
  std::uint32_t next_word();

 private:
  StreamMutex mutex_;
  std::uint32_t key_[2];
  Counter128 ctr_;       // counter of the block holding the next word
  std::uint32_t word_;   // 0..3, index of the next word in that block
  Block4x32 cache_{};
  Counter128 cache_ctr_{};
  bool cache_valid_ = false;
  NumpyBitgen bitgen_;
};

}  // namespace reparam

#include "philox_state.hpp"

namespace reparam {
namespace {

std::uint32_t np_next_uint32(void* st) { return static_cast<PhiloxState*>(st)->next_word(); }
std::uint64_t np_next_uint64(void* st) {
  auto* s = static_cast<PhiloxState*>(st);
  const std::uint64_t lo = s->next_word();
  const std::uint64_t hi = s->next_word();
  return lo | (hi << 32);
}
double np_next_double(void* st) { return double(np_next_uint64(st) >> 11) * 0x1p-53; }
std::uint64_t np_next_raw(void* st) { return static_cast<PhiloxState*>(st)->next_word(); }

bool same(const Counter128& a, const Counter128& b) {
  return a.w[0] == b.w[0] && a.w[1] == b.w[1] && a.w[2] == b.w[2] && a.w[3] == b.w[3];
}

}  // namespace

PhiloxState::PhiloxState(std::uint64_t key, Counter128 next_block, std::uint32_t word) {
  set(key, next_block, word);
  bitgen_ = NumpyBitgen{this, np_next_uint64, np_next_uint32, np_next_double, np_next_raw};
}

void PhiloxState::set(std::uint64_t key, Counter128 next_block, std::uint32_t word) {
  key_[0] = std::uint32_t(key);
  key_[1] = std::uint32_t(key >> 32);
  ctr_ = next_block;
  word_ = word & 3u;
  cache_valid_ = false;
}

Reservation PhiloxState::reserve(std::uint64_t n, int unit) {
  if (unit == 2 && n > 0 && (word_ & 1u)) {  // skip the odd word so that slots stay aligned
    if (++word_ == 4) {
      word_ = 0;
      ctr_ = counter_add(ctr_, 1);
    }
  }
  const Reservation r{StreamKey{{key_[0], key_[1]}, ctr_}, unit == 2 ? word_ / 2 : word_};
  if (n == 0) return r;  // (a pending odd word stays pending)
  const StreamPosition next = stream_at(r.sk, r.start, n, unit);  // n units from here
  ctr_ = next.sk.ctr;
  word_ = std::uint32_t(next.start) * std::uint32_t(unit);
  return r;
}

void PhiloxState::advance(Counter128 blocks, std::uint32_t words) {
  word_ += words & 3u;
  ctr_ = counter_add(ctr_, blocks);
  if (word_ >= 4) {
    word_ -= 4;
    ctr_ = counter_add(ctr_, 1);
  }
}

std::uint32_t PhiloxState::next_word() {
  if (!cache_valid_ || !same(cache_ctr_, ctr_)) {
    cache_ = philox4x32<10>(ctr_, key_);
    cache_ctr_ = ctr_;
    cache_valid_ = true;
  }
  const std::uint32_t w = cache_.v[word_];
  if (++word_ == 4) {
    word_ = 0;
    ctr_ = counter_add(ctr_, 1);
  }
  return w;
}

}  // namespace reparam

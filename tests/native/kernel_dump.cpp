// kernel_dump: a Python-free test driver for the per-target sampling kernels.
//
// Built by tools/check_neon.sh (natively on x86-64 with the scalar, sse2, avx2 and
// avx512 kernel objects, and cross-compiled for AArch64 with the scalar and neon
// objects); define REPARAM_HAVE_<TARGET> for each kernel object linked in, exactly as
// CMakeLists.txt does for the extension module. It links csrc/dispatch.cpp and
// csrc/cpu_features.cpp, so the target list and the "supported by this CPU" flags are
// the ones the module itself uses; targets the CPU lacks are reported and skipped.
//
// What it checks (exit status 1 on any failure):
//   * the Philox4x32-10 known-answer vectors (hard-coded below from
//     /work/shared/data/philox4x32_kat.txt) through fill_raw with start 0 on every
//     supported target, and all vectors (7 and 10 rounds) against the scalar template
//     philox4x32<R> of philox4x32.hpp;
//   * fill_raw of every case against the scalar template philox4x32<10>;
//   * for every case and kernel kind, every supported target's output is bitwise equal
//     to the scalar target's output, nothing is written past out[n-1], and every
//     element of out[0..n) is written;
//   * positions are positions: the scalar output for (start, n) equals the slice
//     [start, start + n) of one longer call from start 0.
//
// What it prints on stdout is target independent: one line per (case, kind) with the
// FNV-1a 64 checksum of the scalar target's output (each value's bits hashed in
// little-endian byte order) and its first values as hex bit patterns, then one
// aggregate line per kind. An x86-64 run and an AArch64 run therefore give identical
// stdout exactly when the two scalar builds agree bit for bit; together with the
// in-process "every target equals scalar" checks that proves neon == sse2 == avx2 ==
// avx512. Per-target results go to stderr, ending in machine-readable lines:
//   RESULT targets_checked=<t1,t2,...> targets_skipped=<...> cases=<N> failures=<F>
//
// Usage: kernel_dump [--quick]   (--quick drops the 100003-long cases)
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "dispatch.hpp"
#include "kernel_table.hpp"
#include "philox4x32.hpp"

namespace {

using reparam::Counter128;
using reparam::KernelTable;
using reparam::kReduceRowBlock;
using reparam::StreamKey;

// ------------------------------------------------------------------ hashing / bits

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

std::uint64_t bits_of(std::uint32_t v) { return v; }
std::uint64_t bits_of(std::uint64_t v) { return v; }
std::uint64_t bits_of(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}
std::uint64_t bits_of(double v) {
  std::uint64_t u;
  std::memcpy(&u, &v, 8);
  return u;
}

// FNV-1a 64 over the values' bit patterns, little-endian byte order whatever the host.
template <class T>
std::uint64_t fnv1a(const T* p, std::size_t n, std::uint64_t h = kFnvOffset) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t b = bits_of(p[i]);
    for (std::size_t k = 0; k < sizeof(T); ++k) {
      h ^= (b >> (8 * k)) & 0xFF;
      h *= kFnvPrime;
    }
  }
  return h;
}

template <class T>
std::string hex_of(T v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*" PRIx64, int(2 * sizeof(T)), bits_of(v));
  return buf;
}

// ------------------------------------------------------------------ kernel kinds

enum Kind { kRaw, kNormalF32, kUniformF32, kNormalF64, kUniformF64, kExponentialF32, kExponentialF64, kNumKinds };
const char* const kKindName[kNumKinds] = {"raw",        "normal_f32",      "uniform_f32",    "normal_f64",
                                          "uniform_f64", "exponential_f32", "exponential_f64"};

// Output buffers: the scalar result and a scratch buffer for the other targets, each
// with guard elements after the end and room for a misaligning offset in front.
constexpr std::size_t kGuard = 80;  // more than one 16-lane group of any kind
constexpr std::size_t kMaxOffset = 3;

struct Buffers {
  std::vector<std::uint32_t> u32;
  std::vector<float> f32;
  std::vector<double> f64;
  void reserve(std::size_t n) {
    u32.assign(n + kGuard + kMaxOffset, 0);
    f32.assign(n + kGuard + kMaxOffset, 0);
    f64.assign(n + kGuard + kMaxOffset, 0);
  }
};

template <class T>
void fill_pattern(T* p, std::size_t n, unsigned char byte) {
  std::memset(static_cast<void*>(p), byte, n * sizeof(T));
}

template <class T>
bool all_pattern(const T* p, std::size_t n, unsigned char byte) {
  const unsigned char* b = reinterpret_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n * sizeof(T); ++i)
    if (b[i] != byte) return false;
  return true;
}

template <class T>
void call_kernel(const KernelTable& t, Kind kind, const StreamKey& sk, std::uint64_t start, std::size_t n, T* out,
                 bool streaming = false);
template <>
void call_kernel(const KernelTable& t, Kind, const StreamKey& sk, std::uint64_t start, std::size_t n,
                 std::uint32_t* out, bool streaming) {
  t.fill_raw(sk, start, n, out, streaming);
}
template <>
void call_kernel(const KernelTable& t, Kind kind, const StreamKey& sk, std::uint64_t start, std::size_t n,
                 float* out, bool streaming) {
  (kind == kNormalF32 ? t.fill_normal_f32 : kind == kUniformF32 ? t.fill_uniform_f32 : t.fill_exponential_f32)(
      sk, start, n, out, streaming);
}
template <>
void call_kernel(const KernelTable& t, Kind kind, const StreamKey& sk, std::uint64_t start, std::size_t n,
                 double* out, bool streaming) {
  (kind == kNormalF64 ? t.fill_normal_f64 : kind == kUniformF64 ? t.fill_uniform_f64 : t.fill_exponential_f64)(
      sk, start, n, out, streaming);
}

// ------------------------------------------------------------------ cases

struct Case {
  std::uint64_t key;         // key[0] = low word, key[1] = high word
  std::uint32_t ctr[4];      // word 0 lowest
  std::uint64_t start;
  std::size_t n;
};

StreamKey stream_key(const Case& c) {
  StreamKey sk;
  sk.key[0] = std::uint32_t(c.key);
  sk.key[1] = std::uint32_t(c.key >> 32);
  for (int j = 0; j < 4; ++j) sk.ctr.w[j] = c.ctr[j];
  return sk;
}

const std::uint64_t kKeys[] = {0x0000000000000000ull, 0xFFFFFFFFFFFFFFFFull, 0x299F31D0A4093822ull,
                               0xDEADBEEF00C0FFEEull};
// 128-bit counters as words, lowest first.
const std::uint32_t kCounters[][4] = {
    {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},  // 0
    {0xFFFFFFFDu, 0x00000000u, 0x00000000u, 0x00000000u},  // 2**32 - 3: carry out of word 0 inside a vector
    {0xFFFFFFFEu, 0xFFFFFFFFu, 0x00000000u, 0x00000000u},  // 2**64 - 2: carry into the high half
    {0xFFFFFFFDu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0x00000000u},  // 2**96 - 3: carry into word 3
    {0xFFFFFFFBu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},  // 2**128 - 5: wraps to 0
    {0x243F6A88u, 0x85A308D3u, 0x13198A2Eu, 0x03707344u},  // digits of pi
};
const std::uint64_t kLargeStarts[] = {0xFFFFFFFFull, 0x10000000Dull, 0x10000000007ull, 0x4000000000000001ull,
                                      0xFFFFFFFFFFFFFF9Cull};  // last: 2**64 - 100
const std::size_t kLargeStartLengths[] = {1, 2, 3, 5, 8, 16, 17, 31, 32, 33, 63, 64, 65, 67};
const std::uint64_t kLongStarts[] = {0, 7, 0x200000005ull};
constexpr std::size_t kLongLength = 100003;
constexpr std::uint64_t kSmallStarts = 10;   // starts 0..9
constexpr std::size_t kSmallLengths = 67;    // lengths 1..67

std::vector<Case> make_cases(bool quick) {
  std::vector<Case> cases;
  for (std::uint64_t key : kKeys) {
    for (const auto& ctr : kCounters) {
      auto add = [&](std::uint64_t start, std::size_t n) {
        Case c{key, {ctr[0], ctr[1], ctr[2], ctr[3]}, start, n};
        cases.push_back(c);
      };
      for (std::uint64_t s = 0; s < kSmallStarts; ++s)
        for (std::size_t n = 1; n <= kSmallLengths; ++n) add(s, n);
      for (std::uint64_t s : kLargeStarts)
        for (std::size_t n : kLargeStartLengths) add(s, n);
      if (!quick)
        for (std::uint64_t s : kLongStarts) add(s, kLongLength);
    }
  }
  return cases;
}

// ------------------------------------------------------------------ known answers

struct Kat {
  int rounds;
  std::uint32_t ctr[4];
  std::uint32_t key[2];
  std::uint32_t expect[4];
};

// /work/shared/data/philox4x32_kat.txt: rounds, counter words 0..3, key words 0..1,
// expected output words 0..3.
const Kat kKats[] = {
    {7, {0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000}, {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
    {7, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}, {0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662}},
    {7, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a}},
    {10, {0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {10, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {10, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    {10, {0x00000001, 0x00000000, 0x00000000, 0x00000000}, {0x00000001, 0x00000000}, {0xac08141b, 0xdfc5ccbe, 0x79c07a47, 0xa7f66093}},
    {10, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0x00000001, 0x00000000}, {0x38527b8f, 0xfad9a48c, 0x20e675c0, 0xf2fea26a}},
    {10, {0x00000000, 0x00000000, 0x00000000, 0x00000001}, {0x00000000, 0xffffffff}, {0x5c4ecd0c, 0x64c12cf9, 0x8f9fb4c8, 0x40c4a01f}},
};

reparam::Block4x32 philox_ref(int rounds, const Counter128& c, const std::uint32_t key[2]) {
  switch (rounds) {
    case 7: return reparam::philox4x32<7>(c, key);
    case 10: return reparam::philox4x32<10>(c, key);
    default: std::fprintf(stderr, "internal error: no reference for %d rounds\n", rounds); std::exit(2);
  }
}

// ------------------------------------------------------------------ the run

struct Target {
  std::string name;
  const KernelTable* table;
};

int g_failures = 0;
constexpr int kMaxReported = 40;

void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char* fmt, ...) {
  ++g_failures;
  if (g_failures > kMaxReported) return;
  va_list ap;
  va_start(ap, fmt);
  std::fputs("FAIL: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

std::string case_desc(std::size_t id, const Case& c, Kind kind) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "case %zu %s key=%016" PRIx64 " ctr=%08x%08x%08x%08x start=%" PRIu64 " n=%zu", id,
                kKindName[kind], c.key, c.ctr[3], c.ctr[2], c.ctr[1], c.ctr[0], c.start, c.n);
  return buf;
}

int check_kats(const std::vector<Target>& targets) {
  int checked = 0;
  for (const Kat& k : kKats) {
    const Counter128 c{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    const reparam::Block4x32 r = philox_ref(k.rounds, c, k.key);
    if (std::memcmp(r.v, k.expect, sizeof r.v) != 0)
      fail("KAT philox4x32<%d> ctr=%08x.%08x.%08x.%08x key=%08x.%08x: reference gives %08x %08x %08x %08x, expected "
           "%08x %08x %08x %08x",
           k.rounds, k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1], r.v[0], r.v[1], r.v[2], r.v[3],
           k.expect[0], k.expect[1], k.expect[2], k.expect[3]);
    ++checked;
    if (k.rounds != 10) continue;  // the kernels are Philox4x32-10
    StreamKey sk;
    sk.key[0] = k.key[0];
    sk.key[1] = k.key[1];
    sk.ctr = c;
    for (const Target& t : targets) {
      // n = 4 (one block) and n = 40 (a full group on every target; block 0 must not
      // depend on the group size)
      for (std::size_t n : {std::size_t(4), std::size_t(40)}) {
        std::vector<std::uint32_t> out(n, 0xDEADBEEFu);
        t.table->fill_raw(sk, 0, n, out.data(), false);
        if (std::memcmp(out.data(), k.expect, 16) != 0)
          fail("KAT via %s fill_raw(start=0, n=%zu) ctr=%08x.%08x.%08x.%08x key=%08x.%08x: got %08x %08x %08x %08x, "
               "expected %08x %08x %08x %08x",
               t.name.c_str(), n, k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1], out[0], out[1], out[2],
               out[3], k.expect[0], k.expect[1], k.expect[2], k.expect[3]);
        ++checked;
      }
    }
  }
  return checked;
}

// Words of the stream at positions [start, start + n) from the scalar template.
void raw_reference(const StreamKey& sk, std::uint64_t start, std::size_t n, std::uint32_t* out) {
  std::uint64_t block = start / 4;
  std::size_t j = std::size_t(start % 4);
  reparam::Block4x32 b = reparam::philox4x32<10>(reparam::counter_add(sk.ctr, block), sk.key);
  for (std::size_t i = 0; i < n; ++i) {
    if (j == 4) {
      ++block;
      j = 0;
      b = reparam::philox4x32<10>(reparam::counter_add(sk.ctr, block), sk.key);
    }
    out[i] = b.v[j++];
  }
}

struct KindTotals {
  std::uint64_t hash = kFnvOffset;  // FNV-1a over the per-case checksums, in case order
  std::uint64_t values = 0;
};

// Runs one kind of one case on every target; returns the scalar checksum.
template <class T>
std::uint64_t run_kind(std::size_t id, const Case& cs, Kind kind, const std::vector<Target>& targets,
                       std::vector<T>& ref_buf, std::vector<T>& buf, const T* long_ref,
                       std::vector<std::uint64_t>& per_target_hash, std::string& first_values) {
  const StreamKey sk = stream_key(cs);
  const std::size_t n = cs.n;
  // scalar first, at offset 0 after a 0x00 fill
  T* ref = ref_buf.data();
  fill_pattern(ref, n + kGuard, 0x00);
  call_kernel(*targets[0].table, kind, sk, cs.start, n, ref);
  if (!all_pattern(ref + n, kGuard, 0x00)) fail("%s: scalar wrote past the end", case_desc(id, cs, kind).c_str());
  const std::uint64_t h = fnv1a(ref, n);
  per_target_hash[0] = fnv1a(&h, 1, per_target_hash[0]);
  if (long_ref != nullptr && std::memcmp(ref, long_ref + cs.start, n * sizeof(T)) != 0)
    fail("%s: scalar output is not the slice [start, start+n) of the output from start 0",
         case_desc(id, cs, kind).c_str());
  // every other target, misaligned by (id % 4) elements, after a 0xFF fill; every other
  // call with streaming stores (which the long cases use)
  const std::size_t off = id % (kMaxOffset + 1);
  for (std::size_t t = 1; t < targets.size(); ++t) {
    T* out = buf.data() + off;
    fill_pattern(buf.data(), n + kGuard + off, 0xFF);
    call_kernel(*targets[t].table, kind, sk, cs.start, n, out, (id + t) % 2 == 1);
    if (!all_pattern(out + n, kGuard, 0xFF) || !all_pattern(buf.data(), off, 0xFF))
      fail("%s: target %s wrote outside out[0..n)", case_desc(id, cs, kind).c_str(), targets[t].name.c_str());
    if (std::memcmp(out, ref, n * sizeof(T)) != 0) {
      std::size_t i = 0;
      while (bits_of(out[i]) == bits_of(ref[i])) ++i;
      fail("%s: target %s differs from scalar at position %zu (start+%zu): %s vs scalar %s",
           case_desc(id, cs, kind).c_str(), targets[t].name.c_str(), i, i, hex_of(out[i]).c_str(),
           hex_of(ref[i]).c_str());
    }
    const std::uint64_t ht = fnv1a(out, n);
    per_target_hash[t] = fnv1a(&ht, 1, per_target_hash[t]);
  }
  first_values.clear();
  for (std::size_t i = 0; i < n && i < 3; ++i) {
    if (i) first_values += ',';
    first_values += hex_of(ref[i]);
  }
  return h;
}


// ------------------------------------------------------------ affine, sigma, chain, reduce
//
// The kernels that turn noise into samples and sums (affine_normal_f32/f64, sigma_f32/f64,
// reduce_f32/f64, the chain rule: dsigma_f32/f64, grad_finish_f32/f64 of both estimators, and
// the two fused in grad_tiles_f32/f64). Inputs are generated here from a fixed seed (splitmix64, so both
// architectures build the same inputs) and mix ordinary values with the corners of each
// parameter kind: zeros of both signs, subnormals, values where exp or softplus overflow
// or underflow, +-inf and NaNs with several payloads and both signs (a signalling one
// too). Outputs are compared as bytes, NaNs included.

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
// A value in [lo, hi) from the hash of (seed, i).
double uniform_in(std::uint64_t seed, std::uint64_t i, double lo, double hi) {
  return lo + (hi - lo) * (double(splitmix64(seed ^ splitmix64(i)) >> 11) * 0x1p-53);
}

// NaNs by bit pattern: quiet +, quiet - (x86's default NaN), quiet with a payload,
// negative quiet with a payload, signalling with a payload.
constexpr int kNumNans = 5;
template <class T>
T nan_value(int which);
template <>
float nan_value<float>(int which) {
  static const std::uint32_t b[kNumNans] = {0x7FC00000u, 0xFFC00000u, 0x7FC0BEEFu, 0xFFE00123u, 0x7F800F00u};
  float f;
  std::memcpy(&f, &b[which], 4);
  return f;
}
template <>
double nan_value<double>(int which) {
  static const std::uint64_t b[kNumNans] = {0x7FF8000000000000ull, 0xFFF8000000000000ull, 0x7FF800000000BEEFull,
                                            0xFFFC000000000123ull, 0x7FF0000000000F00ull};
  double d;
  std::memcpy(&d, &b[which], 8);
  return d;
}

// A special value: a double (converted to T, so 1e300 is inf in float32) or NaN number k.
struct Special {
  double v;
  int nan;  // -1: v; else nan_value(nan)
};
template <class T>
T special_value(const Special& s) {
  return s.nan < 0 ? T(s.v) : nan_value<T>(s.nan);
}

constexpr double kInf = HUGE_VAL;
constexpr double kDblMax = 1.7976931348623157e308;
constexpr double kFltMax = 3.4028234663852886e38;
#define REPARAM_NANS {0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}
const Special kLocSpecials[] = {{0.0, -1},    {-0.0, -1},     {1.0, -1},     {-2.5, -1},     {0.1, -1},
                                {1e-310, -1}, {1e30, -1},     {-1e30, -1},   {kFltMax, -1},  {-kFltMax, -1},
                                {1e300, -1},  {-1e300, -1},   {kDblMax, -1}, {-kDblMax, -1}, {kInf, -1},
                                {-kInf, -1},  REPARAM_NANS};
// scale and var (the API rejects negative values; -0.0 is allowed)
const Special kScaleSpecials[] = {{0.0, -1},    {-0.0, -1},  {1.0, -1},   {2.5, -1},     {1e-3, -1},
                                  {1e-300, -1}, {5e-324, -1}, {1e-40, -1}, {1e30, -1},    {1e300, -1},
                                  {kFltMax, -1}, {kDblMax, -1}, {kInf, -1}, REPARAM_NANS};
const Special kLogSpecials[] = {{0.0, -1},     {-0.0, -1},    {1.5, -1},     {-3.0, -1},    {88.0, -1},
                                {-88.0, -1},   {700.0, -1},   {-700.0, -1},  {709.5, -1},   {-745.0, -1},
                                {1000.0, -1},  {-1000.0, -1}, {1400.0, -1},  {-1400.0, -1}, {1500.0, -1},
                                {-1500.0, -1}, {1e10, -1},    {-1e10, -1},   {kDblMax, -1}, {-kDblMax, -1},
                                {kInf, -1},    {-kInf, -1},   REPARAM_NANS};
const Special kSoftplusSpecials[] = {{0.0, -1},      {-0.0, -1},     {1.0, -1},       {-1.0, -1},
                                     {37.0, -1},     {-37.0, -1},    {50.0, -1},      {-50.0, -1},
                                     {745.0, -1},    {-745.0, -1},   {1000.0, -1},    {-1000.0, -1},
                                     {1e5, -1},      {-1e5, -1},     {1e300, -1},     {-1e300, -1},
                                     {0x1.8p1000, -1}, {-0x1.8p1000, -1}, {kDblMax, -1}, {-kDblMax, -1},
                                     {kInf, -1},     {-kInf, -1},    REPARAM_NANS};
// gradients / weights and stored noise for the reductions
const Special kGradSpecials[] = {{kInf, -1}, {-kInf, -1}, {0.0, -1},    {-0.0, -1},  {1e200, -1},
                                 {-1e200, -1}, {1e-310, -1}, {kDblMax, -1}, {0, 2},     {0, 3}};
const Special kEpsSpecials[] = {{kInf, -1}, {-kInf, -1}, {0.0, -1}, {-0.0, -1}, {1e200, -1}, {0, 2}, {0, 4}};
#undef REPARAM_NANS

constexpr int kNumParamKinds = 5;
const char* const kParamKindName[kNumParamKinds] = {"scale", "var", "logvar", "logstd", "softplus"};

struct SpecialList {
  const Special* v;
  std::size_t n;
};
template <std::size_t N>
SpecialList list_of(const Special (&a)[N]) {
  return {a, N};
}
SpecialList param_specials(int kind) {
  switch (kind) {
    case 0:
    case 1: return list_of(kScaleSpecials);
    case 2:
    case 3: return list_of(kLogSpecials);
    default: return list_of(kSoftplusSpecials);
  }
}
// An ordinary parameter of each kind.
double ordinary_param(int kind, std::uint64_t seed, std::uint64_t i) {
  switch (kind) {
    case 0:
    case 1: return uniform_in(seed, i, 0.0, 10.0);
    case 2:
    case 3: return uniform_in(seed, i, -30.0, 30.0);
    default: return uniform_in(seed, i, -60.0, 60.0);
  }
}

template <class T>
const char* dtype_name();
template <>
const char* dtype_name<float>() {
  return "f32";
}
template <>
const char* dtype_name<double>() {
  return "f64";
}

template <class T>
std::size_t count_nan(const T* p, std::size_t n) {
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) k += p[i] != p[i];
  return k;
}

template <class T>
std::string first_hex(const T* p, std::size_t n, std::size_t k = 3) {
  std::string s;
  for (std::size_t i = 0; i < n && i < k; ++i) {
    if (i) s += ',';
    s += hex_of(p[i]);
  }
  return s;
}

// Which call pattern a run uses: the bindings' (tiles of 1024 columns, all these rows in
// one call; a batch of <= 1024 is one call with c0 = 0, c1 = batch, where the affine
// kernel takes several rows per step and the reduction generates a chunk of rows at
// once), and an odd one (13-column tiles, c0 > 0 and a partial last vector in every
// tile, rows in blocks of 3; a batch of <= 13 is still c0 = 0, c1 = batch, from r0 > 0).
// The values must not depend on it.
struct Tiling {
  const char* name;
  std::size_t col_tile;
  std::size_t row_block;  // 0: all rows
};
const Tiling kTilings[] = {{"bind", 1024, 0}, {"odd", 13, 3}};
constexpr std::size_t kNumTilings = sizeof kTilings / sizeof kTilings[0];

template <class Fn>
void for_tiles(const Tiling& tl, std::size_t rows, std::size_t batch, Fn fn) {
  const std::size_t rb = tl.row_block ? tl.row_block : rows;
  for (std::size_t r0 = 0; r0 < rows; r0 += rb)  // row blocks in order (the sums need it)
    for (std::size_t c0 = 0; c0 < batch; c0 += tl.col_tile)
      fn(r0, std::min(rows, r0 + rb), c0, std::min(batch, c0 + tl.col_tile));
}

// Per-kernel totals: hash of the scalar checksums in case order, and per target.
enum NewKind {
  kAffineF32, kAffineF64, kSigmaF32, kSigmaF64, kReduceF32, kReduceF64, kChainF32, kChainF64, kTilesF32, kTilesF64,
  kNumNewKinds
};
const char* const kNewKindName[kNumNewKinds] = {"affine_f32", "affine_f64", "sigma_f32",      "sigma_f64",
                                                "reduce_f32", "reduce_f64", "chain_f32",      "chain_f64",
                                                "grad_tiles_f32",     "grad_tiles_f64"};
struct NewTotals {
  std::size_t cases = 0;
  std::uint64_t values = 0;
  std::uint64_t hash = kFnvOffset;
  std::vector<std::uint64_t> target_hash;  // per target, over every tiling it ran
};

// "--only <label>": print every value of that one case (and its inputs) instead of the
// checksums, for locating a difference that the checksum diff found.
std::string g_only;

const std::uint64_t kNewStarts[] = {0, 1, 7, 12345, 0x100000003ull, 0xFFFFFFF9ull, 0x123456789ABull};

StreamKey new_case_key(std::size_t id) {
  Case c{kKeys[id % 4], {0, 0, 0, 0}, 0, 0};
  const auto& ctr = kCounters[(id / 4) % (sizeof kCounters / sizeof kCounters[0])];
  std::memcpy(c.ctr, ctr, sizeof c.ctr);
  return stream_key(c);
}
std::string key_desc(const StreamKey& sk) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "key=%08x%08x ctr=%08x%08x%08x%08x", sk.key[1], sk.key[0], sk.ctr.w[3], sk.ctr.w[2],
                sk.ctr.w[1], sk.ctr.w[0]);
  return buf;
}

void call_affine(const KernelTable& k, const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1,
                 std::size_t c0, std::size_t c1, std::size_t batch, const float* loc, const float* param, int kind,
                 float* out, std::size_t mirror, bool streaming) {
  k.affine_normal_f32(sk, start, r0, r1, c0, c1, batch, loc, param, kind, out, mirror, streaming);
}
void call_affine(const KernelTable& k, const StreamKey& sk, std::uint64_t start, std::size_t r0, std::size_t r1,
                 std::size_t c0, std::size_t c1, std::size_t batch, const double* loc, const double* param, int kind,
                 double* out, std::size_t mirror, bool streaming) {
  k.affine_normal_f64(sk, start, r0, r1, c0, c1, batch, loc, param, kind, out, mirror, streaming);
}
// dl, dp: the pathwise gradient's d_loc and d_param at [0, n), the score function's at [n, 2n)
void call_chain(const KernelTable& k, const float* p, int kind, std::size_t n, const double* sx, const double* sy,
                double scale, double* ds, float* dl, float* dp) {
  k.dsigma_f32(p, kind, n, ds);
  k.grad_finish_f32(0, sx, sy, p, kind, scale, n, dl, dp);
  k.grad_finish_f32(1, sx, sy, p, kind, scale, n, dl + n, dp + n);
}
void call_chain(const KernelTable& k, const double* p, int kind, std::size_t n, const double* sx, const double* sy,
                double scale, double* ds, double* dl, double* dp) {
  k.dsigma_f64(p, kind, n, ds);
  k.grad_finish_f64(0, sx, sy, p, kind, scale, n, dl, dp);
  k.grad_finish_f64(1, sx, sy, p, kind, scale, n, dl + n, dp + n);
}
void call_sigma(const KernelTable& k, const float* p, int kind, std::size_t n, float* out) {
  k.sigma_f32(p, kind, n, out);
}
void call_sigma(const KernelTable& k, const double* p, int kind, std::size_t n, double* out) {
  k.sigma_f64(p, kind, n, out);
}
// The reductions' scratch block (kernel_table.hpp), for tiles of up to `width` columns.
std::vector<double> scratch_for(std::size_t width, std::size_t value_size) {
  return std::vector<double>(reparam::reduce_scratch(width, value_size).bytes / sizeof(double) + 1);
}
void call_reduce(const KernelTable& k, int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror,
                 const float* eps_in, const float* g, std::size_t wcols, std::size_t inner, std::size_t batch,
                 std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, double* acc, std::size_t stride,
                 const reparam::Centring& rc_centring = {}) {
  std::vector<double> scratch = scratch_for(c1 - c0, sizeof(float));
  k.reduce_f32(mode, sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, stride, batch, rc_centring,
               scratch.data());
}
void call_reduce(const KernelTable& k, int mode, const StreamKey& sk, std::uint64_t start, std::size_t mirror,
                 const double* eps_in, const double* g, std::size_t wcols, std::size_t inner, std::size_t batch,
                 std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, double* acc, std::size_t stride,
                 const reparam::Centring& rc_centring = {}) {
  std::vector<double> scratch = scratch_for(c1 - c0, sizeof(double));
  k.reduce_f64(mode, sk, start, mirror, eps_in, g, wcols, inner, batch, r0, r1, c0, c1, acc, stride, batch, rc_centring,
               scratch.data());
}
void fill_normal_t(const KernelTable& k, const StreamKey& sk, std::uint64_t start, std::size_t n, float* out) {
  k.fill_normal_f32(sk, start, n, out, false);
}
void fill_normal_t(const KernelTable& k, const StreamKey& sk, std::uint64_t start, std::size_t n, double* out) {
  k.fill_normal_f64(sk, start, n, out, false);
}

// For a failure message: both values NaN, so only the payload or sign differs.
template <class T>
const char* nan_note(T a, T b) {
  return a != a && b != b ? " (both NaN: payload/sign differ)" : "";
}

// Index of the first differing byte's element.
template <class T>
std::size_t first_diff(const T* a, const T* b, std::size_t n) {
  std::size_t i = 0;
  while (i < n && std::memcmp(a + i, b + i, sizeof(T)) == 0) ++i;
  return i;
}

// ---- affine_normal

struct AffineCase {
  std::size_t id;
  int kind;
  std::size_t batch, rows;
  bool antithetic;
  std::uint64_t start;
};

template <class T>
void affine_inputs(const AffineCase& ac, T* loc, T* param) {
  const SpecialList ps = param_specials(ac.kind);
  const SpecialList ls = list_of(kLocSpecials);
  const std::uint64_t seed = 0xAFF1000000000000ull + ac.id;
  const std::size_t shift = ac.id * 7;
  for (std::size_t c = 0; c < ac.batch; ++c) {
    if (splitmix64(seed * 31 + c) % 4 == 0) {  // an ordinary column
      loc[c] = T(uniform_in(seed, 2 * c, -5.0, 5.0));
      param[c] = T(ordinary_param(ac.kind, seed, 2 * c + 1));
    } else {  // every (loc, param) pair of specials once the batch is wide enough
      param[c] = special_value<T>(ps.v[(c + shift) % ps.n]);
      loc[c] = special_value<T>(ls.v[((c + shift) / ps.n + ac.id) % ls.n]);
    }
  }
}

template <class T>
void run_affine(const AffineCase& ac, const std::vector<Target>& targets, NewTotals& tot) {
  char label[32];
  std::snprintf(label, sizeof label, "a%zu", ac.id);
  const bool detail = g_only == label;
  if (!g_only.empty() && !detail) return;
  const StreamKey sk = new_case_key(ac.id);
  const std::size_t batch = ac.batch, rows = ac.rows, noise = rows * batch;
  const std::size_t total = ac.antithetic ? 2 * noise : noise, mirror = ac.antithetic ? noise : 0;
  // inputs at a misaligning offset
  const std::size_t in_off = ac.id % 3;
  std::vector<T> lbuf(batch + in_off), pbuf(batch + in_off);
  T* loc = lbuf.data() + in_off;
  T* param = pbuf.data() + in_off;
  affine_inputs(ac, loc, param);
  char desc[200];
  std::snprintf(desc, sizeof desc, "%s affine_%s kind=%s batch=%zu rows=%zu mirror=%zu %s start=%" PRIu64, label,
                dtype_name<T>(), kParamKindName[ac.kind], batch, rows, mirror, key_desc(sk).c_str(), ac.start);

  auto run = [&](const KernelTable& k, const Tiling& tl, T* out, bool streaming = false) {
    for_tiles(tl, rows, batch, [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
      call_affine(k, sk, ac.start, r0, r1, c0, c1, batch, loc, param, ac.kind, out, mirror, streaming);
    });
  };
  // scalar, bindings' tiling, after a 0x00 fill: the reference
  std::vector<T> ref(total + kGuard, T(0)), buf(total + kGuard + kMaxOffset);
  run(*targets[0].table, kTilings[0], ref.data());
  if (!all_pattern(ref.data() + total, kGuard, 0x00)) fail("%s: scalar wrote past the end", desc);
  const std::uint64_t h = fnv1a(ref.data(), total);
  // every target (scalar too) with every tiling, after a 0xFF fill at an offset: an
  // element a target leaves unwritten differs from the reference; a last pass with the
  // bindings' tiling and streaming stores (ti == kNumTilings)
  for (std::size_t t = 0; t < targets.size(); ++t) {
    std::uint64_t th = kFnvOffset;
    for (std::size_t tj = 0; tj <= kNumTilings; ++tj) {
      const bool streaming = tj == kNumTilings;
      const std::size_t ti = streaming ? 0 : tj;
      if (t == 0 && tj == 0) {
        th = fnv1a(&h, 1, th);
        continue;
      }
      const std::size_t off = (ac.id + t + tj) % (kMaxOffset + 1);
      fill_pattern(buf.data(), buf.size(), 0xFF);
      T* out = buf.data() + off;
      run(*targets[t].table, kTilings[ti], out, streaming);
      if (!all_pattern(buf.data(), off, 0xFF) || !all_pattern(out + total, kGuard, 0xFF))
        fail("%s: target %s (tiling %s%s) wrote outside out[0..%zu)", desc, targets[t].name.c_str(),
             kTilings[ti].name, streaming ? ", streaming" : "", total);
      const std::size_t i = first_diff(out, ref.data(), total);
      if (i < total)
        fail("%s: target %s (tiling %s%s) differs from scalar (tiling bind) at flat index %zu (row %zu, col %zu%s): "
             "%s vs %s%s; loc=%s param=%s",
             desc, targets[t].name.c_str(), kTilings[ti].name, streaming ? ", streaming" : "", i, (i % noise) / batch, i % batch,
             i >= noise ? ", mirrored" : "", hex_of(out[i]).c_str(), hex_of(ref[i]).c_str(), nan_note(out[i], ref[i]),
             hex_of(loc[i % batch]).c_str(), hex_of(param[i % batch]).c_str());
      const std::uint64_t hv = fnv1a(out, total);
      th = fnv1a(&hv, 1, th);
    }
    tot.target_hash[t] = fnv1a(&th, 1, tot.target_hash[t]);
  }
  ++tot.cases;
  tot.values += total;
  tot.hash = fnv1a(&h, 1, tot.hash);
  if (detail) {  // inputs, noise and output of every element
    std::vector<T> eps(noise);
    fill_normal_t(*targets[0].table, sk, ac.start, noise, eps.data());
    std::printf("%s\n", desc);
    for (std::size_t i = 0; i < total; ++i) {
      const std::size_t j = i % noise, c = j % batch;
      std::printf("%s i=%zu r=%zu c=%zu %s loc=%s param=%s eps=%s z=%s\n", label, i, j / batch, c,
                  i >= noise ? "-" : "+", hex_of(loc[c]).c_str(), hex_of(param[c]).c_str(), hex_of(eps[j]).c_str(),
                  hex_of(ref[i]).c_str());
    }
    return;
  }
  std::printf("%s n=%zu nan=%zu fnv=%016" PRIx64 " v=%s\n", desc, total, count_nan(ref.data(), total), h,
              first_hex(ref.data(), total).c_str());
}

// ---- sigma

template <class T>
void run_sigma(std::size_t id, int kind, const std::vector<Target>& targets, NewTotals& tot) {
  char label[32];
  std::snprintf(label, sizeof label, "s%zu", id);
  const bool detail = g_only == label;
  if (!g_only.empty() && !detail) return;
  // every special of the kind, then ordinary values (and the loc specials, for range)
  const SpecialList ps = param_specials(kind);
  std::vector<T> p;
  for (std::size_t i = 0; i < ps.n; ++i) p.push_back(special_value<T>(ps.v[i]));
  for (std::size_t i = 0; i < 16; ++i) p.push_back(T(ordinary_param(kind, 0x516A000000000000ull + id, i)));
  if (kind >= 2)
    for (const Special& s : kLocSpecials) p.push_back(special_value<T>(s));
  const std::size_t n = p.size();
  char desc[96];
  std::snprintf(desc, sizeof desc, "%s sigma_%s kind=%s", label, dtype_name<T>(), kParamKindName[kind]);
  std::vector<T> ref(n + kGuard, T(0)), buf(n + kGuard + kMaxOffset), pin(n + kMaxOffset);
  call_sigma(*targets[0].table, p.data(), kind, n, ref.data());
  if (!all_pattern(ref.data() + n, kGuard, 0x00)) fail("%s: scalar wrote past the end", desc);
  const std::uint64_t h = fnv1a(ref.data(), n);
  // every target: the whole list, and every prefix up to 19 (the tail path), misaligned
  for (std::size_t t = 0; t < targets.size(); ++t) {
    std::uint64_t th = t == 0 ? fnv1a(&h, 1, kFnvOffset) : kFnvOffset;
    for (std::size_t m = 0; m <= 19 && m <= n; ++m) {
      const std::size_t len = m == 0 ? n : m;
      if (t == 0 && len == n) continue;
      const std::size_t off = (t + m) % (kMaxOffset + 1);
      std::memcpy(pin.data() + (m % 3), p.data(), len * sizeof(T));
      fill_pattern(buf.data(), buf.size(), 0xFF);
      T* out = buf.data() + off;
      call_sigma(*targets[t].table, pin.data() + (m % 3), kind, len, out);
      if (!all_pattern(buf.data(), off, 0xFF) || !all_pattern(out + len, kGuard, 0xFF))
        fail("%s: target %s n=%zu wrote outside out[0..n)", desc, targets[t].name.c_str(), len);
      const std::size_t i = first_diff(out, ref.data(), len);
      if (i < len)
        fail("%s: target %s n=%zu differs from scalar at %zu: param=%s sigma=%s vs %s%s", desc,
             targets[t].name.c_str(), len, i, hex_of(p[i]).c_str(), hex_of(out[i]).c_str(), hex_of(ref[i]).c_str(),
             nan_note(out[i], ref[i]));
      if (len == n) {
        const std::uint64_t hv = fnv1a(out, n);
        th = fnv1a(&hv, 1, th);
      }
    }
    tot.target_hash[t] = fnv1a(&th, 1, tot.target_hash[t]);
  }
  ++tot.cases;
  tot.values += n;
  tot.hash = fnv1a(&h, 1, tot.hash);
  std::printf("%s n=%zu nan=%zu fnv=%016" PRIx64 "\n", desc, n, count_nan(ref.data(), n), h);
  // the values themselves: few, and a difference is then readable in the diff
  for (std::size_t i = 0; i < n; ++i)
    std::printf("%s i=%zu param=%s sigma=%s\n", label, i, hex_of(p[i]).c_str(), hex_of(ref[i]).c_str());
}

// ---- chain rule: dsigma/dparam (float64) and the fused pathwise finish (sums -> T)

template <class T>
void run_chain(std::size_t id, int kind, const std::vector<Target>& targets, NewTotals& tot) {
  char label[32];
  std::snprintf(label, sizeof label, "c%zu", id);
  if (!g_only.empty() && g_only != label) return;
  // the parameter specials and ordinary values, against sums that are specials too
  const SpecialList ps = param_specials(kind);
  std::vector<T> p;
  for (std::size_t i = 0; i < ps.n; ++i) p.push_back(special_value<T>(ps.v[i]));
  for (std::size_t i = 0; i < 16; ++i) p.push_back(T(ordinary_param(kind, 0xC4A1000000000000ull + id, i)));
  const std::size_t n = p.size();
  std::vector<double> sx(n), sy(n);
  for (std::size_t i = 0; i < n; ++i) {
    sx[i] = special_value<double>(kLocSpecials[i % (sizeof kLocSpecials / sizeof kLocSpecials[0])]);
    sy[i] = ordinary_param(0, 0x5C4A000000000000ull + id, i) - 2.0;
  }
  const double scale = 1.0 / 7.0;
  char desc[96];
  std::snprintf(desc, sizeof desc, "%s chain_%s kind=%s", label, dtype_name<T>(), kParamKindName[kind]);
  std::vector<double> ref_ds(n);
  std::vector<T> ref_dl(2 * n), ref_dp(2 * n);  // pathwise, then score function
  call_chain(*targets[0].table, p.data(), kind, n, sx.data(), sy.data(), scale, ref_ds.data(), ref_dl.data(),
             ref_dp.data());
  std::uint64_t h = fnv1a(ref_ds.data(), n);
  h = fnv1a(ref_dl.data(), 2 * n, h);
  h = fnv1a(ref_dp.data(), 2 * n, h);
  // every target: the whole list, and every prefix up to 19 (the tail path)
  for (std::size_t t = 0; t < targets.size(); ++t) {
    for (std::size_t m = 1; m <= n; m = m < 19 ? m + 1 : (m == n ? n + 1 : n)) {
      std::vector<double> ds(m);
      std::vector<T> dl(2 * m), dp(2 * m);
      call_chain(*targets[t].table, p.data(), kind, m, sx.data(), sy.data(), scale, ds.data(), dl.data(), dp.data());
      for (int score = 0; score < 2; ++score) {
        const std::size_t a = first_diff(ds.data(), ref_ds.data(), m),
                          b = first_diff(dl.data() + score * m, ref_dl.data() + score * n, m),
                          c = first_diff(dp.data() + score * m, ref_dp.data() + score * n, m);
        if (a < m || b < m || c < m)
          fail("%s: target %s n=%zu %s differs from scalar (dsigma at %zu, d_loc at %zu, d_param at %zu)", desc,
               targets[t].name.c_str(), m, score ? "score" : "pathwise", a, b, c);
      }
    }
    tot.target_hash[t] = fnv1a(&h, 1, tot.target_hash[t]);
  }
  if constexpr (sizeof(T) == 4) {  // float32 parameters, float64 results (grad_finish_f32_to_f64)
    auto wide = [&](const KernelTable& k, int score, std::vector<double>& dl, std::vector<double>& dp) {
      dl.assign(n, 0.0);
      dp.assign(n, 0.0);
      k.grad_finish_f32_to_f64(score, sx.data(), sy.data(), p.data(), kind, scale, n, dl.data(), dp.data());
    };
    for (int score = 0; score < 2; ++score) {
      std::vector<double> ref_wl, ref_wp, wl, wp;
      wide(*targets[0].table, score, ref_wl, ref_wp);
      h = fnv1a(ref_wl.data(), n, h);
      h = fnv1a(ref_wp.data(), n, h);
      for (std::size_t t = 1; t < targets.size(); ++t) {
        wide(*targets[t].table, score, wl, wp);
        const std::size_t a = first_diff(wl.data(), ref_wl.data(), n), b = first_diff(wp.data(), ref_wp.data(), n);
        if (a < n || b < n)
          fail("%s: target %s float64 %s results differ from scalar (d_loc at %zu, d_param at %zu)", desc,
               targets[t].name.c_str(), score ? "score" : "pathwise", a, b);
      }
      // rounded once to float32 they are the float32 results
      for (std::size_t i = 0; i < n; ++i) {
        const T wl32 = T(ref_wl[i]), wp32 = T(ref_wp[i]);
        if (std::memcmp(&wl32, &ref_dl[score * n + i], sizeof(T)) != 0 ||
            std::memcmp(&wp32, &ref_dp[score * n + i], sizeof(T)) != 0)
          fail("%s: float64 %s result %zu does not round to the float32 one", desc, score ? "score" : "pathwise", i);
      }
    }
  }
  ++tot.cases;
  tot.values += 5 * n;
  tot.hash = fnv1a(&h, 1, tot.hash);
  std::printf("%s n=%zu fnv=%016" PRIx64 "\n", desc, n, h);
  for (std::size_t i = 0; i < n; ++i)
    std::printf("%s i=%zu param=%s dsigma=%s d_loc=%s d_param=%s score d_loc=%s d_param=%s\n", label, i,
                hex_of(p[i]).c_str(), hex_of(ref_ds[i]).c_str(), hex_of(ref_dl[i]).c_str(), hex_of(ref_dp[i]).c_str(),
                hex_of(ref_dl[n + i]).c_str(), hex_of(ref_dp[n + i]).c_str());
}

// ---- reduce

struct ReduceCase {
  std::size_t id;
  int mode;
  std::size_t batch, rows, wcols, inner;
  bool eps_in;
  std::size_t mirror;
  std::uint64_t start;
  int centre = 0;  // score weights: 0 f itself; 1 f - b[j]; 2 (f * rows - b[j]) / (rows - 1)
};

template <class T>
void run_reduce(const ReduceCase& rc, const std::vector<Target>& targets, NewTotals& tot) {
  char label[32];
  std::snprintf(label, sizeof label, "r%zu", rc.id);
  const bool detail = g_only == label;
  if (!g_only.empty() && !detail) return;
  const StreamKey sk = new_case_key(rc.id);
  const bool score = rc.mode & 1, stats = rc.mode & 2;
  const std::size_t batch = rc.batch, rows = rc.rows, n = rows * batch;
  const std::size_t stride = batch + 3;           // acc rows are stride apart; 3 unused columns each
  const std::size_t acc_n = 4 * stride + kGuard;  // and a guard after the last
  const std::uint64_t seed = 0x4ED0000000000000ull + rc.id;
  char desc[220];
  std::snprintf(desc, sizeof desc,
                "%s reduce_%s mode=%d batch=%zu rows=%zu wcols=%zu inner=%zu eps=%s mirror=%zu %s start=%" PRIu64
                "%s",
                label, dtype_name<T>(), rc.mode, batch, rows, rc.wcols, rc.inner, rc.eps_in ? "in" : "gen",
                rc.mirror, key_desc(sk).c_str(), rc.start,
                rc.centre == 0 ? "" : rc.centre == 1 ? " centre=mean" : " centre=loo");

  // g (pathwise: rows x batch gradients; score: rows x wcols weights), at an offset
  const std::size_t gn = score ? rows * rc.wcols : n, off = rc.id % 3;
  std::vector<T> gbuf(gn + off), ebuf(n + off);
  T* g = gbuf.data() + off;
  const SpecialList gs = list_of(kGradSpecials), es = list_of(kEpsSpecials);
  for (std::size_t i = 0; i < gn; ++i)
    g[i] = splitmix64(seed * 13 + i) % 23 == 0 ? special_value<T>(gs.v[splitmix64(seed + i) % gs.n])
                                               : T(uniform_in(seed, i, -3.0, 3.0));
  // the stream's noise, as the kernel regenerates it (also the stored eps, with specials)
  std::vector<T> stream(n);
  fill_normal_t(*targets[0].table, sk, rc.start, n, stream.data());
  T* eps = nullptr;
  if (rc.eps_in) {
    eps = ebuf.data() + off;
    for (std::size_t i = 0; i < n; ++i)
      eps[i] = splitmix64(seed * 17 + i) % 29 == 0 ? special_value<T>(es.v[splitmix64(seed ^ i) % es.n]) : stream[i];
  }
  // acc: a non-zero pattern (the kernel adds to it), unused columns and guard marked
  std::vector<double> init(acc_n);
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t c = 0; c < stride; ++c)
      init[k * stride + c] = c < batch ? double(k + 1) * 0.375 + double(c) * 0.0625 - 7.0 : 1234.5;
  for (std::size_t i = 4 * stride; i < acc_n; ++i) init[i] = -4321.25;

  // score weights centred by b (as the baselines "mean" and "loo" do): the values of b
  // are arbitrary here, ordinary and special, on the scale of the weights
  std::vector<double> centre_b(score ? rc.wcols : 0);
  for (std::size_t j = 0; j < centre_b.size(); ++j)
    centre_b[j] = j % 7 == 5 ? double(special_value<T>(gs.v[j % gs.n])) : uniform_in(seed ^ 0xCE, j, -2.0, 2.0);
  reparam::Centring cen;
  if (rc.centre != 0)
    cen = reparam::Centring{centre_b.data(), rc.centre == 1 ? 1.0 : double(rows),
                            rc.centre == 1 ? 1.0 : double(rows) - 1.0};
  // plain-loop reference: each column's rows in order, in float64; over more than
  // kReduceRowBlock rows, each block's sums from zero, added to acc in block order
  std::vector<double> want(init), block(acc_n);
  for (std::size_t c = 0; c < batch; ++c)
    for (std::size_t r = 0; r < rows; ++r) {
      const bool blocked = rows > kReduceRowBlock;
      if (blocked && r % kReduceRowBlock == 0)
        for (std::size_t k = 0; k < 4; ++k) block[k * stride + c] = 0.0;
      double* sum = blocked ? block.data() : want.data();
      const std::size_t i = r * batch + c;
      double e;
      if (eps != nullptr) e = double(eps[i]);
      else if (rc.mirror > 0 && i >= rc.mirror) e = 0.0 - double(stream[i - rc.mirror]);
      else e = double(stream[i]);
      double p, q;
      if (score) {
        const std::size_t j = c / rc.inner;
        const double f = double(g[r * rc.wcols + j]);
        const double w = cen.b == nullptr ? f : double(T((f * cen.a - cen.b[j]) / cen.c));
        p = w * e;
        q = w * (e * e - 1.0);
      } else {
        p = double(g[i]);
        q = p * e;
      }
      sum[c] += p;
      sum[2 * stride + c] += q;
      if (stats) {
        sum[stride + c] += p * p;
        sum[3 * stride + c] += q * q;
      }
      if (blocked && ((r + 1) % kReduceRowBlock == 0 || r + 1 == rows))
        for (std::size_t k = 0; k < 4; ++k)
          if (stats || k % 2 == 0) want[k * stride + c] += block[k * stride + c];
    }

  auto run = [&](const KernelTable& k, const Tiling& tl, double* acc) {
    for_tiles(tl, rows, batch, [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
      call_reduce(k, rc.mode, sk, rc.start, rc.mirror, eps, g, rc.wcols, rc.inner, batch, r0, r1, c0, c1, acc + c0,
                  stride, cen);
    });
  };
  std::vector<double> ref(init), buf(acc_n);
  run(*targets[0].table, kTilings[0], ref.data());
  for (std::size_t k = 0; k < 4; ++k) {
    if (!stats && (k == 1 || k == 3) &&
        std::memcmp(ref.data() + k * stride, init.data() + k * stride, batch * sizeof(double)) != 0)
      fail("%s: scalar wrote acc row %zu without the stats bit", desc, k);
    if (std::memcmp(ref.data() + k * stride + batch, init.data() + k * stride + batch, 3 * sizeof(double)) != 0)
      fail("%s: scalar wrote acc row %zu past column batch-1", desc, k);
  }
  if (std::memcmp(ref.data() + 4 * stride, init.data() + 4 * stride, kGuard * sizeof(double)) != 0)
    fail("%s: scalar wrote past acc", desc);
  // (bit for bit, except that which NaN a sum of two NaNs gives is up to the compiler
  // for this loop, so there any NaN matches any NaN; the targets are compared as bytes)
  for (std::size_t i = 0; i < acc_n; ++i)
    if (!(ref[i] != ref[i] && want[i] != want[i]) && std::memcmp(&ref[i], &want[i], sizeof(double)) != 0) {
      fail("%s: scalar differs from the plain-loop reference at acc[%zu][%zu]: %s vs %s", desc, i / stride,
           i % stride, hex_of(ref[i]).c_str(), hex_of(want[i]).c_str());
      break;
    }
  const std::uint64_t h = fnv1a(ref.data(), acc_n);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    std::uint64_t th = kFnvOffset;
    for (std::size_t ti = 0; ti < kNumTilings; ++ti) {
      if (t == 0 && ti == 0) {
        th = fnv1a(&h, 1, th);
        continue;
      }
      // (the kernel's row blocks count from r0: a split into other row blocks sums otherwise)
      if (rows > kReduceRowBlock && kTilings[ti].row_block != 0) continue;
      buf = init;
      run(*targets[t].table, kTilings[ti], buf.data());
      const std::size_t i = first_diff(buf.data(), ref.data(), acc_n);
      if (i < acc_n)
        fail("%s: target %s (tiling %s) differs from scalar (tiling bind) at acc[%zu][%zu]: %s vs %s%s", desc,
             targets[t].name.c_str(), kTilings[ti].name, i / stride, i % stride, hex_of(buf[i]).c_str(),
             hex_of(ref[i]).c_str(), nan_note(buf[i], ref[i]));
      const std::uint64_t hv = fnv1a(buf.data(), acc_n);
      th = fnv1a(&hv, 1, th);
    }
    tot.target_hash[t] = fnv1a(&th, 1, tot.target_hash[t]);
  }
  ++tot.cases;
  tot.values += 4 * batch;
  tot.hash = fnv1a(&h, 1, tot.hash);
  if (detail) {
    std::printf("%s\n", desc);
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t c = 0; c < batch; ++c)
        std::printf("%s acc[%zu][%zu] init=%s sum=%s\n", label, k, c, hex_of(init[k * stride + c]).c_str(),
                    hex_of(ref[k * stride + c]).c_str());
    return;
  }
  std::printf("%s nan=%zu fnv=%016" PRIx64 " v=%s\n", desc, count_nan(ref.data(), acc_n), h,
              first_hex(ref.data(), batch).c_str());
}

// ---- the fused estimator tiles: equal to reduce (1024-column tiles) + grad_finish

void call_tiles(const KernelTable& k, int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror,
                const float* eps, const float* g, std::size_t g_stride, std::size_t wcols, std::size_t inner,
                const reparam::Centring& cen, std::size_t rows, std::size_t batch, std::size_t t0, std::size_t t1,
                const float* p, int kind, double scale, float* dl, float* dp) {
  std::vector<double> scratch = scratch_for(std::min<std::size_t>(batch, 1024), sizeof(float));
  k.grad_tiles_f32(score, sk, start, mirror, eps, g, g_stride, wcols, inner, cen, rows, batch, t0, t1, p, kind, scale,
                   dl, dp, scratch.data());
}
void call_tiles(const KernelTable& k, int score, const StreamKey& sk, std::uint64_t start, std::size_t mirror,
                const double* eps, const double* g, std::size_t g_stride, std::size_t wcols, std::size_t inner,
                const reparam::Centring& cen, std::size_t rows, std::size_t batch, std::size_t t0, std::size_t t1,
                const double* p, int kind, double scale, double* dl, double* dp) {
  std::vector<double> scratch = scratch_for(std::min<std::size_t>(batch, 1024), sizeof(double));
  k.grad_tiles_f64(score, sk, start, mirror, eps, g, g_stride, wcols, inner, cen, rows, batch, t0, t1, p, kind, scale,
                   dl, dp, scratch.data());
}

// One case of the fused tiles. Pathwise (score = false): g is rows x batch gradients, or
// with one_row a single row that every row repeats. Score function: g is rows x wcols
// weights (wcols = batch / inner), centred as reduce's cases are when centre > 0.
struct TileCase {
  std::size_t id;
  int kind;
  std::size_t rows, batch;
  int src;  // 0 stored eps; 1 regenerated; 2 regenerated with a mirror
  bool one_row = false;
  bool score = false;
  std::size_t inner = 1;
  int centre = 0;
};

template <class T>
void run_tiles(const TileCase& tc, const std::vector<Target>& targets, NewTotals& tot) {
  char label[32];
  std::snprintf(label, sizeof label, "t%zu", tc.id);
  if (!g_only.empty() && g_only != label) return;
  const std::size_t id = tc.id, rows = tc.rows, batch = tc.batch, inner = tc.inner, wcols = batch / inner;
  const bool one_row = tc.one_row;
  const StreamKey sk = new_case_key(id);
  const std::uint64_t start = 3 * id + 1, seed = 0x7115000000000000ull + id;
  const std::size_t n = rows * batch, mirror = tc.src == 2 ? (rows + 1) / 2 * batch : 0;
  const std::size_t gn = tc.score ? rows * wcols : n;
  // g: all rows (for the reference; with one_row every row repeats the first). The
  // kernels under test read gk with row stride 0 when one_row: its first row is g's,
  // the rest other values, so reading past the first row shows.
  std::vector<T> g(gn), gk(gn), eps(tc.src == 0 ? n : 0), p(batch);
  for (std::size_t i = 0; i < gn; ++i) {
    g[i] = T(uniform_in(seed, one_row ? i % batch : i, -3.0, 3.0));
    gk[i] = one_row && i >= batch ? T(uniform_in(~seed, i, -3.0, 3.0)) : g[i];
  }
  const std::size_t g_stride = one_row ? 0 : batch;
  if (tc.src == 0) fill_normal_t(*targets[0].table, sk, start, n, eps.data());
  const SpecialList ps = param_specials(tc.kind);
  for (std::size_t i = 0; i < batch; ++i)
    p[i] = i % 97 < ps.n ? special_value<T>(ps.v[i % 97]) : T(ordinary_param(tc.kind, seed, i));
  std::vector<double> centre_b(tc.score ? wcols : 0);
  for (std::size_t j = 0; j < centre_b.size(); ++j) centre_b[j] = uniform_in(seed ^ 0xCE, j, -2.0, 2.0);
  reparam::Centring cen;
  if (tc.centre != 0)
    cen = reparam::Centring{centre_b.data(), tc.centre == 1 ? 1.0 : double(rows),
                            tc.centre == 1 ? 1.0 : double(rows) - 1.0};
  const T* e = tc.src == 0 ? eps.data() : nullptr;
  const double scale = 1.0 / double(rows);
  char desc[160];
  std::snprintf(desc, sizeof desc, "%s grad_tiles_%s %s kind=%s rows=%zu batch=%zu eps=%s mirror=%zu g=%s%s", label,
                dtype_name<T>(), tc.score ? "score" : "pathwise", kParamKindName[tc.kind], rows, batch,
                tc.src == 0 ? "in" : "gen", mirror,
                tc.score ? (inner == 1 ? "per-column" : "per-run") : one_row ? "one-row" : "rows",
                tc.centre == 0 ? "" : tc.centre == 1 ? " centre=mean" : " centre=loo");
  // reference: the scalar target's sums per 1024-column tile, then its chain rule
  std::vector<double> acc(4 * 1024);
  std::vector<T> ref_dl(batch), ref_dp(batch);
  for (std::size_t c0 = 0; c0 < batch; c0 += 1024) {
    const std::size_t c1 = std::min(batch, c0 + 1024), m = c1 - c0;
    std::fill(acc.begin(), acc.end(), 0.0);
    call_reduce(*targets[0].table, tc.score ? 1 : 0, sk, start, mirror, e, g.data(), tc.score ? wcols : 1,
                tc.score ? inner : 1, batch, 0, rows, c0, c1, acc.data(), 1024, cen);
    std::vector<double> ds(m);
    std::vector<T> dl(2 * m), dp(2 * m);  // call_chain: pathwise, then score function
    call_chain(*targets[0].table, p.data() + c0, tc.kind, m, acc.data(), acc.data() + 2048, scale, ds.data(),
               dl.data(), dp.data());
    const std::size_t at = tc.score ? m : 0;
    std::copy(dl.begin() + at, dl.begin() + at + m, ref_dl.begin() + c0);
    std::copy(dp.begin() + at, dp.begin() + at + m, ref_dp.begin() + c0);
  }
  std::uint64_t h = fnv1a(ref_dl.data(), batch);
  h = fnv1a(ref_dp.data(), batch, h);
  const std::size_t tiles = (batch + 1023) / 1024;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    // all tiles in one call, and split in two calls (as tasks split them)
    for (std::size_t split : {tiles, tiles / 2}) {
      std::vector<T> dl(batch), dp(batch);
      for (auto [t0, t1] : {std::pair<std::size_t, std::size_t>{0, split}, {split, tiles}})
        call_tiles(*targets[t].table, tc.score, sk, start, mirror, e, gk.data(), g_stride, wcols, inner, cen, rows,
                   batch, t0, t1, p.data(), tc.kind, scale, dl.data(), dp.data());
      const std::size_t a = first_diff(dl.data(), ref_dl.data(), batch), b = first_diff(dp.data(), ref_dp.data(), batch);
      if (a < batch || b < batch)
        fail("%s: target %s (split at tile %zu) differs from scalar reduce + chain (d_loc at %zu, d_param at %zu)",
             desc, targets[t].name.c_str(), split, a, b);
    }
    tot.target_hash[t] = fnv1a(&h, 1, tot.target_hash[t]);
  }
  ++tot.cases;
  tot.values += 2 * batch;
  tot.hash = fnv1a(&h, 1, tot.hash);
  std::printf("%s fnv=%016" PRIx64 " v=%s\n", desc, h, first_hex(ref_dp.data(), batch).c_str());
}

// All cases of the kernels, in a fixed order (labels a<id>, s<id>, c<id>, r<id>, t<id>).
void run_new_kernels(const std::vector<Target>& targets, std::vector<NewTotals>& totals) {
  for (NewTotals& t : totals) t.target_hash.assign(targets.size(), kFnvOffset);
  const std::size_t kBatches[] = {1, 3, 8, 1000, 1030};
  const std::size_t kRows[] = {1, 2, 5, 17};
  constexpr std::size_t kNumStarts = sizeof kNewStarts / sizeof kNewStarts[0];

  std::size_t id = 0;
  for (int f64 = 0; f64 < 2; ++f64)
    for (int kind = 0; kind < kNumParamKinds; ++kind)
      for (std::size_t batch : kBatches)
        for (std::size_t rows : kRows)
          for (int anti = 0; anti < 2; ++anti, ++id) {
            const AffineCase ac{id, kind, batch, rows, anti == 1, kNewStarts[id % kNumStarts]};
            if (f64) run_affine<double>(ac, targets, totals[kAffineF64]);
            else run_affine<float>(ac, targets, totals[kAffineF32]);
          }

  id = 0;
  for (int f64 = 0; f64 < 2; ++f64)
    for (int kind = 0; kind < kNumParamKinds; ++kind, ++id) {
      if (f64) run_sigma<double>(id, kind, targets, totals[kSigmaF64]);
      else run_sigma<float>(id, kind, targets, totals[kSigmaF32]);
    }

  id = 0;
  for (int f64 = 0; f64 < 2; ++f64)
    for (int kind = 0; kind < kNumParamKinds; ++kind, ++id) {
      if (f64) run_chain<double>(id, kind, targets, totals[kChainF64]);
      else run_chain<float>(id, kind, targets, totals[kChainF32]);
    }

  // batch, wcols, inner: the score function's weights are per (row, column / inner)
  struct Shape {
    std::size_t batch, wcols, inner;
  };
  const Shape kShapes[] = {{1, 1, 1}, {3, 1, 3}, {6, 2, 3}, {8, 4, 2}, {1000, 1000, 1}, {1030, 103, 10}};
  id = 0;
  for (int f64 = 0; f64 < 2; ++f64)
    for (int mode = 0; mode < 4; ++mode)
      for (const Shape& s : kShapes)
        for (std::size_t rows : kRows)
          for (int src = 0; src < 3; ++src) {  // stored eps; regenerated; regenerated with a mirror
            if (src == 2 && rows == 1) continue;
            // antithetic halves: the second half of the rows (odd counts: past the middle row)
            const std::size_t mirror = src == 2 ? (rows + 1) / 2 * s.batch : 0;
            // odd starts (as a Generator's position can be), one past 2**32
            const std::uint64_t start = (id % 3 == 2) ? 0x100000001ull + 2 * id : 2 * id + 1;
            const ReduceCase rc{id, mode, s.batch, rows, s.wcols, s.inner, src == 0, mirror, start};
            if (f64) run_reduce<double>(rc, targets, totals[kReduceF64]);
            else run_reduce<float>(rc, targets, totals[kReduceF32]);
            ++id;
          }
  // the score function's weights centred by a baseline (mean-like and leave-one-out-like)
  for (int f64 = 0; f64 < 2; ++f64)
    for (int mode : {1, 3})
      for (const Shape& s : kShapes)
        for (std::size_t rows : kRows)
          for (int src = 0; src < 2; ++src)
            for (int centre = 1; centre <= 2; ++centre, ++id) {
              const ReduceCase rc{id, mode, s.batch, rows, s.wcols, s.inner, src == 0, 0, 2 * id + 1, centre};
              if (f64) run_reduce<double>(rc, targets, totals[kReduceF64]);
              else run_reduce<float>(rc, targets, totals[kReduceF32]);
            }
  // more rows than one block (kReduceRowBlock): block sums added in order
  for (int f64 = 0; f64 < 2; ++f64)
    for (int mode = 0; mode < 4; ++mode)
      for (int src = 0; src < 3; ++src, ++id) {
        const std::size_t rows = 2 * kReduceRowBlock + 5, batch = 3;
        const std::size_t mirror = src == 2 ? (rows + 1) / 2 * batch : 0;
        const ReduceCase rc{id, mode, batch, rows, 1, batch, src == 0, mirror, 2 * id + 1};
        if (f64) run_reduce<double>(rc, targets, totals[kReduceF64]);
        else run_reduce<float>(rc, targets, totals[kReduceF32]);
      }

  // shapes: one partial tile; two tiles with a partial vector; five tiles, 16 rows
  // (slices of a tile's chain rule between the next tile's passes); an odd row count;
  // more rows than one block of the sums
  struct TileShape {
    std::size_t rows, batch;
  };
  const TileShape kTileShapes[] = {{1, 5}, {2, 1030}, {16, 5000}, {7, 3001}, {kReduceRowBlock + 7, 9}};
  id = 0;
  for (int f64 = 0; f64 < 2; ++f64)
    for (int kind = 0; kind < kNumParamKinds; ++kind)
      for (const TileShape& ts : kTileShapes)
        for (int src = 0; src < 6; ++src, ++id) {  // stored eps; regenerated; with a mirror; x (g rows, one row)
          if ((src % 3 == 2 || src >= 3) && ts.rows == 1) continue;
          const TileCase tc{id, kind, ts.rows, ts.batch, src % 3, src >= 3};
          if (f64) run_tiles<double>(tc, targets, totals[kTilesF64]);
          else run_tiles<float>(tc, targets, totals[kTilesF32]);
        }
  // the score function: a weight per column or per run of inner columns, centred or not
  for (int f64 = 0; f64 < 2; ++f64)
    for (int kind = 0; kind < kNumParamKinds; ++kind)
      for (const TileShape& ts : kTileShapes)
        for (int src = 0; src < 3; ++src)
          for (int variant = 0; variant < 4; ++variant, ++id) {  // per column; per run; mean; loo
            if (src == 2 && ts.rows == 1) continue;
            const std::size_t inner = variant == 1 ? (ts.batch % 3 == 0 ? 3 : ts.batch) : 1;
            const TileCase tc{id, kind, ts.rows, ts.batch, src, false, true, inner, variant >= 2 ? variant - 1 : 0};
            if (f64) run_tiles<double>(tc, targets, totals[kTilesF64]);
            else run_tiles<float>(tc, targets, totals[kTilesF32]);
          }
}

}  // namespace

// ---- the closed forms of the Normal (closed_form_f32, _f32_to_f64, _f64): every form,
// parameterization (and the other's, for kl) over edge inputs, each target equal to scalar
// bit for bit; the scalar checksum is printed (target-independent, so the aarch64 dump
// must print the same).
std::vector<double> closed_inputs(int which) {
  static const double kSpecial[] = {0.0, 5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-20, 1e-8,
                                    0x1p-52, 0.5, 0.5413248546129181, 1.0 - 0x1p-53, 1.0, 1.0 + 0x1p-52, 2.0,
                                    30.0, 350.0, 700.0, 700.1, 710.0, 800.0, 1001.0, 1e20, 1e300,
                                    1.7976931348623157e308, HUGE_VAL, NAN};
  constexpr std::size_t kS = sizeof kSpecial / sizeof kSpecial[0];
  std::vector<double> v;
  for (std::size_t a = 0; a < 2 * kS; ++a)
    for (std::size_t b = 0; b < 2 * kS; ++b) {
      const std::size_t k = which == 0 ? a : which == 1 ? b : (a * 7 + b * 3 + std::size_t(which)) % (2 * kS);
      v.push_back(k < kS ? kSpecial[k] : -kSpecial[k - kS]);
    }
  std::uint64_t st = 0x9E3779B97F4A7C15ull * std::uint64_t(which + 1);
  for (int i = 0; i < 3001; ++i) {  // sigma near 1 and wide values (an odd count: partial vectors)
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    const double u = double(st >> 11) * 0x1p-53;
    v.push_back(i % 3 == 0 ? (u - 0.5) * 3.0 : i % 3 == 1 ? 1.0 + (u - 0.5) * 1e-6 : (u - 0.5) * 600.0);
  }
  return v;
}

int run_closed_forms(const std::vector<Target>& targets) {
  const std::vector<double> loc = closed_inputs(0), par = closed_inputs(1), x = closed_inputs(2),
                            other = closed_inputs(3);
  const std::size_t n = loc.size();
  std::vector<float> loc32(n), par32(n), x32(n), other32(n);
  for (std::size_t i = 0; i < n; ++i) {
    loc32[i] = float(loc[i]);
    par32[i] = float(par[i]);
    x32[i] = float(x[i]);
    other32[i] = float(other[i]);
  }
  std::uint64_t hash = kFnvOffset;
  int cases = 0;
  for (int form = 0; form < 4; ++form)
    for (int kind = 0; kind < 5; ++kind)
      for (int ok = 0; ok < (form == 2 ? 5 : 1); ++ok)
        for (int dt = 0; dt < 3; ++dt) {  // f64, f32, f32 to f64
          std::vector<std::uint64_t> ref;
          for (std::size_t t = 0; t < targets.size(); ++t) {
            const KernelTable& k = *targets[t].table;
            std::vector<std::uint64_t> bits;
            if (dt == 1) {
              std::vector<float> v(n), gl(n), gp(n);
              k.closed_form_f32(form, kind, ok, n, loc32.data(), par32.data(), x32.data(), other32.data(), v.data(),
                                gl.data(), gp.data());
              for (const auto* a : {&v, &gl, &gp})
                for (float f : *a) bits.push_back(bits_of(f));
            } else {
              std::vector<double> v(n), gl(n), gp(n);
              if (dt == 0)
                k.closed_form_f64(form, kind, ok, n, loc.data(), par.data(), x.data(), other.data(), v.data(),
                                  gl.data(), gp.data());
              else
                k.closed_form_f32_to_f64(form, kind, ok, n, loc32.data(), par32.data(), x32.data(), other32.data(),
                                         v.data(), gl.data(), gp.data());
              for (const auto* a : {&v, &gl, &gp})
                for (double f : *a) bits.push_back(bits_of(f));
            }
            if (t == 0) {
              ref = bits;
              hash = fnv1a(ref.data(), ref.size(), hash);
            } else if (bits != ref) {
              fail("closed_form form=%d kind=%d other_kind=%d dtype=%d: %s differs from scalar", form, kind, ok, dt,
                   targets[t].name.c_str());
            }
          }
          ++cases;
        }
  std::printf("total closed_forms cases=%d values=%zu fnv=%016" PRIx64 "\n", cases, n, hash);
  return cases;
}

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      g_only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--only a<id>|s<id>|c<id>|r<id>]\n", argv[0]);
      return 2;
    }
  }

  // Targets: the module's own list (csrc/dispatch.cpp), scalar first.
  std::vector<Target> targets;
  std::string checked_names, skipped_names;
  for (const reparam::TargetInfo& ti : reparam::compiled_targets()) {
    if (ti.table == nullptr || std::strcmp(ti.table->name, ti.name.c_str()) != 0) {
      fail("target %s: kernel table missing or named \"%s\"", ti.name.c_str(), ti.table ? ti.table->name : "(null)");
      continue;
    }
    if (!ti.supported) {
      std::fprintf(stderr, "target %-7s compiled, not supported by this CPU: skipped\n", ti.name.c_str());
      skipped_names += (skipped_names.empty() ? "" : ",") + ti.name;
      continue;
    }
    targets.push_back({ti.name, ti.table});
    checked_names += (checked_names.empty() ? "" : ",") + ti.name;
  }
  if (targets.empty() || targets[0].name != "scalar") {
    std::fprintf(stderr, "FAIL: the scalar target is missing\n");
    return 1;
  }

  std::vector<NewTotals> new_totals(kNumNewKinds);
  if (!g_only.empty()) {  // one case of the affine, sigma or reduce kernels, every value
    run_new_kernels(targets, new_totals);
    std::size_t found = 0;
    for (const NewTotals& t : new_totals) found += t.cases;
    if (found == 0) {
      std::fprintf(stderr, "no case labelled %s\n", g_only.c_str());
      return 2;
    }
    if (g_failures > kMaxReported) std::fprintf(stderr, "... %d more failures not shown\n", g_failures - kMaxReported);
    std::fprintf(stderr, "RESULT targets_checked=%s case=%s failures=%d\n", checked_names.c_str(), g_only.c_str(),
                 g_failures);
    std::fflush(stdout);
    return g_failures == 0 ? 0 : 1;
  }

  std::printf("# reparam kernel_dump v2: scalar-target checksums (FNV-1a 64 over little-endian value bits)\n");
  const int kats = check_kats(targets);
  std::printf("# philox4x32 known answers: %zu vectors, checked through fill_raw of every supported target\n",
              sizeof kKats / sizeof kKats[0]);
  for (const Kat& k : kKats)
    std::printf("kat rounds=%d ctr=%08x.%08x.%08x.%08x key=%08x.%08x out=%08x.%08x.%08x.%08x\n", k.rounds, k.ctr[0],
                k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1], k.expect[0], k.expect[1], k.expect[2], k.expect[3]);

  const std::vector<Case> cases = make_cases(quick);
  std::size_t max_n = 0;
  for (const Case& c : cases) max_n = std::max(max_n, c.n);
  Buffers ref, scratch;
  ref.reserve(max_n);
  scratch.reserve(max_n);

  // Per (key, counter): each kind's scalar output from start 0, long enough to cover
  // every small case.
  constexpr std::size_t kLongRef = kSmallStarts + kSmallLengths;
  std::vector<std::uint32_t> long_raw(kLongRef), raw_ref(max_n);
  std::vector<float> long_nf32(kLongRef), long_uf32(kLongRef), long_ef32(kLongRef);
  std::vector<double> long_nf64(kLongRef), long_uf64(kLongRef), long_ef64(kLongRef);
  bool have_long = false;
  std::uint64_t long_key = 0;
  std::uint32_t long_ctr[4] = {0, 0, 0, 0};

  std::vector<KindTotals> totals(kNumKinds);
  std::vector<std::vector<std::uint64_t>> target_hash(kNumKinds, std::vector<std::uint64_t>(targets.size(), kFnvOffset));
  std::string first;
  std::size_t raw_checked = 0;

  for (std::size_t id = 0; id < cases.size(); ++id) {
    const Case& cs = cases[id];
    const StreamKey sk = stream_key(cs);
    const bool small = cs.start < kSmallStarts && cs.n <= kSmallLengths;
    if (small && (!have_long || long_key != cs.key || std::memcmp(long_ctr, cs.ctr, sizeof long_ctr) != 0)) {
      const KernelTable& s = *targets[0].table;
      s.fill_raw(sk, 0, kLongRef, long_raw.data(), false);
      s.fill_normal_f32(sk, 0, kLongRef, long_nf32.data(), false);
      s.fill_uniform_f32(sk, 0, kLongRef, long_uf32.data(), false);
      s.fill_normal_f64(sk, 0, kLongRef, long_nf64.data(), false);
      s.fill_uniform_f64(sk, 0, kLongRef, long_uf64.data(), false);
      s.fill_exponential_f32(sk, 0, kLongRef, long_ef32.data(), false);
      s.fill_exponential_f64(sk, 0, kLongRef, long_ef64.data(), false);
      have_long = true;
      long_key = cs.key;
      std::memcpy(long_ctr, cs.ctr, sizeof long_ctr);
    }
    for (int k = 0; k < kNumKinds; ++k) {
      const Kind kind = Kind(k);
      std::uint64_t h = 0;
      std::vector<std::uint64_t>& th = target_hash[k];
      switch (kind) {
        case kRaw:
          h = run_kind(id, cs, kind, targets, ref.u32, scratch.u32, small ? long_raw.data() : nullptr, th, first);
          raw_reference(sk, cs.start, cs.n, raw_ref.data());
          if (std::memcmp(raw_ref.data(), ref.u32.data(), cs.n * 4) != 0)
            fail("%s: scalar fill_raw differs from philox4x32<10>", case_desc(id, cs, kind).c_str());
          ++raw_checked;
          break;
        case kNormalF32:
          h = run_kind(id, cs, kind, targets, ref.f32, scratch.f32, small ? long_nf32.data() : nullptr, th, first);
          break;
        case kUniformF32:
          h = run_kind(id, cs, kind, targets, ref.f32, scratch.f32, small ? long_uf32.data() : nullptr, th, first);
          break;
        case kNormalF64:
          h = run_kind(id, cs, kind, targets, ref.f64, scratch.f64, small ? long_nf64.data() : nullptr, th, first);
          break;
        case kUniformF64:
          h = run_kind(id, cs, kind, targets, ref.f64, scratch.f64, small ? long_uf64.data() : nullptr, th, first);
          break;
        case kExponentialF32:
          h = run_kind(id, cs, kind, targets, ref.f32, scratch.f32, small ? long_ef32.data() : nullptr, th, first);
          break;
        case kExponentialF64:
          h = run_kind(id, cs, kind, targets, ref.f64, scratch.f64, small ? long_ef64.data() : nullptr, th, first);
          break;
        default: break;
      }
      totals[k].hash = fnv1a(&h, 1, totals[k].hash);
      totals[k].values += cs.n;
      std::printf("c%zu %s key=%016" PRIx64 " ctr=%08x%08x%08x%08x start=%" PRIu64 " n=%zu fnv=%016" PRIx64 " v=%s\n",
                  id, kKindName[k], cs.key, cs.ctr[3], cs.ctr[2], cs.ctr[1], cs.ctr[0], cs.start, cs.n, h,
                  first.c_str());
    }
  }
  for (int k = 0; k < kNumKinds; ++k)
    std::printf("total %s cases=%zu values=%" PRIu64 " fnv=%016" PRIx64 "\n", kKindName[k], cases.size(),
                totals[k].values, totals[k].hash);
  std::fflush(stdout);

  // The fused affine, sigma and reduction kernels (lines a<id>, s<id>, r<id>).
  std::printf("# affine_normal, sigma, reduce: every target and tiling equals scalar (tiling bind); values below\n");
  run_new_kernels(targets, new_totals);
  run_closed_forms(targets);
  for (int k = 0; k < kNumNewKinds; ++k)
    std::printf("total %s cases=%zu values=%" PRIu64 " fnv=%016" PRIx64 "\n", kNewKindName[k], new_totals[k].cases,
                new_totals[k].values, new_totals[k].hash);
  std::fflush(stdout);

  // Per-target report (stderr: its shape depends on the targets).
  for (std::size_t t = 0; t < targets.size(); ++t)
    for (int k = 0; k < kNumKinds; ++k)
      std::fprintf(stderr, "target %-7s %-11s cases=%zu fnv=%016" PRIx64 "%s\n", targets[t].name.c_str(),
                   kKindName[k], cases.size(), target_hash[k][t],
                   target_hash[k][t] == target_hash[k][0] ? (t ? " == scalar" : "") : " != scalar");
  for (std::size_t t = 0; t < targets.size(); ++t)
    for (int k = 0; k < kNumNewKinds; ++k)
      std::fprintf(stderr, "target %-7s %-11s cases=%zu fnv=%016" PRIx64 "%s\n", targets[t].name.c_str(),
                   kNewKindName[k], new_totals[k].cases, new_totals[k].target_hash[t],
                   t == 0 ? "" : " (every tiling; compared with scalar value by value)");
  if (g_failures > kMaxReported) std::fprintf(stderr, "... %d more failures not shown\n", g_failures - kMaxReported);
  std::fprintf(stderr, "known-answer checks: %d, fill_raw vs philox4x32<10>: %zu cases\n", kats, raw_checked);
  std::fprintf(stderr,
               "RESULT targets_checked=%s targets_skipped=%s cases=%zu kinds=%d affine_cases=%zu sigma_cases=%zu "
               "reduce_cases=%zu tiles_cases=%zu failures=%d\n",
               checked_names.c_str(), skipped_names.empty() ? "-" : skipped_names.c_str(), cases.size(),
               int(kNumKinds), new_totals[kAffineF32].cases + new_totals[kAffineF64].cases,
               new_totals[kSigmaF32].cases + new_totals[kSigmaF64].cases,
               new_totals[kReduceF32].cases + new_totals[kReduceF64].cases,
               new_totals[kTilesF32].cases + new_totals[kTilesF64].cases, g_failures);
  std::fflush(stdout);
  return g_failures == 0 ? 0 : 1;
}

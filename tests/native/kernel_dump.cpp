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
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "kernel_table.hpp"
#include "philox4x32.hpp"

namespace {

using reparam::Counter128;
using reparam::KernelTable;
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

enum Kind { kRaw, kNormalF32, kUniformF32, kNormalF64, kUniformF64, kNumKinds };
const char* const kKindName[kNumKinds] = {"raw", "normal_f32", "uniform_f32", "normal_f64", "uniform_f64"};

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
void call_kernel(const KernelTable& t, Kind kind, const StreamKey& sk, std::uint64_t start, std::size_t n, T* out);
template <>
void call_kernel(const KernelTable& t, Kind, const StreamKey& sk, std::uint64_t start, std::size_t n,
                 std::uint32_t* out) {
  t.fill_raw(sk, start, n, out);
}
template <>
void call_kernel(const KernelTable& t, Kind kind, const StreamKey& sk, std::uint64_t start, std::size_t n,
                 float* out) {
  (kind == kNormalF32 ? t.fill_normal_f32 : t.fill_uniform_f32)(sk, start, n, out);
}
template <>
void call_kernel(const KernelTable& t, Kind kind, const StreamKey& sk, std::uint64_t start, std::size_t n,
                 double* out) {
  (kind == kNormalF64 ? t.fill_normal_f64 : t.fill_uniform_f64)(sk, start, n, out);
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
        t.table->fill_raw(sk, 0, n, out.data());
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
  // every other target, misaligned by (id % 4) elements, after a 0xFF fill
  const std::size_t off = id % (kMaxOffset + 1);
  for (std::size_t t = 1; t < targets.size(); ++t) {
    T* out = buf.data() + off;
    fill_pattern(buf.data(), n + kGuard + off, 0xFF);
    call_kernel(*targets[t].table, kind, sk, cs.start, n, out);
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

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
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

  std::printf("# reparam kernel_dump v1: scalar-target checksums (FNV-1a 64 over little-endian value bits)\n");
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
  std::vector<float> long_nf32(kLongRef), long_uf32(kLongRef);
  std::vector<double> long_nf64(kLongRef), long_uf64(kLongRef);
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
      s.fill_raw(sk, 0, kLongRef, long_raw.data());
      s.fill_normal_f32(sk, 0, kLongRef, long_nf32.data());
      s.fill_uniform_f32(sk, 0, kLongRef, long_uf32.data());
      s.fill_normal_f64(sk, 0, kLongRef, long_nf64.data());
      s.fill_uniform_f64(sk, 0, kLongRef, long_uf64.data());
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

  // Per-target report (stderr: its shape depends on the targets).
  for (std::size_t t = 0; t < targets.size(); ++t)
    for (int k = 0; k < kNumKinds; ++k)
      std::fprintf(stderr, "target %-7s %-11s cases=%zu fnv=%016" PRIx64 "%s\n", targets[t].name.c_str(),
                   kKindName[k], cases.size(), target_hash[k][t],
                   target_hash[k][t] == target_hash[k][0] ? (t ? " == scalar" : "") : " != scalar");
  if (g_failures > kMaxReported) std::fprintf(stderr, "... %d more failures not shown\n", g_failures - kMaxReported);
  std::fprintf(stderr, "known-answer checks: %d, fill_raw vs philox4x32<10>: %zu cases\n", kats, raw_checked);
  std::fprintf(stderr, "RESULT targets_checked=%s targets_skipped=%s cases=%zu kinds=%d failures=%d\n",
               checked_names.c_str(), skipped_names.empty() ? "-" : skipped_names.c_str(), cases.size(),
               int(kNumKinds), g_failures);
  std::fflush(stdout);
  return g_failures == 0 ? 0 : 1;
}

#!/usr/bin/env bash
# Proves the NEON (AArch64) kernels give the same bits as the x86-64 kernels without
# AArch64 hardware: builds tests/native/kernel_dump.cpp natively (scalar, sse2, avx2,
# avx512 kernel objects) and cross-compiled for AArch64 (scalar, neon), runs the
# second under qemu-user, and diffs the two target-independent dumps. Each run also
# checks in-process that every target it can execute equals its own scalar target.
# Kernels: the stream fills (raw, normal, uniform) and the fused affine_normal, sigma,
# chain-rule (dsigma, grad_finish), gradient-reduction, fused estimator-tile and closed-form kernels (NaN and inf
# inputs included; compared as bytes). When the dumps differ, the first differing
# affine/reduce cases are rerun with --only and their differing values shown.
#
# Usage: tools/check_neon.sh [--install] [--quick] [--keep]
#   --install  apt-get install the cross toolchain and qemu-user if missing (Debian/Ubuntu, root or sudo)
#   --quick    skip the 100003-long cases
#   --keep     keep the build directory (printed at the end)
# Environment: CXX (native compiler, default g++), CROSS_CXX (default aarch64-linux-gnu-g++),
#   QEMU (default qemu-aarch64), BUILD_DIR (default: a fresh temporary directory).
# Exit status: 0 bit-identical, 1 a difference or a failed check, 2 a build or usage error,
#   77 skipped (cross toolchain or qemu missing and --install not given; or not an x86-64 host).
set -u -o pipefail

readonly SKIP=77
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CXX="${CXX:-g++}"
CROSS_CXX="${CROSS_CXX:-aarch64-linux-gnu-g++}"
QEMU="${QEMU:-qemu-aarch64}"
INSTALL=0
KEEP=0
DUMP_ARGS=()

for arg in "$@"; do
  case "$arg" in
    --install) INSTALL=1 ;;
    --quick) DUMP_ARGS+=(--quick) ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_neon.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

t_begin=$(date +%s.%N)
elapsed() { awk -v a="$t_begin" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "check_neon: $*"; }

case "$(uname -m)" in
  x86_64|amd64) ;;
  *) say "SKIPPED: this script compares against the x86-64 kernels and must run on an x86-64 host (this is $(uname -m))"
     exit $SKIP ;;
esac

if ! command -v "$CXX" >/dev/null 2>&1; then
  say "native compiler '$CXX' not found"; exit 2
fi

missing_tools() {
  local m=()
  command -v "$CROSS_CXX" >/dev/null 2>&1 || m+=("$CROSS_CXX (package g++-aarch64-linux-gnu)")
  command -v "$QEMU" >/dev/null 2>&1 || m+=("$QEMU (package qemu-user)")
  [ ${#m[@]} -eq 0 ] || printf '%s\n' "${m[@]}"
}

if [ -n "$(missing_tools)" ]; then
  if [ "$INSTALL" -eq 1 ]; then
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else say "--install needs root or sudo"; exit 2; fi
    fi
    say "installing the cross toolchain: apt-get update && apt-get install -y g++-aarch64-linux-gnu qemu-user"
    t_apt=$(date +%s)
    "${SUDO[@]}" apt-get update -q || { say "apt-get update failed"; exit 2; }
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q g++-aarch64-linux-gnu qemu-user \
      || { say "apt-get install failed"; exit 2; }
    say "apt-get took $(( $(date +%s) - t_apt )) s"
    if [ -n "$(missing_tools)" ]; then say "still missing after install:"; missing_tools; exit 2; fi
  else
    say "SKIPPED: missing tools:"
    missing_tools | sed 's/^/    /'
    say "install them with:  apt-get update && apt-get install -y g++-aarch64-linux-gnu qemu-user"
    say "(or run: tools/check_neon.sh --install)"
    exit $SKIP
  fi
fi

if [ -n "${BUILD_DIR:-}" ]; then
  B="$BUILD_DIR"; mkdir -p "$B"
else
  B="$(mktemp -d "${TMPDIR:-/tmp}/check_neon.XXXXXX")"
  [ "$KEEP" -eq 1 ] || trap 'rm -rf "$B"' EXIT
fi

# The flags CMakeLists.txt gives every kernel object and the module.
COMMON=(-std=c++17 -O2 -ffp-contract=off -fno-fast-math -I"$ROOT/csrc")
KSRC="$ROOT/csrc/sampler_kernels.cpp"
DRIVER=("$ROOT/tests/native/kernel_dump.cpp" "$ROOT/csrc/dispatch.cpp" "$ROOT/csrc/cpu_features.cpp")

# compile <log-name> <compiler> <args...>: runs in the background, log in $B/<log-name>.log
PIDS=(); NAMES=()
compile() {
  local name="$1"; shift
  ( "$@" >"$B/$name.log" 2>&1 ) &
  PIDS+=($!); NAMES+=("$name")
}
wait_all() {
  local ok=0 i
  for i in "${!PIDS[@]}"; do
    if ! wait "${PIDS[$i]}"; then
      say "BUILD FAILED: ${NAMES[$i]}"; sed 's/^/    /' "$B/${NAMES[$i]}.log" | head -60; ok=1
    elif [ -s "$B/${NAMES[$i]}.log" ]; then
      say "compiler output for ${NAMES[$i]}:"; sed 's/^/    /' "$B/${NAMES[$i]}.log" | head -30
    fi
  done
  PIDS=(); NAMES=()
  return $ok
}

say "building in $B"
compile x86_scalar "$CXX" "${COMMON[@]}" -DREPARAM_TARGET_SCALAR -c "$KSRC" -o "$B/x86_scalar.o"
compile x86_sse2 "$CXX" "${COMMON[@]}" -DREPARAM_TARGET_SSE2 -c "$KSRC" -o "$B/x86_sse2.o"
compile x86_avx2 "$CXX" "${COMMON[@]}" -DREPARAM_TARGET_AVX2 -mavx2 -mfma -c "$KSRC" -o "$B/x86_avx2.o"
compile x86_avx512 "$CXX" "${COMMON[@]}" -DREPARAM_TARGET_AVX512 -mavx2 -mfma -mavx512f -mavx512dq -mavx512bw \
  -mavx512vl -c "$KSRC" -o "$B/x86_avx512.o"
compile a64_scalar "$CROSS_CXX" "${COMMON[@]}" -DREPARAM_TARGET_SCALAR -c "$KSRC" -o "$B/a64_scalar.o"
compile a64_neon "$CROSS_CXX" "${COMMON[@]}" -DREPARAM_TARGET_NEON -c "$KSRC" -o "$B/a64_neon.o"
wait_all || exit 2
compile x86_link "$CXX" "${COMMON[@]}" -DREPARAM_HAVE_SSE2 -DREPARAM_HAVE_AVX2 -DREPARAM_HAVE_AVX512 \
  "${DRIVER[@]}" "$B/x86_scalar.o" "$B/x86_sse2.o" "$B/x86_avx2.o" "$B/x86_avx512.o" -o "$B/kernel_dump_x86_64"
compile a64_link "$CROSS_CXX" "${COMMON[@]}" -static -DREPARAM_HAVE_NEON \
  "${DRIVER[@]}" "$B/a64_scalar.o" "$B/a64_neon.o" -o "$B/kernel_dump_aarch64"
wait_all || exit 2
say "built in $(elapsed) s"

# Run both (in parallel; each writes its own files).
"$B/kernel_dump_x86_64" "${DUMP_ARGS[@]}" >"$B/x86_64.out" 2>"$B/x86_64.err" &
pid_x86=$!
"$QEMU" -L /usr/aarch64-linux-gnu "$B/kernel_dump_aarch64" "${DUMP_ARGS[@]}" >"$B/aarch64.out" 2>"$B/aarch64.err" &
pid_a64=$!
wait $pid_x86; rc_x86=$?
wait $pid_a64; rc_a64=$?

status=0
report_run() {  # <label> <rc> <stderr file>
  local label="$1" rc="$2" err="$3"
  if [ "$rc" -ne 0 ]; then
    say "FAIL: the $label run exited with status $rc:"
    { grep '^FAIL' "$err" | head -12; grep -v -e '^FAIL' -e '^target ' "$err" | tail -20; } | sed 's/^/    /'
    status=1
  fi
  grep -q '^RESULT ' "$err" || { say "FAIL: the $label run printed no RESULT line"; status=1; }
}
report_run "x86-64" $rc_x86 "$B/x86_64.err"
report_run "aarch64 (qemu)" $rc_a64 "$B/aarch64.err"

field() { sed -n "s/^RESULT .*\b$2=\([^ ]*\).*/\1/p" "$1"; }
x86_checked=$(field "$B/x86_64.err" targets_checked)
x86_skipped=$(field "$B/x86_64.err" targets_skipped)
a64_checked=$(field "$B/aarch64.err" targets_checked)
cases=$(field "$B/x86_64.err" cases)
kinds=$(field "$B/x86_64.err" kinds)
affine_cases=$(field "$B/x86_64.err" affine_cases)
sigma_cases=$(field "$B/x86_64.err" sigma_cases)
reduce_cases=$(field "$B/x86_64.err" reduce_cases)
tiles_cases=$(field "$B/x86_64.err" tiles_cases)

if [ "$status" -eq 0 ] && [[ ",$a64_checked," != *",neon,"* ]]; then
  say "FAIL: the aarch64 run did not check the neon target (checked: $a64_checked)"; status=1
fi

if ! cmp -s "$B/x86_64.out" "$B/aarch64.out"; then
  ndiff=$(diff "$B/x86_64.out" "$B/aarch64.out" | grep -c '^<')
  say "FAIL: the aarch64 scalar results differ from the x86-64 scalar results in $ndiff lines; first differences:"
  diff -U0 --label x86_64 --label aarch64 "$B/x86_64.out" "$B/aarch64.out" | head -30 | sed 's/^/    /'
  # affine/reduce lines carry checksums only: rerun the first few such cases printing
  # every value (with its inputs) and show where they differ
  labels=$(diff "$B/x86_64.out" "$B/aarch64.out" | sed -n 's/^< \([ar][0-9][0-9]*\) .*/\1/p' | awk '!seen[$0]++' | head -4)
  for l in $labels; do
    "$B/kernel_dump_x86_64" --only "$l" >"$B/only_$l.x86_64" 2>/dev/null
    "$QEMU" -L /usr/aarch64-linux-gnu "$B/kernel_dump_aarch64" --only "$l" >"$B/only_$l.aarch64" 2>/dev/null
    nd=$(diff "$B/only_$l.x86_64" "$B/only_$l.aarch64" | grep -c '^<')
    say "case $l: $nd values differ ($(head -1 "$B/only_$l.x86_64")); first (- x86_64, + aarch64):"
    diff -U0 "$B/only_$l.x86_64" "$B/only_$l.aarch64" | grep '^[-+][^-+]' | head -6 | sed 's/^/    /'
  done
  status=1
fi

lines=$(grep -c '^c[0-9]' "$B/x86_64.out" || true)
echo "----------------------------------------------------------------------"
echo "x86-64 targets run: ${x86_checked:-?}$( [ "${x86_skipped:--}" != "-" ] && echo "  (compiled but not supported by this CPU, not run: $x86_skipped)")"
echo "aarch64 targets run under $QEMU: ${a64_checked:-?}"
if [ "$status" -eq 0 ]; then
  echo "NEON path: $lines cases bit-identical to x86 ${x86_checked//,//} ($cases stream cases x $kinds kernels)"
  echo "  and ${affine_cases:-?} affine_normal, ${sigma_cases:-?} sigma, ${reduce_cases:-?} reduce, ${tiles_cases:-?} grad_tiles cases (f32 + f64; $(elapsed) s)"
  [ "$KEEP" -eq 1 ] && echo "outputs kept in $B"
  exit 0
fi
echo "NEON check FAILED ($(elapsed) s); outputs in $B"
[ -n "${BUILD_DIR:-}" ] || [ "$KEEP" -eq 1 ] || { trap - EXIT; echo "(build directory kept for inspection)"; }
exit 1

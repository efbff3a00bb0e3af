#!/usr/bin/env bash
# Build reparam with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
# REPARAM_SANITIZE=ON) into a fresh virtual environment in a temporary directory, from
# a scratch copy of this checkout, and run the test suite under it. Exits non-zero if
# the build or a test fails, the time limit is hit, or any sanitizer report appears.
#
#   tools/run_sanitizers.sh                 # the default subset (see SUBSET below)
#   tools/run_sanitizers.sh tests/test_philox.py -k advance   # any pytest arguments
#
# Environment: PYTHON (default python3), SAN_TIMEOUT (seconds for the test run,
# default 420), KEEP_SANWORK=1 keeps the temporary directory for inspection.
#
# Linux with GCC or Clang only (the ASan runtime is preloaded into an uninstrumented
# CPython with LD_PRELOAD). Exit 77 = skipped (no usable compiler/runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
SAN_TIMEOUT=${SAN_TIMEOUT:-420}
start=$(date +%s)
step() { printf '\n--- sanitizers: %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

if [ "$(uname -s)" != Linux ]; then echo "skipped: sanitizer run is Linux-only"; exit 77; fi
CXX=${CXX:-c++}
if ! command -v "$CXX" >/dev/null; then echo "skipped: no C++ compiler"; exit 77; fi
LIBASAN=$("$CXX" -print-file-name=libasan.so 2>/dev/null || true)
if [ -z "$LIBASAN" ] || [ ! -e "$LIBASAN" ]; then echo "skipped: $CXX has no libasan.so"; exit 77; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/reparam-san.XXXXXX")
if [ "${KEEP_SANWORK:-0}" = 1 ]; then echo "work directory: $WORK (kept)"
else trap 'rm -rf "$WORK"' EXIT; fi
SRC=$WORK/src
mkdir -p "$SRC"

step "scratch copy of the checkout -> $SRC"
# Tracked and untracked-but-not-ignored files: never the checkout's own build/ tree.
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$ROOT" ls-files -co --exclude-standard -z | (cd "$ROOT" && tar --null -T - -cf -) | tar -xf - -C "$SRC"
else
  tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$SRC"
fi
rm -rf "$SRC/build"

step "venv ($($PY --version 2>&1))"
"$PY" -m venv "$WORK/venv"
VPY=$WORK/venv/bin/python
"$VPY" -m pip install -q --upgrade pip

step "build with REPARAM_SANITIZE=ON (ASan + UBSan)"
# -v is too loud; the log is printed on failure.
if ! "$VPY" -m pip install -q "$SRC[test]" \
      --config-settings=cmake.define.REPARAM_SANITIZE=ON \
      --config-settings=cmake.build-type=Release \
      --config-settings=build-dir="$WORK/build" >"$WORK/build.log" 2>&1; then
  cat "$WORK/build.log"; echo "sanitizer build failed"; exit 1
fi
# The flags really reached the compiler and the module links the ASan runtime.
grep -q -- "-fsanitize=address,undefined" "$WORK"/build/build.ninja \
  || grep -rq -- "-fsanitize=address,undefined" "$WORK"/build/CMakeFiles/*.dir/flags.make 2>/dev/null \
  || { echo "REPARAM_SANITIZE flags not found in the build files"; exit 1; }
SO=$(ls "$WORK"/venv/lib/python*/site-packages/reparam/_core*.so)
ldd "$SO" | grep -q libasan || { echo "$SO is not linked against libasan"; exit 1; }
ldd "$SO" | grep -q libubsan || { echo "$SO is not linked against libubsan"; exit 1; }

# The subset. The whole default suite (pytest -m "not slow") runs in about 20 s
# natively; under ASan it takes a few times longer (the kernels and every malloc are
# instrumented; NumPy and CPython are not). Left out, because they do not exercise the
# compiled core or need tools the sanitizer venv does not have: tests/typing (mypy),
# test_packaging.py (builds wheels) and test_docs.py. Hypothesis runs with its
# "ci"-like settings from the tests themselves.
SUBSET=(tests -q -m "not slow" -p no:cacheprovider
        --ignore=tests/typing --ignore=tests/test_packaging.py --ignore=tests/test_docs.py)
if [ "$#" -gt 0 ]; then SUBSET=("$@" -p no:cacheprovider); fi

LOG=$WORK/pytest.log
REPORTS=$WORK/reports  # one file per process (log_path), subprocesses of tests included
mkdir -p "$REPORTS" "$WORK/run"
# Run from a copy of tests/ and pyproject.toml only, so the installed (sanitized)
# package is imported, never a source tree.
cp -r "$SRC/tests" "$SRC/pyproject.toml" "$WORK/run/"
# CPython is not instrumented, so the ASan runtime is preloaded; libstdc++ is preloaded
# too, or ASan cannot find the real __cxa_throw (libstdc++ arrives later with the
# module) and aborts on the first C++ exception. Python itself "leaks" at exit: leak
# checking off. A failed huge allocation returns NULL (NumPy raises MemoryError) as
# without ASan, instead of a report. Reports go to files, since pytest captures the
# test's stderr and a crash loses it.
PRELOAD="$LIBASAN $("$CXX" -print-file-name=libstdc++.so)"
ASAN_OPTS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=1:log_path=$REPORTS/asan"
UBSAN_OPTS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
step "self-check: a heap overflow under this setup must leave a report"
mkdir -p "$WORK/selfcheck"
env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="detect_leaks=0:log_path=$WORK/selfcheck/asan" "$VPY" -c '
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
ctypes.string_at(libc.malloc(8), 64)  # reads 56 bytes past the block
' >/dev/null 2>&1 && { echo "self-check: the overflow did not abort"; exit 1; }
grep -q "ERROR: AddressSanitizer: heap-buffer-overflow" "$WORK"/selfcheck/asan.* \
  || { echo "self-check: no AddressSanitizer report was written"; exit 1; }
echo "self-check passed: reports are written to files and detected"

step "pytest ${SUBSET[*]} under ASan/UBSan (limit ${SAN_TIMEOUT}s)"

set +e
(
  cd "$WORK/run"
  timeout --signal=TERM --kill-after=30 "$SAN_TIMEOUT" \
    env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$ASAN_OPTS" UBSAN_OPTIONS="$UBSAN_OPTS" PYTHONFAULTHANDLER=1 \
    "$VPY" -m pytest "${SUBSET[@]}"
) 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

PATTERN="ERROR: AddressSanitizer|ERROR: LeakSanitizer|AddressSanitizer: CHECK failed|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer"
reports=$( (cat "$REPORTS"/* 2>/dev/null; cat "$LOG") | grep -cE "$PATTERN" || true)
step "done: pytest exit $rc, sanitizer report lines: $reports"
if [ "$reports" != 0 ]; then
  echo "sanitizer reports:"
  for f in "$REPORTS"/*; do [ -f "$f" ] && { echo "== $f"; head -80 "$f"; }; done
  grep -nE -A30 "$PATTERN" "$LOG" | head -120
  exit 1
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "sanitizer test run exceeded ${SAN_TIMEOUT}s"; exit 1; fi
exit "$rc"

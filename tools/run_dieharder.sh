#!/usr/bin/env bash
# The raw 32-bit Philox stream of reparam through the dieharder battery.
#
#   tools/run_dieharder.sh            # the documented quick subset (a few minutes)
#   tools/run_dieharder.sh --full     # dieharder -a: every test (hours)
#   tools/run_dieharder.sh -d 0 -d 15 # chosen tests (dieharder -d numbers)
#
# Environment: PYTHON (default python3; must import reparam), DH_KEY (the Philox key,
# default 0x0123456789ABCDEF), DH_OUT (also write the result lines to this file).
# The words are those of reparam.Philox(key=DH_KEY, counter=c).random_raw(...), written
# in native byte order to dieharder's stdin (generator 200, stdin_input_raw); test i of
# the subset reads its own stream, counter c = i * 2**96, so no test sees another's words.
#
# Needs dieharder (Debian/Ubuntu: apt-get install -y dieharder). Exit status: 0 when no
# test FAILED (WEAK is reported, not failed: at this many p-values a few are expected),
# 1 when one did, 77 when dieharder is missing. Results are recorded in docs/quality.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
KEY=${DH_KEY:-0x0123456789ABCDEF}

if ! command -v dieharder >/dev/null; then
  echo "skipped: dieharder is not installed (apt-get install -y dieharder)"
  exit 77
fi
"$PY" -c "import reparam" || { echo "cannot import reparam with $PY"; exit 1; }

# The quick subset: every test dieharder rates "Good", each at its default settings
# (rgb_bitdist, 200, at bit n-tuples 1 to 8). Left out, for time only: the RGB
# generalized minimum distance test (201, over two minutes alone); left out as dieharder
# itself advises: the "Suspect" OPSO, OQSO and DNA tests (5, 6, 7) and the "Do Not Use"
# sums test (14). A test "T:N" runs -d T -n N. --full runs everything (dieharder -a).
QUICK=(0 1 2 3 4 8 9 10 11 12 13 15 16 17 100 101 102
       200:1 200:2 200:3 200:4 200:5 200:6 200:7 200:8 202 203 204 205 206 207 208 209)

writer='
import os, sys
import reparam
key, counter = int(sys.argv[1], 0), int(sys.argv[2])
p = reparam.Philox(key=key, counter=counter)
out = sys.stdout.buffer
try:
    while True:
        out.write(p.random_raw(1 << 20).tobytes())  # 4 MiB of words per write
except BrokenPipeError:  # dieharder has read what it needs
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
'

tests=()
full=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --full) full=1 ;;
    -d) shift; tests+=("$1") ;;  # T or T:N
    *) echo "unknown argument: $1"; exit 2 ;;
  esac
  shift
done
[ "${#tests[@]}" -gt 0 ] || tests=("${QUICK[@]}")

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
start=$(date +%s)
echo "reparam $("$PY" -c 'import reparam; print(reparam.__version__)'), Philox key $KEY, $(dieharder -h 2>&1 | grep -o 'dieharder version [0-9.]*' | head -1)"
if [ "$full" = 1 ]; then
  "$PY" -c "$writer" "$KEY" 0 | dieharder -g 200 -a | tee -a "$RESULTS"
else
  i=0
  for t in "${tests[@]}"; do
    t0=$(date +%s)
    # counter i * 2**96: each test reads a stream of its own
    args=(-d "${t%%:*}")
    [ "${t#*:}" = "$t" ] || args+=(-n "${t#*:}")
    "$PY" -c "$writer" "$KEY" "$("$PY" -c "print($i << 96)")" | dieharder -g 200 "${args[@]}" \
      | grep -E 'PASSED|WEAK|FAILED' | tee -a "$RESULTS"
    printf '#   (%s: %ss)\n' "${args[*]}" "$(( $(date +%s) - t0 ))"
    i=$(( i + 1 ))
  done
fi
total=$(grep -cE 'PASSED|WEAK|FAILED' "$RESULTS" || true)
weak=$(grep -c 'WEAK' "$RESULTS" || true)
failed=$(grep -c 'FAILED' "$RESULTS" || true)
echo "# dieharder: $total p-values, $weak WEAK, $failed FAILED ($(( $(date +%s) - start ))s)"
if [ -n "${DH_OUT:-}" ]; then cp "$RESULTS" "$DH_OUT"; fi
[ "$failed" = 0 ]

#!/usr/bin/env bash
# The libFuzzer targets with address + undefined-behaviour sanitizers (Debian's clang 14).
#   scripts/fuzz.sh SECONDS [TARGET...]   run each target (default: all) for SECONDS, one per core
# Targets: image tfjs onnx index gallery http (http needs the imported models: scripts/setup.sh).
# Seeds: fuzz/corpus/<target> (committed; regenerated with build-fuzz/fuzz/fuzz_seeds fuzz/corpus);
# the growing corpus lives in build-fuzz/corpus/<target>, crashes in build-fuzz/crashes/<target>.
# Prints per target: executions, coverage (libFuzzer "cov"), time, crashes. Exit 1 on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(image tfjs onnx index gallery http)
B=${FUZZ_BUILD_DIR:-build-fuzz}

SKIP_MODELS=${SKIP_MODELS:-0} scripts/setup.sh   # packages, the normal build, the models
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "[fuzz] error: cannot install ${missing[*]}" >&2; exit 4; }
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DFACEREC_BUILD_TESTS=OFF -DFACEREC_BUILD_BENCH=OFF -DFACEREC_BUILD_FUZZERS=ON -DFACEREC_BUILD_PYTHON=OFF -DFACEREC_BUILD_TRAIN=OFF \
  -DBUILD_SHARED_LIBS=OFF \
  -DCMAKE_CXX_FLAGS="$SAN -fsanitize=fuzzer-no-link" -DCMAKE_EXE_LINKER_FLAGS="$SAN" >/dev/null
cmake --build "$B" -j "$(nproc)" --target fuzz_seeds $(printf 'fuzz_%s ' "${TARGETS[@]}")
for t in image tfjs onnx index gallery http; do
  [ -d "fuzz/corpus/$t" ] || { "$B/fuzz/fuzz_seeds" fuzz/corpus >/dev/null; break; }
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run() {
  local t=$1 corpus="$B/corpus/$1" crashes="$B/crashes/$1"
  mkdir -p "$corpus" "$crashes"
  "$B/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -max_len=$([ "$t" = http ] && echo 65536 || echo 262144) \
    -timeout=$([ "$t" = http ] && echo 900 || echo 60) -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "fuzz/corpus/$t" >"$B/fuzz_$t.log" 2>&1 || true
  local execs cov crashes_n
  execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$B/fuzz_$t.log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$B/fuzz_$t.log" | tail -1 | grep -o '[0-9]*' || echo 0)
  crashes_n=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '[fuzz] %-8s %6ss  executions %-9s coverage %-6s crashes %s\n' "$t" "$SECONDS_EACH" "$execs" "$cov" "$crashes_n"
}
jobs_max=$(nproc)
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do sleep 1; done
  run "$t" &
done
wait
# slow-unit-* files (inputs slower than 10 s, e.g. the first http input, which starts the server) are kept, not counted
total=$(find "$B/crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | wc -l)
echo "[fuzz] crash files: $total (in $B/crashes)"
[ "$total" -eq 0 ]

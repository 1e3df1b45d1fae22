#!/usr/bin/env bash
# Issue 13, part 4, as far as it goes: facerec for aarch64 (the Raspberry Pi 3's Cortex-A53) with
# Debian's cross toolchain, its tests run under qemu-user.
#   1. installs g++-aarch64-linux-gnu and qemu-user (Debian packages; nothing else)
#   2. cross-compiles GoogleTest from Debian's sources (/usr/src/googletest) and the parts of the
#      core that need no third-party library (src/common: sha256, errors) with their tests, and
#      runs them under qemu-aarch64
#   3. compiles every source of the core library for aarch64 (-fsyntax-only, with the host's
#      headers, which are the same for both architectures except the generated config headers): a
#      check that no x86-only code (intrinsics, inline assembly) is reached without a guard
# Not done: linking the whole library needs arm64 builds of OpenCV, libonnx/protobuf, oneDNN or
# XNNPACK and SQLite (Debian multiarch: dpkg --add-architecture arm64 and the :arm64 -dev packages).
#   bash scripts/aarch64.sh            (OUT=build-aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build-aarch64}
CXX=aarch64-linux-gnu-g++
need=()
command -v $CXX >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ -d /usr/src/googletest/googletest ] || need+=(googletest)
if [ ${#need[@]} -gt 0 ]; then
  echo "[aarch64] installing ${need[*]}" >&2
  ${SUDO:-$([ "$(id -u)" = 0 ] || echo sudo)} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi
mkdir -p "$OUT"
FLAGS=(-std=c++20 -O2 -Wall -Wextra -Werror -march=armv8-a -Iinclude -Isrc)
G=/usr/src/googletest/googletest
if [ ! -f "$OUT/libgtest.a" ]; then
  echo "[aarch64] GoogleTest" >&2
  $CXX -std=c++20 -O2 -march=armv8-a -I$G/include -I$G -c $G/src/gtest-all.cc -o "$OUT/gtest-all.o"
  $CXX -std=c++20 -O2 -march=armv8-a -I$G/include -c $G/src/gtest_main.cc -o "$OUT/gtest_main.o"
  aarch64-linux-gnu-ar rcs "$OUT/libgtest.a" "$OUT/gtest-all.o" "$OUT/gtest_main.o"
fi
echo "[aarch64] src/common + tests/test_sha256.cpp" >&2
$CXX "${FLAGS[@]}" -I$G/include src/common/sha256.cpp src/common/error.cpp tests/test_sha256.cpp \
  "$OUT/libgtest.a" -pthread -o "$OUT/test_common"
file "$OUT/test_common"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$OUT/test_common"

echo "[aarch64] every core source, -fsyntax-only" >&2
ok=0 bad=0
for f in $(find src -name '*.cpp' ! -path 'src/train/*' | sort); do
  if $CXX "${FLAGS[@]}" -fopenmp -fsyntax-only -isystem /usr/include/opencv4 -idirafter /usr/include -DONNX_ML=1 \
    -DONNX_NAMESPACE=onnx -DFACEREC_VERSION='"aarch64-check"' -I"${BUILD:-build}/src/generated" "$f" 2> "$OUT/syntax.log"; then
    ok=$((ok + 1))
  else
    bad=$((bad + 1))
    echo "  $f: $(grep -m1 -E 'error|fatal' "$OUT/syntax.log")"
  fi
done
echo "[aarch64] $ok sources compile for aarch64, $bad do not"

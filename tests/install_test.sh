#!/usr/bin/env bash
# Installs the build tree into a temporary prefix and builds tests/consumer against it, with CMake
# (find_package) and with pkg-config, then runs both consumers: the installed library must find
# its manifest relative to itself and run the pipeline on a photo.
#   tests/install_test.sh BUILD_DIR SOURCE_DIR [PHOTO]
set -euo pipefail
build=$1 src=$2 photo=${3:-}
prefix=$(mktemp -d /tmp/facerec-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
# nothing of the source or build tree may leak into the installed package (text or binary)
if grep -rla -e "$src" -e "$(cd "$build" && pwd)" "$prefix"; then
  echo "FAIL: the installed files above name the source or build tree" >&2
  exit 1
fi
# the photo is analysed only when the default pipeline's models are imported
models=${FACEREC_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/facerec/models}
for m in blazeface blazeface-front faceboxes facemesh face_landmark_68_model face_recognition_model; do
  if [ -n "$photo" ] && [ ! -f "$models/$m.onnx" ]; then
    echo "install test: $m is not imported in $models: the consumers run without a photo" >&2
    photo=""
  fi
done
cmake -S "$src/tests/consumer" -B "$prefix/consumer-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
pc_bin="$prefix/consumer-pc"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
  c++ -std=c++17 "$src/tests/consumer/main.cpp" -o "$pc_bin" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs facerec-all) -Wl,-rpath,"$prefix/lib"
# the installed CLI runs from the prefix and reads the installed manifest
models_out=$(env -u FACEREC_MANIFEST "$prefix/bin/facerec" models list --json) \
  || { echo "FAIL: the installed facerec CLI does not run" >&2; exit 1; }
grep -q '"face_recognition_model"' <<<"$models_out" || { echo "FAIL: installed CLI lists no models" >&2; exit 1; }
for bin in "$prefix/consumer-build/consumer" "$pc_bin"; do
  out=$(env -u FACEREC_MANIFEST "$bin" $photo)
  echo "$out"
  grep -qx "manifest $prefix/share/facerec/models/manifest.json" <<<"$out" \
    || { echo "FAIL: $bin did not find the installed manifest" >&2; exit 1; }
  if [ -n "$photo" ]; then
    grep -qx "faces 1" <<<"$out" || { echo "FAIL: $bin found no single face in $photo" >&2; exit 1; }
    grep -q "^identify someone " <<<"$out" || { echo "FAIL: $bin did not identify the enrolled face" >&2; exit 1; }
  fi
done
echo "install test: package at $prefix builds and runs (CMake and pkg-config consumers)"

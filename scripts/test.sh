#!/usr/bin/env bash
# Set-up (packages, build, models), then every test. Exit status: non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 900

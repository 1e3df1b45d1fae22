#!/usr/bin/env bash
# Set-up (packages, build, models), then every test. Exit status: non-zero when any test fails.
# A throw-away PostgreSQL 15 server is started on loopback for the PostgreSQL gallery tests
# (FACEREC_TEST_PG_URL); if it cannot start, those tests skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
ROOT=$(pwd)
PG_DIR=$(mktemp -d /tmp/facerec-pg.XXXXXX)
chmod 755 "$PG_DIR"
PG_PORT=${FACEREC_PG_PORT:-$((20000 + RANDOM % 20000))}
trap '"$ROOT/scripts/pg-test-server.sh" stop "$PG_DIR" || true' EXIT
if url=$("$ROOT/scripts/pg-test-server.sh" start "$PG_DIR" "$PG_PORT"); then
  export FACEREC_TEST_PG_URL=$url
  echo "[test] PostgreSQL test server at $url" >&2
else
  echo "[test] PostgreSQL test server did not start; the PostgreSQL tests will skip" >&2
fi
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 900

#!/usr/bin/env bash
# Regenerates tests/fixtures/parity: runs the original TFJS models (tfjs 4.22, CPU backend, versions
# pinned in tools/parity/package-lock.json) on face images from ../shared/data/lfw.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
SHARED=${FACEREC_SHARED:-$(cd .. && pwd)/shared}
[ -d "$SHARED/data/lfw/images" ] || { echo "needs $SHARED/data/lfw (set FACEREC_SHARED)" >&2; exit 1; }
MODELS=${FACEREC_MODELS:-$HOME/.cache/facerec/models}
(cd tools/parity && npm ci --no-audit --no-fund)
node --import ./tools/parity/register-hook.mjs tools/parity/generate.mjs --models "$MODELS" --shared "$SHARED" \
  --out tests/fixtures/parity

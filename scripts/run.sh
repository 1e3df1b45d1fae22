#!/usr/bin/env bash
# Set-up, then the main job: find, landmark and embed every face in the sample group photos
# (drawn copies in out/), and compare two photos of one person and of two people.
# (Enrolling people in a gallery and identifying them arrives with the gallery issue.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
F="$BUILD_DIR/apps/facerec/facerec"
SHARED=${FACEREC_SHARED:-$(cd .. && pwd)/shared}
if [ ! -d "$SHARED/data" ]; then
  echo "no $SHARED/data: the main job needs the sample photos (set FACEREC_SHARED)" >&2
  exit 3
fi
mkdir -p out
"$F" detect "$SHARED"/data/samples/group-photos/*.jpg --draw out
echo "drawn detections: out/"
LFW="$SHARED/data/lfw/images"
"$F" compare "$LFW/Colin_Powell/Colin_Powell_0001.jpg" "$LFW/Colin_Powell/Colin_Powell_0002.jpg" || true
"$F" compare "$LFW/Colin_Powell/Colin_Powell_0001.jpg" "$LFW/George_W_Bush/George_W_Bush_0001.jpg" || true

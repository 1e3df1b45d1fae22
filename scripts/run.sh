#!/usr/bin/env bash
# Set-up, then the main job. Today facerec can import and run its networks; the main job loads
# every imported model and times it. (Enrolling photos and identifying faces arrives with the
# face pipeline and gallery issues, and will replace this.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
"$BUILD_DIR/apps/facerec/facerec" models list
"$BUILD_DIR/apps/facerec/facerec" models check

#!/usr/bin/env bash
# Issue 12, part 3: offline 3D pose augmentation measured. The training set of scripts/distill.sh
# (celeba-small + celeba-wild + AT&T without LFW's people) gets re-posed views (yaw turned by
# -35, -20, +20, +35 degrees, for every third image; every image's pose estimated), a pose-balanced
# set is built from real and synthetic views over 15-degree yaw bins, and a student is trained on
# it with the settings and budget of distill.sh's run (c) (ArcFace, no teacher). LFW View 2 is then
# read by the yaw difference of each pair's faces for both students, with a contact sheet.
# Resumable step by step (each step is skipped when its output exists; training resumes).
#   bash scripts/pose_augment.sh        (OUT=runs/pose, DISTILL=runs/distill, SHARED=../shared, STEPS=600)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/pose}
DISTILL=${DISTILL:-runs/distill}
STEPS=${STEPS:-600}
MESH=${MESH:-$SHARED/models/mesh/canonical_face_model.obj}
FR=build/apps/facerec/facerec
mkdir -p "$OUT"
[ -d "$DISTILL/data" ] && [ -d "$DISTILL/c" ] || { echo "run scripts/distill.sh first (its data and run c)" >&2; exit 2; }
[ -d "$OUT/views" ] || "$FR" data repose "$DISTILL/data" --out "$OUT/views" --mesh "$MESH" --yaw=-35,-20,20,35 \
  --views-every 3 | tee "$OUT/repose.txt"
[ -d "$OUT/balanced" ] || "$FR" data pose-balance "$OUT/views/poses.tsv" --out "$OUT/balanced" --bin 15 --range 45 |
  tee "$OUT/balance.txt"
# run (d): distill.sh's run (c) on the balanced set
. scripts/train_lib.sh
train_run "$OUT/d" "$STEPS" --config "$DISTILL/c/config.json" --set "data=$OUT/balanced" --set "cache=$OUT/aligned" \
  --set "steps=$STEPS"
"$FR" train export "$OUT/d" --name student-pose --manifest-out "$DISTILL/manifest.json"
# LFW's poses (every image), then verification by yaw difference: run (c) without and (d) with the views
[ -d "$OUT/lfw-poses" ] || "$FR" data repose "$SHARED/data/lfw/images" --out "$OUT/lfw-poses" --mesh "$MESH" --yaw none
"$FR" --manifest "$DISTILL/manifest.json" eval pose-pairs --images "$SHARED/data/lfw/images" \
  --pairs "$SHARED/data/lfw/pairs.txt" --poses "$OUT/lfw-poses/poses.tsv" --embedder student-c,student-pose \
  --no-cache --contact "$OUT/views/contact.png" --report "$OUT/report" | tee "$OUT/pose-pairs.txt"

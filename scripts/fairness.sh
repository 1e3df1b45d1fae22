#!/usr/bin/env bash
# Issue 16, part 3: demographic differentials on LFW and celeba-wild for every embedder facerec ships
# (the fused default, the dlib ResNet and the MS1M MobileFaceNet, each with flip), in the three quality
# pairings, grouped by gender x race from the identity labels of scripts/attributes.sh (inferred).
#   bash scripts/fairness.sh   -> runs/fairness/{lfw,celeba-wild}/report.{html,json}
# Needs runs/attributes/*-attributes.tsv (bash scripts/attributes.sh). Embeddings are cached.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
ATTR=${ATTR:-runs/attributes}
OUT=${OUT:-runs/fairness}
EMBEDDERS=${EMBEDDERS:-dlib-mfn-fused+flip,face_recognition_model+flip,mobilefacenet-ms1m+flip}
[ -f "$ATTR/lfw-attributes.tsv" ] || bash scripts/attributes.sh
for set in lfw celeba-wild; do
  images="$SHARED/data/$set"
  [ "$set" = lfw ] && images="$SHARED/data/lfw/images"
  build/apps/facerec/facerec eval fairness --images "$images" --labels "$ATTR/$set-attributes.tsv" \
    --profile accurate --embedder "$EMBEDDERS" --quality --report "$OUT/$set"
done

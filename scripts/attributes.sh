#!/usr/bin/env bash
# Issue 16, part 2: attribute heads (age band, gender, race) on the fused embedder + flip, trained on
# UTKFace's balanced subset with 20% of its images held out, measured per class beside human-models'
# faceres on the same held-out faces, then used to label every identity of LFW and celeba-wild by
# majority over its images (inferred labels, with the vote margin) -> runs/attributes/.
# About 6 minutes from an empty cache (embeddings cached: ~/.cache/facerec/embeddings).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/attributes}
build/apps/facerec/facerec train attributes --labels "$SHARED/data/utkface/labels.tsv" --out "$OUT" \
  --profile accurate --label "lfw=$SHARED/data/lfw/images" --label "celeba-wild=$SHARED/data/celeba-wild"

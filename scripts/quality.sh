#!/usr/bin/env bash
# Issue 16, part 1: fit the face quality model and evaluate it by error versus discard.
#   bash scripts/quality.sh fit   fit models/quality.json on celeba-small (originals and seeded
#                                 degraded copies; never LFW), 20% of identities held out
#   bash scripts/quality.sh edc   EDC of the score, each component and random discarding on LFW
#                                 View 2 (high-high, low-high, low-low) and celeba-wild -> runs/quality/edc
# Embeddings and quality measurements are cached (~/.cache/facerec/embeddings): a second run, or a
# run after an interruption, recomputes nothing already done. The pipeline is the accurate profile
# (the default models on onednn: the fused embedder with flip, whose fmr_1e-3 threshold is used).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/quality}
FR=build/apps/facerec/facerec
case "${1:-}" in
  fit)
    "$FR" quality fit "$SHARED/data/celeba-small" --profile accurate --limit 6000 --holdout 0.2 \
      --floor "${FLOOR:-0.3}" --out models/quality.json ;;
  edc)
    "$FR" quality edc --profile accurate --lfw "$SHARED/data/lfw" --dataset "$SHARED/data/celeba-wild" \
      --report "$OUT/edc" ;;
  *) echo "usage: bash scripts/quality.sh fit|edc" >&2; exit 2 ;;
esac

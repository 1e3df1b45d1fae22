#!/usr/bin/env bash
# The seed's comparison (issue 11, item 7): ArcFace vs triplet loss with batch-hard mining, both
# training MobileFaceNet (64x64 input, 128-d) from scratch on celeba-small with the same data,
# steps, batch, optimiser and schedule. Validation during training: held-out identities and LFW
# View 1 (pairsDevTest). LFW View 2 is measured once, at the end, for both.
# Resumable: run it again after an interruption and each run continues from its last checkpoint.
#   bash scripts/train_compare.sh            (OUT=runs/compare, SHARED=../shared)
# Other data or a subset of the runs: DATA=<identity folders> LOSSES="triplet" (e.g. celeba-small
# without LFW's people: facerec data merge ... --exclude ../shared/data/lfw/images, README).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/compare}
STEPS=${STEPS:-800}
DATA=${DATA:-$SHARED/data/celeba-small}
LOSSES=${LOSSES:-arcface triplet}
FR=build/apps/facerec/facerec
common=(--set "data=$DATA" --set data_kind=photos --set "cache=$OUT/aligned"
  --set input=64 --set embedding=128 --set batch=64 --set "steps=$STEPS" --set warmup_steps=100
  --set lr=0.1 --set optimizer=sgd --set schedule=cosine --set min_images=2 --set validation_share=0.1
  --set validate_every=500 --set checkpoint_every=100 --set log_every=20 --set threads=2
  --set "lfw_images=$SHARED/data/lfw/images" --set "lfw_pairs=$SHARED/data/lfw/pairsDevTest.txt")
. scripts/train_lib.sh
run() {
  local name=$1
  shift
  train_run "$OUT/$name" "$STEPS" "${common[@]}" "$@"
}
embedders=()
for n in $LOSSES; do
  case $n in
    arcface) run arcface --set loss=arcface --set s=32 --set m=0.4 --set sampler=shuffle ;;
    triplet) run triplet --set loss=triplet --set sampler=pk --set pk_k=2 --set triplet_margin=0.3 ;;
    *) echo "unknown loss $n" >&2; exit 2 ;;
  esac
  embedders+=("celeba-$n")
done
for n in $LOSSES; do
  "$FR" train export "$OUT/$n" --name "celeba-$n" --manifest-out "$OUT/manifest.json"
done
# LFW View 2, once, for both (the embedding cache is keyed by model name: not used for retrained models)
"$FR" --manifest "$OUT/manifest.json" eval lfw --images "$SHARED/data/lfw/images" --pairs "$SHARED/data/lfw/pairs.txt" \
  --embedder "$(IFS=,; echo "${embedders[*]}")" --no-cache --report "$OUT/lfw-view2"

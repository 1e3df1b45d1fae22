#!/usr/bin/env bash
# Issue 13, part 1: the 96x96 68-point landmark CNN (LandmarkNet, ~22 M multiply-adds) trained with
# wing loss, and the same network with L1 and L2 loss at a shorter, equal budget for the comparison.
#
# Data: 300-W HELEN train (870 annotated faces; 10% held out for validation) plus up to 4000 photos
# of celeba-wild, utkface and celeba-small labelled by face-api's 68-point net (2 passes + mirror:
# the teacher). AFW and HELEN test are NOT trained on: both are held out for the measurement. LFW
# is never used (the trainer refuses it). Every face is framed by the pipeline's default detector.
# Resumable: run it again after an interruption and each run continues from its last checkpoint.
#   bash scripts/train_landmarks.sh [main|compare|export|all]    (OUT=runs/landmarks, SHARED=../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/landmarks}
STEPS=${STEPS:-6000}              # the shipped model
COMPARE_STEPS=${COMPARE_STEPS:-800}
WHAT=${1:-all}
FR=build/apps/facerec/facerec
D=$SHARED/data
common=(--set "labelled=[\"$D/300w/helen_train\"]"
  --set "pseudo=[\"$D/celeba-wild\",\"$D/utkface/images\",\"$D/celeba-small\"]" --set max_pseudo=4000
  --set labelled_share=0.6 --set batch=64 --set warmup_steps=150 --set lr=0.002 --set validate_every=500 --set checkpoint_every=250
  --set log_every=50 --set threads=2)
run() {  # run NAME STEPS [--set ...]
  local name=$1 steps=$2
  shift 2
  if [ -f "$OUT/$name/config.json" ]; then
    "$FR" train landmarks "$OUT/$name" --resume --set "steps=$steps"
  else
    mkdir -p "$OUT/$name"
    # the faces are prepared once (detection and teacher labels) and shared by every run
    if [ -f "$OUT/wing/data/faces.json" ] && [ "$name" != wing ]; then cp -r "$OUT/wing/data" "$OUT/$name/"; fi
    "$FR" train landmarks "$OUT/$name" "${common[@]}" --set "steps=$steps" "$@"
  fi
}
case $WHAT in main | all) run wing "$STEPS" --set loss=wing ;; esac
case $WHAT in compare | all)
  for loss in wing l1 l2; do run "compare-$loss" "$COMPARE_STEPS" --set "loss=$loss"; done ;;
esac
case $WHAT in export | all)
  "$FR" train export "$OUT/wing" --name facerec-landmarks-96 --manifest-out "$OUT/manifest.json"
  for loss in wing l1 l2; do
    "$FR" train export "$OUT/compare-$loss" --name "compare-$loss" --manifest-out "$OUT/manifest.json"
  done ;;
esac

#!/usr/bin/env bash
# Issue 18: the int8 study, end to end and resumable (each step is skipped when its output exists).
#   bash scripts/int8.sh [OUT]          (OUT=runs/int8, SHARED=../shared; STEPS="calib quantize bench check view1 view2")
# 1. calibration sets: 300 UTKFace images balanced over age band, gender, race, yaw, pitch (FaceMesh
#    fitted by the 3D face model), sharpness, brightness and face size, and a random 300 of the same pool;
# 2. int8 models: the dlib ResNet and MobileFaceNet from each set (and MobileFaceNet with depthwise
#    convs kept fp32), the fused default (both components, depthwise fp32); BlazeFace and the
#    68-point landmarks from 300-W HELEN train photos (faces in context, as the detector sees them);
# 3. bench_int8: ms per run (opencv-dnn / onednn / xnnpack fp32, onednn int8), MB, and agreement with
#    fp32 on held-out faces — per UTKFace group for the embedders (images of neither set), box IoU and
#    landmark error on AFW and HELEN test for the others;
# 4. models check on every backend: ms, GOP, GOP/s, share of the measured peak;
# 5. LFW: View 1 pairsDevTest (selection), then View 2 (measured once).
# Nothing here reads LFW before step 5. Outputs under OUT; text logs beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/int8}
SHARED=${SHARED:-../shared}
STEPS=${STEPS:-calib quantize bench check view1 view2}
FR=build/apps/facerec/facerec
MAN=$OUT/manifest.json
mkdir -p "$OUT"
want() { [[ " $STEPS " == *" $1 "* ]]; }
say() { printf '[int8] %s\n' "$*" >&2; }

if want calib && [ ! -d "$OUT/calib/random" ]; then
  say "calibration sets"
  rm -rf "$OUT/calib" && mkdir -p "$OUT/calib"
  "$FR" data calib-set "$SHARED/data/utkface/labels.tsv" --size 300 \
    --mesh "$SHARED/models/mesh/canonical_face_model.obj" \
    --out "$OUT/calib/balanced" --random-out "$OUT/calib/random" | tee "$OUT/calib-set.txt"
fi

quantize() {  # MODEL NAME CALIB [flags]
  local model=$1 name=$2 calib=$3
  shift 3
  if [ -f "$MAN" ] && grep -q "\"name\": \"$name\"" "$MAN"; then return; fi
  say "quantize $model -> $name ($calib)"
  "$FR" models quantize "$model" --calib "$calib" --out "$MAN" --name "$name" --max-images 300 "$@" \
    2>&1 | tr '\r' '\n' | grep -v '^\s*calibration' | tee -a "$OUT/quantize.txt"
}
if want quantize; then
  for m in face_recognition_model mobilefacenet-ms1m; do
    quantize "$m" "$m-int8" "$OUT/calib/balanced/images"
    quantize "$m" "$m-int8-random" "$OUT/calib/random/images"
  done
  quantize mobilefacenet-ms1m mobilefacenet-ms1m-int8-dw "$OUT/calib/balanced/images" --keep-fp32 depthwise
  quantize blazeface blazeface-int8 "$SHARED/data/300w/helen_train"
  quantize blazeface blazeface-int8-all "$SHARED/data/300w/helen_train" --keep-fp32 none
  quantize face_landmark_68_model face_landmark_68_model-int8 "$SHARED/data/300w/helen_train"
  # the default embedder: both components int8 (MobileFaceNet's depthwise convs fp32), same recipe
  quantize dlib-mfn-fused dlib-mfn-fused-int8 "$OUT/calib/balanced/images" --keep-fp32 depthwise
fi

if want bench && [ ! -f "$OUT/bench.txt" ]; then
  say "bench_int8"
  build/bench/bench_int8 --manifest "$MAN" --labels "$SHARED/data/utkface/labels.tsv" \
    --exclude "$OUT/calib/balanced/strata.tsv" --exclude "$OUT/calib/random/strata.tsv" --max 600 --runs 30 \
    --points "$SHARED/data/300w/afw" --points "$SHARED/data/300w/helen_test" \
    face_recognition_model:face_recognition_model-int8 face_recognition_model:face_recognition_model-int8-random \
    mobilefacenet-ms1m:mobilefacenet-ms1m-int8 mobilefacenet-ms1m:mobilefacenet-ms1m-int8-random \
    mobilefacenet-ms1m:mobilefacenet-ms1m-int8-dw \
    blazeface:blazeface-int8 blazeface:blazeface-int8-all face_landmark_68_model:face_landmark_68_model-int8 \
    > "$OUT/bench.txt.partial"
  mv "$OUT/bench.txt.partial" "$OUT/bench.txt"
  cat "$OUT/bench.txt"
fi

if want check && [ ! -f "$OUT/check.txt" ]; then
  say "models check"
  {
    for t in 1 2; do
      for b in opencv-dnn onednn xnnpack onednn-bf16; do
        "$FR" --manifest "$MAN" models check face_recognition_model mobilefacenet-ms1m blazeface \
          face_landmark_68_model --backend "$b" --threads "$t" --runs 20 || echo "($b is not available on this CPU)"
      done
      "$FR" --manifest "$MAN" models check face_recognition_model-int8 mobilefacenet-ms1m-int8 \
        mobilefacenet-ms1m-int8-dw blazeface-int8 face_landmark_68_model-int8 --backend onednn --threads "$t" --runs 20
    done
  } > "$OUT/check.txt.partial"
  mv "$OUT/check.txt.partial" "$OUT/check.txt"
  cat "$OUT/check.txt"
fi

EMB=face_recognition_model+flip,face_recognition_model-int8+flip,face_recognition_model-int8-random+flip
EMB=$EMB,mobilefacenet-ms1m+flip,mobilefacenet-ms1m-int8+flip,mobilefacenet-ms1m-int8-random+flip
EMB=$EMB,mobilefacenet-ms1m-int8-dw+flip,dlib-mfn-fused+flip,dlib-mfn-fused-int8+flip
lfw() {  # PAIRS OUTNAME
  [ -f "$OUT/$2.json" ] && return
  say "LFW $1"
  "$FR" --manifest "$MAN" eval lfw --images "$SHARED/data/lfw/images" --pairs "$SHARED/data/lfw/$1" \
    --embedder "$EMB" --cache "$OUT/cache" --report "$OUT/$2" --json "$OUT/$2.json.partial" 2>&1 | tr '\r' '\n' |
    grep -v 'img/s' | tee "$OUT/$2.txt"
  mv "$OUT/$2.json.partial" "$OUT/$2.json"
}
if want view1; then lfw pairsDevTest.txt lfw-view1; fi
if want view2; then lfw pairs.txt lfw-view2; fi
say "done: $OUT"

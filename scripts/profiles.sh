#!/usr/bin/env bash
# Issue 13: the measurements behind README "Profiles" — speed against face-api on 200 LFW photos,
# LFW View 1 (dev) and View 2 (test, measured once) per profile, landmark NME on 300-W, detection
# recall of the cascade, and the Raspberry Pi 3 estimate. Every step writes its file and is skipped
# when the file exists: run it again after an interruption.
#   bash scripts/profiles.sh [STEP...]    steps: speed landmarks detection view1 view2 pi3 (default: all)
# View 2 is the test set: nothing here is chosen on it (the profiles were chosen on View 1).
#   OUT=runs/profiles SHARED=../shared MANIFEST=models/manifest.json
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/profiles}
FR=build/apps/facerec/facerec
MAN=${MANIFEST:-models/manifest.json}
STEPS=${*:-speed landmarks detection view1 view2 pi3}
mkdir -p "$OUT"
want() { [[ " $STEPS " == *" $1 "* ]]; }
say() { echo "[profiles] $*" >&2; }
keep() {  # FILE CMD...: run CMD into FILE unless FILE exists
  local f=$1
  shift
  if [ -f "$f" ]; then cat "$f"; return; fi
  "$@" > "$f.partial"
  mv "$f.partial" "$f"
  cat "$f"
}

if want speed; then
  say "speed: profiles and face-api on the same 200 LFW photos (one thread each)"
  (cd tools/parity && [ -d node_modules ] || npm ci --no-audit --no-fund)
  FACEREC_MANIFEST=$MAN keep "$OUT/speed.txt" build/bench/bench_profiles --photos 200 --faceapi tools/parity --stages
fi
if want landmarks; then
  say "landmarks: NME and ms per face on 300-W HELEN test and AFW (both held out from training)"
  keep "$OUT/landmarks.txt" "$FR" --manifest "$MAN" eval landmarks "$SHARED/data/300w/helen_test" \
    "$SHARED/data/300w/afw" --backend onednn --threads 1 --landmarker \
    face_landmark_68_model,face_landmark_68_model@2+flip,facerec-landmarks-96,facerec-landmarks-96+flip,facerec-landmarks-96@2+flip,facemesh \
    --report "$OUT"
  keep "$OUT/landmarks-opencv.txt" "$FR" --manifest "$MAN" eval landmarks "$SHARED/data/300w/helen_test" \
    --backend opencv-dnn --threads 1 --landmarker face_landmark_68_model,facerec-landmarks-96
fi
if want detection; then
  say "detection: the union (accurate), the cascade (balanced) and BlazeFace alone (edge)"
  for d in "blazeface+faceboxes" "blazeface-front>blazeface>faceboxes" "blazeface-front>blazeface" "blazeface>faceboxes"; do
    f=$OUT/detection-$(echo "$d" | tr '+>' 'pc').txt
    keep "$f" bash -c "\"$FR\" --manifest \"$MAN\" eval detection --xml \"$SHARED/data/samples/dlib-faces/testing.xml\" --detector '$d' &&
      \"$FR\" --manifest \"$MAN\" eval detection --xml \"$SHARED/data/samples/dlib-faces/training.xml\" --detector '$d' &&
      echo group photos: \$(\"$FR\" --manifest \"$MAN\" detect \"$SHARED\"/data/samples/group-photos/*.jpg --detector '$d' --json | grep -o '\"box\"' | wc -l) faces"
  done
  keep "$OUT/detection-pose.txt" "$FR" --manifest "$MAN" eval pose --images "$SHARED/data/300w" \
    --detector "blazeface+faceboxes,blazeface-front>blazeface>faceboxes,blazeface-front>blazeface"
fi
lfw() {  # PROFILE PAIRS NAME
  [ -f "$OUT/$3-$1.json" ] && { grep -m1 -i "accuracy" "$OUT/$3-$1.txt" || true; return; }
  say "LFW $2 with --profile $1"
  "$FR" --manifest "$MAN" eval lfw --profile "$1" --images "$SHARED/data/lfw/images" --pairs "$SHARED/data/lfw/$2" \
    --cache "$OUT/cache" --json "$OUT/$3-$1.json.partial" 2>&1 | tr '\r' '\n' | grep -v 'img/s' | tee "$OUT/$3-$1.txt"
  mv "$OUT/$3-$1.json.partial" "$OUT/$3-$1.json"
}
if want view1; then for p in accurate balanced edge; do lfw "$p" pairsDevTest.txt view1; done; fi
if want view2; then
  for p in accurate balanced edge; do lfw "$p" pairs.txt view2; done
  # the default pipeline (accurate) with facerec's landmark CNN instead of face-api's 68-point net
  [ -f "$OUT/view2-ourlandmarks.json" ] || {
    "$FR" --manifest "$MAN" eval lfw --profile accurate --landmarker facerec-landmarks-96 --passes 1 \
      --images "$SHARED/data/lfw/images" --pairs "$SHARED/data/lfw/pairs.txt" --cache "$OUT/cache" \
      --json "$OUT/view2-ourlandmarks.json.partial" 2>&1 | tr '\r' '\n' | grep -v 'img/s' | tee "$OUT/view2-ourlandmarks.txt"
    mv "$OUT/view2-ourlandmarks.json.partial" "$OUT/view2-ourlandmarks.json"
  }
fi
if want pi3; then keep "$OUT/pi3.txt" python3 scripts/pi3_estimate.py --manifest "$MAN"; fi
say "done: $OUT"

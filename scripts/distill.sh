#!/usr/bin/env bash
# Issue 12, part 1: knowledge distillation measured. A small student (MobileFaceNet at 64x64,
# 320-d like its teacher) is trained from scratch three ways on the same data, steps, batch,
# optimiser and schedule:
#   (a) all losses: ArcFace on the identities + embedding distillation from the teacher + feature
#       distillation (1x1 adapters to the stage maps of the teacher's MobileFaceNet component)
#   (b) the embedding distillation loss alone (no labels used)
#   (c) no teacher: ArcFace alone
# The teacher is facerec's default embedder, the fused dlib ResNet + MS1M MobileFaceNet with flip
# (320-d): its embeddings of every training image are written once by `facerec data merge` (as
# <data>/embeddings.bin) and read as a table (teacher=embeddings:<file>), so training never runs it.
# The data: celeba-small + celeba-wild + AT&T merged by `facerec data merge` with LFW's people
# excluded. Validation during training: held-out identities and LFW View 1 (pairsDevTest); LFW
# View 2 is measured once at the end (students, then the teacher from the embedding cache).
# Settings were fixed beforehand (as scripts/train_compare.sh; distill_weight 10 so that the
# distillation term's gradient is of the order of ArcFace's), not tuned.
# Resumable: run it again and each run continues from its last checkpoint.
#   bash scripts/distill.sh          (OUT=runs/distill, SHARED=../shared, STEPS=600, RUNS="c b a")
# A longer budget for some runs on the same data and aligned crops:
#   OUT=runs/distill-long DATA=runs/distill/data ALIGNED=runs/distill/aligned STEPS=3000 RUNS=b bash scripts/distill.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/distill}
STEPS=${STEPS:-600}
RUNS=${RUNS:-c b a}
FR=build/apps/facerec/facerec
DATA=${DATA:-$OUT/data}
ALIGNED=${ALIGNED:-$OUT/aligned}
mkdir -p "$OUT"
if [ ! -f "$DATA/embeddings.bin" ]; then
  rm -rf "$DATA"
  "$FR" data merge "$SHARED/data/celeba-small" "$SHARED/data/celeba-wild" "$SHARED/data/att_faces" \
    --exclude "$SHARED/data/lfw/images" --out "$DATA" | tee "$OUT/merge.txt"
fi
common=(--set "data=$DATA" --set data_kind=photos --set "cache=$ALIGNED"
  --set input=64 --set embedding=320 --set batch=64 --set "steps=$STEPS" --set warmup_steps=60
  --set lr=0.1 --set optimizer=sgd --set schedule=cosine --set min_images=2 --set validation_share=0.1
  --set validate_every=300 --set checkpoint_every=50 --set log_every=20 --set threads=2
  --set "lfw_images=$SHARED/data/lfw/images" --set "lfw_pairs=$SHARED/data/lfw/pairsDevTest.txt")
arcface=(--set loss=arcface --set s=32 --set m=0.4 --set sampler=shuffle)
teacher=(--set "teacher=embeddings:$DATA/embeddings.bin" --set distill_loss=cosine --set distill_weight=10)
features=(--set feature_teacher=onnx:mobilefacenet-ms1m --set feature_weight=1)
. scripts/train_lib.sh
run() {
  local name=$1
  shift
  train_run "$OUT/$name" "$STEPS" "${common[@]}" "$@"
}
for r in $RUNS; do
  case $r in
    a) run a "${arcface[@]}" "${teacher[@]}" "${features[@]}" ;;
    b) run b --set loss=none --set sampler=shuffle "${teacher[@]}" ;;
    c) run c "${arcface[@]}" ;;
    *) echo "unknown run $r (a, b or c)" >&2; exit 2 ;;
  esac
done
embedders=()
for r in $RUNS; do
  "$FR" train export "$OUT/$r" --name "student-$r" --manifest-out "$OUT/manifest.json"
  embedders+=("student-$r")
done
# LFW View 2, once: the students (retrained models are not read from the cache), then the teacher
"$FR" --manifest "$OUT/manifest.json" eval lfw --images "$SHARED/data/lfw/images" --pairs "$SHARED/data/lfw/pairs.txt" \
  --embedder "$(IFS=,; echo "${embedders[*]}")" --no-cache --report "$OUT/lfw-view2" --json "$OUT/lfw-view2.json"
"$FR" eval lfw --images "$SHARED/data/lfw/images" --pairs "$SHARED/data/lfw/pairs.txt" \
  --report "$OUT/lfw-view2-teacher" --json "$OUT/lfw-view2-teacher.json"
# cost: multiply-adds and ms per face of each network
for m in "${embedders[@]}"; do "$FR" --manifest "$OUT/manifest.json" models check "$m"; done | tee "$OUT/cost.txt"
for m in face_recognition_model mobilefacenet-ms1m; do "$FR" models check "$m"; done | tee -a "$OUT/cost.txt"

#!/usr/bin/env bash
# Issue 12, part 3: `facerec pose` (FaceMesh points fitted by MediaPipe's canonical 3D face model)
# against the only pose signal 300-W has: the yaw proxy of its 68-point annotations (asin of the
# nose tip's offset from the middle of the jaw line, approximate_yaw in evaluation.hpp). 300-W has
# no pose ground truth: this measures agreement, not accuracy.
#   bash scripts/pose_300w.sh [SUBSET]       (SUBSET=afw; SHARED=../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
SUBSET=${1:-afw}
OUT=${OUT:-runs/pose}
mkdir -p "$OUT"
build/apps/facerec/facerec pose "$SHARED/data/300w/$SUBSET"/*.jpg --mesh "$SHARED/models/mesh/canonical_face_model.obj" \
  --json > "$OUT/$SUBSET.jsonl" || true  # images without a face are reported on stderr and skipped
python3 - "$OUT/$SUBSET.jsonl" <<'PY'
import json, math, statistics as st, sys
faces = {}
for line in open(sys.argv[1]):
    j = json.loads(line)
    faces.setdefault(j["image"], []).append(j)
pairs = []
for img, fs in faces.items():
    pts = []
    for line in open(img[:-4] + ".pts"):
        s = line.split()
        try:
            if len(s) == 2:
                pts.append((float(s[0]), float(s[1])))
        except ValueError:
            pass
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    # the detected face whose box holds the annotation's centre
    f = min(fs, key=lambda f: (f["box"][0] + f["box"][2] / 2 - cx) ** 2 + (f["box"][1] + f["box"][3] / 2 - cy) ** 2)
    if abs(f["box"][0] + f["box"][2] / 2 - cx) > f["box"][2] / 2 or abs(f["box"][1] + f["box"][3] / 2 - cy) > f["box"][3] / 2:
        continue
    half, mid = (pts[16][0] - pts[0][0]) / 2, (pts[16][0] + pts[0][0]) / 2
    proxy = math.degrees(math.asin(max(-1, min(1, (pts[30][0] - mid) / half)))) if abs(half) > 1e-6 else 90
    pairs.append((proxy, f["yaw"], f["reprojection_error_px"]))
n = len(pairs)
a, b = [p[0] for p in pairs], [p[1] for p in pairs]
r = sum((x - st.mean(a)) * (y - st.mean(b)) for x, y, _ in pairs) / n / (st.pstdev(a) * st.pstdev(b))
big = [(x, y) for x, y, _ in pairs if abs(x) > 15]
print(f"{n} annotated faces found; Pearson r (pose yaw, annotation proxy) {r:.3f}; same sign where |proxy| > 15: "
      f"{sum((x > 0) == (y > 0) for x, y in big)}/{len(big)}; median fit {st.median(p[2] for p in pairs):.2f} px")
for lo, hi in ((0, 15), (15, 30), (30, 45), (45, 91)):
    sel = [y for x, y, _ in pairs if lo <= abs(x) < hi]
    if sel:
        print(f"|proxy yaw| {lo}-{hi} deg: {len(sel)} faces, mean |pose yaw| {st.mean(abs(v) for v in sel):.1f} deg")
PY

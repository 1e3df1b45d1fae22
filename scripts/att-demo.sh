#!/usr/bin/env bash
# 1:N on AT&T faces: enrol each of the 40 people from photo 1, identify photos 2..10 of everyone,
# print the rank-1 accuracy (a probe counts as right when its best candidate is its own person).
set -euo pipefail
cd "$(dirname "$0")/.."
F=${BUILD_DIR:-build}/apps/facerec/facerec
ATT=${FACEREC_SHARED:-$(cd .. && pwd)/shared}/data/att_faces
DB=$(mktemp -d)/att.db
for d in "$ATT"/s*/; do
  p=$(basename "$d")
  "$F" enroll --db "$DB" --name "$p" "$d/1.pgm" >/dev/null
done
"$F" people list --db "$DB" | wc -l | xargs echo "enrolled people:"
probes=()
for d in "$ATT"/s*/; do for i in 2 3 4 5 6 7 8 9 10; do probes+=("$d$i.pgm"); done; done
"$F" identify --db "$DB" --top 1 --json "${probes[@]}" | node -e '
  const lines = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
  let right = 0, total = 0, noface = 0, unknown = 0;
  for (const l of lines) {
    total++;
    const truth = l.image.split("/").slice(-2)[0];
    if (!l.faces.length) { noface++; continue; }
    const f = l.faces.reduce((a, b) => (a.box[2] * a.box[3] >= b.box[2] * b.box[3] ? a : b));
    if (f.candidates.length && f.candidates[0].name === truth) right++;
    if (f.identity === null) unknown++;
  }
  console.log(`probes ${total}, rank-1 correct ${right} (${(100 * right / total).toFixed(2)}%), no face ${noface}, below threshold (unknown) ${unknown}`);
'

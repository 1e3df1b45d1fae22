#!/usr/bin/env bash
# The REST service end to end on AT&T faces (../shared): start `facerec serve` on loopback, enrol
# each of the 40 people from photo 1 over HTTP (4 clients at once), identify photos 2..10 over
# HTTP and print the rank-1 accuracy, then load it with wrk (DURATION, default 60s; CONNECTIONS,
# default 4) on /v1/identify and print throughput, latency and errors.
#   scripts/service-demo.sh            (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
F=${BUILD_DIR:-build}/apps/facerec/facerec
ATT=${FACEREC_SHARED:-$(cd .. && pwd)/shared}/data/att_faces
[ -d "$ATT/s1" ] || { echo "service-demo: $ATT is absent" >&2; exit 3; }
WORK=$(mktemp -d)
PORT=${PORT:-$((30000 + RANDOM % 20000))}
export KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$KEY" > "$WORK/keys"
"$F" serve --create --db "$WORK/g.db" --port "$PORT" --api-keys "$WORK/keys" --pipelines 2 --quiet 2>"$WORK/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
URL=http://127.0.0.1:$PORT
for i in $(seq 1 100); do curl -sf "$URL/v1/health" >/dev/null && break; sleep 0.2; done
H="X-API-Key: $KEY"

enrol() {  # person dir
  local p; p=$(basename "$1")
  local id; id=$(curl -sf -H "$H" -d "{\"name\":\"$p\"}" "$URL/v1/people" | sed 's/.*"id":\([0-9]*\).*/\1/')
  curl -sf -H "$H" -H 'Content-Type: application/octet-stream' --data-binary @"$1/1.pgm" "$URL/v1/people/$id/faces" >/dev/null
}
export -f enrol; export H URL
start=$(date +%s.%N)
ls -d "$ATT"/s*/ | xargs -P 4 -I{} bash -c 'enrol {}'
end=$(date +%s.%N)
n=$(curl -sf -H "$H" "$URL/v1/people" | grep -o '"templates":1' | wc -l)
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "enrolled over HTTP: %d people in %.1f s (%.1f images/s, 4 clients)\n", n, e - s, n / (e - s) }' 

probes=()
for d in "$ATT"/s*/; do for i in 2 3 4 5 6 7 8 9 10; do probes+=("$d$i.pgm"); done; done
start=$(date +%s.%N)
printf '%s\n' "${probes[@]}" | xargs -P 4 -I{} sh -c \
  'r=$(curl -sf -H "$H" -H "Content-Type: application/octet-stream" --data-binary @"{}" "$URL/v1/identify?top=1"); printf "%s\t%s\n" "{}" "$r"' \
  > "$WORK/identify.tsv"
end=$(date +%s.%N)
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
  let right = 0, unknown = 0, noface = 0;
  for (const l of lines) {
    const [path, json] = l.split("\t");
    const truth = path.split("/").slice(-2)[0];
    const r = JSON.parse(json);
    if (!r.faces.length) { noface++; continue; }
    const f = r.faces.reduce((a, b) => (a.box.width * a.box.height >= b.box.width * b.box.height ? a : b));
    if (f.candidates.length && f.candidates[0].name === truth) right++;
    if (f.identity === null) unknown++;
  }
  console.log(`identified over HTTP: ${lines.length} probes, rank-1 correct ${right} (${(100 * right / lines.length).toFixed(2)}%), no face ${noface}, below threshold (unknown) ${unknown}`);
' "$WORK/identify.tsv"
awk -v n="${#probes[@]}" -v s="$start" -v e="$end" 'BEGIN { printf "identify throughput: %.1f images/s (4 clients)\n", n / (e - s) }' 

if command -v wrk >/dev/null; then
  echo "wrk: ${DURATION:-60s}, ${CONNECTIONS:-4} connections, POST /v1/identify with $ATT/s7/4.pgm"
  IMAGE="$ATT/s7/4.pgm" wrk -t2 -c"${CONNECTIONS:-4}" -d"${DURATION:-60s}" --timeout 10s -s scripts/wrk-identify.lua \
    "$URL/v1/identify" | grep -E "requests|latency|Requests/sec"
else
  echo "wrk not installed (scripts/setup.sh installs it); load test skipped"
fi
grep -c "^facerec serve: error" "$WORK/serve.log" | xargs echo "server errors logged:"

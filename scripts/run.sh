#!/usr/bin/env bash
# Set-up, then the main job: enrol people and identify faces.
#   1. enrol 20 people from two LFW photos each into a fresh gallery (out/gallery.db),
#   2. identify other photos of them, two people who are not enrolled, the dlib sample photos and
#      the group photos: every face with its best candidate, or "unknown" below the threshold
#      calibrated on LFW at FMR 1e-3,
#   3. draw every detection of the group photos into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
F="$BUILD_DIR/apps/facerec/facerec"
SHARED=${FACEREC_SHARED:-$(cd .. && pwd)/shared}
if [ ! -d "$SHARED/data" ]; then
  echo "no $SHARED/data: the main job needs the sample photos (set FACEREC_SHARED)" >&2
  exit 3
fi
LFW="$SHARED/data/lfw/images"
mkdir -p out
DB=out/gallery.db
rm -f "$DB" "$DB-wal" "$DB-shm"
people=(Tom_Cruise Colin_Powell George_W_Bush Tony_Blair Serena_Williams Hugo_Chavez Junichiro_Koizumi
        Gerhard_Schroeder Ariel_Sharon Donald_Rumsfeld Jennifer_Aniston Arnold_Schwarzenegger Vladimir_Putin
        Laura_Bush Jean_Chretien John_Ashcroft Lleyton_Hewitt Jacques_Chirac Nicole_Kidman Bill_Gates)
echo "== enrolling ${#people[@]} people (photos 1 and 2 of each) into $DB"
for p in "${people[@]}"; do
  "$F" enroll --db "$DB" --name "$p" "$LFW/$p/${p}_0001.jpg" "$LFW/$p/${p}_0002.jpg"
done
echo "== identifying photo 3 of each, two people who are not enrolled, and the sample photos"
probes=()
for p in "${people[@]}"; do probes+=("$LFW/$p/${p}_0003.jpg"); done
probes+=("$LFW/Angelina_Jolie/Angelina_Jolie_0001.jpg" "$LFW/Pete_Sampras/Pete_Sampras_0001.jpg")
probes+=("$SHARED"/data/samples/dlib-faces/Tom_Cruise_avp_2014_4.jpg "$SHARED"/data/samples/group-photos/*.jpg)
"$F" identify --db "$DB" --top 2 "${probes[@]}"
"$F" detect "$SHARED"/data/samples/group-photos/*.jpg --draw out >/dev/null
echo "== drawn detections of the group photos: out/"

#!/usr/bin/env bash
# Issue 12, part 2: `facerec data merge` measured against ground truth. celeba-small and
# celeba-wild carry the same CelebA identity numbers in their folder names (identities.tsv), so
# the overlaps are known; the merge runs on copies whose folders are renamed at random (symbolic
# links under $OUT/renamed), so it cannot use the names. LFW (all 5,749 people) is the exclude
# set. Prints precision and recall of the identity overlaps found, and how many CelebA identities
# the merge finds among LFW's people. Re-running re-uses the embedding cache.
#   bash scripts/merge_celeba.sh          (OUT=runs/merge, SHARED=../shared, EMBEDDER=default)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/merge}
FR=build/apps/facerec/facerec
EXTRA=()
[ -n "${EMBEDDER:-}" ] && EXTRA+=(--embedder "$EMBEDDER")
mkdir -p "$OUT"
python3 - "$SHARED/data" "$OUT/renamed" <<'EOF'
import hashlib, os, sys
data, out = sys.argv[1], sys.argv[2]
rows = []
for ds in ("celeba-small", "celeba-wild"):
    os.makedirs(os.path.join(out, ds), exist_ok=True)
    for ident in sorted(os.listdir(os.path.join(data, ds))):
        src = os.path.abspath(os.path.join(data, ds, ident))
        if not os.path.isdir(src):
            continue
        name = hashlib.sha256(f"20261203/{ds}/{ident}".encode()).hexdigest()[:12]
        link = os.path.join(out, ds, name)
        if not os.path.islink(link):
            os.symlink(src, link)
        rows.append(f"{ds}\t{name}\t{ident}")
with open(os.path.join(out, "map.tsv"), "w") as f:
    f.write("dataset\trenamed\tceleba_identity\n" + "\n".join(rows) + "\n")
EOF
rm -rf "$OUT/merged"
"$FR" data merge "$OUT/renamed/celeba-small" "$OUT/renamed/celeba-wild" --exclude "$SHARED/data/lfw/images" \
  --out "$OUT/merged" "${EXTRA[@]}" | tee "$OUT/merge.txt"
python3 - "$OUT" <<'EOF'
import csv, sys
out = sys.argv[1]
truth = {}
for r in csv.DictReader(open(f"{out}/renamed/map.tsv"), delimiter="\t"):
    truth[(r["dataset"], r["renamed"])] = r["celeba_identity"]
small = {v for (d, _), v in truth.items() if d == "celeba-small"}
wild = {v for (d, _), v in truth.items() if d == "celeba-wild"}
shared = small & wild
found, wrong, apart_true, excluded, within = set(), [], 0, {}, 0
for r in csv.DictReader(open(f"{out}/merged/overlaps.tsv"), delimiter="\t"):
    if r["decision"].startswith("duplicate"):
        continue
    a, b = r["a"].split(":", 1), r["b"].split(":", 1)
    ia = truth.get((a[0], a[1]))
    if r["decision"].startswith("same dataset"):
        within += 1
        continue
    if r["decision"] == "excluded":
        excluded.setdefault(a[0], set()).add(ia)
        continue
    ib = truth.get((b[0], b[1]))
    if r["decision"] == "merged":
        if ia == ib:
            found.add(ia)
        else:
            wrong.append((r["a"], ia, r["b"], ib, r["score"]))
    elif ia == ib:
        apart_true += 1
merged = len(found) + len(wrong)
print(f"identities: celeba-small {len(small)}, celeba-wild {len(wild)}, shared (ground truth) {len(shared)}")
print(f"merged {merged}: true {len(found)}, false {len(wrong)}; precision {len(found)/max(merged,1):.4f}, "
      f"recall {len(found)/len(shared):.4f}; true pairs kept apart (not mutual best) {apart_true}")
print(f"pairs within one input at or above the threshold (one person in two folders?): {within}")
for w in wrong:
    print("  false merge:", *w)
for d, s in sorted(excluded.items()):
    print(f"excluded as LFW people: {len(s)} {d} identities")
EOF

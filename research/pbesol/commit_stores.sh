#!/usr/bin/env bash
# Commit the PBEsol stores as they grow, each checked readable as committed:
#   bash research/pbesol/commit_stores.sh
# A store is written by a running labeller; a copy taken mid-write that does
# not read back is taken again.
set -euo pipefail
cd "$(dirname "$0")/../.."
for store in datasets/pbesol/*.h5 datasets/gfn2-xtb/*.h5; do
  for try in 1 2 3; do
    git add "$store"
    if git show ":$store" > /tmp/committed.h5 && python -c "
import sys
from ase_phonongnn.store import SnapshotStore
with SnapshotStore.open('/tmp/committed.h5') as s:
    s.read_atoms(None)
    print(sys.argv[1], s.counts())
" "$store"; then
      break
    fi
    sleep 5
  done
  # a store is committed from its first label on (the registry's test reads it)
  python -c "
import sys
from ase_phonongnn.store import SnapshotStore
with SnapshotStore.open('/tmp/committed.h5') as s:
    sys.exit(0 if s.counts().get('done', 0) else 1)
" || git reset -q -- "$store"
done
# the logs go in without their progress bars (the running labellers keep
# appending to the files themselves)
for log in research/pbesol/label.log research/pbesol/label-*.log; do
  [ -f "$log" ] || continue
  blob=$(tr '\r' '\n' < "$log" | grep -v -e '%|' -e 'snapshot/s\]' | git hash-object -w --stdin)
  git update-index --add --cacheinfo "100644,$blob,$log"
done
git commit -q -m "PBEsol labels so far: $(python -c "
from pathlib import Path
from ase_phonongnn.store import SnapshotStore
parts = []
for p in sorted(Path('datasets/pbesol').glob('*.h5')):
    with SnapshotStore.open(p) as s:
        c = s.counts()
    parts.append(f'{p.stem} {c[\"done\"]} done, {c[\"failed\"]} failed')
print('; '.join(parts))
")" || true

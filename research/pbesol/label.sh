#!/usr/bin/env bash
# Label the PBEsol family sets of research/pbesol/samples/ with GPAW, part by part:
#   bash research/pbesol/label.sh            (all parts, round robin over the sets)
#   SETS="thermal-Ag3SI" bash research/pbesol/label.sh
# Each set's labels go to datasets/pbesol/<set>.h5; re-running resumes
# (the store skips what it has). One worker on one core.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
SETS=${SETS:-"active-Ag3SBr phonon-Ag3SBr phonon-mixed off-ensemble off-ensemble-relaxed random-Ag3SBr random-mixed phonon-Ag3SI random-Ag3SI thermal-Ag3SI thermal-mixed"}
mkdir -p datasets/pbesol
for part in 0 1 2 3 4 5 6 7 8 9; do
  for set in $SETS; do
    input=research/pbesol/samples/$set-part$part.extxyz
    [ -f "$input" ] || continue
    echo "== $(date -u +%FT%TZ) $set part $part"
    phonongnn label "$input" --out "datasets/pbesol/$set.h5" --calculator gpaw
  done
done

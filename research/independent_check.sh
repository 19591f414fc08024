#!/usr/bin/env bash
# Score the shipped committee on phonon-informed Ag3SBr snapshots sampled
# apart from the shipped stores: new seeds (900-905, none used by
# research/datasets.sh), the samplers and force constants of phonon-Ag3SBr (300 K
# ones at 100-400 K, each temperature's own at 500 and 600 K), labelled with
# GFN2-xTB on the first SCF rung as the later shipped labels were.
#   bash research/independent_check.sh          (N=20 per temperature)
#   N=40 bash research/independent_check.sh     (more: the store resumes)
# Writes research/independent-check/: the samples, the labelled store and
# metrics.json (MAE, RMSE, R² and n from ase_phonongnn.prediction.evaluate, as
# phonongnn evaluate prints them, on the whole store and on each
# temperature). Re-running resumes: sampling is seeded, labelling skips what
# the store has.
set -euo pipefail
cd "$(dirname "$0")/.."
out=research/independent-check
n="${N:-20}"
mkdir -p "$out"
store="$out/phonon-Ag3SBr-check.h5"
seed=900
parts=()
for t in 100 200 300 400 500 600; do
  fc=ase_phonongnn/data/Ag3SBr_300K_params.yaml.xz
  [ "$t" -lt 500 ] || fc="ase_phonongnn/data/Ag3SBr_${t}K_params.yaml.xz"
  f="$out/T$t-n$n.extxyz"
  [ -f "$f" ] || phonongnn sample "$fc" --method normal-mode -T "$t" -n "$n" \
    --imaginary floor:0.5 --seed "$seed" --out "$f"
  parts+=("$f")
  seed=$((seed + 1))
done
source research/_interleave.sh
f="$out/all-n$n.extxyz"
interleave "$f" "${parts[@]}"
phonongnn label "$f" --out "$store" --calculator gfn2-xtb \
  --calculator-option retry=false --workers "${WORKERS:-1}"
python - "$store" "$out/metrics.json" <<'EOF'
"""Metrics of the shipped committee on the whole store and per temperature."""
import json
import sys

import numpy as np

from ase_phonongnn import keys
from ase_phonongnn.model import named_model
from ase_phonongnn.prediction import evaluate
from ase_phonongnn.store import SnapshotStore

with SnapshotStore.open(sys.argv[1]) as store:
    counts = store.counts()
    atoms = store.read_atoms("done")
temperatures = np.array([a.info[keys.TEMPERATURE] for a in atoms])
result = {
    "models": [p.name for p in named_model("gfn2-xtb").members],
    "store": counts,
    "all": evaluate("default", atoms),
}
for t in np.unique(temperatures):
    chosen = [a for a, ti in zip(atoms, temperatures) if ti == t]
    result[f"{t:g} K"] = evaluate("default", chosen)
with open(sys.argv[2], "w") as fh:
    json.dump(result, fh, indent=1)
for name, metrics in result.items():
    if isinstance(metrics, dict) and keys.BAND_GAP in metrics:
        print(name, {k: round(v["r2"], 3) for k, v in metrics.items()})
EOF

#!/usr/bin/env bash
# The paper's experiment on the PBEsol Ag3SI stores, MD snapshots as its
# third kind (phonon-informed, random, MD; each tested on its own kind, the
# others and all):
#   bash research/pbesol/paper_experiment.sh
#   SIZES="4 8 16 32" bash research/pbesol/paper_experiment.sh   (more, as the stores grow)
# Table 1 (the four targets, trained on all three kinds) is made too.
# Results, plots and the verdict go to research/pbesol/paper-experiment-Ag3SI/.
# A re-run resumes on the structures its results record (labelling may go on
# meanwhile); the test sets are fixed by the first run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
phonongnn paper-experiment \
  --phonon pbesol-phonon-Ag3SI --random pbesol-random-Ag3SI --md pbesol-md-Ag3SI \
  --sizes ${SIZES:-4 8 16} --seeds 0 1 2 3 4 --n-test "${N_TEST:-8}" \
  --out research/pbesol/paper-experiment-Ag3SI

"""The paper's experiment (PAPER.md Fig. 4 and Table 1) on our data.

Benítez et al. claim that GNNs trained on phonon-informed thermal snapshots
predict the band gap better, with fewer structures, than GNNs trained on
randomly displaced snapshots. :func:`run_experiment` checks the claim on two
labelled datasets (by default the shipped ``phonon-Ag3SBr`` and
``random-Ag3SBr`` stores), and on a third kind, MD snapshots, where one is
given (``ExperimentConfig(md=...)``), with the settings of an
:class:`ExperimentConfig`:

1. learning curves (Fig. 4): for every training size and seed, a model is
   trained on phonon-informed and one on random structures (and one on MD
   snapshots; training sets nested across sizes, validation 15:70 of the
   training size for early stopping), each scored on the fixed held-out test
   set of every kind and of all together (``combined``);
2. a Table-1 analog: one model per target trained on one kind or all, with
   MAE, RMSE and R² on its training, validation and test sets;
3. Fig. 5: the best and the poor curve run at the largest size, trained
   again and explained on the combined test set (bond-type importances,
   over all and per composition; :func:`explain_extremes`).

Every finished run is written to ``results.json`` in the output directory at
once; running again resumes (on the structures recorded there only, so that
labelling may go on meanwhile). ``phonongnn paper-experiment`` runs it from
the command line.
"""

from __future__ import annotations

from ase_phonongnn.experiment._config import (
    ALL_KINDS,
    KINDS,
    MD_KIND,
    QUICK,
    TEST_KINDS,
    ExperimentConfig,
)
from ase_phonongnn.experiment._experiment import run_experiment
from ase_phonongnn.experiment._explain import explain_extremes, pick_extremes
from ase_phonongnn.experiment._results import ResultsFile

__all__ = [
    "ALL_KINDS",
    "KINDS",
    "MD_KIND",
    "QUICK",
    "TEST_KINDS",
    "ExperimentConfig",
    "ResultsFile",
    "explain_extremes",
    "pick_extremes",
    "run_experiment",
]

"""Training: splits, target scaling, early stopping, metrics, studies, plots.

:func:`train` fits a registered model (:mod:`ase_phonongnn.model`) to labelled
structures; :func:`learning_curve` and :func:`sweep` repeat it over training
sizes and hyperparameter grids (:data:`PAPER_GRID`); :func:`evaluate_model`
scores a saved model; :func:`plot_parity` and :func:`plot_learning_curve`
write PNG figures. Structures come from snapshot stores and extxyz files
through :func:`load_structures` (``skip_retried=True`` leaves out labels whose
SCF converged only on a retry rung: :func:`retried_scf`). :func:`hash_split`
splits by content hash, so a structure keeps its set as a dataset grows.
"""

from __future__ import annotations

from ase_phonongnn.train._config import TrainConfig
from ase_phonongnn.train._data import (
    dataset_digest,
    labelled_graphs,
    load_structures,
    retried_scf,
    structure_labels,
)
from ase_phonongnn.train._metrics import regression_metrics
from ase_phonongnn.train._plots import plot_learning_curve, plot_parity
from ase_phonongnn.train._split import Split, hash_split, random_split
from ase_phonongnn.train._studies import (
    PAPER_GRID,
    PAPER_MODELS,
    LearningCurve,
    SweepResult,
    learning_curve,
    sweep,
)
from ase_phonongnn.train._trainer import (
    TrainResult,
    evaluate_model,
    predict_graphs,
    train,
)

__all__ = [
    "PAPER_GRID",
    "PAPER_MODELS",
    "LearningCurve",
    "Split",
    "SweepResult",
    "TrainConfig",
    "TrainResult",
    "dataset_digest",
    "evaluate_model",
    "hash_split",
    "labelled_graphs",
    "learning_curve",
    "load_structures",
    "plot_learning_curve",
    "plot_parity",
    "predict_graphs",
    "random_split",
    "regression_metrics",
    "retried_scf",
    "structure_labels",
    "sweep",
    "train",
]

"""Which bonds a prediction relies on: edge importances by bond type.

:func:`explain_prediction` gives the importance of every edge of a
structure's graph for one predicted target, with GNNExplainer (through
PyTorch Geometric's explain API, as Benítez et al. (2026) did) or with
integrated gradients (deterministic), scaled to [0, 1] per structure;
:func:`aggregate_bond_types` summarises them per element pair over a dataset
(mean, distribution, population, share of significant edges above 0.86).
:func:`deletion_curve` measures whether the importances are faithful:
removing the most important edges must change the prediction more than
removing as many random ones. :func:`plot_importance_density` and
:func:`plot_significant_edges` draw the paper's Fig. 5e,f and a structure
with its significant edges.
"""

from __future__ import annotations

from ase_phonongnn.explain._config import (
    METHODS,
    SIGNIFICANCE_THRESHOLD,
    ExplainConfig,
)
from ase_phonongnn.explain._explain import explain_dataset, explain_prediction
from ase_phonongnn.explain._metrics import (
    BondTypeDeletion,
    DeletionCurve,
    bond_type_deletion,
    deletion_curve,
)
from ase_phonongnn.explain._plots import (
    plot_deletion_curve,
    plot_importance_density,
    plot_significant_edges,
)
from ase_phonongnn.explain._result import (
    BondTypeStatistics,
    EdgeImportance,
    aggregate_bond_types,
    bond_type,
)

__all__ = [
    "METHODS",
    "SIGNIFICANCE_THRESHOLD",
    "BondTypeDeletion",
    "BondTypeStatistics",
    "DeletionCurve",
    "EdgeImportance",
    "ExplainConfig",
    "aggregate_bond_types",
    "bond_type",
    "bond_type_deletion",
    "deletion_curve",
    "explain_dataset",
    "explain_prediction",
    "plot_deletion_curve",
    "plot_importance_density",
    "plot_significant_edges",
]

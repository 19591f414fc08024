"""Labelling: band gap, VBM, energy and stress of snapshots with ASE calculators."""

from __future__ import annotations

from ase_phonongnn.label._config import LabelConfig
from ase_phonongnn.label._pool import LabelPool
from ase_phonongnn.label.calculators import CALCULATORS, resolve_calculator
from ase_phonongnn.label.labels import (
    band_edges,
    compute_labels,
    counted_band_edges,
    eigenvalue_band_edges,
    hydrostatic_stress,
)
from ase_phonongnn.label.run import (
    LabelOutcome,
    LabelSummary,
    label_one,
    label_snapshots,
)
from ase_phonongnn.label.xtb import GFN2xTB, closed_shell_edges

__all__ = [
    "CALCULATORS",
    "GFN2xTB",
    "LabelConfig",
    "LabelOutcome",
    "LabelPool",
    "LabelSummary",
    "band_edges",
    "closed_shell_edges",
    "compute_labels",
    "counted_band_edges",
    "eigenvalue_band_edges",
    "hydrostatic_stress",
    "label_one",
    "label_snapshots",
    "resolve_calculator",
]

"""Sampling: thermal snapshots of a supercell from its phonons."""

from __future__ import annotations

from ase_phonongnn.sample.config import METHODS, SamplingConfig
from ase_phonongnn.sample.force_constants import compute_force_constants, save_phonopy
from ase_phonongnn.sample.md import (
    MDCollapseError,
    MDSamplingConfig,
    decorrelation_lag,
    md_snapshots,
)
from ase_phonongnn.sample.modes import CommensurateModes, ImaginaryPolicy
from ase_phonongnn.sample.off_ensemble import (
    OFF_ENSEMBLE_KINDS,
    OffEnsembleConfig,
    off_ensemble_snapshots,
)
from ase_phonongnn.sample.plots import (
    DispersionBands,
    dispersion_bands,
    draw_dispersions,
    plot_dispersions,
)
from ase_phonongnn.sample.renormalise_md import (
    DynaPhoPyError,
    MDRenormalisationResult,
    md_supercell,
    renormalise_from_trajectory,
    symmetrise_force_constants,
)
from ase_phonongnn.sample.sampler import (
    PhononSampler,
    SnapshotSampler,
    nearest_sampler,
    thermal_amplitudes,
    to_phonopy_dataset,
)
from ase_phonongnn.sample.solid_solution import SolidSolutionSampler
from ase_phonongnn.sample.zg import special_displacement

__all__ = [
    "METHODS",
    "OFF_ENSEMBLE_KINDS",
    "CommensurateModes",
    "DispersionBands",
    "DynaPhoPyError",
    "ImaginaryPolicy",
    "MDCollapseError",
    "MDRenormalisationResult",
    "MDSamplingConfig",
    "OffEnsembleConfig",
    "PhononSampler",
    "SamplingConfig",
    "SnapshotSampler",
    "SolidSolutionSampler",
    "compute_force_constants",
    "decorrelation_lag",
    "dispersion_bands",
    "draw_dispersions",
    "md_snapshots",
    "md_supercell",
    "nearest_sampler",
    "off_ensemble_snapshots",
    "plot_dispersions",
    "renormalise_from_trajectory",
    "save_phonopy",
    "special_displacement",
    "symmetrise_force_constants",
    "thermal_amplitudes",
    "to_phonopy_dataset",
]

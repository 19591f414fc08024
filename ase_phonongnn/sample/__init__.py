"""Sampling: thermal snapshots of a supercell from its phonons."""

from __future__ import annotations

from ase_phonongnn.sample.config import METHODS, SamplingConfig
from ase_phonongnn.sample.force_constants import compute_force_constants, save_phonopy
from ase_phonongnn.sample.modes import CommensurateModes, ImaginaryPolicy
from ase_phonongnn.sample.plots import (
    DispersionBands,
    dispersion_bands,
    draw_dispersions,
    plot_dispersions,
)
from ase_phonongnn.sample.sampler import (
    PhononSampler,
    thermal_amplitudes,
    to_phonopy_dataset,
)
from ase_phonongnn.sample.zg import special_displacement

__all__ = [
    "METHODS",
    "CommensurateModes",
    "DispersionBands",
    "ImaginaryPolicy",
    "PhononSampler",
    "SamplingConfig",
    "compute_force_constants",
    "dispersion_bands",
    "draw_dispersions",
    "plot_dispersions",
    "save_phonopy",
    "special_displacement",
    "thermal_amplitudes",
    "to_phonopy_dataset",
]

"""The phonopy hook: thermal displacement datasets for phonopy objects."""

from __future__ import annotations

from ase_phonongnn_plugins.phonopy.hook import (
    thermal_displacement_dataset,
    write_thermal_supercells,
)

__all__ = ["thermal_displacement_dataset", "write_thermal_supercells"]

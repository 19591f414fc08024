"""Keys and units of every quantity that crosses a stage of the flow.

Labels use ASE property names and units. Provenance keys are the names under
which each snapshot records how it was made, in ``atoms.info`` and in the
store. Import the constants instead of writing the strings.
"""

from __future__ import annotations

from typing import Final

# Labels --------------------------------------------------------------------
ENERGY: Final = "energy"
FREE_ENERGY: Final = "free_energy"
FORCES: Final = "forces"
STRESS: Final = "stress"
ENERGY_PER_ATOM: Final = "energy_per_atom"
BAND_GAP: Final = "band_gap"
VBM: Final = "vbm"
HYDROSTATIC_STRESS: Final = "hydrostatic_stress"

#: The per-structure scalar targets of the paper, in a fixed order.
TARGETS: Final = (ENERGY_PER_ATOM, BAND_GAP, VBM, HYDROSTATIC_STRESS)
#: Per-structure scalar labels that depend on the electronic structure.
ELECTRONIC_TARGETS: Final = (BAND_GAP, VBM)

#: Unit of every label.
UNITS: Final = {
    ENERGY: "eV",
    FREE_ENERGY: "eV",
    FORCES: "eV/Ang",
    STRESS: "eV/Ang^3",
    ENERGY_PER_ATOM: "eV/atom",
    BAND_GAP: "eV",
    VBM: "eV",
    HYDROSTATIC_STRESS: "GPa",
}

# Provenance of a snapshot ---------------------------------------------------
METHOD: Final = "method"
TEMPERATURE: Final = "temperature"  # K
STATISTICS: Final = "statistics"
SEED: Final = "seed"
SNAPSHOT_INDEX: Final = "snapshot_index"
IMAGINARY_POLICY: Final = "imaginary_policy"
AMPLITUDE: Final = "amplitude"  # Ang, random method only
PLUS_MINUS: Final = "plus_minus"
FORCE_CONSTANTS_DIGEST: Final = "force_constants_digest"
PHONOPY_VERSION: Final = "phonopy_version"
PACKAGE_VERSION: Final = "ase_phonongnn_version"

#: Provenance keys written by the samplers, in ``atoms.info``.
SAMPLING_KEYS: Final = (
    METHOD,
    TEMPERATURE,
    STATISTICS,
    SEED,
    SNAPSHOT_INDEX,
    IMAGINARY_POLICY,
    AMPLITUDE,
    PLUS_MINUS,
    FORCE_CONSTANTS_DIGEST,
    PHONOPY_VERSION,
    PACKAGE_VERSION,
)

# Labelling records in the store ---------------------------------------------
CONTENT_HASH: Final = "content_hash"  # sha256 hex of numbers, positions, cell, pbc
LABEL_STATUS: Final = "label_status"  # one of STATUSES
LABEL_MESSAGE: Final = "label_message"  # why a labelling failed
LABELLER: Final = "labeller"  # name of the labelling calculator
LABEL_PROVENANCE: Final = "label_provenance"  # dict: parameters, retry rung, versions

PENDING: Final = "pending"
DONE: Final = "done"
FAILED: Final = "failed"
#: Labelling status of a snapshot in a store.
STATUSES: Final = (PENDING, DONE, FAILED)

#: Per-structure scalar labels kept by the store, in a fixed order.
SCALAR_LABELS: Final = (ENERGY, ENERGY_PER_ATOM, BAND_GAP, VBM, HYDROSTATIC_STRESS)
#: Keys the store writes into ``atoms.info`` itself (never taken from the input).
RECORD_KEYS: Final = (
    *SCALAR_LABELS,
    FREE_ENERGY,
    STRESS,
    CONTENT_HASH,
    LABEL_STATUS,
    LABEL_MESSAGE,
    LABELLER,
    LABEL_PROVENANCE,
)

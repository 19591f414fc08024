"""Keys and units of every quantity that crosses a stage of the flow.

Labels use ASE property names and units. Provenance keys are the names under
which each snapshot records how it was made, in ``atoms.info`` and in the
store. Import the constants instead of writing the strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
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


@dataclass(frozen=True)
class Property:
    """A label or prediction: its key, unit, shape and how plots and tables name it.

    Attributes
    ----------
    name
        The key (an ASE property name where ASE has one).
    unit
        Its unit, in ASCII (``Ang`` for Å).
    per_atom
        True for one value per atom, (n_atoms, 3) per structure (forces);
        False for one value or vector per structure.
    label
        Words for axes and titles ("band gap").
    symbol
        Its symbol in plain text, for table headings ("Eg").
    tex
        Its symbol in matplotlib's mathtext, without dollars (``E_g``).
    """

    name: str
    unit: str
    per_atom: bool
    label: str
    symbol: str
    tex: str

    def mean_symbol(self, *, tex: bool = False) -> str:
        """Return the symbol of a mean: ``<Eg>``, ``<E>/atom``; mathtext if ``tex``.

        Examples
        --------
        >>> PROPERTY_TABLE[ENERGY_PER_ATOM].mean_symbol()
        '<E>/atom'
        """
        per = "/atom" if self.unit.endswith("/atom") else ""
        if tex:
            return rf"$\langle {self.tex}\rangle${per}"
        return f"<{self.symbol}>{per}"


#: Every label and prediction by key: unit, per-atom or per-structure, and
#: the names plots and tables give it. The one place these are written.
PROPERTY_TABLE: Final[Mapping[str, Property]] = MappingProxyType(
    {
        p.name: p
        for p in (
            Property(ENERGY, "eV", False, "energy", "E", "E"),
            Property(FREE_ENERGY, "eV", False, "free energy", "F", "F"),
            Property(FORCES, "eV/Ang", True, "forces", "F_i", r"\mathbf{F}_i"),
            Property(STRESS, "eV/Ang^3", False, "stress", "sigma", r"\sigma"),
            Property(ENERGY_PER_ATOM, "eV/atom", False, "energy per atom", "E", "E"),
            Property(BAND_GAP, "eV", False, "band gap", "Eg", "E_g"),
            Property(VBM, "eV", False, "VBM", "VBM", r"\mathrm{VBM}"),
            Property(
                HYDROSTATIC_STRESS,
                "GPa",
                False,
                "hydrostatic stress",
                "sigma_h",
                r"\sigma_h",
            ),
        )
    }
)

#: Unit of every label (from :data:`PROPERTY_TABLE`).
UNITS: Final = {name: p.unit for name, p in PROPERTY_TABLE.items()}
#: Properties with one value per atom: (n_atoms, 3) per structure.
PER_ATOM: Final = tuple(name for name, p in PROPERTY_TABLE.items() if p.per_atom)


def plot_label(name: str) -> str:
    """Return the words plots give property ``name`` (the name if it has none)."""
    found = PROPERTY_TABLE.get(name)
    return name if found is None else found.label


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
BROMINE_FRACTION: Final = "bromine_fraction"  # x of an Ag3SBr_x I_(1-x) structure
OCCUPATION_INDEX: Final = "occupation_index"  # a solid solution's occupation at T

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

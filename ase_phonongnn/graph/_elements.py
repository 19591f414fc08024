"""Per-element node features: atomic number, mass, radius, electronegativity.

Sources
-------
- atomic mass (u): :data:`ase.data.atomic_masses`, the IUPAC 2016 standard
  atomic weights (abridged), as shipped by ASE.
- atomic radius (Å): :data:`ase.data.covalent_radii`, the single-bond covalent
  radii of B. Cordero et al., "Covalent radii revisited", Dalton Trans. 2008,
  2832-2838, as shipped by ASE.
- electronegativity (Pauling scale, dimensionless): the table below, the values
  of the CRC Handbook of Chemistry and Physics (97th ed., W. M. Haynes, 2016,
  "Electronegativity"), which are Pauling's revised by A. L. Allred,
  J. Inorg. Nucl. Chem. 17, 215 (1961). Elements without a Pauling value (He,
  Ne, Ar, Pm, Eu, Tb, Yb, Rn and Z > 94) have no features and are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
from ase.data import atomic_masses, chemical_symbols, covalent_radii
from numpy.typing import NDArray

from ase_phonongnn.errors import UnknownElementError

#: Names of the node features, in column order; units in :data:`FEATURE_UNITS`.
FEATURE_NAMES: Final = ("atomic_number", "mass", "radius", "electronegativity")
FEATURE_UNITS: Final = {
    "atomic_number": "1",
    "mass": "u",
    "radius": "Ang",
    "electronegativity": "Pauling",
}
#: Where each feature comes from (recorded in saved models).
FEATURE_SOURCE: Final = (
    "atomic_number; mass: ase.data.atomic_masses (IUPAC 2016); "
    "radius: ase.data.covalent_radii (Cordero et al., Dalton Trans. 2008, 2832); "
    "electronegativity: Pauling scale, CRC Handbook 97th ed. (Allred 1961)"
)

_NAN = math.nan
#: Pauling electronegativity by atomic number (index 0 unused), Z = 1 ... 94.
PAULING_ELECTRONEGATIVITY: Final[tuple[float, ...]] = (
    _NAN,
    2.20, _NAN,                                                  # H He
    0.98, 1.57, 2.04, 2.55, 3.04, 3.44, 3.98, _NAN,              # Li-Ne
    0.93, 1.31, 1.61, 1.90, 2.19, 2.58, 3.16, _NAN,              # Na-Ar
    0.82, 1.00, 1.36, 1.54, 1.63, 1.66, 1.55, 1.83, 1.88,        # K-Co
    1.91, 1.90, 1.65, 1.81, 2.01, 2.18, 2.55, 2.96, 3.00,        # Ni-Kr
    0.82, 0.95, 1.22, 1.33, 1.60, 2.16, 1.90, 2.20, 2.28,        # Rb-Rh
    2.20, 1.93, 1.69, 1.78, 1.96, 2.05, 2.10, 2.66, 2.60,        # Pd-Xe
    0.79, 0.89, 1.10, 1.12, 1.13, 1.14, _NAN, 1.17, _NAN,        # Cs-Eu
    1.20, _NAN, 1.22, 1.23, 1.24, 1.25, _NAN, 1.27,              # Gd-Lu
    1.30, 1.50, 2.36, 1.90, 2.20, 2.20, 2.28, 2.54, 2.00,        # Hf-Hg
    1.62, 2.33, 2.02, 2.00, 2.20, _NAN,                          # Tl-Rn
    0.70, 0.90, 1.10, 1.30, 1.50, 1.38, 1.36, 1.28,              # Fr-Pu
)  # fmt: skip


def _feature_table() -> NDArray[np.float64]:
    """Return the (n_elements, 4) feature table; rows of NaN mark unknown ones."""
    n = len(PAULING_ELECTRONEGATIVITY)
    table = np.full((n, len(FEATURE_NAMES)), np.nan)
    z = np.arange(n)
    table[:, 0] = z
    table[:, 1] = atomic_masses[:n]
    table[:, 2] = covalent_radii[:n]
    table[:, 3] = PAULING_ELECTRONEGATIVITY
    table[np.isnan(table[:, 3])] = np.nan
    table.setflags(write=False)
    return table


#: (95, 4) features by atomic number; a row of NaN means "no features".
ELEMENT_FEATURES: Final = _feature_table()


def element_features(
    numbers: Sequence[int] | NDArray[np.integer],
) -> NDArray[np.float64]:
    """Return the node features of atoms with the given atomic numbers.

    Parameters
    ----------
    numbers
        Atomic numbers, shape (n_atoms,).

    Returns
    -------
    ndarray
        Shape (n_atoms, 4), float64, columns :data:`FEATURE_NAMES`: atomic
        number, mass in u, covalent radius in Å, Pauling electronegativity.

    Raises
    ------
    UnknownElementError
        If an element has no entry in the table (see the module docstring).
    """
    z = np.asarray(numbers, dtype=np.int64)
    known = (z > 0) & (z < len(ELEMENT_FEATURES))
    known[known] = ~np.isnan(ELEMENT_FEATURES[z[known], 3])
    if not known.all():
        bad = sorted({int(x) for x in z[~known]})
        names = ", ".join(
            chemical_symbols[x] if 0 < x < len(chemical_symbols) else f"Z={x}"
            for x in bad
        )
        raise UnknownElementError(
            f"element {names} has no Pauling electronegativity in the node feature "
            f"table (known: Z = 1 to {len(ELEMENT_FEATURES) - 1} except He, Ne, Ar, "
            "Pm, Eu, Tb, Yb, Rn); graphs cannot be built for it"
        )
    return np.array(ELEMENT_FEATURES[z])

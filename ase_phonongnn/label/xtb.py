"""The built-in GFN2-xTB labeller (tblite), as an ASE calculator.

GFN2-xTB is run at the Γ point of the periodic cell through tblite's Python
interface. Besides energy, forces and stress it gives the band gap and the
valence-band maximum from the sorted orbital energies of the closed-shell
system: VBM = ε[n_el/2 − 1], CBM = ε[n_el/2]. The orbital energies and
occupations themselves are read with ASE's ``get_eigenvalues`` and
``get_occupation_numbers``, as from a DFT calculator.

The SCF of strongly distorted or iodine-rich snapshots may fail with the
default mixer. The calculator then walks a documented retry ladder
(:data:`RETRY_LADDER`): more damping and more iterations; the rung that
converged is kept in :attr:`GFN2xTB.used_settings` and recorded with the label.
GFN1-xTB is deliberately not offered: it gives broken energies and forces for
periodic Ag compounds.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import numpy as np
from ase import Atoms
from ase.calculators.calculator import (
    Calculator,
    CalculatorSetupError,
    PropertyNotImplementedError,
    all_changes,
)
from ase.units import Bohr, Hartree, kB

from ase_phonongnn import keys
from ase_phonongnn.errors import LabelError
from ase_phonongnn.label.labels import counted_band_edges

#: SCF settings tried in order until one converges. The first rung is tblite's
#: default; damping the Broyden mixer is what converges difficult snapshots
#: (raising ``max-iter`` alone does not).
RETRY_LADDER: Final[tuple[dict[str, float], ...]] = (
    {"mixer-damping": 0.4, "max-iter": 250},
    {"mixer-damping": 0.2, "max-iter": 500},
    {"mixer-damping": 0.1, "max-iter": 1000},
)


class GFN2xTB(Calculator):
    """GFN2-xTB through tblite: energy, forces, stress, band gap and VBM.

    Parameters
    ----------
    electronic_temperature
        Fermi smearing of the SCF in K (default 300 K).
    accuracy
        tblite's numerical accuracy (1.0 is tblite's default).
    retry
        Walk :data:`RETRY_LADDER` when the SCF fails (default True). With
        False only the first rung is tried.

    Notes
    -----
    Nothing is reused between calls: a new tblite context is built for every
    structure, so a label never depends on the order of labelling.
    """

    implemented_properties: ClassVar[list[str]] = [  # type: ignore[misc]
        keys.ENERGY,
        keys.FREE_ENERGY,
        keys.FORCES,
        keys.STRESS,
        keys.BAND_GAP,
        keys.VBM,
    ]
    #: Distributions whose versions are recorded with every label.
    dependencies: ClassVar[tuple[str, ...]] = ("tblite",)
    default_parameters: ClassVar[dict[str, Any]] = {  # type: ignore[misc]
        "electronic_temperature": 300.0,
        "accuracy": 1.0,
        "retry": True,
    }

    def __init__(
        self,
        electronic_temperature: float = 300.0,
        accuracy: float = 1.0,
        retry: bool = True,
    ) -> None:
        if electronic_temperature < 0:
            raise ValueError(
                "electronic_temperature must be >= 0 in K "
                f"(got {electronic_temperature})"
            )
        if accuracy <= 0:
            raise ValueError(f"accuracy must be positive (got {accuracy})")
        super().__init__(  # type: ignore[no-untyped-call]  # ASE is unannotated
            electronic_temperature=float(electronic_temperature),
            accuracy=float(accuracy),
            retry=bool(retry),
        )
        self.used_settings: dict[str, Any] = {}

    @property
    def name(self) -> str:
        """Name under which labels record this calculator."""
        return "gfn2-xtb"

    def todict(self, skip_default: bool = True) -> dict[str, Any]:
        """Parameters that define the labels (recorded as provenance).

        All parameters are returned, defaults included, whatever
        ``skip_default`` (kept for ASE's signature) says.
        """
        return {"method": "GFN2-xTB", **dict(self.parameters)}

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Run one GFN2-xTB single point (ASE calculator protocol)."""
        super().calculate(  # type: ignore[no-untyped-call]  # ASE is unannotated
            atoms, properties or [keys.ENERGY], system_changes
        )
        assert self.atoms is not None  # set by the base class
        result, settings = self._singlepoint(self.atoms)
        self.used_settings = settings
        energy = float(result.get("energy")) * Hartree
        forces = -np.asarray(result.get("gradient")) * Hartree / Bohr
        self.results = {
            keys.ENERGY: energy,
            keys.FREE_ENERGY: energy,
            keys.FORCES: forces,
        }
        if self.atoms.pbc.all():
            virial = np.asarray(result.get("virial")) * Hartree
            stress = virial / self.atoms.get_volume()
            self.results[keys.STRESS] = stress.flat[[0, 4, 8, 5, 2, 1]]
        orbital_energies = np.asarray(result.get("orbital-energies")) * Hartree
        occupations = np.asarray(result.get("orbital-occupations"))
        order = np.argsort(orbital_energies, kind="stable")
        self.results["eigenvalues"] = orbital_energies[order]
        self.results["occupations"] = occupations[order]
        vbm, cbm = closed_shell_edges(orbital_energies, occupations)
        self.results[keys.VBM] = vbm
        self.results[keys.BAND_GAP] = cbm - vbm

    # ASE's electronic-structure interface (one spin-paired Γ point), so that
    # the levels around the gap can be read as from any DFT calculator

    def get_number_of_spins(self) -> int:
        """Return 1: GFN2-xTB is run spin-paired."""
        return 1

    def get_ibz_k_points(self) -> np.ndarray:
        """Return the Γ point only, shape (1, 3) in scaled coordinates."""
        return np.zeros((1, 3))

    def get_k_point_weights(self) -> np.ndarray:
        """Return weight 1 for the single Γ point."""
        return np.ones(1)

    def get_eigenvalues(self, kpt: int = 0, spin: int = 0) -> np.ndarray:
        """Orbital energies of the last calculation in eV, ascending.

        Parameters
        ----------
        kpt, spin
            Must be 0 (one Γ point, spin-paired).
        """
        return self._levels("eigenvalues", kpt, spin)

    def get_occupation_numbers(self, kpt: int = 0, spin: int = 0) -> np.ndarray:
        """Occupations (0 to 2) of :meth:`get_eigenvalues`' orbitals, same order."""
        return self._levels("occupations", kpt, spin)

    def _levels(self, name: str, kpt: int, spin: int) -> np.ndarray:
        if kpt != 0 or spin != 0:
            raise IndexError(
                f"GFN2-xTB has one Γ point and no spin polarisation "
                f"(got kpt={kpt}, spin={spin})"
            )
        if name not in self.results:
            raise PropertyNotImplementedError(
                f"no {name} yet: run a calculation first (e.g. get_potential_energy)"
            )
        return np.asarray(self.results[name]).copy()

    def _singlepoint(self, atoms: Atoms) -> tuple[Any, dict[str, Any]]:
        try:
            from tblite.interface import Calculator as TBLiteCalculator
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError(
                "the GFN2-xTB labeller needs tblite: pip install 'ase-phonongnn[xtb]'"
            ) from err
        if atoms.pbc.any() and not atoms.pbc.all():
            raise CalculatorSetupError(
                f"GFN2-xTB needs a fully periodic or a molecular structure "
                f"(got pbc={atoms.pbc.tolist()})"
            )
        periodic = bool(atoms.pbc.all())
        ladder = RETRY_LADDER if self.parameters["retry"] else RETRY_LADDER[:1]
        messages = []
        for rung, settings in enumerate(ladder):
            calc = TBLiteCalculator(
                "GFN2-xTB",
                atoms.numbers,
                atoms.positions / Bohr,
                lattice=atoms.cell.array / Bohr if periodic else None,
                periodic=np.array([periodic] * 3) if periodic else None,
            )
            calc.set("verbosity", 0)
            calc.set("accuracy", self.parameters["accuracy"])
            calc.set(
                "temperature", self.parameters["electronic_temperature"] * kB / Hartree
            )
            for key, value in settings.items():
                calc.set(key, value)
            try:
                result = calc.singlepoint()
            except RuntimeError as err:
                messages.append(f"rung {rung} {settings}: {err}")
                continue
            return result, {"retry_rung": rung, **settings}
        raise LabelError(
            "GFN2-xTB SCF failed on every rung of the retry ladder: "
            + "; ".join(messages)
        )


def closed_shell_edges(
    orbital_energies: np.ndarray, occupations: np.ndarray
) -> tuple[float, float]:
    """Return (VBM, CBM) of a closed-shell Γ-point calculation.

    Parameters
    ----------
    orbital_energies
        Orbital energies in eV, shape (n_orbitals,), any order.
    occupations
        Orbital occupations (0 to 2), shape (n_orbitals,); their sum is the
        number of electrons n_el.

    Returns
    -------
    tuple of float
        ε[n_el/2 − 1] and ε[n_el/2] of the sorted energies, in eV.
    """
    n_electrons = round(float(np.sum(occupations)))
    return counted_band_edges(np.asarray(orbital_energies)[None, :], n_electrons)

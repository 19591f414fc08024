"""The built-in DFT labeller: GPAW at PBEsol, as an ASE calculator.

Each structure is computed by a new GPAW calculator with the keyword
arguments of :data:`PBESOL_DEFAULTS` (plane waves to 400 eV, PBEsol, Γ
point, Fermi–Dirac smearing of 0.05 eV, initial wave functions from the
double-ζ polarised atomic basis), overridable one by one. The
PBEsol PAW datasets ship with the package (:func:`paw_dataset_directory`;
gpaw-data carries PBE ones only) and are put on GPAW's search path, so
nothing is downloaded or generated at run time.

Labels: energy, forces and (in plane waves) the stress tensor from GPAW; VBM
and band gap from the eigenvalues over all k-points by counting electrons
(:func:`gpaw_band_edges`: the smearing's partial occupations of a small gap
do not make it a metal); the hydrostatic stress from the stress tensor, and
in LCAO mode, which has none, as the symmetric finite difference of the
energy under isotropic strain,

    σh = [E(1 + δ) − E(1 − δ)] / (2 δ · 3 V),

with every length of the cell and the positions scaled by 1 ± δ
(:data:`DEFAULT_STRAIN`). It is the derivative of the same LCAO energy whose
forces are labelled, so energy, forces and σh stay consistent.

``todict`` gives exactly the GPAW keyword arguments: ``GPAW(**parameters)``
on the same atoms, with :func:`paw_dataset_directory` first in
``gpaw.setup_paths``, reproduces a stored label. Ask for the forces before the
occupation numbers: with GPAW 26.7 in LCAO mode, forces computed after
``get_occupation_numbers`` are wrong (the labeller keeps that order).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Final

import numpy as np
from ase import Atoms
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from ase.units import GPa

from ase_phonongnn import keys
from ase_phonongnn.errors import LabelError
from ase_phonongnn.label.labels import (
    counted_band_edges,
    eigenvalue_band_edges,
    hydrostatic_stress,
)

#: GPAW keyword arguments of the built-in PBEsol labeller (the 11-electron Ag
#: dataset: 4d¹⁰5s¹ in the valence; ``basis`` gives the initial wave
#: functions). Chosen by the measurements in the documentation's
#: level-of-theory page.
PBESOL_DEFAULTS: Final[Mapping[str, Any]] = {
    "mode": {"name": "pw", "ecut": 400},
    "basis": "dzp",
    "xc": "PBEsol",
    "kpts": (1, 1, 1),
    "setups": {"Ag": "11"},
    "occupations": {"name": "fermi-dirac", "width": 0.05},
}

#: Relative isotropic strain δ of the finite-difference hydrostatic stress.
DEFAULT_STRAIN: Final = 0.003


def paw_dataset_directory() -> Path:
    """Directory of the shipped PBEsol PAW datasets (Ag.11, S, Br, I).

    Generated with GPAW's own generator at its default settings per element,
    ``gpaw dataset -f PBEsol -w EL`` (Ag with ``-e 11 -t 11``), and gzipped.
    """
    return Path(str(importlib.resources.files("ase_phonongnn.data") / "paw"))


def paw_datasets(
    numbers: np.ndarray, parameters: Mapping[str, Any]
) -> dict[str, dict[str, str]]:
    """Which shipped PAW dataset each element of a structure uses, with a digest.

    Parameters
    ----------
    numbers
        Atomic numbers of the structure.
    parameters
        The GPAW keyword arguments (``xc`` and ``setups`` name the files).

    Returns
    -------
    dict
        Per element symbol: ``file`` (the dataset's file name) and ``sha256``
        of its bytes; elements whose dataset does not ship (GPAW takes them
        from gpaw-data) get ``"gpaw-data"`` as digest.
    """
    from ase.data import chemical_symbols

    xc = parameters.get("xc", "LDA")
    xc_name = xc["name"] if isinstance(xc, Mapping) else str(xc)
    setups = parameters.get("setups", {})
    directory = paw_dataset_directory()
    found: dict[str, dict[str, str]] = {}
    for symbol in sorted({chemical_symbols[z] for z in numbers}):
        tag = setups.get(symbol, "paw") if isinstance(setups, Mapping) else setups
        stem = symbol if tag == "paw" else f"{symbol}.{tag}"
        name = f"{stem}.{xc_name}.gz"
        path = directory / name
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[symbol] = {"file": name, "sha256": digest}
        else:
            found[symbol] = {"file": f"{stem}.{xc_name}", "sha256": "gpaw-data"}
    return found


def _add_setup_path() -> None:
    import gpaw

    directory = paw_dataset_directory()
    if directory not in [Path(p) for p in gpaw.setup_paths]:
        gpaw.setup_paths.insert(0, directory)


class GPAWPBEsol(Calculator):
    """GPAW at PBEsol: energy, forces, stress, band gap and VBM.

    Parameters
    ----------
    strain
        Relative isotropic strain δ of the finite-difference hydrostatic stress
        in LCAO mode (default :data:`DEFAULT_STRAIN`); ``None`` leaves LCAO
        without σh. Plane waves (the default mode) give GPAW's stress tensor
        instead.
    **gpaw_parameters
        GPAW keyword arguments that replace or add to :data:`PBESOL_DEFAULTS`,
        e.g. ``mode={"name": "pw", "ecut": 600}`` or ``mode="lcao"``. ``txt``
        is always None (no output file).

    Attributes
    ----------
    implemented_properties : list of str
        Energy, forces, band gap and VBM; the hydrostatic stress unless
        ``strain`` is None in LCAO mode; the stress tensor where GPAW's mode
        has one.

    Notes
    -----
    Nothing is reused between structures: each is computed by new GPAW
    calculators, so a label never depends on the order of labelling.
    """

    #: Distributions whose versions are recorded with every label.
    dependencies: ClassVar[tuple[str, ...]] = ("gpaw", "gpaw-data")

    def __init__(
        self, strain: float | None = DEFAULT_STRAIN, **gpaw_parameters: Any
    ) -> None:
        if strain is not None and not 0 < strain < 0.05:
            raise ValueError(
                f"strain must be between 0 and 0.05 (got {strain}); e.g. 0.003, "
                "or None to skip the hydrostatic stress"
            )
        gpaw_parameters.pop("txt", None)
        self.gpaw_parameters: dict[str, Any] = {
            **copy.deepcopy(dict(PBESOL_DEFAULTS)),
            **gpaw_parameters,
        }
        super().__init__()  # type: ignore[no-untyped-call]
        self.strain = strain
        has_stress = self._mode() != "lcao"
        self.implemented_properties = [
            keys.ENERGY,
            keys.FREE_ENERGY,
            keys.FORCES,
            keys.BAND_GAP,
            keys.VBM,
            *([keys.STRESS] if has_stress else []),
            *([keys.HYDROSTATIC_STRESS] if has_stress or strain is not None else []),
        ]
        self.used_settings: dict[str, Any] = {}
        self._converged = Atoms()  # the last structure, with its GPAW

    @property
    def name(self) -> str:
        """Name under which labels record this calculator."""
        return "gpaw"

    def todict(self, skip_default: bool = True) -> dict[str, Any]:
        """Return the GPAW keyword arguments: ``GPAW(**todict())`` reproduces a label.

        All of them are returned, defaults included, whatever
        ``skip_default`` (kept for ASE's signature) says.
        """
        return copy.deepcopy(self.gpaw_parameters)

    def _new_gpaw(self) -> Any:
        try:
            from gpaw import GPAW
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError(
                "the GPAW labeller needs gpaw: pip install 'ase-phonongnn[dft]'"
            ) from err
        _add_setup_path()
        return GPAW(**copy.deepcopy(self.gpaw_parameters), txt=None)

    def _mode(self) -> str:
        mode = self.gpaw_parameters.get("mode", "fd")
        return str(mode["name"] if isinstance(mode, Mapping) else mode)

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Run GPAW on the structure (ASE calculator protocol).

        One SCF gives energy, forces, band gap and VBM. The stress is computed
        when it is asked for: from the converged plane-wave calculation, or
        in LCAO (σh only) by two more SCFs on strained cells, so that forces
        alone (phonons, renormalisation, relaxations) cost one SCF and no
        stress.
        """
        properties = list(properties or [keys.ENERGY])
        if system_changes or keys.ENERGY not in self.results:
            super().calculate(  # type: ignore[no-untyped-call]
                atoms, properties, system_changes
            )
            self._single_point()
        stress_asked = {keys.STRESS, keys.HYDROSTATIC_STRESS} & set(properties)
        if stress_asked - set(self.results):
            if self._mode() == "lcao":
                self._strain_stress()
            else:
                self._tensor_stress()

    def _structure(self) -> Atoms:
        assert self.atoms is not None  # set by the base class
        return Atoms(
            self.atoms.numbers,
            self.atoms.positions,
            cell=self.atoms.cell,
            pbc=self.atoms.pbc,
        )

    def _single_point(self) -> None:
        structure = self._structure()
        dft = self._new_gpaw()
        structure.calc = dft
        energy = float(structure.get_potential_energy())
        self.results = {
            keys.ENERGY: energy,
            keys.FREE_ENERGY: float(
                structure.get_potential_energy(force_consistent=True)
            ),
            keys.FORCES: np.asarray(structure.get_forces(), dtype=np.float64),
        }
        self.results[keys.VBM], self.results[keys.BAND_GAP] = gpaw_band_edges(dft)
        self.used_settings = {
            "paw_datasets": paw_datasets(structure.numbers, self.gpaw_parameters),
        }
        self._converged = structure

    def _tensor_stress(self) -> None:
        structure = self._converged
        if not structure.pbc.all():
            raise PropertyNotImplementedError(
                "the stress needs a periodic structure "
                f"(got pbc={structure.pbc.tolist()})"
            )
        stress = np.asarray(structure.get_stress(voigt=True), dtype=np.float64)
        self.results[keys.STRESS] = stress
        self.results[keys.HYDROSTATIC_STRESS] = float(hydrostatic_stress(stress))
        self.used_settings["hydrostatic_stress"] = "GPAW stress tensor"

    def _strain_stress(self) -> None:
        structure = self._converged
        if not structure.pbc.all() or self.strain is None:
            raise PropertyNotImplementedError(
                "the hydrostatic stress needs a periodic structure and strain "
                f"(got pbc={structure.pbc.tolist()}, strain={self.strain})"
            )
        self.results[keys.HYDROSTATIC_STRESS] = strain_hydrostatic_stress(
            structure, self._new_gpaw, self.strain
        )
        self.used_settings["hydrostatic_stress"] = {
            "method": "central difference of the energy under isotropic strain",
            "strain": self.strain,
        }


def strain_hydrostatic_stress(
    atoms: Atoms, new_calculator: Callable[[], Any], strain: float
) -> float:
    """Hydrostatic stress (GPa) as the symmetric strain derivative of the energy.

    σh = [E(1 + δ) − E(1 − δ)] / (2 δ · 3 V), the cell and positions scaled by
    1 ± δ; positive when tensile (ASE's sign).

    Parameters
    ----------
    atoms
        Periodic structure; it is not modified.
    new_calculator
        Returns a new ASE calculator for each strained cell.
    strain
        δ, e.g. 0.003.

    Returns
    -------
    float
        σh in GPa.
    """
    energies = []
    for sign in (1.0, -1.0):
        strained = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
        strained.set_cell(atoms.cell * (1 + sign * strain), scale_atoms=True)
        strained.calc = new_calculator()
        energies.append(float(strained.get_potential_energy()))
    derivative = (energies[0] - energies[1]) / (2 * strain)
    return float(derivative / (3 * atoms.get_volume()) / GPa)


def gpaw_band_edges(dft: Any) -> tuple[float, float]:
    """VBM and band gap (eV) of a converged GPAW calculation.

    Spin-paired: by counting electrons over every k-point
    (:func:`~ase_phonongnn.label.labels.counted_band_edges`), so that the
    Fermi–Dirac smearing of a small gap does not read as a metal; a metal
    has gap 0. Spin-polarised: from the occupations
    (:func:`~ase_phonongnn.label.labels.eigenvalue_band_edges`). Ask GPAW for
    the forces before calling this: with GPAW 26.7 in LCAO mode, forces
    computed after the occupation numbers are read are wrong.
    """
    if int(dft.get_number_of_spins()) == 1:
        eigenvalues = [
            dft.get_eigenvalues(kpt=k, spin=0)
            for k in range(len(dft.get_ibz_k_points()))
        ]
        vbm, cbm = counted_band_edges(eigenvalues, dft.get_number_of_electrons())
        return vbm, max(0.0, cbm - vbm)
    edges = eigenvalue_band_edges(dft)
    if edges is None:  # pragma: no cover - GPAW always has eigenvalues
        raise LabelError("GPAW gave no eigenvalues for the band edges")
    return edges

"""PhononSampler: thermal snapshots of a supercell from its phonons.

Four methods (see :class:`~ase_phonongnn.sample.config.SamplingConfig`):

``paper``
    Eq. 3 of Benítez et al. (2026): u_jα = ε ζ_jα with ε ~ U[−1, 1] drawn
    independently per atom and direction and the site-projected thermal
    amplitude

        ζ²_jα = ħ/(2 N m_j) Σ_{q,ν} (1 + 2 n_ν(q, T)) / ω_ν(q) |e^α_ν(j, q)|²,

    with the sum over the N commensurate q-points of the supercell. ζ² is the
    thermal mean-square displacement, but a uniform ε has ⟨ε²⟩ = 1/3, so these
    snapshots have ⟨u²_jα⟩ = ζ²_jα / 3, not the thermal ζ²_jα, and no
    correlation between atoms.
``normal-mode``
    u = Σ_λ ξ_λ σ_λ e_λ/√m with independent ξ_λ ~ N(0, 1): the exact harmonic
    canonical distribution over all commensurate modes (what phonopy, hiphive
    and ASE's PhononHarmonics do), σ²_λ = ħ(1 + 2n)/(2ω) or k_B T/ω².
``zg``
    The Zacharias–Giustino special displacement: one configuration per T with
    the thermal per-atom mean-square displacement.
``random``
    Eq. 2: u_jα = ε a with ε ~ U[−1, 1]; the temperature is only recorded.

Rigid translations are excluded from the modes, so normal-mode and zg snapshots
keep the centre of mass in place; paper and random follow their equations
exactly, centre-of-mass fluctuation included.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import phonopy
from ase import Atoms
from ase.neighborlist import neighbor_list
from numpy.typing import ArrayLike, NDArray
from phonopy import Phonopy

from ase_phonongnn import keys
from ase_phonongnn._version import __version__
from ase_phonongnn.errors import SamplingError
from ase_phonongnn.sample._phonopy import (
    force_constants_digest,
    full_force_constants,
    load_phonopy,
    make_phonopy,
    to_ase_atoms,
)
from ase_phonongnn.sample.config import METHODS, SamplingConfig
from ase_phonongnn.sample.modes import CommensurateModes, ImaginaryPolicy, Statistics
from ase_phonongnn.sample.zg import special_displacement

#: The type of the samplers :func:`nearest_sampler` chooses among.
SamplerT = TypeVar("SamplerT")


class SnapshotSampler(abc.ABC):
    """What draws thermal snapshots: :meth:`sample` over :meth:`sample_config`.

    :class:`PhononSampler` and
    :class:`~ase_phonongnn.sample.SolidSolutionSampler` are both; anything
    that takes one (e.g. :func:`~ase_phonongnn.prediction.thermal_averages`)
    takes the other.
    """

    def sample(
        self,
        temperature: float | Sequence[float],
        n_snapshots: int,
        method: str = "normal-mode",
        *,
        statistics: Statistics = "quantum",
        imaginary: str | ImaginaryPolicy = "error",
        amplitude: float | None = None,
        plus_minus: bool = False,
        min_distance: float | None = None,
        seed: int | None = None,
    ) -> list[Atoms]:
        """Draw thermal snapshots of the supercell.

        Parameters
        ----------
        temperature
            K, one value or several; ``n_snapshots`` are drawn at each.
        n_snapshots
            Snapshots per temperature (even with ``plus_minus``).
        method
            "paper", "normal-mode", "zg" or "random".
        statistics, imaginary, amplitude, plus_minus, min_distance
            See :class:`SamplingConfig`.
        seed
            Seed of the random numbers; None draws one and records it. The
            snapshots at temperature T depend only on (seed, T, amplitude),
            not on the other temperatures requested.

        Returns
        -------
        list of Atoms
            Displaced supercells; ``info`` holds method, temperature,
            statistics, seed, snapshot index, policy, force-constant digest and
            versions (keys in :mod:`ase_phonongnn.keys`).
        """
        config = SamplingConfig(
            method=method,  # type: ignore[arg-type]
            statistics=statistics,
            imaginary=ImaginaryPolicy.parse(imaginary),
            amplitude=amplitude,
            plus_minus=plus_minus,
            min_distance=min_distance,
        )
        return self.sample_config(temperature, n_snapshots, config, seed=seed)

    @abc.abstractmethod
    def sample_config(
        self,
        temperature: float | Sequence[float],
        n_snapshots: int,
        config: SamplingConfig,
        seed: int | None = None,
    ) -> list[Atoms]:
        """Like :meth:`sample`, with the options as a :class:`SamplingConfig`."""

    @property
    @abc.abstractmethod
    def supercell(self) -> Atoms:
        """The undisplaced supercell (a copy) whose sites the snapshots displace."""

    def ideal_structure(self, rng: np.random.Generator | None = None) -> Atoms:
        """Return an undisplaced structure of what is sampled (a copy).

        The supercell; a sampler of a disordered crystal returns one of its
        configurations, drawn with ``rng``.
        """
        return self.supercell


class PhononSampler(SnapshotSampler):
    """Thermal snapshots of a supercell from harmonic (or renormalised) phonons.

    Parameters
    ----------
    atoms
        Unit cell (used as phonopy's primitive cell).
    supercell_matrix
        Integer supercell matrix, shape (3, 3) or (3,).
    force_constants
        Force constants in eV/Å², full (N, N, 3, 3) or compact
        (n_unit, N, 3, 3), in phonopy's supercell atom order.

    See Also
    --------
    PhononSampler.from_phonopy, PhononSampler.from_file
    ase_phonongnn.sample.md_snapshots : the canonical ensemble by MD.

    Notes
    -----
    Every method draws a Gaussian ensemble about the supercell's ideal
    structure. Where that structure is a saddle of the potential (off-centre
    minima, as in the Ag3S(Br,I) antiperovskites), the crystal's ensemble is
    not Gaussian and the snapshots sit between its minima;
    :func:`~ase_phonongnn.sample.md_snapshots` with a trained potential
    samples the minima too.

    Examples
    --------
    Any phonopy_params.yaml with force constants, here the shipped Ag3SBr
    renormalised at 300 K:

    >>> from ase_phonongnn.data import force_constants_path
    >>> sampler = PhononSampler.from_file(force_constants_path("Ag3SBr", 300))
    >>> snapshots = sampler.sample(300.0, 4, method="normal-mode",
    ...                            imaginary="floor:0.5", seed=1)
    >>> len(snapshots), snapshots[0].get_chemical_formula()
    (4, 'Ag24Br8S8')
    """

    def __init__(
        self, atoms: Atoms, supercell_matrix: ArrayLike, force_constants: ArrayLike
    ) -> None:
        fc = np.asarray(force_constants, dtype=np.float64)
        self._init_from(make_phonopy(atoms, supercell_matrix, fc))

    @classmethod
    def from_phonopy(cls, phonon: Phonopy) -> PhononSampler:
        """Build from a :class:`phonopy.Phonopy` that has force constants."""
        sampler = cls.__new__(cls)
        sampler._init_from(load_phonopy(phonon))
        return sampler

    @classmethod
    def from_file(cls, path: str | Path) -> PhononSampler:
        """Build from a phonopy_params.yaml (or phonopy.yaml with forces)."""
        sampler = cls.__new__(cls)
        sampler._init_from(load_phonopy(path))
        return sampler

    def _init_from(self, phonon: Phonopy) -> None:
        self._supercell = to_ase_atoms(phonon.supercell)
        self._force_constants = full_force_constants(phonon)
        self._digest = force_constants_digest(self._force_constants, self._supercell)

    @property
    def supercell(self) -> Atoms:
        """The undisplaced supercell (a copy), in phonopy's atom order."""
        supercell: Atoms = self._supercell.copy()
        return supercell

    @property
    def force_constants_digest(self) -> str:
        """Short hash of the force constants and supercell.

        Every snapshot records it in ``atoms.info["force_constants_digest"]``.
        """
        return self._digest

    @property
    def force_constants(self) -> NDArray[np.float64]:
        """Full supercell force constants in eV/Å², shape (N, N, 3, 3)."""
        return self._force_constants.copy()

    @cached_property
    def modes(self) -> CommensurateModes:
        """Commensurate phonon modes of the supercell (translations excluded)."""
        return CommensurateModes.from_force_constants(
            self._force_constants, self._supercell.get_masses()
        )

    def thermal_amplitudes(
        self,
        temperature: float,
        statistics: Statistics = "quantum",
        imaginary: str | ImaginaryPolicy = "error",
    ) -> NDArray[np.float64]:
        """Return the site-projected thermal amplitudes ζ_jα(T) in Å.

        ζ²_jα is the thermal mean-square displacement of atom j along α (eq. 3
        of the paper, summed over the commensurate modes).

        Parameters
        ----------
        temperature
            K, ≥ 0.
        statistics
            "quantum" or "classical".
        imaginary
            Imaginary-mode policy.

        Returns
        -------
        ndarray
            ζ, shape (N, 3), Å.
        """
        config = SamplingConfig(
            statistics=statistics, imaginary=ImaginaryPolicy.parse(imaginary)
        )
        modes = self._displacement_modes(_check_temperature(temperature), config)
        zeta: NDArray[np.float64] = np.sqrt(np.einsum("mja,mja->ja", modes, modes))
        return zeta

    def covariance(
        self,
        temperature: float,
        statistics: Statistics = "quantum",
        imaginary: str | ImaginaryPolicy = "error",
    ) -> NDArray[np.float64]:
        """Return the thermal displacement covariance ⟨u_jα u_kβ⟩ in Å².

        Returns
        -------
        ndarray
            Shape (3N, 3N), index 3 j + α.
        """
        config = SamplingConfig(
            statistics=statistics, imaginary=ImaginaryPolicy.parse(imaginary)
        )
        modes = self._displacement_modes(_check_temperature(temperature), config)
        flat = modes.reshape(modes.shape[0], -1)
        return flat.T @ flat

    def sample_config(
        self,
        temperature: float | Sequence[float],
        n_snapshots: int,
        config: SamplingConfig,
        seed: int | None = None,
    ) -> list[Atoms]:
        """Like :meth:`sample`, with the options as a :class:`SamplingConfig`."""
        temperatures, seed = check_request(temperature, n_snapshots, config, seed)
        snapshots = []
        for value in temperatures:
            rng = np.random.default_rng(
                np.random.SeedSequence(
                    int(seed),
                    spawn_key=(
                        round(value * 1000),
                        round((config.amplitude or 0.0) * 1e6),
                    ),
                )
            )
            displacements = self._draw(float(value), n_snapshots, config, rng)
            info = self._provenance(float(value), config, int(seed))
            for index, u in enumerate(displacements):
                atoms = self._supercell.copy()
                atoms.positions += u
                atoms.info.update(info)
                atoms.info[keys.SNAPSHOT_INDEX] = index
                snapshots.append(atoms)
        return snapshots

    def dataset(self, snapshots: Sequence[Atoms]) -> dict[str, Any]:
        """Return snapshots as a phonopy type-II dataset ``{"displacements": ...}``.

        Set it as ``phonon.dataset`` (same supercell) to write supercell files
        with phonopy or to fit force constants once forces are known.
        """
        return to_phonopy_dataset(snapshots, self._supercell)

    # -- internals ---------------------------------------------------------------

    def _displacement_modes(
        self, temperature: float, config: SamplingConfig
    ) -> NDArray[np.float64]:
        return self.modes.displacement_modes(
            temperature, config.statistics, config.imaginary
        )

    def _draw(
        self,
        temperature: float,
        n_snapshots: int,
        config: SamplingConfig,
        rng: np.random.Generator,
    ) -> NDArray[np.float64]:
        n_draw = n_snapshots // 2 if config.plus_minus else n_snapshots
        accepted: list[NDArray[np.float64]] = []
        attempts = 0
        while len(accepted) < n_draw:
            batch = self._draw_batch(temperature, n_draw - len(accepted), config, rng)
            attempts += len(batch)
            accepted.extend(u for u in batch if self._acceptable(u, config))
            if attempts >= config.max_attempts * n_draw and len(accepted) < n_draw:
                raise SamplingError(
                    f"only {len(accepted)} of {n_draw} snapshots at {temperature} K "
                    f"kept an interatomic distance >= {config.min_distance} Å after "
                    f"{attempts} draws: lower min_distance or the temperature, or "
                    "renormalise the phonons"
                )
        u = np.array(accepted[:n_draw])
        if config.plus_minus:
            u = np.stack([u, -u], axis=1).reshape(-1, *u.shape[1:])
        return u

    def _draw_batch(
        self,
        temperature: float,
        n: int,
        config: SamplingConfig,
        rng: np.random.Generator,
    ) -> NDArray[np.float64]:
        return SAMPLING_METHODS[config.method](self, temperature, n, config, rng)

    def _used(self, config: SamplingConfig) -> NDArray[np.bool_]:
        return self.modes.effective(config.imaginary)[1]

    def _acceptable(self, u: NDArray[np.float64], config: SamplingConfig) -> bool:
        if config.min_distance is None:
            return True
        atoms = self._supercell.copy()
        atoms.positions += u
        return bool(neighbor_list("i", atoms, config.min_distance).size == 0)

    def _provenance(
        self, temperature: float, config: SamplingConfig, seed: int
    ) -> dict[str, Any]:
        return {
            keys.METHOD: config.method,
            keys.TEMPERATURE: temperature,
            keys.STATISTICS: config.statistics,
            keys.SEED: seed,
            keys.IMAGINARY_POLICY: str(config.imaginary),
            keys.AMPLITUDE: config.amplitude if config.amplitude is not None else 0.0,
            keys.PLUS_MINUS: config.plus_minus,
            keys.FORCE_CONSTANTS_DIGEST: self._digest,
            keys.PHONOPY_VERSION: phonopy.__version__,
            keys.PACKAGE_VERSION: __version__,
        }


def nearest_sampler(
    samplers: Mapping[float, SamplerT], temperature: float
) -> tuple[float, SamplerT]:
    """Return the sampler whose force constants are nearest in temperature.

    Parameters
    ----------
    samplers
        ``{T_fc: sampler}``: samplers of force constants renormalised at T_fc
        (K).
    temperature
        K.

    Returns
    -------
    tuple
        ``(T_fc, sampler)``; on a tie the lower T_fc.

    Examples
    --------
    >>> nearest_sampler({300.0: "a", 500.0: "b"}, 400.0)
    (300.0, 'a')
    """
    if not samplers:
        raise ValueError("samplers is empty: give at least one {temperature: sampler}")
    key = min(samplers, key=lambda t: (abs(float(t) - temperature), float(t)))
    return float(key), samplers[key]


def check_request(
    temperature: float | Sequence[float],
    n_snapshots: int,
    config: SamplingConfig,
    seed: int | None,
) -> tuple[NDArray[np.float64], int]:
    """Check the arguments of a ``sample_config`` call.

    Returns
    -------
    tuple
        The temperatures as an array (K) and the seed (drawn where None).
    """
    temperatures = np.atleast_1d(np.asarray(temperature, dtype=float))
    for value in temperatures:
        _check_temperature(value)
    if isinstance(n_snapshots, bool) or not isinstance(n_snapshots, int | np.integer):
        raise TypeError(f"n_snapshots must be an integer (got {n_snapshots!r})")
    if n_snapshots <= 0:
        raise ValueError(f"n_snapshots must be positive (got {n_snapshots})")
    if config.plus_minus and n_snapshots % 2:
        raise ValueError(
            f"n_snapshots must be even with plus_minus (got {n_snapshots})"
        )
    if seed is None:
        return temperatures, secrets.randbits(63)
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (got {seed!r})")
    return temperatures, int(seed)


def to_phonopy_dataset(
    snapshots: Sequence[Atoms], reference: Atoms
) -> dict[str, NDArray[np.float64]]:
    """Return displaced supercells as a phonopy type-II dataset.

    Parameters
    ----------
    snapshots
        Displaced copies of ``reference`` (same atoms, same order, same cell).
    reference
        The undisplaced supercell.

    Returns
    -------
    dict
        ``{"displacements": u}``, u in Å, shape (n_snapshots, N, 3).
    """
    if len(snapshots) == 0:
        raise ValueError("snapshots is empty: nothing to put in a dataset")
    u = []
    for index, atoms in enumerate(snapshots):
        if len(atoms) != len(reference) or np.any(atoms.numbers != reference.numbers):
            raise ValueError(
                f"snapshot {index} does not match the reference supercell "
                f"({atoms.get_chemical_formula()} vs "
                f"{reference.get_chemical_formula()})"
            )
        u.append(atoms.positions - reference.positions)
    return {"displacements": np.array(u)}


def thermal_amplitudes(
    sampler: PhononSampler,
    temperatures: ArrayLike,
    statistics: Statistics = "quantum",
    imaginary: str | ImaginaryPolicy = "error",
) -> NDArray[np.float64]:
    """Return ζ_jα(T) for several temperatures, Å, shape (n_T, N, 3).

    See :meth:`PhononSampler.thermal_amplitudes`.
    """
    return np.array(
        [
            sampler.thermal_amplitudes(float(t), statistics, imaginary)
            for t in np.atleast_1d(temperatures)
        ]
    )


def _check_temperature(temperature: float) -> float:
    value = float(temperature)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"temperature must be >= 0 in K (got {temperature})")
    return value


# -- the sampling methods: method name -> displacements (n, n_atoms, 3) in Å --

Drawer = Callable[
    [PhononSampler, float, int, SamplingConfig, np.random.Generator],
    NDArray[np.float64],
]


def _draw_random(
    sampler: PhononSampler,
    temperature: float,
    n: int,
    config: SamplingConfig,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Eq. 2: u = ε·a, ε ~ U[−1, 1] per atom and direction."""
    assert config.amplitude is not None  # validated by SamplingConfig
    n_atoms = len(sampler._supercell)
    return config.amplitude * rng.uniform(-1.0, 1.0, size=(n, n_atoms, 3))


def _draw_paper(
    sampler: PhononSampler,
    temperature: float,
    n: int,
    config: SamplingConfig,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Eq. 3: u = ε·ζ, ζ the site-projected thermal amplitude."""
    modes = sampler._displacement_modes(temperature, config)
    zeta: NDArray[np.float64] = np.sqrt(np.einsum("mja,mja->ja", modes, modes))
    n_atoms = len(sampler._supercell)
    return zeta * rng.uniform(-1.0, 1.0, size=(n, n_atoms, 3))


def _draw_zg(
    sampler: PhononSampler,
    temperature: float,
    n: int,
    config: SamplingConfig,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Zacharias–Giustino special displacements."""
    modes = sampler._displacement_modes(temperature, config)
    numbers = sampler._supercell.numbers
    return np.array([special_displacement(modes, numbers, rng) for _ in range(n)])


def _draw_normal_mode(
    sampler: PhononSampler,
    temperature: float,
    n: int,
    config: SamplingConfig,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Correlated Gaussian displacements over every commensurate mode.

    u = M^-1/2 E diag(σ) E^T ξ with ξ ~ N(0, 1) in all 3N directions: the
    symmetric square root of the covariance, so that a seed gives the same
    snapshots whatever basis the eigensolver picks in degenerate subspaces.
    """
    modes = sampler._displacement_modes(temperature, config)
    n_atoms = len(sampler._supercell)
    eigenvectors = sampler.modes.eigenvectors[sampler._used(config)]
    xi = rng.standard_normal((n, 3 * n_atoms))
    normal = xi @ eigenvectors.reshape(eigenvectors.shape[0], -1).T
    u: NDArray[np.float64] = normal @ modes.reshape(modes.shape[0], -1)
    return u.reshape(n, n_atoms, 3)


#: The sampling methods by name (the names of :data:`METHODS`); a new method
#: is a drawer here and its name in :data:`METHODS`.
SAMPLING_METHODS: Final[dict[str, Drawer]] = {
    "paper": _draw_paper,
    "normal-mode": _draw_normal_mode,
    "zg": _draw_zg,
    "random": _draw_random,
}
if set(SAMPLING_METHODS) != set(METHODS):  # pragma: no cover - a programming error
    raise ImportError("SAMPLING_METHODS and METHODS name different methods")

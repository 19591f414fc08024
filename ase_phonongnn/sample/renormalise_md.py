"""Renormalised force constants at T from an MD trajectory (DynaPhoPy).

This is the second route to effective force constants at a temperature (the
first, :mod:`ase_phonongnn.sample.renormalise`, is self-consistent sampling).
It reads the phonons off a molecular-dynamics trajectory by normal-mode
decomposition (A. Carreras, A. Togo, I. Tanaka, Comput. Phys. Commun. 221, 221
(2017)), through DynaPhoPy's Python API, in memory:

1. the mass-weighted velocities of the MD supercell are projected onto the
   harmonic eigenvectors e_ν(q) at every q commensurate with the
   force-constant supercell,

       v_qν(t) = N_c^{-1/2} Σ_j √m_j e^{−i q·r_j} e*_ν(κ_j, q) · v_j(t),

2. the power spectrum G_qν(ν) = |∫ v_qν(t) e^{2πiνt} dt|² of every projection
   is fitted with a Lorentzian whose centre is the renormalised (quasiparticle)
   frequency ν̃_qν(T) and whose full width is the linewidth Γ_qν(T),
3. the renormalised dynamical matrices D̃(q) = Σ_ν (2π ν̃_qν)² e_ν e_ν^†, with
   the harmonic eigenvectors, are transformed back to supercell force
   constants.

The anharmonicity enters only through the frequencies; the eigenvectors stay
harmonic. Degenerate modes and symmetry-equivalent q-points are averaged
before fitting. The MD supplies classical statistics at its own temperature;
the result describes the frequencies at that temperature and volume.

Workarounds for DynaPhoPy 1.19 with phonopy ≥ 2.26, all applied here:

* ``symmetrize=True`` calls ``Supercell.get_cell``, removed from phonopy, so
  it is never used. The force constants are symmetrised afterwards with
  phonopy's symfc projector (``symmetrize_force_constants(
  use_symfc_projector=True)``), which imposes the space group, translational
  invariance and index permutation symmetry in one projection.
* DynaPhoPy sets the three lowest frequencies at Γ to zero, taking them for
  the acoustic modes. With imaginary optical modes at Γ (cubic Ag3SBr) those
  are the wrong modes: Γ is refitted here and the zeros go to the three modes
  whose eigenvectors are rigid translations.
* DynaPhoPy's internal phonopy objects use the standard mass of each element.
  The force constants are rescaled by √(m_i m_j / m⁰_i m⁰_j), so that the
  returned phonon, with the masses of the given one, has the renormalised
  frequencies.
* Its settings are a process-wide singleton: they are set explicitly for each
  call and restored afterwards. Its console output is captured, and its
  ``exit()`` on bad input becomes a :class:`DynaPhoPyError` (the checks here
  are meant to catch such input first).

The trajectory must be at constant cell (NVE or NVT), of a supercell that is a
diagonal multiple of the unit cell, commensurate with the force-constant
supercell, with atoms in the order of :func:`md_supercell` (for an MD cell
equal to the force-constant supercell this is phonopy's supercell order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms

from ase_phonongnn.errors import DynaPhoPyError
from ase_phonongnn.sample import _trajectory
from ase_phonongnn.sample._dynaphopy import (
    PEAKS,
    POWER_SPECTRA,
    SpectrumSettings,
    quasiparticle_force_constants,
)
from ase_phonongnn.sample._phonopy import (
    full_force_constants,
    load_phonopy,
    set_force_constants,
)

__all__ = [
    "DynaPhoPyError",
    "MDRenormalisationResult",
    "md_supercell",
    "renormalise_from_trajectory",
    "symmetrise_force_constants",
]

PowerSpectrum = Literal["fft", "mem"]
PeakShape = Literal["lorentzian", "asymmetric-lorentzian", "damped-oscillator"]


@dataclass(frozen=True)
class MDRenormalisationResult:
    """Outcome of :func:`renormalise_from_trajectory`.

    Attributes
    ----------
    phonon
        Phonopy object (unit cell, supercell and primitive matrices and masses
        of the input) with the renormalised, symmetrised force constants.
    q_points
        Commensurate q-points in reduced coordinates of the primitive
        reciprocal lattice, shape (n_q, 3).
    frequencies
        Fitted renormalised frequencies ν̃ in THz, shape (n_q, n_bands), in the
        band order of the harmonic phonons (ascending harmonic frequency);
        zero for the translations at Γ.
    harmonic_frequencies
        Harmonic frequencies in THz (imaginary negative), shape (n_q, n_bands).
    linewidths
        Full widths at half maximum of the fitted peaks in THz, shape
        (n_q, n_bands); at least about 1/(trajectory duration) with
        ``power_spectrum="fft"``, so short runs give resolution-limited widths.
    temperature
        The temperature given by the caller in K, or the kinetic temperature
        when none was given (None then without velocities).
    kinetic_temperature
        Mean kinetic temperature of the frames in K, 2⟨E_kin⟩/((3N − 3) k_B);
        None when the frames carry no velocities.
    n_frames
        Frames analysed.
    time_step
        Time between frames in fs.
    source
        ``velocities`` (stored velocities) or ``positions`` (velocities from
        finite differences of the positions, by DynaPhoPy).
    symmetrisation_change
        Largest change of a force-constant element made by the symmetrisation,
        eV/Å².
    """

    phonon: Phonopy
    q_points: NDArray[np.float64]
    frequencies: NDArray[np.float64]
    harmonic_frequencies: NDArray[np.float64]
    linewidths: NDArray[np.float64]
    temperature: float | None
    kinetic_temperature: float | None
    n_frames: int
    time_step: float
    source: Literal["velocities", "positions"]
    symmetrisation_change: float

    @property
    def frequency_shifts(self) -> NDArray[np.float64]:
        """ν̃ − ν in THz, shape (n_q, n_bands)."""
        return self.frequencies - self.harmonic_frequencies

    def to_dict(self) -> dict[str, Any]:
        """Return everything but the phonon as JSON-serialisable data."""
        return {
            "q_points": self.q_points.tolist(),
            "frequencies_thz": self.frequencies.tolist(),
            "harmonic_frequencies_thz": self.harmonic_frequencies.tolist(),
            "linewidths_thz": self.linewidths.tolist(),
            "temperature": self.temperature,
            "kinetic_temperature": self.kinetic_temperature,
            "n_frames": self.n_frames,
            "time_step_fs": self.time_step,
            "source": self.source,
            "symmetrisation_change": self.symmetrisation_change,
        }


def md_supercell(
    phonon: Phonopy | str | Path, multiple: ArrayLike | None = None
) -> Atoms:
    """Return the undisplaced MD supercell in the atom order DynaPhoPy expects.

    Start the MD from this cell, or write the trajectory in its order.

    Parameters
    ----------
    phonon
        Phonopy object or phonopy_params.yaml; its unit cell is repeated.
    multiple
        Repetitions of the unit cell along its three axes, shape (3,);
        default: the diagonal of the force-constant supercell matrix (which
        must then be diagonal).

    Returns
    -------
    Atoms
        Periodic supercell with the masses of the unit cell, unit-cell atom
        by unit-cell atom, each over the lattice points with the first axis
        running fastest (phonopy's order for a diagonal supercell matrix).
    """
    phonon = load_phonopy(phonon)
    reps = _trajectory.repetitions(phonon, multiple)
    unit = phonon.unitcell
    cell = np.asarray(unit.cell)
    grid = np.stack(
        np.meshgrid(*(np.arange(r) for r in reps[::-1]), indexing="ij"), axis=-1
    ).reshape(-1, 3)[:, ::-1]
    positions = np.asarray(unit.positions)[:, None, :] + (grid @ cell)[None]
    return Atoms(
        symbols=np.repeat(list(unit.symbols), len(grid)).tolist(),
        positions=positions.reshape(-1, 3),
        cell=cell * reps[:, None],
        masses=np.repeat(np.asarray(unit.masses), len(grid)),
        pbc=True,
    )


def renormalise_from_trajectory(
    phonon: Phonopy | str | Path,
    trajectory: str | Path | Sequence[Atoms],
    temperature: float | None = None,
    time_step: float | None = None,
    *,
    index: str = ":",
    source: Literal["auto", "velocities", "positions"] = "auto",
    reorder: bool = False,
    power_spectrum: PowerSpectrum = "fft",
    n_mem_coefficients: int = 300,
    peak: PeakShape = "lorentzian",
    resolution: float = 0.05,
    frequency_max: float | None = None,
    min_frames: int = 100,
) -> MDRenormalisationResult:
    """Renormalised force constants from an MD trajectory, by DynaPhoPy.

    Parameters
    ----------
    phonon
        Harmonic force constants: a Phonopy object or phonopy_params.yaml.
    trajectory
        A file that ``ase.io.read`` reads (extxyz, ASE .traj, ...) or a list
        of Atoms, one per frame, equally spaced in time, at constant cell.
        Frames with velocities (momenta) are used as they are; otherwise
        DynaPhoPy differentiates the positions.
    temperature
        MD temperature in K, recorded in the result (default: the kinetic
        temperature of the frames).
    time_step
        Time between stored frames in fs (MD time step × write interval).
        Required.
    index
        Frames to read from a file, in ``ase.io.read`` syntax (``"200:"``
        skips 200 frames of equilibration).
    source
        ``auto`` (velocities when every frame has nonzero momenta, else
        positions), ``velocities`` or ``positions``.
    reorder
        Put the atoms of the frames into the order of :func:`md_supercell`,
        matched by position in the first frame. Without it a different order
        is an error.
    power_spectrum
        ``fft`` (robust for short trajectories) or ``mem`` (maximum entropy,
        smoother spectra from long ones).
    n_mem_coefficients
        Coefficients of the maximum-entropy method; fewer than the frames.
    peak
        Function fitted to each peak.
    resolution
        Spacing of the frequency grid of the power spectra, THz.
    frequency_max
        Upper end of the analysed frequencies, THz; default twice the highest
        harmonic ``|frequency|`` at the commensurate points, at most the Nyquist
        frequency 1/(2 time_step).
    min_frames
        Fewer frames than this are refused.

    Returns
    -------
    MDRenormalisationResult
        Symmetrised renormalised force constants and the fitted frequencies.

    Raises
    ------
    ValueError
        A trajectory that does not match the supercell (atom count, species,
        order, cell, commensurability), too few frames, a missing or
        inconsistent time step, bad options.
    DynaPhoPyError
        DynaPhoPy stopped, or peak fits failed (too short a trajectory, or a
        mode that is unstable in the MD).
    ImportError
        DynaPhoPy is not installed (extra ``renorm``).
    """
    harmonic = load_phonopy(phonon)
    if time_step is None:
        raise ValueError(
            "time_step is required: the time between stored frames in fs (the MD "
            "time step times the write interval)"
        )
    if not time_step > 0:
        raise ValueError(f"time_step must be positive in fs (got {time_step})")
    if temperature is not None and not temperature > 0:
        raise ValueError(f"temperature must be positive in K (got {temperature})")
    _check_options(power_spectrum, peak, resolution, frequency_max, min_frames)
    frames = _trajectory.read_frames(trajectory, index)
    if len(frames) < min_frames:
        raise ValueError(
            f"the trajectory has {len(frames)} frames, fewer than min_frames="
            f"{min_frames}: run longer or store frames more often"
        )
    if power_spectrum == "mem" and n_mem_coefficients >= len(frames) - 1:
        raise ValueError(
            f"n_mem_coefficients={n_mem_coefficients} must be below the number of "
            f"frames minus one ({len(frames) - 1}); lower it or use "
            "power_spectrum='fft'"
        )
    reps = _trajectory.md_repetitions(harmonic, frames[0])
    _trajectory.check_commensurate(harmonic, reps)
    md_cell = md_supercell(harmonic, reps)
    frames = _trajectory.match_frames(frames, md_cell, reorder)
    positions = np.array([frame.positions for frame in frames])
    velocity = _trajectory.velocities(frames, source)
    if velocity is not None:
        _trajectory.check_time_step(positions, velocity, md_cell.cell.array, time_step)

    q_points = _trajectory.commensurate_points(harmonic)
    highest = float(np.abs(harmonic.run_qpoints(q_points).frequencies).max())
    nyquist = 1e3 / (2 * time_step)
    if frequency_max is None:
        # Renormalised modes may lie above all harmonic ones (imaginary ones
        # turn real), so leave room; never beyond what the frames resolve.
        frequency_max = min(2.0 * highest, nyquist)
    if frequency_max > nyquist or frequency_max < 1.1 * highest:
        raise ValueError(
            f"frames every {time_step} fs resolve frequencies up to {nyquist:.2f} "
            f"THz; the analysed range must reach past the harmonic frequencies "
            f"(up to {highest:.2f} THz) and stay below that (frequency_max="
            f"{frequency_max:.2f} THz): store frames more often, or change "
            "frequency_max"
        )
    settings = SpectrumSettings(
        power_spectrum, n_mem_coefficients, peak, resolution, frequency_max
    )
    data = quasiparticle_force_constants(
        harmonic,
        full_force_constants(harmonic),
        md_cell,
        positions,
        velocity,
        time_step,
        settings,
    )
    fc = _rescale_masses(harmonic, data.force_constants)
    renormalised = symmetrise_force_constants(harmonic, fc)
    kinetic = (
        _trajectory.kinetic_temperature(velocity, md_cell.get_masses())
        if velocity is not None
        else None
    )
    return MDRenormalisationResult(
        phonon=renormalised,
        q_points=data.q_points,
        frequencies=data.frequencies,
        harmonic_frequencies=data.harmonic_frequencies,
        linewidths=data.linewidths,
        temperature=temperature if temperature is not None else kinetic,
        kinetic_temperature=kinetic,
        n_frames=len(frames),
        time_step=float(time_step),
        source="velocities" if velocity is not None else "positions",
        symmetrisation_change=float(
            np.abs(full_force_constants(renormalised) - fc).max()
        ),
    )


def symmetrise_force_constants(phonon: Phonopy, force_constants: ArrayLike) -> Phonopy:
    """Return a new Phonopy with force constants projected onto full symmetry.

    phonopy's symfc projector imposes, in one projection, the space group of
    the supercell, translational invariance (acoustic sum rule) and index
    permutation symmetry Φ_ij = Φ_jiᵀ. Force constants that already have them
    are returned unchanged. This replaces DynaPhoPy's ``symmetrize=True``.

    Parameters
    ----------
    phonon
        Defines unit cell, supercell and primitive matrices and masses.
    force_constants
        eV/Å², full (N, N, 3, 3) or compact (n_primitive, N, 3, 3).
    """
    symmetrised = Phonopy(
        phonon.unitcell,
        supercell_matrix=phonon.supercell_matrix,
        primitive_matrix=phonon.primitive_matrix,
        log_level=0,
    )
    set_force_constants(symmetrised, force_constants)
    symmetrised.symmetrize_force_constants(use_symfc_projector=True, show_drift=False)
    return symmetrised


def _check_options(
    power_spectrum: str,
    peak: str,
    resolution: float,
    frequency_max: float | None,
    min_frames: int,
) -> None:
    if power_spectrum not in POWER_SPECTRA:
        raise ValueError(
            f"power_spectrum must be one of {sorted(POWER_SPECTRA)} "
            f"(got {power_spectrum!r})"
        )
    if peak not in PEAKS:
        raise ValueError(f"peak must be one of {sorted(PEAKS)} (got {peak!r})")
    if not resolution > 0:
        raise ValueError(f"resolution must be positive in THz (got {resolution})")
    if frequency_max is not None and not frequency_max > resolution:
        raise ValueError(
            f"frequency_max must exceed the resolution in THz (got {frequency_max})"
        )
    if min_frames < 2:
        raise ValueError(f"min_frames must be >= 2 (got {min_frames})")


def _rescale_masses(
    phonon: Phonopy, force_constants: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Φ √(m_i m_j / m⁰_i m⁰_j): DynaPhoPy's dynamical matrices, our masses."""
    supercell = phonon.supercell
    # The masses phonopy gives a cell built without them, as DynaPhoPy builds it.
    standard = PhonopyAtoms(
        symbols=list(supercell.symbols),
        cell=np.array(supercell.cell),
        scaled_positions=np.array(supercell.scaled_positions),
    ).masses
    ratio = np.sqrt(np.asarray(supercell.masses) / np.asarray(standard))
    return np.asarray(force_constants * np.outer(ratio, ratio)[:, :, None, None])

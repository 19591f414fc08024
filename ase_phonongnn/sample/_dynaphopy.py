"""DynaPhoPy glue for the MD renormalisation route.

DynaPhoPy keeps its settings in a process-wide singleton, prints to stdout and
calls ``exit()`` on errors; :func:`quasiparticle_force_constants` sets the
settings it needs, restores them afterwards, captures the output and turns an
exit into :class:`DynaPhoPyError`.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from ase import Atoms
from numpy.typing import NDArray
from phonopy import Phonopy

from ase_phonongnn.errors import DynaPhoPyError

#: DynaPhoPy's numbers of the power-spectrum algorithms used here.
POWER_SPECTRA: Final = {"fft": 2, "mem": 1}
#: DynaPhoPy's numbers of the peak functions.
PEAKS: Final = {"lorentzian": 0, "asymmetric-lorentzian": 1, "damped-oscillator": 2}


@dataclass(frozen=True)
class SpectrumSettings:
    """How DynaPhoPy computes and fits the power spectra.

    Parameters
    ----------
    power_spectrum
        ``fft`` or ``mem``.
    n_mem_coefficients
        Coefficients of the maximum-entropy method.
    peak
        Key of :data:`PEAKS`.
    resolution
        Spacing of the frequency grid, THz.
    frequency_max
        Upper end of the frequency grid, THz.
    """

    power_spectrum: str
    n_mem_coefficients: int
    peak: str
    resolution: float
    frequency_max: float


@dataclass(frozen=True)
class QuasiparticleData:
    """DynaPhoPy's commensurate-point results, in numpy arrays.

    Attributes
    ----------
    q_points
        Reduced coordinates, shape (n_q, 3).
    frequencies, harmonic_frequencies, linewidths
        THz, shape (n_q, n_bands).
    force_constants
        Full supercell force constants built by DynaPhoPy with the standard
        masses of the elements, eV/Å², shape (N, N, 3, 3).
    """

    q_points: NDArray[np.float64]
    frequencies: NDArray[np.float64]
    harmonic_frequencies: NDArray[np.float64]
    linewidths: NDArray[np.float64]
    force_constants: NDArray[np.float64]


def quasiparticle_force_constants(
    harmonic: Phonopy,
    harmonic_fc: NDArray[np.float64],
    md_cell: Atoms,
    positions: NDArray[np.float64],
    velocity: NDArray[np.float64] | None,
    time_step: float,
    settings: SpectrumSettings,
) -> QuasiparticleData:
    """Fit the phonon quasiparticles of a trajectory and build force constants.

    Parameters
    ----------
    harmonic
        Harmonic phonons (unit cell, matrices, masses).
    harmonic_fc
        Their full force constants, eV/Å², shape (N, N, 3, 3).
    md_cell
        The MD supercell, in DynaPhoPy's atom order.
    positions
        Å, shape (n_frames, N_md, 3), checked against ``md_cell``.
    velocity
        Å/fs, same shape, or None to differentiate the positions.
    time_step
        fs between frames.
    settings
        Spectrum and fit settings.
    """
    with _session(settings):
        import dynaphopy
        from dynaphopy.atoms import Structure
        from dynaphopy.dynamics import Dynamics
        from dynaphopy.interface.phonopy_link import ForceConstants

        unit = harmonic.unitcell
        structure = Structure(
            cell=np.array(unit.cell),
            scaled_positions=np.array(unit.scaled_positions),
            atomic_elements=list(unit.symbols),
            masses=np.array(unit.masses),
            primitive_matrix=np.array(harmonic.primitive_matrix),
            force_constants=ForceConstants(
                harmonic_fc, supercell=np.array(harmonic.supercell_matrix)
            ),
        )
        dynamics = Dynamics(
            structure=structure,
            trajectory=positions.astype(complex),
            # DynaPhoPy works in Å and ps.
            velocity=None if velocity is None else (1e3 * velocity).astype(complex),
            time=np.arange(len(positions)) * time_step * 1e-3,
            supercell=np.array(md_cell.cell.array),
        )
        quasiparticle = dynaphopy.Quasiparticle(dynamics)
        data = quasiparticle.get_commensurate_points_data(auto_range=False)
        acoustic = _fix_gamma(quasiparticle, data, np.asarray(unit.masses))
        _check_fits(data, acoustic, settings.frequency_max)
        # Built from ``data``, which _fix_gamma updated in place.
        fc = quasiparticle.get_renormalized_force_constants().get_array()
    return QuasiparticleData(
        q_points=np.asarray(data["q_points"], dtype=float),
        frequencies=data["frequencies"],
        harmonic_frequencies=data["frequencies"] - data["frequency_shifts"],
        linewidths=data["linewidths"],
        force_constants=np.asarray(fc, dtype=float),
    )


@contextlib.contextmanager
def _session(settings: SpectrumSettings) -> Iterator[io.StringIO]:
    """Set DynaPhoPy's singleton parameters, capture its output, restore both."""
    try:
        from dynaphopy.parameters import Parameters
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "the MD route needs DynaPhoPy: pip install 'ase-phonongnn[renorm]'"
        ) from err
    parameters = Parameters()
    saved = dict(vars(parameters))
    output = io.StringIO()
    try:
        parameters.silent = True
        parameters.symmetrize = False  # broken with current phonopy
        parameters.use_symmetry = True
        parameters.use_NAC = False
        parameters.use_MD_cell_commensurate = False
        parameters.project_on_atom = -1
        parameters.reduced_q_vector = np.zeros(3)
        parameters.zero_padding = 0
        parameters.power_spectra_algorithm = POWER_SPECTRA[settings.power_spectrum]
        parameters.number_of_coefficients_mem = settings.n_mem_coefficients
        parameters.fitting_function = PEAKS[settings.peak]
        parameters.spectrum_resolution = settings.resolution
        parameters.frequency_range = np.arange(
            0.0, settings.frequency_max + settings.resolution, settings.resolution
        )
        with contextlib.redirect_stdout(output), warnings.catch_warnings():
            # Its fits also estimate occupations and temperatures, whose
            # logarithms warn for acoustic and noisy peaks; not used here.
            warnings.simplefilter("ignore", RuntimeWarning)
            yield output
    except SystemExit as err:
        tail = " | ".join(output.getvalue().strip().splitlines()[-3:])
        raise DynaPhoPyError(f"DynaPhoPy stopped (exit {err.code}): {tail}") from None
    finally:
        vars(parameters).clear()
        vars(parameters).update(saved)


def _fix_gamma(
    quasiparticle: Any, data: dict[str, Any], unit_masses: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Zero the translations at Γ, refitting the modes DynaPhoPy zeroed wrongly.

    DynaPhoPy zeroes the three lowest Γ modes; with imaginary optical modes at
    Γ these are not the translations. ``data`` is updated in place (DynaPhoPy
    builds the force constants from it); returns the mask of the zeroed
    translations, shape (n_q, n_bands).
    """
    from dynaphopy.analysis import fitting

    frequencies = np.array(data["frequencies"], dtype=float)
    linewidths = np.array(data["linewidths"], dtype=float)
    harmonic = frequencies - np.array(data["frequency_shifts"], dtype=float)
    q_points = np.asarray(data["q_points"], dtype=float)
    acoustic = np.zeros(frequencies.shape, dtype=bool)
    for i in np.flatnonzero(np.all(np.abs(q_points) < 1e-8, axis=1)):
        quasiparticle.set_reduced_q_vector(q_points[i])
        quasiparticle.full_clear()  # no spectrum cached from another q-point
        harmonic[i] = quasiparticle.get_frequencies()
        translations = _translation_modes(
            data["eigenvectors"][i], quasiparticle, unit_masses
        )
        if translations != [0, 1, 2]:
            fit = fitting.phonon_fitting_analysis(
                quasiparticle.get_power_spectrum_phonon(),
                quasiparticle.parameters.frequency_range,
                harmonic_frequencies=harmonic[i],
                thermal_expansion_shift=quasiparticle.get_qha_shift(q_points[i]),
                show_plots=False,
                fitting_function_type=quasiparticle.parameters.fitting_function,
                use_degeneracy=quasiparticle.parameters.use_symmetry,
            )
            frequencies[i] = fit["positions"]
            linewidths[i] = fit["widths"]
        frequencies[i, translations] = 0.0
        linewidths[i, translations] = 0.0
        acoustic[i, translations] = True
    data["frequencies"] = frequencies
    data["linewidths"] = linewidths
    data["frequency_shifts"] = frequencies - harmonic
    return acoustic


def _translation_modes(
    eigenvectors: NDArray[np.complex128],
    quasiparticle: Any,
    unit_masses: NDArray[np.float64],
) -> list[int]:
    """Return the three Γ bands with the largest overlap with rigid translations."""
    structure = quasiparticle.dynamic.structure
    types = np.asarray(structure.get_atom_type_index())
    n_primitive = structure.get_number_of_primitive_atoms()
    masses = np.array(
        [unit_masses[np.flatnonzero(types == k)[0]] for k in range(n_primitive)]
    )
    weights = np.sqrt(masses / masses.sum())
    # eigenvectors: (band, primitive atom, direction), DynaPhoPy's arrangement
    overlap = np.abs(np.einsum("j,bja->ba", weights, np.asarray(eigenvectors))) ** 2
    return sorted(np.argsort(overlap.sum(axis=1))[-3:].tolist())


def _check_fits(
    data: dict[str, Any], acoustic: NDArray[np.bool_], frequency_max: float
) -> None:
    """Refuse failed fits: DynaPhoPy reports them as 0 or as far-off peaks."""
    frequencies = data["frequencies"]
    harmonic = frequencies - data["frequency_shifts"]
    q_points = np.asarray(data["q_points"], dtype=float)
    good = np.isfinite(frequencies) & (frequencies > 0) & (frequencies <= frequency_max)
    bad = np.argwhere(~(good | acoustic))
    if bad.size:
        shown = "; ".join(
            f"q={np.round(q_points[q], 3).tolist()} band {b}: harmonic "
            f"{harmonic[q, b]:.3f} THz, fit {frequencies[q, b]:.3f} THz"
            for q, b in bad[:3]
        )
        raise DynaPhoPyError(
            f"{len(bad)} peak fits failed or fell outside 0-{frequency_max:.2f} THz "
            f"({shown}): use a longer trajectory, another power_spectrum or a "
            "larger frequency_max; a mode that stays unstable in the MD has no peak"
        )

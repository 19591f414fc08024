"""MD route of renormalisation (DynaPhoPy): real EMT MD of Cu, symmetry, errors.

Tolerance of the Cu test. The trajectory is 1.5 ps of NVE MD at 50 K (300
frames of 5 fs) of a 2×2×2 conventional cell. A 1.5 ps window resolves
1/T ≈ 0.67 THz; a Lorentzian fit places a peak centre to a fraction of that,
limited by the thermal noise of so short a run. The anharmonic shift of EMT Cu
at 50 K and fixed volume is negligible against it (mean shift +0.008 THz over
a 5 ps run). Over six independent 1.5 ps runs the largest deviation of a
commensurate frequency from the harmonic one was 0.083-0.123 THz (0.083 for
the seed used here) and the mean shift -0.002 to +0.012 THz. The test
requires every renormalised frequency within 0.2 THz (2.5 % of the highest,
7.8 THz) of the harmonic one and the mean shift within 0.03 THz.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.qmmm import ForceConstantCalculator
from ase.md.velocitydistribution import PhononHarmonics
from ase.md.verlet import VelocityVerlet
from phonopy import Phonopy

from ase_phonongnn.sample import (
    compute_force_constants,
    md_supercell,
    renormalise_from_trajectory,
    symmetrise_force_constants,
)
from ase_phonongnn.sample._phonopy import full_force_constants
from ase_phonongnn.sample.modes import EV_ANGSTROM_AMU_TO_THZ

pytest.importorskip("dynaphopy")

TEMPERATURE = 50.0  # K
TIME_STEP = 5.0  # fs
N_FRAMES = 300
TOLERANCE_THZ = 0.2
MEAN_SHIFT_THZ = 0.03


def run_md(
    phonon: Phonopy,
    calculator: object,
    seed: int,
    n_frames: int = N_FRAMES,
) -> list[Atoms]:
    """NVE MD from an equilibrated harmonic start (positions and velocities at T)."""
    atoms = md_supercell(phonon)
    n = len(atoms)
    fc = full_force_constants(phonon).transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    PhononHarmonics(
        atoms,
        fc,
        temperature_K=TEMPERATURE,
        rng=np.random.RandomState(seed),
        failfast=False,
    )
    atoms.calc = calculator
    frames: list[Atoms] = []
    dynamics = VelocityVerlet(atoms, timestep=TIME_STEP * units.fs)
    dynamics.attach(lambda: frames.append(atoms.copy()), interval=1)
    dynamics.run(n_frames - 1)
    return frames


def space_group_violation(phonon: Phonopy, fc: np.ndarray) -> float:
    """Largest |Φ(g i, g j) − R Φ(i, j) Rᵀ| over the supercell's space group."""
    supercell = phonon.supercell
    lattice = np.array(supercell.cell)
    frac = np.array(supercell.scaled_positions)
    ops = phonon.symmetry.symmetry_operations
    worst = 0.0
    for rotation, translation in zip(
        ops["rotations"], ops["translations"], strict=True
    ):
        image = frac @ rotation.T + translation
        delta = image[:, None, :] - frac[None, :, :]
        delta -= np.rint(delta)
        perm = np.argmin(np.linalg.norm(delta @ lattice, axis=2), axis=1)
        assert len(set(perm)) == len(perm)
        cartesian = lattice.T @ rotation @ np.linalg.inv(lattice.T)
        rotated = np.einsum("ab,ijbc,dc->ijad", cartesian, fc, cartesian)
        worst = max(worst, float(np.abs(fc[np.ix_(perm, perm)] - rotated).max()))
    return worst


@pytest.fixture(scope="module")
def cu_phonon() -> Phonopy:
    """phonopy + EMT force constants of conventional fcc Cu, 2×2×2 (32 atoms)."""
    cell = bulk("Cu", "fcc", cubic=True)
    return compute_force_constants(cell, [2, 2, 2], EMT, progress=False)


@pytest.fixture(scope="module")
def cu_frames(cu_phonon: Phonopy) -> list[Atoms]:
    return run_md(cu_phonon, EMT(), seed=1)


@pytest.fixture(scope="module")
def cu_result(cu_phonon, cu_frames):
    return renormalise_from_trajectory(
        cu_phonon, cu_frames, temperature=TEMPERATURE, time_step=TIME_STEP
    )


@pytest.fixture(scope="module")
def small_phonon() -> Phonopy:
    """EMT force constants of the 4-atom conventional Cu cell (Γ point only)."""
    cell = bulk("Cu", "fcc", cubic=True)
    return compute_force_constants(cell, [1, 1, 1], EMT, progress=False)


def test_emt_cu_frequencies_match_harmonic_at_low_temperature(
    cu_phonon, cu_result
) -> None:
    result = cu_result
    assert result.n_frames == N_FRAMES and result.source == "velocities"
    assert result.temperature == TEMPERATURE
    assert 35 < result.kinetic_temperature < 65  # 32 atoms, 1.5 ps of NVE
    harmonic = cu_phonon.run_qpoints(result.q_points).frequencies
    np.testing.assert_allclose(result.harmonic_frequencies, harmonic, atol=1e-6)
    # The phonon returned (symmetrised force constants) and the fits agree
    # with the harmonic frequencies within the stated tolerance.
    renormalised = result.phonon.run_qpoints(result.q_points).frequencies
    optical = harmonic > 0.1
    for frequencies in (renormalised, result.frequencies):
        assert np.abs(frequencies - harmonic).max() < TOLERANCE_THZ
        assert abs(np.mean((frequencies - harmonic)[optical])) < MEAN_SHIFT_THZ
    gamma = np.flatnonzero(np.all(result.q_points == 0, axis=1))
    np.testing.assert_array_equal(result.frequencies[gamma, :3], 0.0)
    assert np.all(result.linewidths[optical] > 0)  # every peak was fitted


def test_renormalised_force_constants_have_the_crystal_symmetry(
    cu_phonon, cu_result
) -> None:
    fc = full_force_constants(cu_result.phonon)
    scale = np.abs(fc).max()
    assert space_group_violation(cu_phonon, fc) < 1e-10 * scale
    np.testing.assert_allclose(fc.sum(axis=1), 0.0, atol=1e-10 * scale)  # ASR
    np.testing.assert_allclose(fc, fc.transpose(1, 0, 3, 2), atol=1e-10 * scale)
    assert cu_result.symmetrisation_change < 1e-3 * scale


def test_symmetrisation_replaces_dynaphopy_symmetrize(cu_phonon) -> None:
    """The symfc projection restores broken symmetry and keeps symmetric fc."""
    fc = full_force_constants(cu_phonon)
    scale = np.abs(fc).max()
    noise = np.random.default_rng(0).normal(scale=0.02 * scale, size=fc.shape)
    assert space_group_violation(cu_phonon, fc + noise) > 1e-2 * scale
    fixed = full_force_constants(symmetrise_force_constants(cu_phonon, fc + noise))
    assert space_group_violation(cu_phonon, fixed) < 1e-10 * scale
    np.testing.assert_allclose(fixed.sum(axis=1), 0.0, atol=1e-10 * scale)
    # A projection: force constants that already have the symmetry stay put.
    kept = full_force_constants(symmetrise_force_constants(cu_phonon, fc))
    np.testing.assert_allclose(kept, fc, atol=1e-6 * scale)


def test_imaginary_gamma_modes_are_refitted(small_phonon) -> None:
    """A wrong harmonic start with imaginary Γ optical modes is renormalised.

    The MD runs on the true harmonic potential Φ; the start Φ' has the same
    eigenvectors but its top Γ triplet at 2i THz. DynaPhoPy alone would zero
    that triplet (the three lowest Γ modes); the true frequencies come back.
    """
    fc = full_force_constants(small_phonon)
    n = len(small_phonon.supercell)
    masses = np.repeat(np.asarray(small_phonon.supercell.masses), 3)
    matrix = fc.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    dynamical = matrix / np.sqrt(np.outer(masses, masses))
    values, vectors = np.linalg.eigh(dynamical)
    top = vectors[:, -3:]
    target = -((2.0 / EV_ANGSTROM_AMU_TO_THZ) ** 2)  # ν = 2i THz
    shifted = dynamical + top @ np.diag(target - values[-3:]) @ top.T
    start = Phonopy(
        small_phonon.unitcell,
        supercell_matrix=small_phonon.supercell_matrix,
        primitive_matrix=small_phonon.primitive_matrix,
        log_level=0,
    )
    start_matrix = shifted * np.sqrt(np.outer(masses, masses))
    start.force_constants = start_matrix.reshape(n, 3, n, 3).transpose(0, 2, 1, 3)
    true = small_phonon.run_qpoints([[0, 0, 0]]).frequencies[0]
    wrong = start.run_qpoints([[0, 0, 0]]).frequencies[0]
    np.testing.assert_allclose(wrong[:3], -2.0, atol=1e-3)

    calculator = ForceConstantCalculator(
        matrix, md_supercell(small_phonon), np.zeros((n, 3))
    )
    frames = run_md(small_phonon, calculator, seed=2)
    result = renormalise_from_trajectory(start, frames, time_step=TIME_STEP)
    np.testing.assert_allclose(result.harmonic_frequencies[0], wrong, atol=1e-6)
    recovered = result.phonon.run_qpoints([[0, 0, 0]]).frequencies[0]
    np.testing.assert_allclose(recovered, true, atol=TOLERANCE_THZ)


def test_md_supercell_order_is_phonopy_and_dynaphopy_order(cu_phonon) -> None:
    from dynaphopy.atoms import Structure

    cell = md_supercell(cu_phonon)
    np.testing.assert_allclose(cell.positions, cu_phonon.supercell.positions)
    np.testing.assert_allclose(cell.get_masses(), cu_phonon.supercell.masses)
    unit = cu_phonon.unitcell
    structure = Structure(
        cell=np.array(unit.cell),
        scaled_positions=np.array(unit.scaled_positions),
        atomic_elements=list(unit.symbols),
    )
    odd = md_supercell(cu_phonon, multiple=(2, 1, 3))
    np.testing.assert_allclose(
        odd.positions, structure.get_positions(supercell=[2, 1, 3]).real
    )


def test_file_input_and_reorder_give_the_same_result(small_phonon, tmp_path) -> None:
    import ase.io

    frames = run_md(small_phonon, EMT(), seed=3, n_frames=200)
    reference = renormalise_from_trajectory(small_phonon, frames, time_step=TIME_STEP)
    path = tmp_path / "md.extxyz"
    shuffled = [frame[[2, 0, 3, 1]] for frame in frames]
    ase.io.write(path, shuffled)
    with pytest.raises(ValueError, match="another order"):
        renormalise_from_trajectory(small_phonon, path, time_step=TIME_STEP)
    result = renormalise_from_trajectory(
        small_phonon, path, time_step=TIME_STEP, reorder=True
    )
    assert result.source == "velocities" and result.n_frames == 200
    np.testing.assert_allclose(result.frequencies, reference.frequencies, atol=1e-6)
    # Positions alone (DynaPhoPy differentiates them) give nearly the same.
    positions = renormalise_from_trajectory(
        small_phonon, frames, time_step=TIME_STEP, source="positions"
    )
    assert positions.source == "positions" and positions.kinetic_temperature is None
    np.testing.assert_allclose(
        positions.frequencies, reference.frequencies, atol=TOLERANCE_THZ
    )


def _replace(frames: list[Atoms], change) -> list[Atoms]:
    out = [frame.copy() for frame in frames]
    for frame in out:
        change(frame)
    return out


def _swap_species(frame: Atoms) -> None:
    frame.symbols[5] = "Au"


def _strain(frame: Atoms) -> None:
    frame.set_cell(frame.cell.array * 1.02, scale_atoms=True)


def _scramble(frame: Atoms) -> None:
    frame.positions = np.random.default_rng(0).uniform(0, 7.2, size=(len(frame), 3))


@pytest.mark.parametrize(
    ("make", "options", "message"),
    [
        (lambda f: [x[:-1] for x in f], {}, r"frames have \[31\] atoms .* has 32"),
        (lambda f: _replace(f, _swap_species), {}, "atom 5 is Au where the supercell"),
        (lambda f: [x[::-1] for x in f], {}, "another order than the supercell"),
        (lambda f: _replace(f, _strain), {}, "not a diagonal multiple"),
        (lambda f: _replace(f, _scramble), {}, "do not sit on the sites"),
        (lambda f: f[:50], {}, "50 frames, fewer than min_frames=100"),
        (lambda f: f, {"time_step": None}, "time_step is required"),
        (lambda f: f, {"time_step": 50.0}, "disagrees with the stored velocities"),
        (
            lambda f: f,
            {"time_step": 100.0, "source": "positions"},
            "store frames more often",
        ),
        (
            lambda f: f,
            {"power_spectrum": "mem", "n_mem_coefficients": 400},
            "must be below",
        ),
        (lambda f: f, {"peak": "gaussian"}, "peak must be one of"),
    ],
)
def test_bad_trajectories_are_refused_clearly(
    cu_phonon, cu_frames, make, options, message
) -> None:
    kwargs = {"time_step": TIME_STEP, **options}
    with pytest.raises(ValueError, match=message):
        renormalise_from_trajectory(cu_phonon, make(cu_frames), **kwargs)


def test_incommensurate_and_varying_cells_are_refused(cu_phonon, cu_frames) -> None:
    big = bulk("Cu", "fcc", cubic=True).repeat((3, 3, 3))
    frames = [big.copy() for _ in range(120)]
    with pytest.raises(ValueError, match="not commensurate"):
        renormalise_from_trajectory(cu_phonon, frames, time_step=TIME_STEP)
    varying = [frame.copy() for frame in cu_frames]
    varying[7].set_cell(varying[7].cell.array * 1.001)
    with pytest.raises(ValueError, match=r"frame 7 has cell .* constant cell"):
        renormalise_from_trajectory(cu_phonon, varying, time_step=TIME_STEP)

"""SolidSolutionSampler: Ag3SBr_x I_(1-x) from the end members' force constants."""

from __future__ import annotations

import numpy as np
import pytest

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample import PhononSampler, SolidSolutionSampler
from ase_phonongnn.structures import BROMINE, IODINE, LATTICE_PARAMETERS


@pytest.fixture(scope="module")
def end_members() -> tuple[PhononSampler, PhononSampler]:
    return (
        PhononSampler.from_file(force_constants_path("Ag3SBr", 600)),
        PhononSampler.from_file(force_constants_path("Ag3SI", 600)),
    )


def test_the_end_members_are_their_own_crystals(end_members) -> None:
    bromide, iodide = end_members
    rng = np.random.default_rng(0)
    for x, member, halogen in ((1.0, bromide, BROMINE), (0.0, iodide, IODINE)):
        phonons = SolidSolutionSampler(x, bromide, iodide).configuration(600.0, rng)
        np.testing.assert_allclose(phonons.force_constants, member.force_constants)
        assert (phonons.supercell.numbers[member.supercell.numbers == halogen]).size
        np.testing.assert_array_equal(
            phonons.supercell.numbers, member.supercell.numbers
        )
        np.testing.assert_allclose(phonons.supercell.cell, member.supercell.cell)
    a_iodide = iodide.supercell.cell.lengths()[0] / 2
    assert a_iodide == pytest.approx(LATTICE_PARAMETERS["I"])


def test_half_and_half_interpolates_the_constants_on_a_vegard_cell(end_members) -> None:
    bromide, iodide = end_members
    sampler = SolidSolutionSampler(0.5, bromide, iodide)
    phonons = sampler.configuration(300.0, np.random.default_rng(1))
    expected = 0.5 * (bromide.force_constants + iodide.force_constants)
    np.testing.assert_allclose(phonons.force_constants, expected)
    numbers = phonons.supercell.numbers
    assert (
        np.count_nonzero(numbers == BROMINE) == np.count_nonzero(numbers == IODINE) == 4
    )
    a = phonons.supercell.cell.lengths()[0] / 2
    assert a == pytest.approx(
        0.5 * (LATTICE_PARAMETERS["Br"] + LATTICE_PARAMETERS["I"])
    )


def test_masses_set_the_quantum_motion_and_not_the_classical(end_members) -> None:
    # Φ(x) gives every halogen site the same springs; only the masses differ.
    # Classically ⟨u²⟩ = kT Φ⁻¹ does not depend on mass, while zero-point
    # motion is smaller for the heavier iodine (Einstein: ⟨u²⟩ ∝ 1/√(m k)).
    phonons = SolidSolutionSampler(0.5, *end_members).configuration(
        600.0, np.random.default_rng(2)
    )
    numbers = phonons.supercell.numbers

    def site_msd(temperature: float, statistics: str) -> dict[int, float]:
        covariance = phonons.covariance(temperature, statistics, "floor:0.5")
        diagonal = np.diag(covariance).reshape(-1, 3).sum(axis=1)
        return {z: float(diagonal[numbers == z].mean()) for z in (BROMINE, IODINE)}

    classical = site_msd(600.0, "classical")
    assert classical[IODINE] == pytest.approx(classical[BROMINE], rel=0.05)
    zero_point = site_msd(0.0, "quantum")
    ratio = zero_point[IODINE] / zero_point[BROMINE]
    assert ratio == pytest.approx(np.sqrt(79.904 / 126.904), abs=0.03)  # Einstein


def test_every_snapshot_has_its_own_occupation_and_the_seed_repeats_it() -> None:
    sampler = SolidSolutionSampler.shipped(0.5)
    snapshots = sampler.sample([300.0, 500.0], 6, imaginary="floor:0.5", seed=3)
    occupations = {tuple(a.numbers) for a in snapshots[:6]}
    assert len(occupations) > 1
    assert all(a.info["bromine_fraction"] == 0.5 for a in snapshots)
    assert [a.info["snapshot_index"] for a in snapshots[:6]] == list(range(6))
    again = sampler.sample(500.0, 6, imaginary="floor:0.5", seed=3)
    for first, second in zip(snapshots[6:], again, strict=True):
        np.testing.assert_array_equal(first.numbers, second.numbers)
        np.testing.assert_allclose(first.positions, second.positions)
    pairs = sampler.sample(300.0, 4, imaginary="floor:0.5", seed=3, plus_minus=True)
    ideal = sampler.supercell.positions
    np.testing.assert_array_equal(pairs[0].numbers, pairs[1].numbers)
    scale = pairs[0].cell.lengths()[0] / sampler.supercell.cell.lengths()[0]
    np.testing.assert_allclose(
        pairs[0].positions - scale * ideal,
        -(pairs[1].positions - scale * ideal),
        atol=1e-9,
    )


def test_force_constants_follow_the_temperature_per_end_member() -> None:
    sampler = SolidSolutionSampler.shipped(0.25)
    assert sampler.bromine_fraction == 0.25
    assert sampler.force_constants_temperatures(100.0) == (300.0, 100.0)
    assert sampler.force_constants_temperatures(600.0) == (600.0, 600.0)


def test_clear_errors(end_members) -> None:
    bromide, iodide = end_members
    with pytest.raises(ValueError, match="bromine_fraction must be in"):
        SolidSolutionSampler(1.5, bromide, iodide)
    with pytest.raises(ValueError, match="iodide's supercell must have"):
        SolidSolutionSampler(0.5, bromide, bromide)
    with pytest.raises(TypeError, match="bromide must be a PhononSampler"):
        SolidSolutionSampler(0.5, {}, iodide)
    with pytest.raises(ValueError, match="n_snapshots must be even"):
        SolidSolutionSampler(0.5, bromide, iodide).sample(
            300.0, 3, imaginary="floor:0.5", plus_minus=True
        )

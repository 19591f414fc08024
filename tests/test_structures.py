"""Ag3SBr-family structures: the solid solutions' composition and Vegard cell."""

from __future__ import annotations

import numpy as np
import pytest

from ase_phonongnn.structures import (
    BROMINE,
    IODINE,
    LATTICE_PARAMETERS,
    antiperovskite,
    bromine_fraction,
    solid_solution,
    substitute_iodine,
    vegard_lattice_parameter,
)


@pytest.mark.parametrize("x", [0.0, 0.375, 0.5, 1.0])
def test_solid_solution_composition_and_vegard_cell(x: float) -> None:
    atoms = solid_solution(x, rng=np.random.default_rng(0))
    n_br = int(np.count_nonzero(atoms.numbers == BROMINE))
    n_i = int(np.count_nonzero(atoms.numbers == IODINE))
    assert (n_br, n_i) == (round(8 * x), 8 - round(8 * x))
    assert atoms.info["bromine_fraction"] == pytest.approx(x)
    np.testing.assert_allclose(
        atoms.cell.array, 2 * vegard_lattice_parameter(x) * np.eye(3)
    )
    # the end members are the pure crystals, site for site
    if x in (0.0, 1.0):
        pure = antiperovskite("Br" if x == 1.0 else "I").repeat((2, 2, 2))
        np.testing.assert_array_equal(atoms.numbers, pure.numbers)
        np.testing.assert_allclose(atoms.positions, pure.positions, atol=1e-12)


def test_substitute_iodine_keeps_the_displacement_pattern() -> None:
    rng = np.random.default_rng(1)
    crystal = antiperovskite("Br").repeat((2, 2, 2))
    crystal.positions += rng.normal(scale=0.2, size=crystal.positions.shape)
    once = substitute_iodine(crystal, 2, rng)
    twice = substitute_iodine(once, 2, rng)
    for atoms, n_i in ((once, 2), (twice, 4)):
        assert int(np.count_nonzero(atoms.numbers == IODINE)) == n_i
        np.testing.assert_allclose(
            atoms.get_scaled_positions(wrap=False),
            crystal.get_scaled_positions(wrap=False),
            atol=1e-12,
        )
    # the cell follows Vegard's law whatever the path: 4 of 8 is x = 0.5
    np.testing.assert_allclose(
        twice.cell.array / crystal.cell.array[0, 0],
        vegard_lattice_parameter(0.5) / LATTICE_PARAMETERS["Br"] * np.eye(3),
    )
    # iodine only replaces bromine
    assert set(np.flatnonzero(once.numbers == IODINE)) <= set(
        np.flatnonzero(twice.numbers == IODINE)
    )
    assert crystal.numbers.tolist().count(IODINE) == 0  # the input is not changed


def test_substitute_iodine_rejects_bad_counts() -> None:
    crystal = antiperovskite("Br").repeat((2, 2, 2))
    with pytest.raises(ValueError, match="n_iodine must be in"):
        substitute_iodine(crystal, 9)
    with pytest.raises(ValueError, match="no halogen"):
        substitute_iodine(crystal[crystal.numbers != BROMINE], 0)


def test_new_iodine_sites_weigh_as_iodine_where_masses_are_explicit() -> None:
    # phonopy's supercells carry explicit masses; a substituted site must
    # not keep bromine's, or its phonons and MD would be those of Br
    crystal = antiperovskite("Br").repeat((2, 2, 2))
    crystal.set_masses(crystal.get_masses())
    mixed = substitute_iodine(crystal, 3, np.random.default_rng(0))
    masses = mixed.get_masses()
    np.testing.assert_allclose(masses[mixed.numbers == IODINE], 126.90447)
    np.testing.assert_allclose(masses[mixed.numbers == BROMINE], 79.904)


@pytest.mark.parametrize(
    ("name", "x"),
    [("Ag3SBr", 1.0), ("Ag3SI", 0.0), ("Ag3SBr0.5I0.5", 0.5), ("Ag3SBr.25I.75", 0.25)],
)
def test_bromine_fraction_of_a_name(name: str, x: float) -> None:
    assert bromine_fraction(name) == x


@pytest.mark.parametrize("name", ["Ag3SBr0.3I0.3", "Ag3SBrI", "Ag3SBr1.5I-0.5", "NaCl"])
def test_bromine_fraction_rejects_what_is_not_the_family(name: str) -> None:
    with pytest.raises(ValueError, match="material must be Ag3SBr, Ag3SI or"):
        bromine_fraction(name)

"""Off-ensemble snapshots: small displacements, strains and close contacts."""

from __future__ import annotations

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from ase_phonongnn import keys
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample.off_ensemble import (
    CONTACT,
    KIND,
    REFERENCE,
    STRAIN,
    OffEnsembleConfig,
    off_ensemble_snapshots,
)
from ase_phonongnn.sample.sampler import PhononSampler


@pytest.fixture(scope="module")
def supercell():
    return PhononSampler.from_file(force_constants_path("Ag3SBr")).supercell


def test_small_displacements_have_the_recorded_rms(supercell) -> None:
    large = supercell.repeat(2)  # 320 atoms: the rms of 960 Gaussians, ±5 %
    snaps = off_ensemble_snapshots(large, 20, ["small"], seed=3)
    for atoms in snaps:
        rms = np.sqrt(np.mean(np.sum((atoms.positions - large.positions) ** 2, 1)))
        assert 0.005 <= atoms.info[keys.AMPLITUDE] <= 0.05
        assert rms == pytest.approx(atoms.info[keys.AMPLITUDE], rel=0.15)
    amplitudes = [a.info[keys.AMPLITUDE] for a in snaps]
    assert max(amplitudes) / min(amplitudes) > 2  # drawn across the range


def test_strain_scales_the_volume_isotropically(supercell) -> None:
    for atoms in off_ensemble_snapshots(supercell, 10, ["strain"], seed=4):
        strain = atoms.info[STRAIN]
        assert abs(strain) <= 0.03
        assert atoms.get_volume() / supercell.get_volume() == pytest.approx(
            (1 + strain) ** 3, rel=1e-12
        )
        np.testing.assert_allclose(atoms.cell[:], supercell.cell[:] * (1 + strain))


def test_contacts_reach_the_recorded_distance(supercell) -> None:
    config = OffEnsembleConfig(contact=2.0)
    snaps = off_ensemble_snapshots(supercell, 20, ["contact"], config, seed=5)
    shortest = []
    for atoms in snaps:
        contact = atoms.info[CONTACT]
        distances = neighbor_list("d", atoms, 4.0)
        assert np.isclose(distances, contact, atol=1e-9).any()  # the pushed pair
        assert contact >= 2.0
        shortest.append(distances.min())
    # the ideal cell's closest pair is 2.40 Å (Ag-S); many contacts go below it
    assert sum(d < 2.2 for d in shortest) >= 5


def test_second_shell_pairs_are_pushed_from_beyond_the_first_shell(supercell) -> None:
    snaps = off_ensemble_snapshots(supercell, 30, ["second-shell"], seed=7)
    symbols = supercell.get_chemical_symbols()
    pairs = set()
    for atoms in snaps:
        contact = atoms.info[CONTACT]
        i, j, d = neighbor_list("ijd", atoms, 4.0)
        (pushed,) = np.nonzero(np.isclose(d, contact, atol=1e-9) & (i < j))
        a, b = int(i[pushed[0]]), int(j[pushed[0]])
        # in the ideal cell the pair was farther apart than its first shell:
        # the closest pair of the cubic cell is Ag-S at 2.40 Å
        before = supercell.get_distance(a, b, mic=True)
        assert before > 3.0
        assert 2.0 <= contact <= 0.9 * before + 1e-9
        pairs.add(tuple(sorted((symbols[a], symbols[b]))))
    # like-charged pairs, which the nearest-neighbour contacts never push
    assert {("Br", "S"), ("Ag", "Ag")} <= pairs


def test_references_in_turn_and_reproducible(supercell) -> None:
    other = supercell.copy()
    other.positions += 0.1
    first = off_ensemble_snapshots([supercell, other], 3, seed=6)
    second = off_ensemble_snapshots([supercell, other], 3, seed=6)
    kinds = ["small", "strain", "contact", "second-shell"]
    assert [a.info[KIND] for a in first] == [k for k in kinds for _ in range(3)]
    assert [a.info[REFERENCE] for a in first[:3]] == [0, 1, 0]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)
        assert a.info[keys.METHOD] == "off-ensemble"
        assert a.info[keys.SEED] == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": ["bent"]}, "kinds has unknown"),
        ({"n_snapshots": 0}, "n_snapshots must be"),
        ({"config": "strain"}, None),
    ],
)
def test_bad_input_is_one_clear_error(supercell, kwargs, message) -> None:
    if message is None:
        with pytest.raises(ValueError, match="strain is out of range"):
            OffEnsembleConfig(strain=0.5)
        return
    arguments = {"n_snapshots": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        off_ensemble_snapshots(supercell, **arguments)

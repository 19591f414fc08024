"""PhononSampler: reproducibility, provenance, policies and bad input."""

from __future__ import annotations

import lzma

import numpy as np
import phonopy
import pytest
from phonopy import Phonopy

from ase_phonongnn import keys
from ase_phonongnn.data import force_constants_path, renormalised_temperatures
from ase_phonongnn.errors import ForceConstantsError, ImaginaryModeError, SamplingError
from ase_phonongnn.sample import (
    ImaginaryPolicy,
    PhononSampler,
    SamplingConfig,
    save_phonopy,
)
from ase_phonongnn.sample.modes import UNSTABLE_BELOW_THZ


@pytest.fixture(scope="module")
def ag3sbr() -> PhononSampler:
    return PhononSampler.from_file(force_constants_path("Ag3SBr"))


def positions(snapshots: list) -> np.ndarray:
    return np.array([a.positions for a in snapshots])


def test_same_seed_same_snapshots(cu3au_sampler: PhononSampler) -> None:
    for method in ("paper", "normal-mode", "zg"):
        a = cu3au_sampler.sample([100.0, 300.0], 3, method=method, seed=5)
        b = cu3au_sampler.sample([100.0, 300.0], 3, method=method, seed=5)
        np.testing.assert_array_equal(positions(a), positions(b))
        c = cu3au_sampler.sample([100.0, 300.0], 3, method=method, seed=6)
        assert not np.allclose(positions(a), positions(c))


def test_snapshots_at_t_do_not_depend_on_other_temperatures(
    cu3au_sampler: PhononSampler,
) -> None:
    both = cu3au_sampler.sample([100.0, 300.0], 4, seed=9)
    alone = cu3au_sampler.sample(300.0, 4, seed=9)
    np.testing.assert_array_equal(positions(both[4:]), positions(alone))


def test_provenance_in_info(cu3au_sampler: PhononSampler) -> None:
    snaps = cu3au_sampler.sample(250.0, 2, method="paper", seed=1, imaginary="drop")
    info = snaps[1].info
    assert info[keys.METHOD] == "paper"
    assert info[keys.TEMPERATURE] == 250.0
    assert info[keys.SEED] == 1
    assert info[keys.SNAPSHOT_INDEX] == 1
    assert info[keys.IMAGINARY_POLICY] == "drop"
    assert info[keys.PHONOPY_VERSION] == phonopy.__version__
    assert len(info[keys.FORCE_CONSTANTS_DIGEST]) == 16
    # A seed is drawn and recorded when none is given, and reproduces the draw.
    drawn = cu3au_sampler.sample(250.0, 2)
    again = cu3au_sampler.sample(250.0, 2, seed=drawn[0].info[keys.SEED])
    np.testing.assert_array_equal(positions(drawn), positions(again))


def test_constructors_agree(cu3au_phonon: Phonopy, cu3au_cell, tmp_path) -> None:
    path = tmp_path / "phonopy_params.yaml"
    cu3au_phonon.save(str(path), settings={"force_constants": True})
    from_file = PhononSampler.from_file(path)
    from_atoms = PhononSampler(cu3au_cell, [2, 2, 2], cu3au_phonon.force_constants)
    from_object = PhononSampler.from_phonopy(cu3au_phonon)
    for sampler in (from_file, from_atoms):
        np.testing.assert_allclose(
            sampler.modes.frequencies, from_object.modes.frequencies, atol=1e-8
        )
        np.testing.assert_allclose(
            positions(sampler.sample(300.0, 2, seed=1)),
            positions(from_object.sample(300.0, 2, seed=1)),
            atol=1e-6,
        )


def test_xz_compressed_force_constants_load_as_the_plain_file(
    cu3au_phonon: Phonopy, tmp_path
) -> None:
    plain = save_phonopy(cu3au_phonon, tmp_path / "plain_params.yaml")
    packed = save_phonopy(cu3au_phonon, tmp_path / "packed_params.yaml.xz")
    assert lzma.decompress(packed.read_bytes()) == plain.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [packed.name, plain.name]
    a, b = PhononSampler.from_file(plain), PhononSampler.from_file(packed)
    assert a.force_constants_digest == b.force_constants_digest
    np.testing.assert_array_equal(
        positions(a.sample(300.0, 2, seed=1)), positions(b.sample(300.0, 2, seed=1))
    )


def test_shipped_force_constants_are_compressed() -> None:
    for temperature in (None, *renormalised_temperatures("Ag3SBr")):
        path = force_constants_path("Ag3SBr", temperature)
        assert path.name.endswith("_params.yaml.xz")
        assert path.stat().st_size < 20_000
    assert force_constants_path("Ag3SI").name == "Ag3SI_harmonic_params.yaml.xz"


def test_phonopy_dataset_round_trip(cu3au_phonon: Phonopy, cu3au_sampler) -> None:
    snaps = cu3au_sampler.sample(300.0, 3, seed=2)
    phonon = Phonopy(
        cu3au_phonon.unitcell,
        supercell_matrix=cu3au_phonon.supercell_matrix,
        primitive_matrix=np.eye(3),
    )
    phonon.dataset = cu3au_sampler.dataset(snaps)
    for cell, snap in zip(phonon.supercells_with_displacements, snaps, strict=True):
        np.testing.assert_allclose(cell.positions, snap.positions, atol=1e-10)


def test_shipped_ag3sbr_has_imaginary_modes(ag3sbr: PhononSampler) -> None:
    summary = ag3sbr.modes.summary
    assert summary["n_unstable"] > 10
    assert summary["lowest_thz"] < -1.0
    with pytest.raises(ImaginaryModeError, match=r"\d+ of 117 .*lowest -2\.\d+ THz"):
        ag3sbr.sample(300.0, 1)


def test_imaginary_policies(ag3sbr: PhononSampler) -> None:
    frequencies = ag3sbr.modes.frequencies
    unstable = frequencies < UNSTABLE_BELOW_THZ
    nu, used = ag3sbr.modes.effective(ImaginaryPolicy.parse("abs"))
    np.testing.assert_allclose(nu, np.abs(frequencies))
    nu, used = ag3sbr.modes.effective(ImaginaryPolicy.parse("drop"))
    np.testing.assert_array_equal(used, ~unstable)
    nu, used = ag3sbr.modes.effective(ImaginaryPolicy.parse("floor:0.8"))
    assert used.all() and nu.min() == pytest.approx(0.8)
    stiff = np.abs(frequencies) > 0.8
    np.testing.assert_allclose(nu[stiff], np.abs(frequencies[stiff]))
    # Dropping modes can only lower the mean-square displacement; a floor on
    # the soft modes gives larger amplitudes than |ω| where |ω| < floor.
    drop = ag3sbr.thermal_amplitudes(300.0, imaginary="drop")
    absolute = ag3sbr.thermal_amplitudes(300.0, imaginary="abs")
    floored = ag3sbr.thermal_amplitudes(300.0, imaginary="floor:0.8")
    assert np.all(drop <= absolute + 1e-12)
    # The floor only stiffens modes: amplitudes never exceed those of |ω|.
    assert np.all(floored <= absolute + 1e-12)


def test_min_distance_rejection(ag3sbr: PhononSampler) -> None:
    from ase.neighborlist import neighbor_list

    unfiltered = ag3sbr.sample(300.0, 50, imaginary="abs", seed=0)
    rejected = sum(neighbor_list("i", s, 2.1).size > 0 for s in unfiltered)
    assert 0 < rejected < 50
    snaps = ag3sbr.sample(300.0, 10, imaginary="abs", min_distance=2.1, seed=0)
    for snap in snaps:
        assert neighbor_list("i", snap, 2.1).size == 0
    with pytest.raises(SamplingError, match="min_distance"):
        ag3sbr.sample(300.0, 2, imaginary="abs", min_distance=3.4, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": -5.0}, "temperature must be >= 0 in K"),
        ({"n_snapshots": 0}, "n_snapshots must be positive"),
        ({"method": "thermal"}, "method must be one of"),
        ({"imaginary": "ignore"}, "imaginary policy must be"),
        ({"imaginary": "floor:-1"}, "positive frequency"),
        ({"method": "random"}, "amplitude must be a positive"),
        ({"amplitude": 0.1}, "random method only"),
        ({"plus_minus": True, "n_snapshots": 3}, "even"),
        ({"plus_minus": True, "method": "paper"}, "plus_minus applies"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_input(cu3au_sampler: PhononSampler, kwargs: dict, match: str) -> None:
    args = {"temperature": 300.0, "n_snapshots": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        cu3au_sampler.sample(**args)


def test_force_constants_that_do_not_match_the_supercell(
    cu3au_phonon, cu3au_cell
) -> None:
    with pytest.raises(ForceConstantsError, match="check supercell_matrix"):
        PhononSampler(cu3au_cell, [3, 3, 3], cu3au_phonon.force_constants)


def test_config_round_trip_and_unknown_keys() -> None:
    config = SamplingConfig(method="zg", imaginary="floor:0.5", plus_minus=True)
    assert SamplingConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="valid"):
        SamplingConfig.from_dict({"metod": "zg"})

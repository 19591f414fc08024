"""The shipped Ag3SBr datasets: their displacements follow their samplers,
their labels are self-consistent, and their provenance points at the shipped
force constants."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.units import GPa

from ase_phonongnn import keys
from ase_phonongnn.data import DATA_DIR, DATASETS, dataset_path, force_constants_path
from ase_phonongnn.label.xtb import RETRY_LADDER
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.train import load_structures, retried_scf


def read(name: str, status: str | None) -> list[Atoms]:
    with SnapshotStore.open(dataset_path(name)) as store:
        return store.read_atoms(status)


def displacements(snapshots: list[Atoms], reference: Atoms) -> np.ndarray:
    """Minimum-image displacements from the undisplaced supercell, (n, N, 3)."""
    u = np.array([a.positions for a in snapshots]) - reference.positions
    fractional = np.linalg.solve(reference.cell.T, u.reshape(-1, 3).T).T
    fractional -= np.round(fractional)
    return (fractional @ reference.cell).reshape(u.shape)


@pytest.fixture(scope="module")
def samplers() -> dict[str, PhononSampler]:
    """The shipped Ag3SBr force constants by the digest snapshots record."""
    samplers = map(PhononSampler.from_file, DATA_DIR.glob("Ag3SBr_*_params.yaml.xz"))
    return {sampler.force_constants_digest: sampler for sampler in samplers}


@pytest.mark.parametrize("name", DATASETS)
def test_every_snapshot_is_the_fixed_lattice_40_atom_supercell(name: str) -> None:
    snapshots = read(name, None)
    reference = PhononSampler.from_file(force_constants_path("Ag3SBr")).supercell
    assert len(snapshots) >= 1000
    for atoms in snapshots:
        np.testing.assert_array_equal(atoms.numbers, reference.numbers)
        np.testing.assert_allclose(atoms.cell.array, reference.cell.array)
        assert atoms.pbc.all()


@pytest.mark.parametrize("name", DATASETS)
def test_labels_are_self_consistent_and_insulating(name: str) -> None:
    done = read(name, keys.DONE)
    assert len(done) >= 400
    for atoms in done:
        info = atoms.info
        assert info["labeller"] == "gfn2-xtb"
        assert info[keys.ENERGY_PER_ATOM] == pytest.approx(info["energy"] / 40)
        # trace of ASE's Voigt stress / 3, in GPa
        assert info[keys.HYDROSTATIC_STRESS] == pytest.approx(
            np.sum(info["stress"][:3]) / 3 / GPa
        )
        assert info[keys.BAND_GAP] > 0.5
        # no net force on a periodic cell
        np.testing.assert_allclose(atoms.arrays["forces"].sum(axis=0), 0, atol=1e-4)


def test_random_displacements_follow_equation_2() -> None:
    """u_jα = ε a with ε ~ U[−1, 1]: |u_jα| ≤ a and ⟨u²⟩ = a²/3."""
    snapshots = read("random-Ag3SBr", None)
    reference = PhononSampler.from_file(force_constants_path("Ag3SBr")).supercell
    amplitudes = np.array([a.info["amplitude"] for a in snapshots])
    u = displacements(snapshots, reference)
    assert len(set(amplitudes)) == 8
    for a in sorted(set(amplitudes)):
        components = u[amplitudes == a].ravel()
        assert np.abs(components).max() <= a + 1e-9
        # the variance of u² for uniform u is 4 a⁴ / 45
        error = np.sqrt(4 * a**4 / 45 / components.size)
        assert np.mean(components**2) == pytest.approx(a**2 / 3, abs=5 * error)


def test_phonon_displacements_have_the_thermal_covariance(
    samplers: dict[str, PhononSampler],
) -> None:
    """⟨|u|²⟩ over the snapshots of each temperature and force constants
    matches tr C(T) of the shipped force constants they were drawn from,
    within five standard errors of the Gaussian draw (var |u|² = 2 tr C²)."""
    snapshots = read("phonon-Ag3SBr", None)
    groups: dict[tuple[str, float], list[Atoms]] = {}
    for atoms in snapshots:
        key = (atoms.info["force_constants_digest"], atoms.info[keys.TEMPERATURE])
        groups.setdefault(key, []).append(atoms)
    assert {t for _, t in groups} == {100.0, 200.0, 300.0, 400.0, 500.0, 600.0}
    for (digest, t), group in groups.items():
        sampler = samplers[digest]  # every snapshot from shipped force constants
        c = sampler.covariance(t, imaginary=group[0].info["imaginary_policy"])
        u = displacements(group, sampler.supercell)
        squared = np.sum(u**2, axis=(1, 2))
        error = np.sqrt(2 * np.trace(c @ c) / squared.size)
        assert squared.mean() == pytest.approx(np.trace(c), abs=5 * error), (digest, t)


def test_mean_band_gap_closes_with_displacement() -> None:
    """Within one sampler (one set of force constants, or eq. 2) the mean gap
    falls as the displacements grow. Across force constants it need not: the
    500 K ones draw ⟨|u|²⟩ = 9.0 Å² at 500 K and keep a wider mean gap
    (2.37 eV) than the 300 K ones at 300 K (8.7 Å², 2.28 eV)."""
    for name, key in (
        ("phonon-Ag3SBr", keys.TEMPERATURE),
        ("random-Ag3SBr", "amplitude"),
    ):
        by_sampler: dict[str, list[Atoms]] = {}
        for atoms in read(name, keys.DONE):
            sampler = atoms.info.get("force_constants_digest", "eq. 2")
            by_sampler.setdefault(sampler, []).append(atoms)
        most_levels = 0
        for sampler, same in by_sampler.items():
            x = np.array([a.info[key] for a in same])
            gap = np.array([a.info[keys.BAND_GAP] for a in same])
            levels = [v for v in sorted(set(x)) if np.sum(x == v) >= 50]
            means = [gap[x == v].mean() for v in levels]
            assert np.all(np.diff(means) < 0), (name, sampler, levels, means)
            most_levels = max(most_levels, len(levels))
        # the 300 K force constants at 100-400 K, eq. 2 at 0.05-0.30 Å
        assert most_levels >= 4


def test_shipped_names_load_as_training_inputs() -> None:
    structures = load_structures(["phonon-Ag3SBr"])
    assert len(structures) == len(read("phonon-Ag3SBr", keys.DONE))
    with pytest.raises(ValueError, match="no dataset"):
        dataset_path("phonon-Ag3SI")


def test_skip_retried_leaves_out_exactly_the_labels_of_later_scf_rungs() -> None:
    done = read("phonon-Ag3SBr", keys.DONE)
    retried = [a for a in done if retried_scf(a)]
    assert retried  # the 300 K force constants' hardest snapshots at 300-600 K
    for atoms in retried:
        settings = atoms.info[keys.LABEL_PROVENANCE]["scf_settings"]
        rung = settings.pop("retry_rung")
        assert settings == RETRY_LADDER[rung]  # the damped settings that converged
    kept = load_structures("phonon-Ag3SBr", skip_retried=True)
    assert len(kept) == len(done) - len(retried)
    assert not any(map(retried_scf, kept))

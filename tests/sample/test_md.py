"""MD snapshots: decorrelated, reproducible, and the same ensemble as phonons.

Cu with EMT is nearly harmonic at 300 K, so the classical phonon ensemble of
its EMT force constants and Langevin MD on EMT must agree on ⟨u²⟩.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ase.calculators.emt import EMT

from ase_phonongnn import keys
from ase_phonongnn.sample.md import (
    DECORRELATION_FS,
    INTERVAL_STEPS,
    MDCollapseError,
    MDSamplingConfig,
    decorrelation_lag,
    md_snapshots,
)

FAST = MDSamplingConfig(timestep=5.0, friction=0.02, equilibration=300, pilot=400)


def mean_square_displacement(snapshots, reference) -> float:
    u = np.array([a.positions - reference.positions for a in snapshots])
    return float(np.mean(np.sum(u**2, axis=-1)))


def test_md_and_classical_phonons_agree_on_mean_square_displacement(cu_sampler):
    ideal = cu_sampler.supercell
    md = md_snapshots(ideal, EMT, 300.0, 40, FAST, seed=3, progress=False)
    phonons = cu_sampler.sample(
        300.0, 200, method="normal-mode", statistics="classical", seed=3
    )
    ratio = mean_square_displacement(md, ideal) / mean_square_displacement(
        phonons, ideal
    )
    assert 0.8 < ratio < 1.25


def test_snapshots_are_apart_by_the_measured_decorrelation_time(cu_sampler):
    snapshots = md_snapshots(
        cu_sampler.supercell, EMT(), [200.0, 400.0], 3, FAST, seed=1, progress=False
    )
    assert [a.info[keys.TEMPERATURE] for a in snapshots] == [200.0] * 3 + [400.0] * 3
    interval = snapshots[0].info[INTERVAL_STEPS]
    # a mode's amplitude decays as exp(-γt/2) under Langevin friction γ: 1/e
    # after 100 fs at γ = 0.02/fs; anharmonic scattering only shortens that,
    # the noise floor of a 2 ps pilot run (|C| ≈ 0.3) delays the crossing
    assert 50 <= interval * FAST.timestep <= 250
    assert snapshots[0].info[DECORRELATION_FS] == interval * FAST.timestep
    assert snapshots[0].info[keys.METHOD] == "md"
    centre = cu_sampler.supercell.get_center_of_mass()
    for atoms in snapshots:
        np.testing.assert_allclose(atoms.get_center_of_mass(), centre, atol=1e-8)


def test_same_seed_same_snapshots(cu_sampler):
    config = MDSamplingConfig(timestep=5.0, equilibration=20, pilot=20, interval=5)
    first, second = (
        md_snapshots(
            cu_sampler.supercell, EMT, 300.0, 2, config, seed=7, progress=False
        )
        for _ in range(2)
    )
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)


def test_decorrelation_lag_of_a_damped_oscillation():
    # noise filtered by exp(-t/25) cos(0.3 t): its correlation envelope
    # exp(-τ/25) falls below 1/e at τ = 25 frames
    t = np.arange(4000)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(4000, 1, 3))
    kernel = np.exp(-np.arange(200) / 25.0) * np.cos(np.arange(200) * 0.3)
    signal = np.stack(
        [np.convolve(noise[:, 0, k], kernel, mode="same") for k in range(3)], axis=-1
    )[:, None, :]
    lag = decorrelation_lag(signal - signal.mean(axis=0))
    assert 20 <= lag <= 30
    assert decorrelation_lag(np.zeros((len(t), 2, 3))) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"temperatures": 0.0}, "temperatures"), ({"n_snapshots": 0}, "n_snapshots")],
)
def test_bad_input_is_one_clear_error(cu_sampler, kwargs, message):
    arguments = {"temperatures": 300.0, "n_snapshots": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        md_snapshots(cu_sampler.supercell, EMT, progress=False, **arguments)
    with pytest.raises(ValueError, match="timestep"):
        MDSamplingConfig(timestep=0)


def test_a_collapsing_run_is_an_error_not_snapshots(cu_sampler):
    # EMT copper at 1000 K with a 40 fs step: atoms run into each other
    config = MDSamplingConfig(
        timestep=40.0, friction=0.01, equilibration=200, pilot=10, interval=5
    )
    with pytest.raises(MDCollapseError, match=r"collapsed.*lower the time step"):
        md_snapshots(cu_sampler.supercell, EMT(), 1000, 2, config, seed=1)
    # the same run at 5 fs stays physical
    config = MDSamplingConfig(
        timestep=5.0, friction=0.01, equilibration=200, pilot=10, interval=5
    )
    assert len(md_snapshots(cu_sampler.supercell, EMT(), 1000, 2, config, seed=1)) == 2


def test_a_collapsed_run_keeps_the_snapshots_taken_before(cu_sampler):
    from ase.neighborlist import neighbor_list

    config = MDSamplingConfig(timestep=40.0, friction=0.01, equilibration=0, interval=5)
    with pytest.raises(MDCollapseError) as caught:
        md_snapshots(cu_sampler.supercell, EMT(), 1000, 40, config, seed=1)
    kept = caught.value.snapshots
    assert 0 < len(kept) < 40
    for snapshot in kept:
        assert snapshot.info[keys.METHOD] == "md"
        # taken before the collapse: no contact below the 0.5 Å limit
        assert neighbor_list("d", snapshot, 0.5).size == 0


def test_a_committee_spread_above_the_limit_stops_the_run(cu_sampler, cu_potential):
    import copy

    import torch

    from ase_phonongnn import PhononGNNCalc

    shifted = copy.deepcopy(cu_potential)
    with torch.no_grad():
        shifted.atomic_energies += 0.01  # eV per atom
    config = MDSamplingConfig(timestep=5.0, equilibration=20, interval=5)
    # members 0.01 eV/atom apart: a spread (standard deviation) of 5 meV/atom
    committee = PhononGNNCalc([cu_potential, shifted], device="cpu")
    tight = dataclasses.replace(config, max_energy_spread=0.004)
    with pytest.raises(MDCollapseError, match=r"spread of 5\.0 meV/atom"):
        md_snapshots(cu_sampler.supercell, committee, 300, 2, tight, seed=1)
    loose = dataclasses.replace(config, max_energy_spread=0.006)
    assert (
        len(md_snapshots(cu_sampler.supercell, committee, 300, 2, loose, seed=1)) == 2
    )

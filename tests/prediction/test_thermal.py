"""Thermal averages by sampling: equipartition, thermal pressure, the plot."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.units import kB

from ase_phonongnn import PhononGNNCalc, keys, thermal_averages
from ase_phonongnn.prediction import ThermalAverages, plot_thermal_averages
from ase_phonongnn.sample import PhononSampler, compute_force_constants

PNG = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def classical(cu_potential, cu_sampler) -> ThermalAverages:
    return thermal_averages(
        cu_potential,
        cu_sampler,
        [100.0, 200.0, 300.0],
        16,
        statistics="classical",
        seed=1,
        device="cpu",
    )


def test_potential_energy_follows_equipartition(classical, cu_potential, cu_sampler):
    # Classical harmonic snapshots hold (3N - 3)/2 k_B T of potential energy
    # (3N - 3 vibrational modes). The model, trained on EMT Cu, should find
    # it up to its error and EMT's anharmonicity (EMT itself: +3.5 % at 300 K).
    n = len(cu_sampler.supercell)
    e0 = PhononGNNCalc(cu_potential, device="cpu").get_potential_energy(
        cu_sampler.supercell
    )
    excess = classical.mean[keys.ENERGY] - e0
    expected = 1.5 * (n - 1) * kB * classical.temperatures
    np.testing.assert_allclose(excess, expected, rtol=0.1)
    assert classical.mean[keys.ENERGY_PER_ATOM] == pytest.approx(
        classical.mean[keys.ENERGY] / n
    )


def test_errors_are_standard_errors_of_independent_snapshots(classical):
    assert classical.properties == (
        keys.HYDROSTATIC_STRESS,
        keys.ENERGY_PER_ATOM,
        keys.ENERGY,
    )  # no band-gap head: not averaged
    for name in classical.properties:
        values = classical.values[name]
        assert values.shape == (3, 16)
        np.testing.assert_allclose(classical.mean[name], values.mean(axis=1))
        np.testing.assert_allclose(
            classical.error[name], values.std(axis=1, ddof=1) / math.sqrt(16)
        )
    # the energy spread grows with T (~ sqrt(N) k_B T in the harmonic limit)
    assert np.all(np.diff(classical.std[keys.ENERGY]) > 0)


def test_thermal_pressure_makes_the_stress_more_compressive(classical):
    # at fixed volume, heating pushes outwards: the ASE stress (positive
    # tensile) falls with T
    mean = classical.mean[keys.HYDROSTATIC_STRESS]
    error = classical.error[keys.HYDROSTATIC_STRESS]
    assert mean[0] - mean[-1] > 4 * math.hypot(error[0], error[-1])


def test_quantum_snapshots_carry_zero_point_energy(classical, cu_potential, cu_sampler):
    quantum = thermal_averages(
        cu_potential, cu_sampler, 100.0, 16, seed=1, properties=["energy"]
    )
    assert quantum.mean[keys.ENERGY][0] > classical.mean[keys.ENERGY][0] + 0.1


def test_plot_and_record(classical, tmp_path):
    path = plot_thermal_averages(classical, tmp_path / "thermal.png")
    assert path.read_bytes()[:8] == PNG
    assert classical.plot(tmp_path / "again.png").stat().st_size > 1000
    record = classical.to_dict()
    assert record["units"][keys.HYDROSTATIC_STRESS] == "GPa"
    assert record["seed"] == 1 and record["n_snapshots"] == 16
    with pytest.raises(ValueError, match="properties must be some of"):
        plot_thermal_averages(classical, tmp_path / "x.png", properties=["band_gap"])


def test_each_temperature_is_sampled_from_the_nearest_force_constants(
    cu_potential, cu_sampler
):
    # Cu compressed by 3 %: stiffer phonons, in the role of force constants
    # renormalised at a higher temperature
    compressed = bulk("Cu", "fcc", a=3.50, cubic=True)
    phonon = compute_force_constants(compressed, [2, 2, 2], EMT(), progress=False)
    stiff = PhononSampler.from_phonopy(phonon)
    options = {"statistics": "classical", "seed": 3, "device": "cpu"}
    mixed = thermal_averages(
        cu_potential, {100.0: cu_sampler, 700.0: stiff}, [100, 400, 900], 3, **options
    )
    assert mixed.sampled_from == (100.0, 100.0, 700.0)  # 400 K: a tie, the lower
    assert mixed.to_dict()["sampled_from"] == [100.0, 100.0, 700.0]
    for t, (temperature, source) in enumerate([(400, cu_sampler), (900, stiff)], 1):
        alone = thermal_averages(cu_potential, source, temperature, 3, **options)
        np.testing.assert_allclose(
            mixed.values[keys.ENERGY][t], alone.values[keys.ENERGY][0]
        )
    other = thermal_averages(cu_potential, cu_sampler, 900, 3, **options)
    # the other force constants give other snapshots, other predictions
    assert not np.allclose(mixed.values[keys.ENERGY][2], other.values[keys.ENERGY][0])
    with pytest.raises(TypeError, match="PhononSampler"):
        thermal_averages(cu_potential, {}, 100.0, 2)


def test_property_choice_is_checked(cu_potential, cu_sampler):
    with pytest.raises(ValueError, match="'band_gap' not given"):
        thermal_averages(cu_potential, cu_sampler, 100.0, 2, properties=["band_gap"])
    with pytest.raises(ValueError, match="thermal averages are of scalars"):
        thermal_averages(cu_potential, cu_sampler, 100.0, 2, properties=["forces"])


def test_configs_stand_for_the_keywords(cu_potential, cu_sampler):
    from ase_phonongnn.prediction import PredictionConfig
    from ase_phonongnn.sample import SamplingConfig

    by_keywords = thermal_averages(
        cu_potential, cu_sampler, 200.0, 3, statistics="classical", seed=4,
        device="cpu", properties=[keys.ENERGY],
    )  # fmt: skip
    by_configs = thermal_averages(
        cu_potential,
        cu_sampler,
        200.0,
        3,
        seed=4,
        sampling=SamplingConfig(statistics="classical"),
        config=PredictionConfig(device="cpu", properties=[keys.ENERGY]),
    )
    np.testing.assert_array_equal(
        by_configs.values[keys.ENERGY], by_keywords.values[keys.ENERGY]
    )
    with pytest.raises(ValueError, match="statistics given both"):
        thermal_averages(
            cu_potential, cu_sampler, 200.0, 2, statistics="classical",
            sampling=SamplingConfig(),
        )  # fmt: skip


def test_one_model_has_no_spread_and_a_wrong_sampler_is_named(
    classical, cu_potential
) -> None:
    assert classical.model_spread == {}
    assert classical.to_dict()["model_spread"] == {}
    with pytest.raises(TypeError, match="got values \\['str'\\]"):
        thermal_averages(cu_potential, {300.0: "Cu.yaml"}, 300.0, 2, device="cpu")

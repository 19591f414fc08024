"""PhononGNNCalc: ASE contract, caching, committees, dynamics, optimisation, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms, units
from ase.build import bulk, molecule
from ase.calculators.calculator import (
    CalculatorSetupError,
    PropertyNotImplementedError,
)
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

from ase_phonongnn import PhononGNNCalc, keys
from ase_phonongnn.errors import PhononGNNError, UnknownElementError
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import ModelConfig, build_model, load_model, named_model
from ase_phonongnn.prediction import (
    Committee,
    DeviceUnavailableError,
    UnsupportedElementError,
    UnsupportedStructureError,
    predict,
)
from ase_phonongnn.structures import antiperovskite

pytestmark = pytest.mark.usefixtures("one_thread")


def cu_supercell(rattle: float = 0.05, seed: int = 0) -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms.rattle(rattle, seed=seed)
    return atoms


def cu3au(seed: int = 1) -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)
    atoms.numbers[0] = 79
    atoms.rattle(0.05, seed=seed)
    return atoms


def count_forward_calls(model) -> list[int]:
    calls = [0]

    def hook(module, inputs, output):
        calls[0] += 1

    model.register_forward_hook(hook)
    return calls


def test_potential_gives_energy_forces_stress_in_ase_units(cu_potential_path):
    calc = PhononGNNCalc(cu_potential_path, device="cpu")
    assert set(calc.implemented_properties) == {
        keys.ENERGY,
        keys.FREE_ENERGY,
        keys.ENERGY_PER_ATOM,
        keys.FORCES,
        keys.STRESS,
        keys.HYDROSTATIC_STRESS,
    }
    atoms = cu_supercell()
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    # the model's own output on the same graph (cutoff from the model file)
    model = calc.models[0]
    graph = build_graph(atoms, cutoff=model.cutoff, dtype=torch.float64)
    out = model(graph, compute_forces=True, compute_stress=True)
    out = {k: v.detach() for k, v in out.items()}
    assert energy == pytest.approx(float(out[keys.ENERGY][0]), abs=1e-12)
    np.testing.assert_allclose(forces, out[keys.FORCES].numpy(), atol=1e-12)
    assert forces.shape == (len(atoms), 3)
    assert stress.shape == (6,)
    # forces are minus the gradient of the energy
    h = 1e-5
    for atom, axis in [(0, 0), (7, 2)]:
        shifted = [atoms.copy(), atoms.copy()]
        shifted[0].positions[atom, axis] += h
        shifted[1].positions[atom, axis] -= h
        e = [calc.get_potential_energy(a) for a in shifted]
        assert forces[atom, axis] == pytest.approx(-(e[0] - e[1]) / (2 * h), abs=1e-7)
    assert atoms.get_potential_energy(force_consistent=True) == energy
    assert calc.get_property(keys.ENERGY_PER_ATOM, atoms) == pytest.approx(
        energy / len(atoms)
    )
    # trace / 3 of the stress, in GPa
    assert calc.get_property(keys.HYDROSTATIC_STRESS, atoms) == pytest.approx(
        stress[:3].mean() / units.GPa, rel=1e-12
    )
    with pytest.raises(PropertyNotImplementedError):
        calc.get_property(keys.BAND_GAP, atoms)


def test_band_gap_vbm_and_hydrostatic_stress_heads(property_model):
    model = property_model(seed=2)
    calc = PhononGNNCalc(model, device="cpu")
    assert set(PhononGNNCalc.implemented_properties) <= set(calc.implemented_properties)
    atoms = cu3au()
    atoms.calc = calc
    gap = atoms.calc.get_property("band_gap", atoms)
    vbm = atoms.calc.get_property("vbm", atoms)
    hydrostatic = atoms.calc.get_property("hydrostatic_stress", atoms)
    with torch.no_grad():
        out = model(build_graph(atoms, cutoff=4.0, dtype=torch.float64))
    assert isinstance(gap, float)
    assert gap == pytest.approx(float(out[keys.BAND_GAP][0]), abs=1e-12)
    assert vbm == pytest.approx(float(out[keys.VBM][0]), abs=1e-12)
    # a potential's σh is the trace of its own stress (as labelled), not its head
    assert hydrostatic == pytest.approx(
        atoms.get_stress()[:3].mean() / units.GPa, rel=1e-12
    )
    assert hydrostatic != pytest.approx(float(out[keys.HYDROSTATIC_STRESS][0]))
    # intensive: the same for a supercell of the same structure
    big = atoms * (2, 1, 1)
    assert calc.get_property("band_gap", big) == pytest.approx(gap, rel=1e-10)
    assert calc.get_potential_energy(big) == pytest.approx(
        2 * calc.get_potential_energy(atoms), rel=1e-10
    )


def test_hydrostatic_stress_head_of_a_model_without_energy():
    from ase_phonongnn.model import ModelConfig, build_model

    targets = (keys.BAND_GAP, keys.VBM, keys.HYDROSTATIC_STRESS)
    config = ModelConfig(
        model="ours", targets=targets, species=(29, 79), cutoff=4.0, hidden_channels=16
    )
    model = build_model(config, seed=0, dtype=torch.float64).eval()
    calc = PhononGNNCalc(model, device="cpu")
    assert keys.STRESS not in calc.implemented_properties
    atoms = cu3au()
    with torch.no_grad():
        out = model(build_graph(atoms, cutoff=4.0, dtype=torch.float64))
    assert calc.get_property(keys.HYDROSTATIC_STRESS, atoms) == pytest.approx(
        float(out[keys.HYDROSTATIC_STRESS][0]), abs=1e-12
    )


def test_results_are_cached_until_the_atoms_change(property_model):
    model = property_model(seed=3)
    calls = count_forward_calls(model)
    calc = PhononGNNCalc(model, device="cpu")
    atoms = cu3au()
    atoms.calc = calc
    first = atoms.get_potential_energy()
    atoms.get_forces()
    atoms.get_stress()
    for name in ("band_gap", "vbm", "hydrostatic_stress", "free_energy"):
        calc.get_property(name, atoms)
    assert calls[0] == 1  # every property from one evaluation
    assert calc.get_property("band_gap", atoms.copy()) is not None
    assert calls[0] == 1  # an identical copy is the same system
    atoms.positions[0, 0] += 0.01
    second = atoms.get_potential_energy()
    assert calls[0] == 2
    assert second != first
    atoms.get_forces()
    assert calls[0] == 2
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)
    atoms.get_stress()
    assert calls[0] == 3


def test_committee_gives_mean_and_spread_of_every_property(property_model, tmp_path):
    from ase_phonongnn.model import save_model

    paths = [
        save_model(property_model(seed=s), tmp_path / f"m{s}.safetensors")
        for s in (4, 5)
    ]
    atoms = cu3au()
    committee = PhononGNNCalc(paths, device="cpu")
    singles = [PhononGNNCalc(p, device="cpu") for p in paths]
    for name in ("energy", "band_gap", "vbm", "hydrostatic_stress", "energy_per_atom"):
        values = [c.get_property(name, atoms) for c in singles]
        assert committee.get_property(name, atoms) == pytest.approx(
            np.mean(values), rel=1e-12
        )
        spread = committee.get_property(name + "_std", atoms)
        assert spread == pytest.approx(np.std(values), rel=1e-10)
        assert spread > 0
    forces = np.array([c.get_forces(atoms) for c in singles])
    np.testing.assert_allclose(committee.get_forces(atoms), forces.mean(0), atol=1e-12)
    forces_std = committee.get_property("forces_std", atoms)
    assert forces_std.shape == (len(atoms), 3)
    np.testing.assert_allclose(forces_std, forces.std(0), atol=1e-12)
    assert committee.get_property("stress_std", atoms).shape == (6,)
    # a calibration scales each spread by its own factor, energy's with it
    scaled = PhononGNNCalc(
        paths, device="cpu", spread_scale={"band_gap": 2.5, "energy_per_atom": 3.0}
    )
    for name, factor in (("band_gap", 2.5), ("energy_per_atom", 3.0), ("energy", 3.0)):
        assert scaled.get_property(name + "_std", atoms) == pytest.approx(
            factor * committee.get_property(name + "_std", atoms), rel=1e-12
        )
    assert scaled.get_property("vbm_std", atoms) == pytest.approx(
        committee.get_property("vbm_std", atoms), rel=1e-12
    )

    twins = PhononGNNCalc([paths[0], paths[0]], device="cpu")
    for name in ("energy", "band_gap", "vbm", "hydrostatic_stress"):
        assert twins.get_property(name + "_std", atoms) == 0.0
    assert not twins.get_property("forces_std", atoms).any()
    # a single model has no spreads
    with pytest.raises(PropertyNotImplementedError):
        singles[0].get_property("band_gap_std", atoms)


def total_energies(calc: PhononGNNCalc, timestep_fs: float, duration_fs: float):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    thermalize_momenta(atoms, 600, rng=np.random.default_rng(7), exact_temperature=True)
    Stationary(atoms)
    atoms.calc = calc
    dynamics = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    potential, total = [], []

    def record() -> None:
        e = atoms.get_potential_energy()
        potential.append(e)
        total.append(e + atoms.get_kinetic_energy())

    dynamics.attach(record, interval=1)
    dynamics.run(round(duration_fs / timestep_fs))
    return np.array(potential), np.array(total)


def test_nve_dynamics_conserves_energy_with_verlet_error_scaling(cu_potential):
    # Velocity Verlet conserves a shadow Hamiltonian H + O(dt^2): with forces
    # that are the exact, smooth gradient of the energy the total energy only
    # oscillates, with an amplitude that scales as dt^2 and no drift. Forces
    # that are not -grad E, or energies that jump when a neighbour crosses
    # the cutoff, would add a drift or jumps that do not shrink as dt^2.
    calc = PhononGNNCalc(cu_potential, device="cpu")
    potential, total = total_energies(calc, 1.0, 200.0)
    _, total_coarse = total_energies(calc, 2.0, 200.0)
    fluctuation = np.std(total)
    # Measured: the potential energy swings by 0.46 eV (std) as it exchanges
    # with the kinetic energy, the total by 1.4e-4 eV at 1 fs (3e-4 of it);
    # the bound leaves a factor 3 of margin. A 2 fs step multiplies the
    # total's fluctuation by 4.03 (0.5 -> 1 fs: 4.01; 2 -> 4 fs: 4.06).
    assert np.std(potential) > 0.1
    assert fluctuation < 1e-3 * np.std(potential)
    ratio = np.std(total_coarse) / fluctuation
    assert 3.6 < ratio < 4.5, ratio  # dt^2 scaling: 4
    # no secular drift: the linear trend over the run (0.36 of the
    # fluctuation, itself part of the dt^2 oscillation) stays below it
    drift = np.polyfit(np.arange(total.size), total, 1)[0] * total.size
    assert abs(drift) < fluctuation


def test_bfgs_relaxes_a_rattled_crystal_back_to_the_lattice(cu_potential):
    ideal = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms = ideal.copy()
    atoms.rattle(0.08, seed=3)
    atoms.calc = PhononGNNCalc(cu_potential, device="cpu")
    start = atoms.get_potential_energy()
    optimiser = BFGS(atoms, logfile=None)
    assert optimiser.run(fmax=1e-3, steps=200)
    assert np.abs(atoms.get_forces()).max() < 1e-3
    assert atoms.get_potential_energy() < start
    # fcc sites are a stationary point of any invariant potential: the
    # rattled crystal returns to them, up to a rigid translation
    shift = atoms.positions - ideal.positions
    shift -= shift.mean(axis=0)
    assert np.abs(shift).max() < 0.01


def test_max_energy_spread_stops_where_the_committee_leaves_its_data(
    cu_committee, cu_snapshots
):
    from ase.calculators.calculator import CalculationFailed
    from ase.filters import FrechetCellFilter

    from ase_phonongnn.prediction import OutsideTrainingDataError

    calc = PhononGNNCalc(cu_committee, device="cpu", max_energy_spread=0.02)
    # the thermal snapshots the members were trained on: spreads of 1-5 meV/atom
    for snapshot in cu_snapshots[::6]:
        atoms = snapshot.copy()
        atoms.calc = calc
        atoms.get_potential_energy()
        assert calc.results["energy_per_atom_std"] < 0.02
    # compressed by 15 %, where no training structure was: the members part
    compressed = bulk("Cu", "fcc", a=0.85 * 3.61, cubic=True) * (2, 2, 2)
    compressed.calc = calc
    with pytest.raises(OutsideTrainingDataError, match="outside the models'") as err:
        compressed.get_potential_energy()
    assert err.value.spread > 10 * err.value.limit
    assert calc.results == {}  # nothing cached to be read back unchecked
    # an ASE CalculationFailed: an optimiser stops there
    with pytest.raises(CalculationFailed):
        BFGS(FrechetCellFilter(compressed), logfile=None).run(fmax=0.01, steps=5)


def test_max_energy_spread_needs_a_positive_limit_and_a_committee(
    cu_committee, cu_potential
):
    with pytest.raises(ValueError, match="must be > 0"):
        PhononGNNCalc(cu_committee, device="cpu", max_energy_spread=0.0)
    with pytest.raises(ValueError, match="needs a committee"):
        PhononGNNCalc(cu_potential, device="cpu", max_energy_spread=0.03)


def test_model_without_energy_head_refuses_energy_forces_stress():
    config = ModelConfig(
        model="ours",
        targets=(keys.BAND_GAP,),
        species=(29, 79),
        cutoff=4.0,
        hidden_channels=8,
        n_interactions=1,
    )
    calc = PhononGNNCalc(build_model(config, seed=0), device="cpu")
    atoms = cu3au()
    atoms.calc = calc
    assert isinstance(calc.get_property("band_gap", atoms), float)
    for get in (atoms.get_potential_energy, atoms.get_forces, atoms.get_stress):
        with pytest.raises(PropertyNotImplementedError):
            get()
    with pytest.raises(PropertyNotImplementedError):
        calc.get_property("hydrostatic_stress", atoms)


def test_element_not_in_the_model_is_a_clear_error(cu_potential):
    calc = PhononGNNCalc(cu_potential, device="cpu")
    atoms = bulk("Ni", "fcc", a=3.52)
    with pytest.raises(UnsupportedElementError, match=r"element Ni .* species \(Cu\)"):
        calc.get_potential_energy(atoms)
    for kind in (UnknownElementError, ValueError, CalculatorSetupError, PhononGNNError):
        with pytest.raises(kind):
            calc.get_potential_energy(atoms)


@pytest.mark.parametrize(
    "structure",
    [
        molecule("H2O"),  # no cell, not periodic
        Atoms("Cu2", positions=[(0, 0, 0), (1.8, 0, 0)], cell=[5, 5, 5]),  # pbc off
        Atoms("Cu", pbc=True),  # periodic, but no cell
    ],
)
def test_structure_that_is_not_a_crystal_is_a_clear_error(cu_potential, structure):
    calc = PhononGNNCalc(cu_potential, device="cpu")
    with pytest.raises(UnsupportedStructureError, match="not a 3D-periodic crystal"):
        calc.get_potential_energy(structure)


def test_non_finite_positions_are_a_clear_error(cu_potential):
    calc = PhononGNNCalc(cu_potential, device="cpu")
    diverged = bulk("Cu", "fcc", a=3.61, cubic=True)
    diverged.positions[0, 0] = np.nan  # as an MD run that blew up leaves it
    with pytest.raises(UnsupportedStructureError, match="non-finite positions"):
        calc.get_potential_energy(diverged)


def test_missing_model_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nothing.safetensors"
    with pytest.raises(FileNotFoundError, match=f"no model file at {missing}"):
        PhononGNNCalc(missing)


def test_default_is_the_shipped_ag3sbr_committee():
    atoms = antiperovskite("Br").repeat(2)
    atoms.calc = PhononGNNCalc(device="cpu")
    gap = atoms.calc.get_property("band_gap", atoms)
    spread = atoms.calc.get_property("band_gap_std", atoms)
    # GFN2-xTB gives the ideal cubic cell a gap of about 3.6 eV; the models
    # saw only displaced snapshots (gaps 1-3.4 eV) and must stay near it.
    assert 2.5 < gap < 4.5 and 0 <= spread < 0.5
    # Forces of the ideal cubic cell vanish by symmetry (every atom is at an
    # inversion centre): exactly for every member in float64; in the
    # calculator's float32 to its round-off (the PaiNN member's vector
    # features cancel last, at ~1e-4 eV/Å, against ~0.6 eV/Å rms at 300 K).
    for path in named_model("default").members:
        member = load_model(path).double()
        forces = predict(member, [atoms], properties=["forces"], device="cpu")
        assert np.abs(forces["forces"][0]).max() < 1e-9
    assert np.abs(atoms.get_forces()).max() < 1e-3


@pytest.mark.filterwarnings("ignore:Please use `ase.calculators.fd:FutureWarning")
def test_float64_finite_differences_at_ase_default_steps_match_the_gradients():
    # the shipped committee on a rattled Ag3SBr cell; ASE's default steps:
    # 1e-3 Å for forces, a strain of 1e-6 for stress
    atoms = antiperovskite("Br")
    atoms.rattle(0.1, seed=5)
    default = PhononGNNCalc(device="cpu")
    assert default.dtype == torch.float32
    calc = PhononGNNCalc(device="cpu", dtype="float64")
    assert calc.dtype == torch.float64 and calc.parameters["dtype"] == "float64"
    atoms.calc = calc
    forces, stress = atoms.get_forces(), atoms.get_stress()
    assert np.abs(forces).max() > 0.5 and np.abs(stress).max() > 1e-2
    # measured 1.2e-5 eV/Å (the O(h²) error of central differences) and
    # 6e-10 eV/Å³; in float32 1.2e-2 eV/Å and 6e-2 eV/Å³, the round-off of
    # a -524 eV energy (6e-5 eV) over the step
    np.testing.assert_allclose(
        calc.calculate_numerical_forces(atoms), forces, rtol=0, atol=1e-4
    )
    np.testing.assert_allclose(
        calc.calculate_numerical_stress(atoms), stress, rtol=0, atol=1e-8
    )
    atoms.calc = default
    assert np.abs(default.calculate_numerical_stress(atoms) - stress).max() > 1e-3


def test_dtype_option_of_load_model_predict_and_the_calculator(cu_potential_path):
    atoms = cu_supercell()
    single = load_model(cu_potential_path, dtype="float32")
    assert next(single.parameters()).dtype == torch.float32
    double = load_model(cu_potential_path, dtype=torch.float64)
    assert next(double.parameters()).dtype == torch.float64
    calc = PhononGNNCalc(cu_potential_path, device="cpu", dtype="float32")
    out = predict(cu_potential_path, [atoms], device="cpu", dtype="float32")
    assert out[keys.ENERGY][0] == calc.get_potential_energy(atoms)
    # the file is float64: None keeps it, float32 rounds the weights
    exact = predict(cu_potential_path, [atoms], device="cpu")[keys.ENERGY][0]
    assert exact == pytest.approx(out[keys.ENERGY][0], abs=1e-3)
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        PhononGNNCalc(cu_potential_path, dtype="float16")
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        load_model(cu_potential_path, dtype="double")
    committee = Committee.load(cu_potential_path, "cpu")
    with pytest.raises(ValueError, match="pass dtype to Committee"):
        predict(committee, [atoms], dtype="float64")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(cu_potential):
    with pytest.raises(DeviceUnavailableError, match="no CUDA device"):
        PhononGNNCalc(cu_potential, device="cuda")
    with pytest.raises(CalculatorSetupError):
        PhononGNNCalc(cu_potential, device="cuda:0")
    with pytest.raises(ValueError, match="device must be"):
        PhononGNNCalc(cu_potential, device="tpu")
    # auto falls back to the CPU
    assert PhononGNNCalc(cu_potential, device="auto").device.type == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_and_cpu_agree(cu_potential_path):
    atoms = cu_supercell()
    cpu = PhononGNNCalc(cu_potential_path, device="cpu")
    gpu = PhononGNNCalc(cu_potential_path, device="cuda")
    assert gpu.get_potential_energy(atoms) == pytest.approx(
        cpu.get_potential_energy(atoms), rel=1e-10
    )
    np.testing.assert_allclose(gpu.get_forces(atoms), cpu.get_forces(atoms), atol=1e-9)

"""Physics of the `ours` potential: conservative forces and stress, invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, make_supercell
from ase.calculators.emt import EMT
from scipy.spatial.transform import Rotation

from ase_phonongnn import keys
from ase_phonongnn.errors import UnknownElementError
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import MODEL_KEYS, N_LEVELS, ModelConfig, build_model
from ase_phonongnn.structures import antiperovskite

CUTOFF = 4.0
TARGETS = keys.TARGETS  # energy_per_atom, band_gap, vbm, hydrostatic_stress


def ag3sbr(repeat=(1, 1, 1), seed=0, rattle=0.12) -> Atoms:
    atoms = antiperovskite("Br").repeat(repeat)
    atoms.rattle(rattle, seed=seed)
    return atoms


VARIANTS = {
    "invariant": {},
    "painn": {"equivariant": True},
    "attention": {"readout": "attention"},
    "levels": {"readout": "levels"},
    "tight-binding": {"readout": "tight-binding"},
    "zbl": {"equivariant": True, "repulsion": "zbl"},
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def model(request):
    config = ModelConfig(
        model="ours",
        targets=TARGETS,
        species=(16, 35, 47),
        cutoff=CUTOFF,
        hidden_channels=16,
        n_interactions=2,
        **VARIANTS[request.param],
    )
    net = build_model(config, seed=1, dtype=torch.float64).eval()
    # non-trivial scaling so that every term of the output is exercised
    net.set_target_scaling(
        [0.0, 2.5, -1.0, 0.3], [0.7, 0.4, 0.2, 1.5], [0.1, 0.4, 0.2, 1.5]
    )
    net.atomic_energies.copy_(torch.tensor([-3.0, -2.0, -1.5], dtype=torch.float64))
    return net


def predict(net, atoms, forces=True, stress=True):
    graph = build_graph(atoms, cutoff=CUTOFF, dtype=torch.float64)
    out = net(graph, compute_forces=forces, compute_stress=stress)
    return {k: v.detach().numpy() for k, v in out.items()}


def energy(net, atoms) -> float:
    return float(predict(net, atoms, forces=False, stress=False)[keys.ENERGY][0])


def strained(atoms: Atoms, a: int, b: int, h: float) -> Atoms:
    eps = np.zeros((3, 3))
    eps[a, b] += h / 2
    eps[b, a] += h / 2
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return out


VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def strain_derivative(energy_of, atoms, h=1e-5) -> np.ndarray:
    """(1/V) dE/d(epsilon) by central differences, Voigt order."""
    volume = atoms.get_volume()
    return np.array(
        [
            (energy_of(strained(atoms, a, b, h)) - energy_of(strained(atoms, a, b, -h)))
            / (2 * h * volume)
            for a, b in VOIGT
        ]
    )


def test_fd_strain_derivative_is_ases_stress_convention():
    # the finite-difference formula used below reproduces ASE's own stress
    atoms = bulk("Cu", "fcc", a=3.5, cubic=True) * (2, 1, 1)
    atoms.rattle(0.05, seed=2)
    atoms.calc = EMT()

    def emt_energy(a):
        a.calc = EMT()
        return a.get_potential_energy()

    np.testing.assert_allclose(
        strain_derivative(emt_energy, atoms), atoms.get_stress(), atol=1e-7
    )


def test_forces_are_minus_energy_gradient(model):
    atoms = ag3sbr((2, 1, 1), seed=4)
    out = predict(model, atoms)
    h = 1e-5
    for atom, axis in [(0, 0), (3, 1), (7, 2), (9, 0)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[atom, axis] += h
        minus.positions[atom, axis] -= h
        fd = -(energy(model, plus) - energy(model, minus)) / (2 * h)
        assert out[keys.FORCES][atom, axis] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    # momentum conservation: no net force on a periodic crystal
    np.testing.assert_allclose(out[keys.FORCES].sum(axis=0), 0.0, atol=1e-10)


def test_stress_is_strain_derivative_over_volume(model):
    atoms = ag3sbr((1, 2, 1), seed=5)
    # a sheared, non-orthogonal cell
    atoms.set_cell(
        atoms.cell.array @ np.array([[1, 0.05, 0], [0, 1, 0.03], [0, 0, 1]]),
        scale_atoms=True,
    )
    out = predict(model, atoms)
    fd = strain_derivative(lambda a: energy(model, a), atoms)
    np.testing.assert_allclose(out[keys.STRESS][0], fd, rtol=1e-6, atol=1e-9)


def test_invariant_under_rotation_translation_permutation(model):
    atoms = ag3sbr((2, 1, 1), seed=6)
    ref = predict(model, atoms)
    rotation = Rotation.random(random_state=3).as_matrix()
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell.array @ rotation.T)
    rotated.positions = atoms.positions @ rotation.T
    rot = predict(model, rotated)
    for target in (keys.ENERGY, *TARGETS):
        np.testing.assert_allclose(rot[target], ref[target], rtol=1e-10)
    np.testing.assert_allclose(
        rot[keys.FORCES], ref[keys.FORCES] @ rotation.T, atol=1e-10
    )
    sigma = np.zeros((3, 3))
    for k, (a, b) in enumerate(VOIGT):
        sigma[a, b] = sigma[b, a] = ref[keys.STRESS][0, k]
    sigma_rot = rotation @ sigma @ rotation.T
    np.testing.assert_allclose(
        rot[keys.STRESS][0], [sigma_rot[a, b] for a, b in VOIGT], atol=1e-10
    )

    moved = atoms.copy()
    moved.translate([1.3, -2.2, 7.5])
    moved.wrap()
    tra = predict(model, moved)
    for name in (keys.ENERGY, *TARGETS, keys.FORCES, keys.STRESS):
        np.testing.assert_allclose(tra[name], ref[name], rtol=1e-9, atol=1e-10)

    perm = np.random.default_rng(0).permutation(len(atoms))
    per = predict(model, atoms[perm])
    for name in (keys.ENERGY, *TARGETS, keys.STRESS):
        np.testing.assert_allclose(per[name], ref[name], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(per[keys.FORCES], ref[keys.FORCES][perm], atol=1e-10)


def test_energy_extensive_and_intensive_heads_invariant_under_supercell(model):
    atoms = ag3sbr((1, 1, 1), seed=7)
    ref = predict(model, atoms)
    for matrix in (
        [[2, 0, 0], [0, 1, 0], [0, 0, 1]],
        [[1, 1, 0], [-1, 1, 0], [0, 0, 2]],
    ):
        big = make_supercell(atoms, matrix)
        n = round(abs(np.linalg.det(matrix)))
        out = predict(model, big)
        assert out[keys.ENERGY][0] == pytest.approx(n * ref[keys.ENERGY][0], rel=1e-10)
        # a Γ-point Hamiltonian's levels depend on the cell: see
        # test_tight_binding_levels_of_a_cell_are_levels_of_its_supercells
        for target in TARGETS if model.tight_binding is None else ():
            assert out[target][0] == pytest.approx(ref[target][0], rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(out[keys.STRESS], ref[keys.STRESS], atol=1e-10)
    # a different but equivalent cell of the same crystal (same atoms count)
    sheared = make_supercell(atoms, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_allclose(
        predict(model, sheared)[keys.ENERGY], ref[keys.ENERGY], rtol=1e-10
    )


def test_energy_and_forces_smooth_when_an_image_crosses_the_cutoff(model):
    # one Ag atom in a cubic cell of side L: its 6 images sit exactly at L
    def single(length):
        return Atoms("Ag", positions=[(0, 0, 0)], cell=[length] * 3, pbc=True)

    below = predict(model, single(CUTOFF - 1e-6))
    above = predict(model, single(CUTOFF + 1e-6))
    assert below[keys.ENERGY][0] == pytest.approx(above[keys.ENERGY][0], abs=1e-9)
    np.testing.assert_allclose(below[keys.STRESS], above[keys.STRESS], atol=1e-8)


def test_batched_prediction_equals_one_by_one(model):
    from torch_geometric.data import Batch

    structures = [ag3sbr((1, 1, 1), seed=s) for s in range(2)] + [ag3sbr((2, 1, 1))]
    graphs = [build_graph(a, cutoff=CUTOFF, dtype=torch.float64) for a in structures]
    batched = model(
        Batch.from_data_list(graphs), compute_forces=True, compute_stress=True
    )
    forces = torch.cat([model(g, compute_forces=True)[keys.FORCES] for g in graphs])
    torch.testing.assert_close(batched[keys.FORCES], forces)
    for k, g in enumerate(graphs):
        single = model(g, compute_stress=True)
        for name in (keys.ENERGY, *TARGETS):
            torch.testing.assert_close(batched[name][k], single[name][0])
        torch.testing.assert_close(batched[keys.STRESS][k], single[keys.STRESS][0])


def mean_and_other_readout(readout: str):
    """A mean-readout net and a ``readout`` one sharing every weight of equal shape."""
    config = ModelConfig(
        targets=TARGETS, species=(16, 35, 47), cutoff=CUTOFF, hidden_channels=16
    )
    mean_net = build_model(config, seed=3, dtype=torch.float64).eval()
    net = build_model(config.replace(readout=readout), seed=3, dtype=torch.float64)
    own = net.state_dict()
    shared = {
        name: value
        for name, value in mean_net.state_dict().items()
        if own[name].shape == value.shape
    }
    net.eval().load_state_dict(shared, strict=False)
    return mean_net, net


def test_attention_readout_with_equal_gates_is_the_mean_readout():
    """Softmax pooling with a constant gate is the plain mean over the atoms."""
    mean_net, net = mean_and_other_readout("attention")
    gate = net.intensive_gate[-1]
    torch.nn.init.zeros_(gate.weight)
    torch.nn.init.zeros_(gate.bias)
    atoms = ag3sbr(seed=4)
    mean, attention = predict(mean_net, atoms), predict(net, atoms)
    for target in TARGETS:
        np.testing.assert_allclose(attention[target], mean[target], rtol=1e-12)


def test_levels_readout_with_equal_levels_is_the_mean_readout():
    """Equal levels: both smooth maxima carry the same offset τ log K, which cancels."""
    mean_net, net = mean_and_other_readout("levels")
    last, mean_last = net.intensive_head[-1], mean_net.intensive_head[-1]
    with torch.no_grad():
        # per target: N_LEVELS copies of the mean head's output, then N_LEVELS zeros
        weight = torch.zeros_like(last.weight).view(3, 2, N_LEVELS, -1)
        weight[:, 0] = mean_last.weight.unsqueeze(1)
        bias = torch.zeros_like(last.bias).view(3, 2, N_LEVELS)
        bias[:, 0] = mean_last.bias.unsqueeze(1)
        last.weight.copy_(weight.reshape(last.weight.shape))
        last.bias.copy_(bias.reshape(last.bias.shape))
    atoms = ag3sbr(seed=4)
    mean, levels = predict(mean_net, atoms), predict(net, atoms)
    for target in TARGETS:
        np.testing.assert_allclose(levels[target], mean[target], rtol=1e-12)


def test_levels_readout_is_the_highest_level_when_cold():
    """As τ → 0 the smooth maximum becomes the highest of the pooled levels."""
    config = ModelConfig(
        targets=(keys.VBM,),
        species=(16, 35, 47),
        cutoff=CUTOFF,
        hidden_channels=16,
        readout="levels",
    )
    net = build_model(config, seed=5, dtype=torch.float64).eval()
    pooled = torch.randn(4, 2 * N_LEVELS, dtype=torch.float64)
    with torch.no_grad():
        net.level_log_temperature.fill_(math.log(1e-6))
    expected = pooled[:, :N_LEVELS].max(1).values - pooled[:, N_LEVELS:].max(1).values
    torch.testing.assert_close(net._level_edges(pooled)[:, 0], expected)


def tight_binding_net(seed: int, dtype: torch.dtype):
    config = ModelConfig(
        targets=TARGETS,
        species=(16, 35, 47),
        cutoff=CUTOFF,
        hidden_channels=16,
        readout="tight-binding",
    )
    return build_model(config, seed=seed, dtype=dtype).eval()


def tight_binding_levels(net, atoms) -> np.ndarray:
    """All levels (H, n × orbitals) of the tight-binding readout for one structure."""
    graph = build_graph(atoms, cutoff=CUTOFF, dtype=torch.float64)
    species = net.species_indices(graph.z)
    features = net._node_features(graph, species, graph.pos, graph.cell)
    batch = torch.zeros(len(atoms), dtype=torch.long)
    levels, _ = net.tight_binding.spectra(*features, graph.edge_index, batch, 1)
    return levels[0].detach().numpy()


def test_tight_binding_levels_of_a_cell_are_levels_of_its_supercells():
    """Bloch: a supercell's Γ point holds the cell's Γ levels, and more."""
    net = tight_binding_net(seed=2, dtype=torch.float64)
    atoms = ag3sbr((1, 1, 1), seed=7)
    small = tight_binding_levels(net, atoms)
    n_hamiltonians, n_levels = small.shape
    assert (n_hamiltonians, n_levels) == (6, 5 * net.tight_binding.n_orbitals)
    for matrix in (
        [[2, 0, 0], [0, 1, 0], [0, 0, 1]],
        [[1, 1, 0], [-1, 1, 0], [0, 0, 2]],
    ):
        big = tight_binding_levels(net, make_supercell(atoms, matrix))
        n = round(abs(np.linalg.det(matrix)))
        assert big.shape == (n_hamiltonians, n * n_levels)
        for k in range(n_hamiltonians):
            # every level of the cell is a level of the supercell ...
            to_big = np.abs(big[k][:, None] - small[k][None, :]).min(axis=0)
            np.testing.assert_allclose(to_big, 0.0, atol=1e-10)
            # ... which has others: wavevectors that fold onto its Γ point
            to_small = np.abs(big[k][:, None] - small[k][None, :]).min(axis=1)
            assert to_small.max() > 1e-3


def test_tight_binding_levels_do_not_depend_on_asking_for_forces():
    """Single precision: a band edge is the same with and without forces."""
    net = tight_binding_net(seed=4, dtype=torch.float32)
    graph = build_graph(ag3sbr((2, 1, 1), seed=9), cutoff=CUTOFF)
    with torch.no_grad():
        plain = net(graph)
    with_forces = net(graph, compute_forces=True, compute_stress=True)
    for target in TARGETS:
        assert torch.equal(plain[target], with_forces[target].detach()), target


def test_unseen_element_is_refused(model):
    atoms = bulk("Cu", "fcc", a=3.6)
    with pytest.raises(UnknownElementError, match=r"Cu is not in this model's species"):
        predict(model, atoms)


@pytest.mark.parametrize("key", [k for k in MODEL_KEYS if k != "ours"])
def test_paper_models_invariant_and_refuse_forces(key):
    config = ModelConfig(
        model=key,
        targets=(keys.BAND_GAP, keys.VBM),
        species=(16, 35, 47),
        cutoff=CUTOFF,
        hidden_channels=8,
    )
    net = build_model(config, seed=0, dtype=torch.float64).eval()
    net.set_target_scaling([2.0, -1.0], [0.5, 0.25], [0.5, 0.25])
    atoms = ag3sbr((2, 1, 1), seed=8)
    ref = predict(net, atoms, forces=False, stress=False)
    perm = np.random.default_rng(1).permutation(len(atoms))
    moved = atoms[perm]
    moved.translate([0.7, 0.1, -3.0])
    out = predict(net, moved, forces=False, stress=False)
    for target in config.targets:
        np.testing.assert_allclose(out[target], ref[target], rtol=1e-10)
    # sigmoid/ReLU outputs live in [shift, shift + scale] / [shift, inf)
    assert ref[keys.BAND_GAP][0] >= 2.0
    with pytest.raises(ValueError, match="not a potential"):
        predict(net, atoms, forces=True, stress=False)


def test_forces_need_an_energy_target():
    config = ModelConfig(
        model="ours",
        targets=(keys.BAND_GAP,),
        species=(47, 16, 35),
        cutoff=CUTOFF,
        hidden_channels=8,
        n_interactions=1,
    )
    net = build_model(config, dtype=torch.float64)
    assert keys.FORCES not in net.implemented_properties
    with pytest.raises(ValueError, match="energy_per_atom"):
        predict(net, ag3sbr(), forces=True, stress=False)

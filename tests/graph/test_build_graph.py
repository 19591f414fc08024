from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from torch_geometric.data import Batch

from ase_phonongnn.errors import UnknownElementError
from ase_phonongnn.graph import FEATURE_NAMES, build_graph, edge_vectors
from ase_phonongnn.structures import antiperovskite


def ag3sbr(repeat=(2, 2, 2), rattle=0.1, seed=0) -> Atoms:
    atoms = antiperovskite("Br").repeat(repeat)
    atoms.rattle(rattle, seed=seed)
    return atoms


def skewed_small_cell() -> Atoms:
    """Triclinic 2-atom cell, every cell height far below the 5.5 Å cutoff."""
    cell = [[2.9, 0.0, 0.0], [1.3, 2.7, 0.0], [-0.8, 1.1, 3.1]]
    return Atoms(
        "CuAg",
        scaled_positions=[(0.1, 0.2, 0.05), (0.6, 0.45, 0.7)],
        cell=cell,
        pbc=True,
    )


def brute_force_edges(atoms: Atoms, cutoff: float) -> Counter:
    """All (i, j, shift) with |r_j - r_i + S C| < cutoff, by enumeration."""
    cell = atoms.cell.array
    volume = abs(np.linalg.det(cell))
    heights = [
        volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
        for k in range(3)
    ]
    # positions are within a cell of each other after wrapping; one extra image
    # on each side covers any position inside [0, 1) fractional.
    reach = [math.ceil(cutoff / h) + 1 for h in heights]
    pos = atoms.positions
    edges: Counter = Counter()
    for shift in itertools.product(*(range(-n, n + 1) for n in reach)):
        offset = np.asarray(shift) @ cell
        for i, j in itertools.product(range(len(atoms)), repeat=2):
            d = np.linalg.norm(pos[j] - pos[i] + offset)
            if 1e-12 < d < cutoff:
                edges[(i, j, shift)] += 1
    return edges


def graph_edges(data) -> Counter:
    shifts = data.edge_shift.round().long().tolist()
    pairs = data.edge_index.t().tolist()
    return Counter((i, j, tuple(s)) for (i, j), s in zip(pairs, shifts, strict=True))


def distance_multiset(data, relabel=None) -> Counter:
    """(i, j, distance rounded) multiset, independent of the shifts."""
    i, j = data.edge_index.tolist()
    if relabel is not None:
        i, j = [relabel[k] for k in i], [relabel[k] for k in j]
    d = np.round(data.edge_weight.double().numpy(), 7)
    return Counter(zip(i, j, d.tolist(), strict=True))


@pytest.mark.parametrize(
    ("make", "cutoff"),
    [
        (lambda: ag3sbr((1, 1, 1), rattle=0.15), 5.5),  # 5-atom cell, a < cutoff
        (skewed_small_cell, 5.5),  # triclinic, heights ~2.5 Å
        (lambda: bulk("Cu", "fcc", a=3.6), 5.5),  # 1 atom: only self-images
        (lambda: ag3sbr((2, 1, 1), rattle=0.1), 4.0),
    ],
)
def test_graph_equals_brute_force_periodic_search(make, cutoff):
    atoms = make()
    data = build_graph(atoms, cutoff=cutoff, dtype=torch.float64)
    expected = brute_force_edges(atoms, cutoff)
    assert graph_edges(data) == expected
    # distances agree with the edge vectors recomputed from positions and cell
    _, lengths = edge_vectors(data)
    torch.testing.assert_close(lengths, data.edge_weight)
    assert float(lengths.max()) < cutoff


def test_self_images_and_multiple_images_are_edges():
    data = build_graph(bulk("Cu", "fcc", a=3.6), cutoff=5.5)
    # fcc shells within 5.5 Å: 12 + 6 + 24 + 12 images of the single atom
    assert data.num_edges == 54
    assert bool((data.edge_index[0] == data.edge_index[1]).all())
    distances = np.sort(data.edge_weight.numpy())
    np.testing.assert_allclose(distances[:12], 3.6 / math.sqrt(2), rtol=1e-6)


def test_node_features_are_named_physical_values():
    data = build_graph(ag3sbr(), cutoff=5.5)
    assert FEATURE_NAMES == ("atomic_number", "mass", "radius", "electronegativity")
    ag = data.x[data.z == 47][0].tolist()
    assert ag == pytest.approx([47.0, 107.8682, 1.45, 1.93], rel=1e-4)
    br = data.x[data.z == 35][0].tolist()
    assert br[3] == pytest.approx(2.96)
    assert data.x.shape == (40, 4)
    assert data.cell.shape == (1, 3, 3)


def test_invariant_under_translation_and_wrapping():
    atoms = ag3sbr()
    reference = build_graph(atoms, dtype=torch.float64)
    moved = atoms.copy()
    moved.translate([3.1, -7.7, 12.9])  # far outside the cell, not wrapped
    translated = build_graph(moved, dtype=torch.float64)
    assert graph_edges(translated) == graph_edges(reference)
    moved.wrap()
    wrapped = build_graph(moved, dtype=torch.float64)
    assert distance_multiset(wrapped) == distance_multiset(reference)
    _, lengths = edge_vectors(wrapped)
    torch.testing.assert_close(lengths, wrapped.edge_weight)


def test_invariant_under_permutation():
    atoms = ag3sbr()
    perm = np.random.default_rng(3).permutation(len(atoms))
    permuted = build_graph(atoms[perm], dtype=torch.float64)
    reference = build_graph(atoms, dtype=torch.float64)
    # node k of the permuted structure is node perm[k] of the reference
    assert distance_multiset(permuted, relabel=perm.tolist()) == distance_multiset(
        reference
    )
    torch.testing.assert_close(permuted.x, reference.x[perm])


def test_edge_vectors_are_differentiable_in_positions_and_cell():
    data = build_graph(ag3sbr(rattle=0.2), cutoff=4.5, dtype=torch.float64)
    pos = data.pos.clone().requires_grad_(True)
    cell = data.cell.clone().requires_grad_(True)

    def energy(p, c):
        _, r = edge_vectors(data, p, c)
        return torch.sum(torch.exp(-r))

    grad_pos, grad_cell = torch.autograd.grad(energy(pos, cell), [pos, cell])
    h = 1e-6
    for atom, axis in [(0, 0), (7, 2), (39, 1)]:
        plus, minus = data.pos.clone(), data.pos.clone()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        fd = (energy(plus, data.cell) - energy(minus, data.cell)) / (2 * h)
        assert float(grad_pos[atom, axis]) == pytest.approx(float(fd), rel=1e-6)
    plus, minus = data.cell.clone(), data.cell.clone()
    plus[0, 1, 2] += h
    minus[0, 1, 2] -= h
    fd = (energy(data.pos, plus) - energy(data.pos, minus)) / (2 * h)
    assert float(grad_cell[0, 1, 2]) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)


def test_batched_collation_keeps_edges_per_structure():
    graphs = [build_graph(ag3sbr(seed=s)) for s in range(2)] + [
        build_graph(bulk("Cu", "fcc", a=3.6))
    ]
    batch = Batch.from_data_list(graphs)
    assert batch.cell.shape == (3, 3, 3)
    assert batch.num_edges == sum(g.num_edges for g in graphs)
    _, lengths = edge_vectors(batch)
    torch.testing.assert_close(lengths, batch.edge_weight)
    torch.testing.assert_close(lengths, torch.cat([edge_vectors(g)[1] for g in graphs]))


def test_edges_grow_linearly_with_the_number_of_atoms():
    # The cost's scaling is measured in benchmarks/bench_graph.py; here the
    # fact behind it: each atom keeps the same neighbours in a larger cell.
    small = ag3sbr((4, 4, 4), rattle=0.0)  # 320 atoms
    large = ag3sbr((8, 8, 8), rattle=0.0)  # 2,560 atoms: 8x more
    assert build_graph(large).num_edges == 8 * build_graph(small).num_edges


@pytest.mark.parametrize("cutoff", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_cutoff_is_refused(cutoff):
    with pytest.raises(ValueError, match="cutoff must be a positive"):
        build_graph(ag3sbr(), cutoff=cutoff)


def test_non_periodic_structure_is_refused():
    atoms = ag3sbr()
    atoms.pbc = [True, True, False]
    with pytest.raises(ValueError, match="periodic in all three directions"):
        build_graph(atoms)
    with pytest.raises(ValueError, match="periodic"):
        build_graph(Atoms("Cu2", positions=[(0, 0, 0), (0, 0, 2.5)]))


def test_unknown_element_is_refused():
    atoms = bulk("Ar", "fcc", a=5.3)
    with pytest.raises(UnknownElementError, match="Ar"):
        build_graph(atoms)


def test_empty_and_wrong_type_are_refused():
    with pytest.raises(ValueError, match="empty"):
        build_graph(Atoms(cell=[3, 3, 3], pbc=True))
    with pytest.raises(TypeError, match=r"ase\.Atoms"):
        build_graph(np.zeros((3, 3)))

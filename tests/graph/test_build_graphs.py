from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from torch_geometric.data import Batch

from ase_phonongnn.graph import (
    MAX_DISPLACEMENT_FRACTION,
    build_graph,
    build_graphs,
    edge_vectors,
)
from ase_phonongnn.structures import antiperovskite


def snapshots(n: int, rattle: float, seed: int = 0) -> list[Atoms]:
    base = antiperovskite("Br").repeat((2, 2, 2))
    frames = []
    for k in range(n):
        atoms = base.copy()
        atoms.rattle(rattle, seed=seed + k)
        frames.append(atoms)
    return frames


def edges(data) -> Counter:
    i, j = data.edge_index.tolist()
    shifts = data.edge_shift.round().long().tolist()
    return Counter((a, b, tuple(s)) for a, b, s in zip(i, j, shifts, strict=True))


def assert_same_graphs(structures: list[Atoms], cutoff: float = 5.5) -> Batch:
    batch = build_graphs(structures, cutoff, dtype=torch.float64)
    expected = Batch.from_data_list(
        [build_graph(a, cutoff, dtype=torch.float64) for a in structures]
    )
    assert batch.num_graphs == len(structures)
    for name in ("batch", "ptr", "x", "z", "pos", "cell"):
        assert torch.equal(batch[name], expected[name]), name
    for got, want in zip(batch.to_data_list(), expected.to_data_list(), strict=True):
        assert edges(got) == edges(want)
    _, lengths = edge_vectors(batch)
    torch.testing.assert_close(lengths, batch.edge_weight)
    assert float(lengths.max()) < cutoff
    return batch


def test_thermal_snapshots_of_one_cell_share_a_search_and_equal_build_graph():
    # displacements of up to ~0.5 Å: every frame takes the shared candidates
    assert_same_graphs(snapshots(6, rattle=0.2))


def test_wrapped_frames_and_large_displacements_are_exact():
    frames = snapshots(4, rattle=0.15)
    frames[1].wrap()
    frames[2].positions[3] += frames[2].cell[0] - frames[2].cell[2]  # an image
    far = frames[3]
    far.positions[0] += 1.2 * MAX_DISPLACEMENT_FRACTION * 5.5  # own search
    assert_same_graphs(frames)


def test_mixed_sizes_cells_and_compositions():
    frames = [
        *snapshots(2, rattle=0.1),
        bulk("Cu", "fcc", a=3.6),
        antiperovskite("Br"),
        *snapshots(2, rattle=0.1, seed=7),
        bulk("NaCl", "rocksalt", a=5.6).repeat((1, 1, 2)),
    ]
    frames[3].rattle(0.1, seed=3)
    assert_same_graphs(frames, cutoff=4.5)


def test_one_structure_and_float32():
    (atoms,) = snapshots(1, rattle=0.1)
    batch = build_graphs([atoms])
    assert batch.num_graphs == 1
    assert batch.pos.dtype == torch.float32
    assert edges(batch) == edges(build_graph(atoms))


def test_empty_and_invalid_input_is_refused():
    with pytest.raises(ValueError, match="structures is empty"):
        build_graphs([])
    atoms = antiperovskite("Br")
    atoms.pbc = False
    with pytest.raises(ValueError, match="periodic in all three directions"):
        build_graphs([antiperovskite("Br"), atoms])
    with pytest.raises(ValueError, match="cutoff must be a positive"):
        build_graphs([antiperovskite("Br")], cutoff=-1.0)


def test_positions_are_not_shared_with_the_atoms():
    frames = snapshots(2, rattle=0.1)
    batch = build_graphs(frames, dtype=torch.float64)
    batch.pos += 1.0
    np.testing.assert_array_less(frames[0].positions - 0.5, batch.pos[:40].numpy())
    assert not np.shares_memory(frames[0].positions, batch.pos.numpy())

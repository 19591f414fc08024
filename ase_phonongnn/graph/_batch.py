"""Radius graphs of many crystals at once, collated into one PyG ``Batch``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeAlias

import numpy as np
import torch
from ase import Atoms
from numpy.typing import NDArray
from torch_geometric.data import Batch
from vesin import NeighborList

from ase_phonongnn.graph._build import (
    DEFAULT_CUTOFF,
    _check_atoms,
    check_cutoff,
)
from ase_phonongnn.graph._elements import element_features

#: Largest displacement of an atom from the mean positions of its group, as a
#: fraction of the cutoff, for which a structure takes its pairs from the
#: group's candidate list; beyond it, it gets a neighbour search of its own.
MAX_DISPLACEMENT_FRACTION: Final = 0.3

#: Candidate pairs times structures handled at once (bounds temporary memory).
_BLOCK: Final = 1 << 20

#: Neighbour pairs: sources i, targets j, integer shifts S, distances in Å.
_Pairs: TypeAlias = tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]
]
#: The arrays of one graph, by ``Data`` attribute.
_Arrays: TypeAlias = dict[str, NDArray[Any]]

_KEYS: Final = ("x", "z", "pos", "cell", "edge_index", "edge_shift", "edge_weight")


def build_graphs(
    structures: Sequence[Atoms],
    cutoff: float = DEFAULT_CUTOFF,
    *,
    dtype: torch.dtype = torch.float32,
) -> Batch:
    r"""Return the periodic radius graphs of several crystals as one batch.

    The same graphs as :func:`build_graph` of each structure followed by
    ``torch_geometric.data.Batch.from_data_list`` (same edges; the order of
    the edges of a structure may differ), built with less work per structure:

    - structures with the same atoms and cell (frames of a trajectory,
      thermal snapshots of one supercell) share one neighbour search: the
      pairs of their mean positions closer than :math:`r_c + 2u_{\max}`,
      :math:`u_{\max}` the largest distance of any atom from its mean
      position (up to a lattice translation, so wrapped frames count as
      near), hold every pair of every one of them closer than :math:`r_c`
      (a Verlet list with skin :math:`2u_{\max}`); each structure keeps
      those of the candidates closer than :math:`r_c`, found with array
      arithmetic. A structure with an atom farther than
      :data:`MAX_DISPLACEMENT_FRACTION` times :math:`r_c` from its mean
      position gets a search of its own;
    - node features, tensors and batch offsets are made once per batch, not
      once per structure.

    Parameters
    ----------
    structures
        Crystals, each periodic in all three directions; any mix of sizes,
        compositions and cells.
    cutoff
        Radius :math:`r_c` of the graphs in Å, > 0.
    dtype
        Floating dtype of the tensors.

    Returns
    -------
    torch_geometric.data.Batch
        The attributes of :func:`build_graph`, concatenated over the
        structures, with ``batch`` (n_atoms_total,) the structure of each
        atom, ``ptr`` (B + 1,) node offsets, and ``cell`` (B, 3, 3).
        ``to_data_list()`` gives the graphs of the structures back.

    Raises
    ------
    ValueError
        If ``structures`` is empty, or as :func:`build_graph`.
    TypeError, UnknownElementError
        As :func:`build_graph`.
    """
    frames = list(structures)
    if not frames:
        raise ValueError("structures is empty; give at least one ase.Atoms")
    radius = check_cutoff(cutoff)
    for atoms in frames:
        _check_atoms(atoms)
    parts: list[_Arrays | None] = [None] * len(frames)
    for members in _groups(frames).values():
        for k, part in _group_graphs([frames[m] for m in members], radius).items():
            parts[members[k]] = part
    return _collate([p for p in parts if p is not None], dtype)


def _groups(frames: list[Atoms]) -> dict[bytes, list[int]]:
    """Return the indices of the frames, grouped by atomic numbers and cell."""
    groups: dict[bytes, list[int]] = {}
    for index, atoms in enumerate(frames):
        numbers = np.ascontiguousarray(atoms.numbers, dtype=np.int64)
        cell = np.ascontiguousarray(atoms.cell.array, dtype=np.float64)
        groups.setdefault(numbers.tobytes() + cell.tobytes(), []).append(index)
    return groups


def _search(
    positions: NDArray[np.float64], cell: NDArray[np.float64], radius: float
) -> tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]
]:
    """Pairs (i, j, shift, distance) closer than ``radius``: vesin's search."""
    search = NeighborList(cutoff=radius, full_list=True)
    i, j, shifts, distances = search.compute(positions, cell, True, "ijSd")
    return (
        i.astype(np.int64),
        j.astype(np.int64),
        shifts.astype(np.int64),
        np.asarray(distances, dtype=np.float64),
    )


def _group_graphs(frames: list[Atoms], radius: float) -> dict[int, _Arrays]:
    """Graph arrays of frames with the same numbers and cell, by position."""
    cell = np.ascontiguousarray(frames[0].cell.array, dtype=np.float64)
    numbers = np.asarray(frames[0].numbers, dtype=np.int64)
    features = element_features(numbers)
    positions = np.stack([np.asarray(a.positions, dtype=np.float64) for a in frames])
    # Displacements up to a lattice translation per atom, so that wrapped
    # trajectories share candidates too; the reference is the mean positions,
    # for thermal snapshots of one structure half as far as any one snapshot.
    wraps = np.rint((positions - positions[0]) @ np.linalg.inv(cell))
    unwrapped = positions - wraps @ cell
    reference = unwrapped.mean(axis=0)
    moved = unwrapped - reference
    largest = np.sqrt((moved**2).sum(axis=-1).max(axis=-1))
    near = largest <= MAX_DISPLACEMENT_FRACTION * radius

    def arrays(
        k: int,
        i: NDArray[np.int64],
        j: NDArray[np.int64],
        shifts: NDArray[np.int64],
        distances: NDArray[np.float64],
    ) -> _Arrays:
        return {
            "x": features,
            "z": numbers,
            "pos": positions[k],
            "cell": cell[None],
            "edge_index": np.stack([i, j]),
            "edge_shift": shifts,
            "edge_weight": distances,
        }

    chosen = np.flatnonzero(near)
    alone = np.flatnonzero(~near) if len(chosen) > 1 else np.arange(len(frames))
    out = {int(k): arrays(int(k), *_search(positions[k], cell, radius)) for k in alone}
    if len(chosen) < 2:
        return out
    # skin: twice the largest displacement, plus room for rounding
    skin = 2.0 * float(largest[chosen].max()) + 1e-6 * radius
    i, j, shifts, _ = _search(reference, cell, radius + skin)
    offsets = shifts.astype(np.float64) @ cell
    step = max(1, _BLOCK // max(len(i), 1))
    for first in range(0, len(chosen), step):
        block = chosen[first : first + step]
        # atoms first: indexing the leading axis copies whole rows (fast)
        atoms_first = np.ascontiguousarray(unwrapped[block].transpose(1, 0, 2))
        vectors = atoms_first[j] - atoms_first[i] + offsets[:, None]
        squared = np.ascontiguousarray(
            (vectors[..., 0] ** 2 + vectors[..., 1] ** 2 + vectors[..., 2] ** 2).T
        )
        for row, k in enumerate(block):
            keep = np.flatnonzero(squared[row] < radius * radius)
            frame_shifts = shifts[keep]
            if wraps[k].any():
                whole = wraps[k].astype(np.int64)
                frame_shifts = frame_shifts - whole[j[keep]] + whole[i[keep]]
            out[int(k)] = arrays(
                int(k), i[keep], j[keep], frame_shifts, np.sqrt(squared[row, keep])
            )
    return out


def _collate(parts: list[_Arrays], dtype: torch.dtype) -> Batch:
    """One PyG batch of graph arrays, as ``Batch.from_data_list`` makes it."""
    n_nodes = np.array([len(p["z"]) for p in parts], dtype=np.int64)
    n_edges = np.array([p["edge_index"].shape[1] for p in parts], dtype=np.int64)
    node_ptr = np.concatenate([[0], np.cumsum(n_nodes)])
    edge_ptr = np.concatenate([[0], np.cumsum(n_edges)])
    offsets = np.repeat(node_ptr[:-1], n_edges)
    edge_index = np.concatenate([p["edge_index"] for p in parts], axis=1) + offsets

    def cat(key: str) -> NDArray[Any]:
        return np.concatenate([p[key] for p in parts])

    def floats(array: NDArray[Any]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(dtype)

    n_graphs = len(parts)
    ptr = torch.from_numpy(node_ptr)
    batch = Batch(
        x=floats(cat("x")),
        z=torch.from_numpy(cat("z").astype(np.int64)),
        pos=floats(cat("pos")),
        cell=floats(cat("cell")),
        edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)),
        edge_shift=floats(cat("edge_shift")),
        edge_weight=floats(cat("edge_weight")),
        num_nodes=int(node_ptr[-1]),
        batch=torch.repeat_interleave(
            torch.arange(n_graphs), torch.from_numpy(n_nodes)
        ),
        ptr=ptr,
    )
    # What Batch.from_data_list records so that to_data_list() and indexing
    # give the structures back.
    edges = torch.from_numpy(edge_ptr)
    zeros = torch.zeros(n_graphs, dtype=torch.long)
    batch._num_graphs = n_graphs
    batch._slice_dict = {
        "x": ptr,
        "z": ptr,
        "pos": ptr,
        "cell": torch.arange(n_graphs + 1),
        "edge_index": edges,
        "edge_shift": edges,
        "edge_weight": edges,
    }
    batch._inc_dict = {key: zeros for key in _KEYS} | {"edge_index": ptr[:-1]}
    return batch

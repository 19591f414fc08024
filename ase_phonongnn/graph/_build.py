"""Exact periodic radius graphs of crystals as PyTorch Geometric ``Data``."""

from __future__ import annotations

import math

import numpy as np
import torch
from ase import Atoms
from torch import Tensor
from torch_geometric.data import Data
from vesin import NeighborList

from ase_phonongnn.graph._elements import element_features

#: Default radius of the graph in Å (PAPER.md: holds the first coordination
#: shell of every pair in Ag3SBr).
DEFAULT_CUTOFF = 5.5


def check_cutoff(cutoff: float) -> float:
    """Return ``cutoff`` as a float, or raise ``ValueError`` if it is not > 0 Å."""
    if isinstance(cutoff, bool) or not isinstance(cutoff, int | float | np.floating):
        raise TypeError(f"cutoff must be a number in Å (got {type(cutoff).__name__})")
    value = float(cutoff)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(
            f"cutoff must be a positive, finite distance in Å (got {cutoff}); "
            f"the paper's graphs use {DEFAULT_CUTOFF}"
        )
    return value


def _check_atoms(atoms: Atoms) -> None:
    if not isinstance(atoms, Atoms):
        raise TypeError(f"atoms must be an ase.Atoms (got {type(atoms).__name__})")
    if len(atoms) == 0:
        raise ValueError("atoms is empty (0 atoms); a graph needs at least one atom")
    if not atoms.pbc.all():
        raise ValueError(
            "build_graph needs a crystal periodic in all three directions "
            f"(got pbc={atoms.pbc.tolist()}); set atoms.pbc = True and give it "
            "its full 3x3 cell"
        )
    volume = abs(float(np.linalg.det(atoms.cell.array)))
    if volume < 1e-6:
        raise ValueError(
            f"the cell of atoms is degenerate (volume {volume:.3g} Å^3); "
            "a periodic structure needs three independent cell vectors"
        )


def build_graph(
    atoms: Atoms,
    cutoff: float = DEFAULT_CUTOFF,
    *,
    dtype: torch.dtype = torch.float32,
) -> Data:
    r"""Return the exact periodic radius graph of a crystal.

    Every atom of the cell is a node. Every ordered pair of atoms (i, j) and
    every lattice translation :math:`\mathbf{S}` with
    :math:`|\mathbf{r}_j - \mathbf{r}_i + \mathbf{S}\,\mathbf{C}| < r_c` gives
    one edge: an atom bonded to its own periodic image gives a self-loop, and
    several images of one neighbour give several edges (PAPER.md, "Graphs").
    The graph is complete for any cell, also one shorter than the cutoff.

    Parameters
    ----------
    atoms
        A crystal, periodic in all three directions. Positions need not be
        wrapped into the cell.
    cutoff
        Radius :math:`r_c` of the graph in Å, > 0.
    dtype
        Floating dtype of the tensors (``torch.float32`` or ``torch.float64``).

    Returns
    -------
    torch_geometric.data.Data
        With ``n`` atoms and ``E`` edges:

        - ``x`` (n, 4) node features, columns
          :data:`~ase_phonongnn.graph.FEATURE_NAMES`: atomic number, mass (u),
          covalent radius (Å), Pauling electronegativity;
        - ``z`` (n,) int64 atomic numbers;
        - ``pos`` (n, 3) Cartesian positions in Å;
        - ``cell`` (1, 3, 3) cell vectors as rows, in Å (batches stack to
          (B, 3, 3));
        - ``edge_index`` (2, E) int64, source ``i = edge_index[0]``, target
          ``j = edge_index[1]``; both directions of every pair are present;
        - ``edge_shift`` (E, 3) integer lattice translation :math:`\mathbf{S}`
          (stored in ``dtype``) so that the edge vector is
          :math:`\mathbf{r}_j - \mathbf{r}_i + \mathbf{S}\,\mathbf{C}`; recompute
          it differentiably with :func:`edge_vectors`;
        - ``edge_weight`` (E,) edge length in Å.

        PyG's ``Batch.from_data_list`` and ``DataLoader`` collate these graphs.

    Raises
    ------
    TypeError
        If ``atoms`` is not an ``ase.Atoms``.
    ValueError
        If ``cutoff`` <= 0, or the structure is empty, not periodic in all
        three directions, or has a degenerate cell.
    UnknownElementError
        If an element has no node features.

    Notes
    -----
    The neighbour search is vesin's cell-list algorithm (C++), linear in the
    number of atoms; the documentation's performance page compares it with
    ASE's and matscipy's.
    """
    _check_atoms(atoms)
    radius = check_cutoff(cutoff)
    features = element_features(atoms.numbers)
    positions = np.ascontiguousarray(atoms.positions, dtype=np.float64)
    cell = np.ascontiguousarray(atoms.cell.array, dtype=np.float64)
    search = NeighborList(cutoff=radius, full_list=True)
    i, j, shifts, distances = search.compute(positions, cell, True, "ijSd")
    # vesin returns pairs grouped by source atom in a deterministic order (the
    # same for any thread count), so no sort is needed for reproducible sums.
    edge_index = torch.from_numpy(np.stack([i, j]).astype(np.int64))
    return Data(
        x=torch.tensor(features, dtype=dtype),
        z=torch.from_numpy(atoms.numbers.astype(np.int64)),
        pos=torch.tensor(positions, dtype=dtype),
        cell=torch.tensor(cell, dtype=dtype).unsqueeze(0),
        edge_index=edge_index,
        edge_shift=torch.tensor(shifts, dtype=dtype),
        edge_weight=torch.tensor(distances, dtype=dtype),
        num_nodes=len(atoms),
    )


def edge_vectors(
    data: Data,
    positions: Tensor | None = None,
    cell: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Return edge vectors and lengths recomputed from positions and cell.

    :math:`\mathbf{d}_{ij} = \mathbf{r}_j - \mathbf{r}_i + \mathbf{S}_{ij}\,
    \mathbf{C}_{b(i)}`, differentiable in the positions and in the cell, so
    that forces (:math:`-\partial E/\partial \mathbf{r}`) and stress (strain
    derivative) follow by autograd.

    Parameters
    ----------
    data
        A graph from :func:`build_graph` or a PyG batch of them.
    positions
        Positions in Å, shape (n, 3); default ``data.pos``. Pass a tensor with
        ``requires_grad`` (or a strained copy) to differentiate.
    cell
        Cells in Å, shape (B, 3, 3); default ``data.cell``.

    Returns
    -------
    vectors, lengths
        Shapes (E, 3) and (E,), in Å.
    """
    pos = data.pos if positions is None else positions
    cells = data.cell if cell is None else cell
    source, target = data.edge_index
    batch = getattr(data, "batch", None)
    shifts = data.edge_shift.to(pos.dtype)
    if batch is None:
        offsets = shifts @ cells[0]
    else:
        edge_cells = cells.index_select(0, batch.index_select(0, source))
        # S C row by row: cheaper than a batched product of E 1x3 by 3x3
        offsets = (
            shifts[:, 0:1] * edge_cells[:, 0]
            + shifts[:, 1:2] * edge_cells[:, 1]
            + shifts[:, 2:3] * edge_cells[:, 2]
        )
    # index_select: the same gather as pos[target], faster on CPU
    vectors = pos.index_select(0, target) - pos.index_select(0, source) + offsets
    return vectors, torch.linalg.vector_norm(vectors, dim=-1)

r"""Band edges read from learned tight-binding Hamiltonians of the whole cell.

A band edge of a thermal snapshot is the highest of several levels that the
displacements split: in GFN2-xTB the top valence level of the ideal cubic
Ag3SBr 2×2×2 cell is six-fold degenerate (a two-fold level at each of the
three M points, folded onto the supercell's Γ), and the VBM of a snapshot is
the highest of the six split levels. The splitting is linear in the
displacements, and it mixes states of different wavevectors. An invariant
atomic feature of a centrosymmetric site changes only at second order, and a
sum over the atoms keeps only the uniform part of the displacements, so no
pooled atomic value follows it. The eigenvalues of a Hamiltonian built on the
cell's own bonds do: a bond length changes linearly with the displacements,
and the Hamiltonian couples the atoms wherever they are in the cell.

No library builds such a readout from a graph, so it is written here; the
diagonalisation is :func:`torch.linalg.eigh`.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Orbitals per atom in each Hamiltonian of the ``"tight-binding"`` readout.
N_ORBITALS = 2


class TightBindingReadout(torch.nn.Module):
    r"""Highest eigenvalue of learned Γ-point tight-binding Hamiltonians.

    Each structure gets ``n_hamiltonians`` symmetric matrices of size
    n × ``n_orbitals`` (n atoms). Orbitals are invariant (s-like), so the
    spectrum does not change under rotation, translation or a permutation
    of the atoms:

    .. math:: H_{i\alpha,j\beta} = \delta_{ij}\,\varepsilon_{\alpha\beta}(\mathbf{h}_i)
              + \sum_{\mathbf{T}} w_{ij\mathbf{T}}\;
              t_{\alpha\beta}\big(\mathbf{b}(r_{ij\mathbf{T}}),
              \mathbf{h}_i \odot \mathbf{h}_j\big)

    with the sum over the periodic images T of j within the cutoff (a
    Bloch sum at Γ, so the supercell's folded wavevectors appear as in a
    Γ-point electronic calculation), w the envelope times the edge mask, and
    ε and t symmetric in α, β; the on-site term depends only on the atom's
    own features and the hoppings on the bond length and both atoms'
    features.

    A larger cell holds the Γ-point spectrum of a smaller one that tiles it
    (Bloch's theorem), plus the levels at the wavevectors that fold onto
    its Γ, as in a Γ-point electronic calculation of each.

    The matrices are dense: memory grows as the square of the number of
    atoms and the diagonalisation as its cube (40 atoms, two orbitals:
    80 × 80, negligible beside the message passing; a 1,000-atom cell
    would need 2,000 × 2,000 per Hamiltonian).

    Parameters
    ----------
    width
        Width F of the node features.
    n_radial
        Number K of radial basis functions.
    n_hamiltonians
        Hamiltonians per structure.
    n_orbitals
        Orbitals per atom.
    """

    def __init__(
        self,
        width: int,
        n_radial: int,
        n_hamiltonians: int,
        n_orbitals: int = N_ORBITALS,
    ) -> None:
        super().__init__()
        self.n_hamiltonians = n_hamiltonians
        self.n_orbitals = n_orbitals
        n_block = n_hamiltonians * n_orbitals * n_orbitals
        hidden = max(width // 2, 1)
        self.onsite = torch.nn.Sequential(
            torch.nn.Linear(width, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, n_block),
        )
        self.pair = torch.nn.Linear(width, hidden, bias=False)
        self.filter = torch.nn.Linear(n_radial, hidden, bias=False)
        self.hopping = torch.nn.Sequential(
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, n_block),
        )

    def _blocks(self, values: Tensor) -> Tensor:
        """(m, H n_o n_o) → symmetric (m, H, n_o, n_o) blocks."""
        n_o = self.n_orbitals
        blocks = values.view(-1, self.n_hamiltonians, n_o, n_o)
        return 0.5 * (blocks + blocks.transpose(-1, -2))

    def hamiltonians(
        self,
        h: Tensor,
        radial: Tensor,
        weight: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        n_graphs: int,
    ) -> tuple[Tensor, Tensor]:
        """Return the Hamiltonians (B, H, M, M) and each structure's size (B,).

        ``radial`` is the radial basis (E, K), ``weight`` the envelope times
        the edge mask (E,). Structures are padded to M = max n × n_orbitals
        rows; the padding rows are zero here (see :meth:`spectra`).
        """
        n_o, n_h = self.n_orbitals, self.n_hamiltonians
        counts = torch.bincount(batch, minlength=n_graphs)
        first = torch.cumsum(counts, 0) - counts
        local = torch.arange(h.shape[0], device=h.device) - first[batch]
        size = int(counts.max()) * n_o
        # rows of each atom's orbitals in its structure's matrices (n, n_o)
        rows = local.unsqueeze(-1) * n_o + torch.arange(n_o, device=h.device)
        k = torch.arange(n_h, device=h.device).view(1, n_h, 1, 1)

        def flat(graph: Tensor, row: Tensor, col: Tensor) -> Tensor:
            # flat indices into (B, H, M, M) of (m, H, n_o, n_o) blocks
            base = graph.view(-1, 1, 1, 1) * n_h + k
            return (base * size + row.view(-1, 1, n_o, 1)) * size + col.view(
                -1, 1, 1, n_o
            )

        source, target = edge_index
        features = self.pair(h)
        hop = self.hopping(
            self.filter(radial)
            * features.index_select(0, source)
            * features.index_select(0, target)
        )
        hop = self._blocks(hop) * weight.view(-1, 1, 1, 1)
        index = torch.cat(
            [
                flat(batch, rows, rows).flatten(),
                flat(batch[source], rows[source], rows[target]).flatten(),
            ]
        )
        values = torch.cat([self._blocks(self.onsite(h)).flatten(), hop.flatten()])
        matrices = h.new_zeros(n_graphs * n_h * size * size).index_add(0, index, values)
        matrices = matrices.view(n_graphs, n_h, size, size)
        # an edge mask may weight i→j and j→i differently
        return 0.5 * (matrices + matrices.transpose(-1, -2)), counts * n_o

    def spectra(
        self,
        h: Tensor,
        radial: Tensor,
        weight: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        n_graphs: int,
    ) -> tuple[Tensor, Tensor]:
        """Return the eigenvalues (B, H, M), ascending, and each structure's size (B,).

        A structure of n atoms has n × ``n_orbitals`` levels, the last ones
        of its row; the first M minus that many are padding, with a diagonal
        below every eigenvalue of the structure (its Gershgorin bound minus
        one), so they never are the highest.
        """
        matrices, sizes = self.hamiltonians(
            h, radial, weight, edge_index, batch, n_graphs
        )
        size = matrices.shape[-1]
        padding = torch.arange(size, device=h.device) >= sizes.unsqueeze(-1)
        if bool(padding.any()):
            diagonal = torch.diagonal(matrices, dim1=-2, dim2=-1)
            radius = matrices.abs().sum(-1) - diagonal.abs()
            lowest = (diagonal - radius).masked_fill(padding.unsqueeze(1), torch.inf)
            floor = lowest.min(-1, keepdim=True).values.detach() - 1.0
            matrices = matrices + torch.diag_embed(
                padding.unsqueeze(1).to(matrices.dtype) * floor
            )
        # eigh, not eigvalsh: autograd computes the eigenvectors anyway, and
        # LAPACK's eigenvalues-only routine differs in the last digits, so a
        # prediction would depend on whether forces were asked for
        return torch.linalg.eigh(matrices).eigenvalues, sizes

    def forward(
        self,
        h: Tensor,
        radial: Tensor,
        weight: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        n_graphs: int,
    ) -> Tensor:
        """Return the highest eigenvalue of each Hamiltonian (B, H)."""
        levels, _ = self.spectra(h, radial, weight, edge_index, batch, n_graphs)
        return levels[..., -1]

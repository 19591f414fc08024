r"""Readouts of ``ours``: how the intensive heads pool atomic outputs per structure.

The intensive targets of :class:`~ase_phonongnn.model.PotentialGNN`
(``band_gap``, ``vbm``, ``hydrostatic_stress``) come from an atomic MLP, the
intensive head, whose outputs a readout turns into one value per structure
and target, in standardised units. :data:`READOUT_CLASSES` is the closed
registry of readouts by :attr:`ModelConfig.readout` key; a new readout is a
:class:`Readout` subclass added there (and its key to
:data:`~ase_phonongnn.model.READOUTS`).

A readout's trainable parts live on the model under the attribute names of
:data:`READOUT_PARTS`, so that a saved model's parameter names do not depend
on how the readout is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Final

import torch
from torch import Tensor
from torch_geometric.utils import softmax

from ase_phonongnn.model._config import READOUTS
from ase_phonongnn.model._tight_binding import TightBindingReadout

if TYPE_CHECKING:
    from ase_phonongnn.model._ours import PotentialGNN

#: Levels per band edge in the ``"levels"`` readout.
N_LEVELS = 8

#: The model attributes that hold a readout's trainable parts (None when the
#: readout has no such part).
READOUT_PARTS: Final = ("level_log_temperature", "intensive_gate", "tight_binding")


def atomic_mlp(width: int, n_out: int, dropout: float = 0.0) -> torch.nn.Sequential:
    """Return the two-layer atomic MLP of the heads: width -> width/2 -> n_out."""
    hidden = max(width // 2, 1)
    return torch.nn.Sequential(
        torch.nn.Linear(width, hidden),
        torch.nn.SiLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, n_out),
    )


@dataclass(frozen=True)
class ReadoutInputs:
    """What a readout may pool, for a batch of B structures and n atoms.

    Attributes
    ----------
    per_atom
        Outputs of the intensive head, (n, targets × outputs per target).
    h
        Node features, (n, F).
    radial, weight
        Radial basis of the edges (E, K) and their envelope times the edge
        mask (E,).
    edge_index
        (2, E) source and target atoms of the edges.
    batch
        (n,) structure of each atom.
    n_graphs
        B.
    n_atoms
        (B,) atoms per structure, in the features' dtype.
    """

    per_atom: Tensor
    h: Tensor
    radial: Tensor
    weight: Tensor
    edge_index: Tensor
    batch: Tensor
    n_graphs: int
    n_atoms: Tensor

    def mean(self) -> Tensor:
        """Return the mean of ``per_atom`` over the atoms of each structure (B, C)."""
        pooled = self.per_atom.new_zeros((self.n_graphs, self.per_atom.shape[1]))
        pooled = pooled.index_add(0, self.batch, self.per_atom)
        return pooled / self.n_atoms.unsqueeze(-1)


class Readout:
    """The mean of the atomic outputs (key ``mean``): intensive by construction.

    Subclasses change :attr:`outputs_per_target`, add trainable parts
    (:meth:`parts`) and pool differently (:meth:`pool`); each stays
    intensive (a supercell of a structure gives the same value).
    """

    #: Outputs of the intensive head per target.
    outputs_per_target: ClassVar[int] = 1

    def parts(
        self, width: int, n_radial: int, n_targets: int
    ) -> dict[str, torch.nn.Module | torch.nn.Parameter]:
        """Return the trainable parts by attribute name (one of :data:`READOUT_PARTS`).

        Parameters
        ----------
        width
            Width F of the node features.
        n_radial
            Number K of radial basis functions.
        n_targets
            Number of intensive targets.
        """
        return {}

    def pool(self, model: PotentialGNN, inputs: ReadoutInputs) -> Tensor:
        """Return one value per structure and intensive target (B, targets)."""
        return inputs.mean()


class AttentionReadout(Readout):
    """Key ``attention``: a weighted mean, the weights a softmax over the atoms.

    The weights come from a second atomic MLP (one weight per atom and
    target), normalised over the atoms of each structure.
    """

    def parts(
        self, width: int, n_radial: int, n_targets: int
    ) -> dict[str, torch.nn.Module | torch.nn.Parameter]:
        """Return the gate MLP (``intensive_gate``)."""
        return {"intensive_gate": atomic_mlp(width, n_targets)}

    def pool(self, model: PotentialGNN, inputs: ReadoutInputs) -> Tensor:
        """Return the softmax-weighted mean over the atoms of each structure."""
        assert model.intensive_gate is not None  # built by parts()
        weights = softmax(
            model.intensive_gate(inputs.h), inputs.batch, num_nodes=inputs.n_graphs
        )
        pooled = inputs.per_atom.new_zeros((inputs.n_graphs, inputs.per_atom.shape[1]))
        return pooled.index_add(0, inputs.batch, weights * inputs.per_atom)


def level_edges(pooled: Tensor, log_temperature: Tensor) -> Tensor:
    r"""Return the smooth max of the first N_LEVELS columns minus that of the others.

    ``pooled`` is (structures, targets × 2 N_LEVELS), each column a mean over
    the atoms; :math:`\tau \log\sum_k e^{x_k/\tau}` is a maximum smoothed over
    τ (one per target, ``exp(log_temperature)``), and its offset (τ log
    N_LEVELS for equal levels) cancels in the difference.
    """
    levels = pooled.view(pooled.shape[0], -1, 2, N_LEVELS)
    tau = log_temperature.exp().view(1, -1, 1, 1)
    edges = tau.squeeze(-1) * torch.logsumexp(levels / tau, dim=-1)
    return edges[..., 0] - edges[..., 1]


class LevelsReadout(Readout):
    r"""Key ``levels``: a smooth maximum of levels minus that of other levels.

    Each target gets 2 × :data:`N_LEVELS` atom-averaged outputs; its value
    is :func:`level_edges` of them, with a temperature τ learned per target
    (``level_log_temperature``, from 0.1 in standardised units).
    """

    outputs_per_target = 2 * N_LEVELS

    def parts(
        self, width: int, n_radial: int, n_targets: int
    ) -> dict[str, torch.nn.Module | torch.nn.Parameter]:
        """Return the log-temperatures of the smooth maxima."""
        start = torch.full((n_targets,), math.log(0.1))
        return {"level_log_temperature": torch.nn.Parameter(start)}

    def pool(self, model: PotentialGNN, inputs: ReadoutInputs) -> Tensor:
        """Return the smooth maximum of the first levels minus that of the others."""
        assert model.level_log_temperature is not None  # built by parts()
        return level_edges(inputs.mean(), model.level_log_temperature)


class TightBindingPooling(Readout):
    """Key ``tight-binding``: the mean plus the gap between two learned spectra.

    Adds to the mean of the atomic outputs the highest level of one learned
    Γ-point tight-binding Hamiltonian of the cell minus that of another
    (:class:`~ase_phonongnn.model.TightBindingReadout`, two per target).
    """

    def parts(
        self, width: int, n_radial: int, n_targets: int
    ) -> dict[str, torch.nn.Module | torch.nn.Parameter]:
        """Return the Hamiltonians' builder (``tight_binding``)."""
        return {"tight_binding": TightBindingReadout(width, n_radial, 2 * n_targets)}

    def pool(self, model: PotentialGNN, inputs: ReadoutInputs) -> Tensor:
        """Return the mean plus the highest level of one spectrum minus another's."""
        assert model.tight_binding is not None  # built by parts()
        top: Tensor = model.tight_binding(
            inputs.h,
            inputs.radial,
            inputs.weight,
            inputs.edge_index,
            inputs.batch,
            inputs.n_graphs,
        ).view(inputs.n_graphs, -1, 2)
        return inputs.mean() + top[..., 0] - top[..., 1]


#: Readout key (:attr:`ModelConfig.readout`) -> class: the closed registry.
READOUT_CLASSES: Final[Mapping[str, type[Readout]]] = MappingProxyType(
    {
        "mean": Readout,
        "attention": AttentionReadout,
        "levels": LevelsReadout,
        "tight-binding": TightBindingPooling,
    }
)
if tuple(READOUT_CLASSES) != READOUTS:  # pragma: no cover - a programming error
    raise ImportError("the readout registry and READOUTS disagree")

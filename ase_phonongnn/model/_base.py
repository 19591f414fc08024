"""GraphModel: what every registered model shares (species, targets, scaling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import torch
from ase.data import chemical_symbols
from numpy.typing import ArrayLike
from torch import Tensor
from torch_geometric.data import Data

from ase_phonongnn.errors import UnknownElementError
from ase_phonongnn.model._config import ModelConfig

_N_ELEMENTS = 119

#: Name of the optional per-edge attribute of a graph that weights each edge's
#: message (see :meth:`GraphModel.edge_mask`).
EDGE_MASK: Final = "edge_mask"


class GraphModel(torch.nn.Module):
    """Base class of the registered models.

    A model maps a (batched) graph from :func:`ase_phonongnn.graph.build_graph`
    to a dict of per-structure predictions in physical units, keyed by
    :mod:`ase_phonongnn.keys` names::

        out = model(batch, compute_forces=False, compute_stress=False)
        out["band_gap"]  # (B,) eV

    Every target ``t`` of the config is predicted as
    ``target_shift[t] + target_scale[t] * network_output``; the trainer fits
    these from the training labels (:meth:`fit_normalisation`) and they are
    saved with the weights. ``label_scale`` holds the spread of each training
    label in its unit; the trainer divides errors by it so that every target
    weighs alike in the loss.

    Parameters
    ----------
    config
        The model's hyperparameters; ``config.species`` must not be empty.
    """

    #: Registry keys this class builds.
    registry_keys: tuple[str, ...] = ()
    species_index: Tensor
    target_shift: Tensor
    target_scale: Tensor
    label_scale: Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise TypeError(
                f"config must be a ModelConfig (got {type(config).__name__})"
            )
        if config.model not in self.registry_keys:
            raise ValueError(
                f"{type(self).__name__} builds {', '.join(self.registry_keys)} "
                f"(got model={config.model!r})"
            )
        if not config.species:
            raise ValueError(
                "config.species is empty; give the atomic numbers the model must "
                "know, e.g. ModelConfig(species=(47, 16, 35)), or let train() take "
                "them from the data"
            )
        self.config = config
        index = torch.full((_N_ELEMENTS,), -1, dtype=torch.long)
        index[list(config.species)] = torch.arange(len(config.species))
        self.register_buffer("species_index", index, persistent=False)
        n_targets = len(config.targets)
        self.register_buffer("target_shift", torch.zeros(n_targets))
        self.register_buffer("target_scale", torch.ones(n_targets))
        self.register_buffer("label_scale", torch.ones(n_targets))

    # -- description -------------------------------------------------------
    @property
    def targets(self) -> tuple[str, ...]:
        """Per-structure targets, in output order."""
        return self.config.targets

    @property
    def cutoff(self) -> float:
        """Graph radius in Å."""
        return self.config.cutoff

    @property
    def species(self) -> tuple[int, ...]:
        """Atomic numbers the model knows."""
        return self.config.species

    @property
    def implemented_properties(self) -> tuple[str, ...]:
        """Keys of the dict returned by :meth:`forward`."""
        return self.targets

    @property
    def has_energy(self) -> bool:
        """Whether the model is a potential (energy, forces and stress)."""
        return False

    def normalisation(self) -> dict[str, dict[str, float]]:
        """Return the fitted target scaling, per target, in target units."""
        return {
            target: {
                "shift": float(self.target_shift[k]),
                "scale": float(self.target_scale[k]),
                "label_scale": float(self.label_scale[k]),
            }
            for k, target in enumerate(self.targets)
        }

    # -- helpers for subclasses ---------------------------------------------
    def species_indices(self, numbers: Tensor) -> Tensor:
        """Map atomic numbers (n,) to indices into ``species`` (n,).

        Raises
        ------
        UnknownElementError
            If an element is not in the model's species.
        """
        inside = (numbers > 0) & (numbers < _N_ELEMENTS)
        index = torch.where(
            inside,
            self.species_index[numbers.clamp(0, _N_ELEMENTS - 1)],
            torch.full_like(numbers, -1),
        )
        if bool((index < 0).any()):
            unknown = sorted({int(z) for z in numbers[index < 0].tolist()})
            names = ", ".join(_symbol(z) for z in unknown)
            known = ", ".join(_symbol(z) for z in self.species)
            raise UnknownElementError(
                f"element {names} is not in this model's species ({known}); "
                "train a model on data that contains it"
            )
        return index

    @staticmethod
    def edge_mask(data: Data) -> Tensor | None:
        r"""Return the optional edge mask of a graph, shape (E,), or None.

        A graph may carry ``data.edge_mask``, one dimensionless weight
        :math:`m_e` per edge, that every model multiplies into the message of
        that edge in every layer: 1 leaves the prediction unchanged, 0 is the
        same as removing the edge from the graph, and values in between scale
        the message linearly. Explanations
        (:mod:`ase_phonongnn.explain`) differentiate predictions with respect
        to it; nothing else sets it.

        Raises
        ------
        ValueError
            If it is not a floating tensor with one value per edge.
        """
        mask = getattr(data, EDGE_MASK, None)
        if mask is None:
            return None
        n_edges = int(data.edge_index.shape[1])
        if (
            not isinstance(mask, Tensor)
            or not mask.is_floating_point()
            or tuple(mask.shape) != (n_edges,)
        ):
            got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(
                f"data.{EDGE_MASK} must be a floating tensor of shape ({n_edges},), "
                f"one weight per edge (got {got}); delete it to use every edge fully"
            )
        return mask

    def scale_outputs(self, raw: Tensor) -> Tensor:
        """Map network outputs (B, T) to physical units (B, T)."""
        return self.target_shift + self.target_scale * raw

    @staticmethod
    def graph_batch(data: Data) -> tuple[Tensor, int]:
        """Return the graph index of every node (n,) and the number of graphs."""
        batch = getattr(data, "batch", None)
        if batch is None:
            return torch.zeros(
                data.num_nodes, dtype=torch.long, device=data.z.device
            ), 1
        return batch, int(data.num_graphs)

    def set_target_scaling(
        self, shift: ArrayLike, scale: ArrayLike, label: ArrayLike
    ) -> None:
        """Set ``target_shift``, ``target_scale`` and ``label_scale`` (T,) each."""
        for name, values in (
            ("target_shift", shift),
            ("target_scale", scale),
            ("label_scale", label),
        ):
            buffer = getattr(self, name)
            buffer.copy_(torch.as_tensor(np.asarray(values, dtype=np.float64)))

    # -- the interface ------------------------------------------------------
    def forward(
        self,
        data: Data,
        *,
        compute_forces: bool = False,
        compute_stress: bool = False,
    ) -> dict[str, Tensor]:
        """Predict the targets of a graph or batch of graphs.

        Parameters
        ----------
        data
            From :func:`~ase_phonongnn.graph.build_graph`, or a PyG batch.
        compute_forces
            Also return ``forces`` (n, 3) in eV/Å (potentials only).
        compute_stress
            Also return ``stress`` (B, 6) Voigt in eV/Å³, ASE sign convention
            (potentials only).

        Returns
        -------
        dict
            Per-structure tensors (B,) for every target, in the units of
            :data:`ase_phonongnn.keys.UNITS`; potentials add ``energy`` (B,).
        """
        raise NotImplementedError

    def fit_normalisation(self, graphs: Sequence[Data]) -> None:
        """Fit the scaling of inputs and targets to training graphs.

        The graphs carry ``y`` (1, T) labels in the order of :attr:`targets`,
        NaN where missing, and optionally ``forces`` (n, 3).
        """
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"model={self.config.model!r}, targets={list(self.targets)}"


def _symbol(z: int) -> str:
    return chemical_symbols[z] if 0 < z < len(chemical_symbols) else f"Z={z}"


def stacked_labels(graphs: Sequence[Data], n_targets: int) -> np.ndarray:
    """Return the (n_graphs, T) labels of graphs, NaN where missing."""
    if not graphs:
        raise ValueError("no training graphs to fit the normalisation to")
    labels = [g.y.detach().double().cpu().numpy().reshape(-1) for g in graphs]
    array = np.asarray(labels, dtype=np.float64)
    if array.shape[1] != n_targets:
        raise ValueError(
            f"graphs carry {array.shape[1]} labels but the model has "
            f"{n_targets} targets"
        )
    return array


def spread(values: np.ndarray) -> float:
    """Return the standard deviation of the finite values, or 1.0 if it is 0."""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return 1.0
    value = float(np.std(finite))
    return value if value > 1e-12 else 1.0


def describe_species(species: Sequence[int]) -> dict[str, Any]:
    """Return the element table of a model for its metadata."""
    return {
        "numbers": list(species),
        "symbols": [_symbol(z) for z in species],
    }

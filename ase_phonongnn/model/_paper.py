"""The paper's six GraphConv architectures (``paper-1`` ... ``paper-6``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import GraphConv, global_max_pool, global_mean_pool

from ase_phonongnn.graph import FEATURE_NAMES, edge_vectors
from ase_phonongnn.model._base import GraphModel, stacked_labels
from ase_phonongnn.model._config import ModelConfig


@dataclass(frozen=True)
class PaperArchitecture:
    """One of the paper's GraphConv variants.

    Parameters
    ----------
    n_conv
        Number of GraphConv + batch norm + ReLU layers.
    pooling
        Graph readout: ``"max"`` or ``"mean"`` over the nodes.
    output
        Output activation: ``"sigmoid"`` (targets min-max scaled to [0, 1]) or
        ``"relu"`` (same scaling, non-negative output).
    """

    n_conv: int
    pooling: Literal["max", "mean"]
    output: Literal["sigmoid", "relu"]


#: The six architectures of the paper's hyperparameter study, as its reference
#: scripts define ``model1`` ... ``model6``. PAPER.md summarises them as "3 conv
#: layers"; the scripts give 2 and 4 to ``model5`` and ``model6``, and we
#: follow the scripts.
PAPER_ARCHITECTURES: Final = {
    "paper-1": PaperArchitecture(3, "max", "sigmoid"),
    "paper-2": PaperArchitecture(3, "mean", "sigmoid"),
    "paper-3": PaperArchitecture(3, "max", "relu"),
    "paper-4": PaperArchitecture(3, "mean", "relu"),
    "paper-5": PaperArchitecture(2, "max", "sigmoid"),
    "paper-6": PaperArchitecture(4, "max", "sigmoid"),
}

#: Width of the first readout layer in the paper's models.
READOUT_WIDTH: Final = 16


class PaperGraphConv(GraphModel):
    r"""The GraphConv models of Benítez et al. (2026), keys ``paper-1`` ... ``paper-6``.

    Each layer is a GraphConv (Morris et al., AAAI 2019) with the interatomic
    distance as edge weight,

    .. math:: \mathbf{x}'_i = W_1 \mathbf{x}_i + W_2 \sum_{j \in N(i)} e_{ji}\,
              \mathbf{x}_j,

    followed by batch norm and ReLU; a max or mean pooling over the atoms,
    dropout, ``Linear(hidden, 16)`` + ReLU, ``Linear(16, T)`` and a sigmoid or
    ReLU output:

    ========  ======  =======  =======
    key       convs   pooling  output
    ========  ======  =======  =======
    paper-1   3       max      sigmoid
    paper-2   3       mean     sigmoid
    paper-3   3       max      ReLU
    paper-4   3       mean     ReLU
    paper-5   2       max      sigmoid
    paper-6   4       max      sigmoid
    ========  ======  =======  =======

    As in the reference scripts, node features (:data:`FEATURE_NAMES`) and
    edge distances are standardised with the mean and standard deviation of
    the training set (a feature constant over the training set is divided by
    its value instead), and each target is min-max scaled to [0, 1] over the
    training set, which the sigmoid/ReLU output needs. All these statistics
    are fitted by :meth:`fit_normalisation` and saved with the model.

    These models predict per-structure targets only: they are not potentials
    (no forces or stress), and their edge weights are not smooth at the
    cutoff. A ReLU output (``paper-3``, ``paper-4``) that starts negative for
    every training structure has zero gradient and never trains; the paper's
    grid over learning rates and widths is what selects around it.

    Parameters
    ----------
    config
        ``config.model`` one of ``paper-1`` ... ``paper-6``; uses
        ``hidden_channels``, ``dropout``, ``targets``, ``species``, ``cutoff``.
    """

    registry_keys = tuple(PAPER_ARCHITECTURES)
    feature_shift: Tensor
    feature_scale: Tensor
    distance_shift: Tensor
    distance_scale: Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.architecture = PAPER_ARCHITECTURES[config.model]
        width = config.hidden_channels
        n_features = len(FEATURE_NAMES)
        self.convs = torch.nn.ModuleList(
            GraphConv(n_features if k == 0 else width, width)
            for k in range(self.architecture.n_conv)
        )
        self.norms = torch.nn.ModuleList(
            torch.nn.BatchNorm1d(width) for _ in range(self.architecture.n_conv)
        )
        self.lin1 = torch.nn.Linear(width, READOUT_WIDTH)
        self.lin2 = torch.nn.Linear(READOUT_WIDTH, len(config.targets))
        self.register_buffer("feature_shift", torch.zeros(n_features))
        self.register_buffer("feature_scale", torch.ones(n_features))
        self.register_buffer("distance_shift", torch.zeros(()))
        self.register_buffer("distance_scale", torch.ones(()))

    def forward(
        self,
        data: Data,
        *,
        compute_forces: bool = False,
        compute_stress: bool = False,
    ) -> dict[str, Tensor]:
        """Predict the targets; see :meth:`GraphModel.forward`."""
        if compute_forces or compute_stress:
            raise ValueError(
                f"model {self.config.model} gives no forces or stress: it is not a "
                "potential; train model 'ours' for forces and stress"
            )
        self.species_indices(data.z)
        batch, n_graphs = self.graph_batch(data)
        _, distances = edge_vectors(data)
        weight = (distances - self.distance_shift) / self.distance_scale
        mask = self.edge_mask(data)
        if mask is not None:
            weight = weight * mask
        x = (data.x - self.feature_shift) / self.feature_scale
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = torch.relu(norm(conv(x, data.edge_index, weight)))
        pool = (
            global_max_pool if self.architecture.pooling == "max" else global_mean_pool
        )
        x = pool(x, batch, size=n_graphs)
        x = torch.nn.functional.dropout(
            x, p=self.config.dropout, training=self.training
        )
        x = self.lin2(torch.relu(self.lin1(x)))
        x = torch.sigmoid(x) if self.architecture.output == "sigmoid" else torch.relu(x)
        values = self.scale_outputs(x)
        return {target: values[:, k] for k, target in enumerate(self.targets)}

    def fit_normalisation(self, graphs: Sequence[Data]) -> None:
        """Fit feature/distance standardisation and min-max target scaling."""
        labels = stacked_labels(graphs, len(self.targets))
        features = torch.cat([g.x for g in graphs]).double().cpu().numpy()
        distances = torch.cat([g.edge_weight for g in graphs]).double().cpu().numpy()
        mean, std = features.mean(axis=0), features.std(axis=0)
        constant = std < 1e-9
        # A feature constant over the training set (e.g. one element) would be
        # standardised to 0 and carry nothing: scale it to 1 instead.
        mean[constant] = 0.0
        std[constant] = np.where(
            np.abs(features[0, constant]) > 0, np.abs(features[0, constant]), 1.0
        )
        self.feature_shift.copy_(torch.as_tensor(mean))
        self.feature_scale.copy_(torch.as_tensor(std))
        if distances.size:
            self.distance_shift.fill_(float(distances.mean()))
            self.distance_scale.fill_(float(distances.std()) or 1.0)
        low, high = np.nanmin(labels, axis=0), np.nanmax(labels, axis=0)
        span = np.where(high - low > 1e-12, high - low, 1.0)
        self.set_target_scaling(low, span, span)

"""Edge-importance algorithms: GNNExplainer (through PyG) and integrated gradients.

Both act on the edge mask of the models (:meth:`GraphModel.edge_mask
<ase_phonongnn.model.GraphModel.edge_mask>`), a weight per edge multiplied
into that edge's message in every layer, so that they explain every
registered model alike.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.explain import Explainer, GNNExplainer
from torch_geometric.nn import MessagePassing

from ase_phonongnn.explain._config import ExplainConfig
from ase_phonongnn.model import EDGE_MASK, GraphModel


class _EdgeGate(MessagePassing):  # type: ignore[misc]  # PyG is untyped
    """Return one weight per edge: 1, or PyG's explanation mask when one is set.

    PyG's explainers mask the messages of :class:`MessagePassing` layers
    (``explain_message``). This layer's message is 1 on every edge and its
    aggregation keeps the messages per edge, so its output is the mask
    itself, which the wrapped model then receives as its ``edge_mask``.
    """

    def __init__(self) -> None:
        super().__init__(aggr="sum", node_dim=0)

    def forward(self, edge_index: Tensor, n_nodes: int, dtype: torch.dtype) -> Tensor:
        """Return the gate of every edge, shape (E,)."""
        ones = torch.ones(
            (edge_index.shape[1], 1), dtype=dtype, device=edge_index.device
        )
        gate: Tensor = self.propagate(edge_index, gate=ones, size=(n_nodes, n_nodes))
        return gate.squeeze(-1)

    def message(self, gate: Tensor) -> Tensor:
        """Return the per-edge input unchanged."""
        return gate

    def aggregate(
        self,
        inputs: Tensor,
        index: Tensor,
        ptr: Tensor | None = None,
        dim_size: int | None = None,
    ) -> Tensor:
        """Keep one value per edge (no sum over neighbours)."""
        return inputs


class _MaskedPrediction(torch.nn.Module):
    """One target of one graph as PyG's explainers call a model: ``f(x, edge_index)``.

    The output is divided by ``scale`` (the spread of the training labels),
    so that GNNExplainer's squared-error term does not depend on the unit of
    the target and weighs against its mask penalties as it would for a
    target of order one.
    """

    def __init__(self, model: GraphModel, graph: Data, target: str, scale: float):
        super().__init__()
        self.gate = _EdgeGate()
        # The model is held outside the module tree: PyG's set_masks masks
        # every MessagePassing module it finds, and would otherwise mask the
        # messages of the paper models' GraphConv layers a second time.
        self._model = (model,)
        self._graph = graph
        self._target = target
        self._scale = scale

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Return the scaled prediction, shape (1, 1)."""
        graph = copy.copy(self._graph)
        graph[EDGE_MASK] = self.gate(edge_index, x.shape[0], x.dtype)
        value: Tensor = self._model[0](graph)[self._target]
        return (value / self._scale).view(1, 1)


def gnnexplainer(
    model: GraphModel, graph: Data, target: str, config: ExplainConfig
) -> NDArray[np.float64]:
    """Return GNNExplainer's edge mask (E,) in [0, 1] for one graph.

    ``explanation_type="model"``: the mask is fitted to keep the model's own
    prediction; regression loss on the prediction divided by the training
    spread of the target.
    """
    k = model.targets.index(target)
    adapter = _MaskedPrediction(model, graph, target, float(model.label_scale[k]))
    explainer = Explainer(
        model=adapter,
        algorithm=GNNExplainer(
            epochs=config.epochs,
            lr=config.learning_rate,
            edge_size=config.edge_size,
            edge_ent=config.edge_entropy,
        ),
        explanation_type="model",
        node_mask_type=None,
        edge_mask_type="object",
        model_config={
            "mode": "regression",
            "task_level": "graph",
            "return_type": "raw",
        },
    )
    devices = [graph.pos.device] if graph.pos.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(config.seed)
        explanation = explainer(graph.x, graph.edge_index)
    mask: Tensor = explanation.edge_mask
    return mask.detach().double().cpu().numpy()


def gauss_legendre(n_steps: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return Gauss-Legendre points and weights on [0, 1], each (n_steps,)."""
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    return 0.5 * (nodes + 1.0), 0.5 * weights


def integrated_gradients(
    model: GraphModel, graph: Data, target: str, config: ExplainConfig
) -> tuple[NDArray[np.float64], float]:
    r"""Return integrated-gradient attributions (E,) and the all-removed prediction.

    With :math:`f(\mathbf{m})` the prediction as a function of the edge mask,

    .. math:: A_e = \int_0^1 \frac{\partial f}{\partial m_e}(t\,\mathbf{1})\,dt,

    the path from every edge removed (:math:`\mathbf{m} = 0`) to every edge
    present, by Gauss-Legendre quadrature with ``config.n_steps`` points;
    :math:`\sum_e A_e = f(\mathbf{1}) - f(\mathbf{0})` (completeness) up to
    the quadrature error. Deterministic: the points are evaluated in
    batches of ``config.steps_per_batch`` copies of the graph.
    """
    points, weights = gauss_legendre(config.n_steps)
    n_edges = int(graph.edge_index.shape[1])
    dtype, device = graph.pos.dtype, graph.pos.device
    total = torch.zeros(n_edges, dtype=torch.float64, device=device)
    for start in range(0, config.n_steps, config.steps_per_batch):
        t = torch.as_tensor(
            points[start : start + config.steps_per_batch], dtype=dtype, device=device
        )
        w = torch.as_tensor(
            weights[start : start + config.steps_per_batch],
            dtype=torch.float64,
            device=device,
        )
        copies = Batch.from_data_list([graph] * t.numel())
        mask = t.repeat_interleave(n_edges).requires_grad_(True)
        copies[EDGE_MASK] = mask
        values = model(copies)[target]
        (gradient,) = torch.autograd.grad(values.sum(), mask)
        total += (gradient.view(t.numel(), n_edges).double() * w[:, None]).sum(0)
    removed = copy.copy(graph)
    removed[EDGE_MASK] = torch.zeros(n_edges, dtype=dtype, device=device)
    with torch.no_grad():
        baseline = float(model(removed)[target][0])
    return total.cpu().numpy(), baseline

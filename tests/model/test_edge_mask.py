"""The edge-mask hook of the models: a weight on each edge's message."""

from __future__ import annotations

import pytest
import torch
from ase.build import bulk

from ase_phonongnn import keys
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import EDGE_MASK, ModelConfig, build_model

CUTOFF = 3.2


def alloy_graph(seed=3):
    atoms = bulk("Cu", "fcc", a=3.75, cubic=True) * (2, 1, 1)
    atoms.numbers[[1, 4, 6]] = 79
    atoms.rattle(0.1, seed=seed)
    return build_graph(atoms, cutoff=CUTOFF, dtype=torch.float64)


def model_for(key: str):
    config = ModelConfig(
        model=key,
        targets=(keys.BAND_GAP, keys.VBM),
        species=(29, 79),
        cutoff=CUTOFF,
        hidden_channels=8,
        n_interactions=2,
    )
    net = build_model(config, seed=2, dtype=torch.float64).eval()
    # input and target scaling fitted to a few graphs, so that the paper
    # models' sigmoid output is not saturated
    graphs = [alloy_graph(seed) for seed in range(4)]
    for k, g in enumerate(graphs):
        g.y = torch.tensor([[1.0 + 0.2 * k, -2.0 + 0.1 * k]], dtype=torch.float64)
    net.fit_normalisation(graphs)
    return net


def without(graph, drop):
    keep = torch.ones(graph.edge_index.shape[1], dtype=torch.bool)
    keep[drop] = False
    out = graph.clone()
    out.edge_index = graph.edge_index[:, keep]
    out.edge_shift = graph.edge_shift[keep]
    out.edge_weight = graph.edge_weight[keep]
    return out


@pytest.mark.parametrize("key", ["ours", "paper-1", "paper-6"])
@torch.no_grad()
def test_mask_of_ones_changes_nothing_and_zeros_remove_edges(key):
    net, graph = model_for(key), alloy_graph()
    n_edges = graph.edge_index.shape[1]
    plain = net(graph)
    graph_ones = graph.clone()
    graph_ones[EDGE_MASK] = torch.ones(n_edges, dtype=torch.float64)
    ones = net(graph_ones)
    drop = torch.arange(0, n_edges, 3)  # a third of the edges
    mask = torch.ones(n_edges, dtype=torch.float64)
    mask[drop] = 0.0
    masked = graph.clone()
    masked[EDGE_MASK] = mask
    zeros = net(masked)
    removed = net(without(graph, drop))
    for target in net.targets:
        assert torch.equal(ones[target], plain[target])
        assert torch.allclose(zeros[target], removed[target], rtol=1e-12, atol=1e-12)
        # and removing a third of the edges does change the prediction
        assert abs(float(removed[target][0] - plain[target][0])) > 1e-6


@pytest.mark.parametrize("key", ["ours", "paper-2"])
def test_prediction_is_differentiable_in_the_mask(key):
    net, graph = model_for(key), alloy_graph()
    mask = torch.full((graph.edge_index.shape[1],), 0.7, dtype=torch.float64)
    mask.requires_grad_(True)
    graph[EDGE_MASK] = mask
    (gradient,) = torch.autograd.grad(net(graph)[keys.BAND_GAP].sum(), mask)
    assert gradient.shape == mask.shape
    assert int((gradient != 0).sum()) > 0


def test_mask_works_in_a_batch_and_with_forces():
    from torch_geometric.data import Batch

    config = ModelConfig(
        model="ours",
        targets=(keys.ENERGY_PER_ATOM,),
        species=(29, 79),
        cutoff=CUTOFF,
        hidden_channels=8,
        n_interactions=1,
    )
    net = build_model(config, seed=0, dtype=torch.float64).eval()
    graph = alloy_graph()
    drop = torch.arange(5)
    masked = graph.clone()
    masked[EDGE_MASK] = torch.ones(graph.edge_index.shape[1], dtype=torch.float64)
    masked[EDGE_MASK][drop] = 0.0
    batch = Batch.from_data_list([masked, masked])
    out = net(batch, compute_forces=True)
    reference = net(without(graph, drop), compute_forces=True)
    assert torch.allclose(out[keys.ENERGY][1], reference[keys.ENERGY][0])
    n = graph.num_nodes
    assert torch.allclose(out[keys.FORCES][n:], reference[keys.FORCES])


def test_mask_of_the_wrong_shape_is_refused():
    net, graph = model_for("ours"), alloy_graph()
    graph[EDGE_MASK] = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"edge_mask must be a floating tensor"):
        net(graph)

"""PaiNN messages summed in blocks of edges: the same values and derivatives."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import torch
from ase.build import bulk

from ase_phonongnn import keys
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import _messages, build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def painn(property_model, readout: str) -> torch.nn.Module:
    """The test models' numbers (conftest), as three PaiNN blocks."""
    base = property_model(seed=3)
    config = replace(base.config, equivariant=True, n_interactions=3, readout=readout)
    net = build_model(config, seed=3, dtype=torch.float64).eval()
    net.load_state_dict(
        {k: v for k, v in base.state_dict().items() if "scale" in k or "shift" in k},
        strict=False,
    )
    return net


@pytest.mark.parametrize("readout", ["mean", "tight-binding"])
@pytest.mark.parametrize("masked", [False, True])
def test_blocked_prediction_equals_the_differentiable_one(
    monkeypatch, property_model, readout, masked
):
    """Without an outer graph the model sums messages in blocks; same numbers.

    Blocks of 29 edges: many blocks, the last one partial.
    """
    monkeypatch.setitem(_messages.EDGE_BLOCK, "cpu", 29)
    net = painn(property_model, readout)
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 1, 1))
    atoms.numbers[::3] = 79
    atoms.rattle(0.15, seed=4)
    graph = build_graph(atoms, cutoff=4.0, dtype=torch.float64)
    assert graph.num_edges > 4 * 29
    if masked:
        generator = torch.Generator().manual_seed(0)
        graph.edge_mask = torch.rand(graph.num_edges, generator=generator).double()
    with torch.no_grad():
        blocked = net(graph, compute_forces=True, compute_stress=True)
    with torch.inference_mode():
        scalars = net(graph)
    with torch.enable_grad():
        plain = net(graph, compute_forces=True, compute_stress=True)
    assert plain[keys.FORCES].abs().max() > 1e-3
    for name, value in plain.items():
        torch.testing.assert_close(
            blocked[name], value.detach(), rtol=1e-12, atol=1e-13
        )
        if name in scalars:
            torch.testing.assert_close(
                scalars[name], value.detach(), rtol=1e-12, atol=1e-13
            )


@pytest.mark.parametrize("zero_vectors", [False, True])
def test_edge_messages_backward_is_the_derivative(monkeypatch, zero_vectors):
    """gradcheck: the hand-written backward against finite differences."""
    monkeypatch.setitem(_messages.EDGE_BLOCK, "cpu", 7)
    generator = torch.Generator().manual_seed(1)

    def random(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    n, n_edges, width, n_radial = 5, 23, 2, 3
    context = random(n, 3 * width).requires_grad_()
    v = None if zero_vectors else random(n, 3, width).requires_grad_()
    radial = random(n_edges, n_radial).requires_grad_()
    unit = random(n_edges, 3).requires_grad_()
    weight = random(3 * width, n_radial).requires_grad_()
    edge_index = torch.randint(0, n, (2, n_edges), generator=generator)
    assert torch.autograd.gradcheck(
        lambda *x: _messages.edge_messages(*x, edge_index),
        (context, v, radial, unit, weight),
    )


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="torch.compile on a CPU needs a C++ compiler",
)
def test_compiled_messages_give_the_same_predictions(monkeypatch, property_model):
    """Compiled blocks: the same energies, forces and stress to rounding."""
    monkeypatch.setitem(_messages.COMPILED_EDGE_BLOCK, "cpu", 29)
    net = painn(property_model, "tight-binding")
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 1, 1))
    atoms.numbers[::3] = 79
    atoms.rattle(0.15, seed=4)
    graph = build_graph(atoms, cutoff=4.0, dtype=torch.float64)
    with torch.no_grad():
        eager = net(graph, compute_forces=True, compute_stress=True)
        net.compiled_messages = True
        compiled = net(graph, compute_forces=True, compute_stress=True)
    with torch.inference_mode():
        scalars = net(graph)
    assert eager[keys.FORCES].abs().max() > 1e-3
    for name, value in eager.items():
        torch.testing.assert_close(compiled[name], value, rtol=1e-12, atol=1e-13)
        if name in scalars:
            torch.testing.assert_close(scalars[name], value, rtol=1e-12, atol=1e-13)

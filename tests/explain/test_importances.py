"""Edge importances on models trained on a label of Cu-Au distances only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _alloys import AB_BOND, AB_CUTOFF
from ase.neighborlist import neighbor_list

from ase_phonongnn import keys
from ase_phonongnn.explain import (
    METHODS,
    SIGNIFICANCE_THRESHOLD,
    EdgeImportance,
    aggregate_bond_types,
    bond_type,
    bond_type_deletion,
    deletion_curve,
    explain_dataset,
    explain_prediction,
)
from ase_phonongnn.graph import build_graph


def test_integrated_gradients_put_the_label_s_bond_first_on_ours(explained):
    # Measured: mean scaled importance Cu-Au 0.195, Cu-Cu 0.068, Au-Au 0.060;
    # the 13 significant edges (> 0.86) are all Cu-Au.
    stats = aggregate_bond_types(explained("ours", "integrated-gradients"))
    means = {name: s.mean for name, s in stats.items()}
    assert next(iter(stats)) == AB_BOND
    assert means[AB_BOND] > 2.0 * max(means["Cu-Cu"], means["Au-Au"])
    # every significant edge is a Cu-Au edge
    assert stats[AB_BOND].share_of_significant == 1.0
    assert stats[AB_BOND].n_significant > 0


def test_deletion_curve_of_integrated_gradients_beats_random(alloy_models, explained):
    # Measured: faithfulness 0.37; removing the top 5 % of the edges changes
    # the prediction by 1.83 eV on average, 5 % random ones by 0.35 eV.
    model = alloy_models["ours"]
    curve = deletion_curve(model, explained("ours", "integrated-gradients"))
    assert curve.score > 0.25
    assert np.all(curve.top[1:] > curve.random[1:])
    assert curve.top[0] == curve.random[0] == 0.0  # nothing removed


def test_removing_the_label_s_bond_type_matters_most(alloy_models, explained):
    # Independent of any importance: removing every Cu-Au edge changes the
    # prediction 1.57 times as much as removing as many random edges; removing
    # the Cu-Cu or Au-Au edges, 0.90 and 0.39 times.
    removal = bond_type_deletion(
        alloy_models["ours"], explained("ours", "integrated-gradients")
    )
    assert next(iter(removal)) == AB_BOND
    assert removal[AB_BOND].ratio > 1.3
    assert removal["Au-Au"].ratio < 1.0


def test_gnnexplainer_ranks_cu_au_above_au_au_but_is_less_faithful(
    alloy_models, explained
):
    # Measured with PyG's default settings: means Cu-Au 0.79, Cu-Cu 0.77,
    # Au-Au 0.15; faithfulness 0.06 against 0.37 for integrated gradients.
    # GNNExplainer keeps the set of edges that preserves the prediction
    # jointly; the Cu-Cu messages of this model matter once many edges are
    # masked at once, away from the data it was trained on.
    results = explained("ours", "gnnexplainer")
    stats = aggregate_bond_types(results)
    assert stats[AB_BOND].mean > stats["Au-Au"].mean + 0.3
    curve = deletion_curve(alloy_models["ours"], results)
    reference = deletion_curve(
        alloy_models["ours"], explained("ours", "integrated-gradients")
    )
    assert curve.score < reference.score


def test_reversed_importances_are_worse_than_random(alloy_models, explained):
    import dataclasses

    results = explained("ours", "integrated-gradients")
    reversed_results = [
        dataclasses.replace(r, importance=1.0 - r.importance) for r in results
    ]
    curve = deletion_curve(alloy_models["ours"], reversed_results)
    assert curve.score < 0.0


@pytest.mark.parametrize("key", ["ours", "paper-2"])
@pytest.mark.parametrize("method", METHODS)
def test_both_methods_run_on_both_model_families(key, method, alloys, explained):
    results = explained(key, method)
    assert len(results) == len(alloys["explain"])
    for result, atoms in zip(results, alloys["explain"], strict=True):
        assert result.method == method and result.target == keys.BAND_GAP
        assert result.unit == "eV"
        i, _, d = neighbor_list("ijd", atoms, AB_CUTOFF)
        assert result.n_edges == i.size  # every edge of the graph is explained
        assert np.allclose(np.sort(result.distances), np.sort(d), atol=1e-5)
        assert result.importance.min() == 0.0 and result.importance.max() == 1.0
        assert result.threshold == SIGNIFICANCE_THRESHOLD
        types = set(result.bond_types.tolist())
        assert types <= {"Cu-Au", "Cu-Cu", "Au-Au"}
        if method == "gnnexplainer":
            assert np.all((result.raw >= 0.0) & (result.raw <= 1.0))
            assert result.baseline_prediction is None
        else:
            assert result.baseline_prediction is not None


def test_integrated_gradients_are_complete(explained):
    # sum of attributions = f(all edges) - f(no edge): exact up to the
    # quadrature for the smooth model (measured 1e-7 relative), within a few
    # per cent for paper-2 (ReLU kinks; measured 4.5 % at worst).
    for key, tolerance in (("ours", 1e-5), ("paper-2", 0.1)):
        for result in explained(key, "integrated-gradients"):
            total = result.prediction - result.baseline_prediction
            assert result.raw.sum() == pytest.approx(total, rel=tolerance, abs=1e-6)


def test_same_seed_same_importances_and_global_rng_untouched(alloys, alloy_models):
    atoms = alloys["explain"][0]
    model = alloy_models["paper-2"]
    state = torch.get_rng_state()
    first = explain_prediction(model, atoms, method="gnnexplainer", seed=5)
    again = explain_prediction(model, atoms, method="gnnexplainer", seed=5)
    other = explain_prediction(model, atoms, method="gnnexplainer", seed=6)
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(first.raw, again.raw)
    assert np.array_equal(first.importance, again.importance)
    assert not np.array_equal(first.raw, other.raw)
    ig = [
        explain_prediction(model, atoms, method="integrated-gradients", seed=s)
        for s in (0, 1)
    ]
    assert np.array_equal(ig[0].raw, ig[1].raw)  # deterministic, seed unused


def test_dataset_explanations_are_reproducible(alloys, alloy_models):
    model = alloy_models["ours"]
    structures = alloys["explain"][:2]
    a = explain_dataset(model, structures, method="gnnexplainer", seed=3)
    b = explain_dataset(model, structures, method="gnnexplainer", seed=3)
    assert [r.seed for r in a] == [3, 4]
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.raw, y.raw)


def test_model_is_left_as_it_was(alloys, alloy_models):
    model = alloy_models["paper-2"]
    graph = build_graph(alloys["explain"][1], cutoff=AB_CUTOFF)
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    weights = [p.detach().clone() for p in model.parameters()]
    model.train()
    try:
        explain_prediction(model, graph, method="gnnexplainer", seed=0)
        explain_prediction(model, graph, method="integrated-gradients")
        assert model.training  # mode restored
    finally:
        model.eval()
    assert all(p.requires_grad for p in model.parameters())
    for p, grad, weight in zip(model.parameters(), grads, weights, strict=True):
        assert torch.equal(p, weight)
        assert (p.grad is None) if grad is None else torch.equal(p.grad, grad)
    assert "edge_mask" not in graph


def test_graph_and_atoms_give_the_same_explanation(alloys, alloy_models):
    atoms = alloys["explain"][2]
    model = alloy_models["ours"]
    from_atoms = explain_prediction(model, atoms, method="integrated-gradients")
    from_graph = explain_prediction(
        model,
        build_graph(atoms, cutoff=AB_CUTOFF, dtype=torch.float64),
        method="integrated-gradients",
    )
    assert np.array_equal(from_atoms.edge_index, from_graph.edge_index)
    assert np.allclose(from_atoms.raw, from_graph.raw, rtol=1e-4, atol=1e-7)


def test_aggregation_counts_every_edge_by_its_element_pair(explained, alloys):
    results = explained("ours", "integrated-gradients")
    stats = aggregate_bond_types(results)
    expected = {"Cu-Au": 0, "Cu-Cu": 0, "Au-Au": 0}
    for atoms in alloys["explain"]:
        i, j = neighbor_list("ij", atoms, AB_CUTOFF)
        zi, zj = atoms.numbers[i], atoms.numbers[j]
        expected["Cu-Au"] += int(np.sum(zi != zj))
        expected["Cu-Cu"] += int(np.sum((zi == 29) & (zj == 29)))
        expected["Au-Au"] += int(np.sum((zi == 79) & (zj == 79)))
    assert {name: s.n_edges for name, s in stats.items()} == expected
    assert sum(s.population for s in stats.values()) == pytest.approx(1.0)
    assert sum(s.share_of_significant for s in stats.values()) == pytest.approx(1.0)
    for s in stats.values():
        # a probability density on [0, 1] with 20 bins
        assert np.sum(s.histogram) / len(s.histogram) == pytest.approx(1.0)
        assert s.fraction_significant == s.n_significant / s.n_edges
    # a stricter threshold counts fewer significant edges
    strict = aggregate_bond_types(results, threshold=0.95)
    assert strict[AB_BOND].n_significant < stats[AB_BOND].n_significant


def test_bond_type_names():
    assert bond_type(16, 47) == bond_type(47, 16) == "Ag-S"
    assert bond_type(35, 47) == "Ag-Br"
    assert bond_type(16, 35) == "S-Br"
    assert bond_type(79, 29) == "Cu-Au"
    assert bond_type(35, 35) == "Br-Br"


def test_result_summary_is_json_ready(explained):
    import json

    result = explained("ours", "integrated-gradients")[0]
    assert isinstance(result, EdgeImportance)
    summary = json.loads(json.dumps(result.to_dict(edges=True)))
    assert summary["n_edges"] == result.n_edges
    assert summary["n_significant"] == int(result.significant.sum())
    assert len(summary["edges"]["importance"]) == result.n_edges
    assert set(summary["edges"]["bond_type"]) <= {"Cu-Au", "Cu-Cu", "Au-Au"}
    with pytest.raises(ValueError):
        result.importance[0] = 0.5  # read-only
    # the edge vectors agree with the distances
    lengths = np.linalg.norm(result.edge_vectors(), axis=1)
    assert np.allclose(lengths, result.distances, atol=1e-5)

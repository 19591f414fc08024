"""ExplainConfig and the refusal of bad input, with messages that say what to do."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from _alloys import AB_CUTOFF
from ase.build import bulk
from torch_geometric.data import Batch

from ase_phonongnn import keys
from ase_phonongnn.errors import UnknownElementError
from ase_phonongnn.explain import (
    ExplainConfig,
    aggregate_bond_types,
    deletion_curve,
    explain_dataset,
    explain_prediction,
)
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import ModelConfig, build_model


def test_config_round_trips_and_is_validated():
    config = ExplainConfig(method="integrated-gradients", seed=4, n_steps=8)
    assert ExplainConfig.from_dict(config.to_dict()) == config
    assert config.replace(threshold=0.5).threshold == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]
    bad = [
        ({"method": "shap"}, "method must be one of gnnexplainer, integrated"),
        ({"threshold": 1.5}, r"threshold .* must be in \[0, 1\] \(got 1.5\)"),
        ({"epochs": 0}, r"epochs must be an integer >= 1 \(got 0\)"),
        ({"seed": -1}, r"seed must be an integer >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"n_steps": 2.5}, "n_steps must be an integer"),
    ]
    for changes, message in bad:
        with pytest.raises(ValueError, match=message):
            ExplainConfig(**changes)
    with pytest.raises(TypeError, match="threshold must be a number"):
        ExplainConfig(threshold="high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown ExplainConfig key.*valid: method"):
        ExplainConfig.from_dict({"methdo": "gnnexplainer"})


def test_unknown_method_is_refused(alloys, alloy_models):
    with pytest.raises(ValueError, match=r"method must be one of .*\(got 'saliency'\)"):
        explain_prediction(
            alloy_models["ours"], alloys["explain"][0], method="saliency"
        )  # type: ignore[arg-type]


def test_element_outside_the_model_is_refused(alloy_models):
    silver = bulk("Ag", "fcc", a=4.09, cubic=True)
    for model in alloy_models.values():
        with pytest.raises(UnknownElementError, match=r"element Ag .*\(Cu, Au\)"):
            explain_prediction(model, silver, method="integrated-gradients")


def test_graph_with_another_cutoff_is_refused(alloys, alloy_models):
    atoms = alloys["explain"][0]
    for cutoff in (AB_CUTOFF + 1.0, AB_CUTOFF - 0.5):
        graph = build_graph(atoms, cutoff=cutoff)
        with pytest.raises(
            ValueError, match=r"does not match the model's cutoff of 3.2"
        ):
            explain_prediction(alloy_models["ours"], graph)


def test_batches_wrong_types_and_targets_are_refused(alloys, alloy_models):
    model = alloy_models["paper-2"]
    atoms = alloys["explain"][0]
    graph = build_graph(atoms, cutoff=AB_CUTOFF)
    with pytest.raises(ValueError, match="one structure at a time"):
        explain_prediction(model, Batch.from_data_list([graph, graph]))
    with pytest.raises(TypeError, match=r"structure must be an ase\.Atoms"):
        explain_prediction(model, atoms.positions)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model must be a GraphModel"):
        explain_prediction(torch.nn.Linear(2, 1), atoms)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"target 'vbm' is not predicted.*band_gap"):
        explain_prediction(model, atoms, target=keys.VBM)
    with pytest.raises(TypeError, match="config must be an ExplainConfig"):
        explain_prediction(model, atoms, config={"method": "gnnexplainer"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no structures to explain"):
        explain_dataset(model, [])
    with pytest.raises(TypeError, match="use explain_prediction"):
        explain_dataset(model, atoms)  # type: ignore[arg-type]


def test_a_model_of_several_targets_needs_the_target_named(alloys):
    config = ModelConfig(
        model="ours",
        targets=(keys.BAND_GAP, keys.VBM),
        species=(29, 79),
        cutoff=AB_CUTOFF,
        hidden_channels=8,
        n_interactions=1,
    )
    model = build_model(config).eval()
    atoms = alloys["explain"][0]
    with pytest.raises(ValueError, match="predicts band_gap, vbm; choose one"):
        explain_prediction(model, atoms, method="integrated-gradients")
    result = explain_prediction(
        model,
        atoms,
        keys.VBM,
        method="integrated-gradients",
        config=ExplainConfig(n_steps=4),
    )
    assert result.target == keys.VBM


def test_aggregation_and_deletion_refuse_bad_input(alloy_models, explained):
    results = explained("ours", "integrated-gradients")
    model = alloy_models["ours"]
    with pytest.raises(ValueError, match="no explanations to aggregate"):
        aggregate_bond_types([])
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        aggregate_bond_types(results, threshold=2.0)
    with pytest.raises(TypeError, match="EdgeImportance"):
        aggregate_bond_types([1.0])  # type: ignore[list-item]
    for fractions in ([0.1], [0.0, 0.5, 0.3], [0.0, 1.5]):
        with pytest.raises(ValueError, match="fractions must be at least two"):
            deletion_curve(model, results, fractions=fractions)
    with pytest.raises(ValueError, match="n_random must be a positive integer"):
        deletion_curve(model, results, n_random=0)
    other = dataclasses.replace(results[0], target=keys.VBM)
    with pytest.raises(ValueError, match="different targets"):
        deletion_curve(model, [results[0], other])
    with pytest.raises(ValueError, match="target 'vbm' is not predicted"):
        deletion_curve(model, [other])

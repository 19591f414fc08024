"""The graph, model and train subpackages export what they declare."""

from __future__ import annotations

import importlib

import pytest

import ase_phonongnn


@pytest.mark.parametrize("sub", ["graph", "model", "train"])
def test_subpackage_all_names_import(sub: str) -> None:
    module = importlib.import_module(f"ase_phonongnn.{sub}")
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("build_graph", "graph"),
        ("ModelConfig", "model"),
        ("load_model", "model"),
        ("save_model", "model"),
        ("TrainConfig", "train"),
        ("evaluate_model", "train"),
        ("learning_curve", "train"),
        ("sweep", "train"),
    ],
)
def test_top_level_lazy_names(name: str, module: str) -> None:
    assert name in ase_phonongnn.__all__
    sub = importlib.import_module(f"ase_phonongnn.{module}")
    assert getattr(ase_phonongnn, name) is getattr(sub, name)

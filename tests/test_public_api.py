"""Guards on the public API."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import types

import pytest

import ase_phonongnn

SUBPACKAGES = [
    "sample",
    "label",
    "store",
    "graph",
    "model",
    "train",
    "explain",
    "experiment",
]


def test_import_does_not_import_torch() -> None:
    code = "import sys, ase_phonongnn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("name", ase_phonongnn.__all__)
def test_top_level_names_import(name: str) -> None:
    assert getattr(ase_phonongnn, name) is not None


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_subpackage_all_names_import(sub: str) -> None:
    module = importlib.import_module(f"ase_phonongnn.{sub}")
    for name in module.__all__:
        assert getattr(module, name) is not None


@pytest.mark.parametrize("name", sorted(ase_phonongnn._LAZY))
def test_top_level_name_is_the_subpackage_object(name: str) -> None:
    module = importlib.import_module(ase_phonongnn._LAZY[name])
    assert getattr(ase_phonongnn, name) is getattr(module, name)


def test_predict_is_the_function_and_prediction_a_plain_subpackage() -> None:
    import ase_phonongnn.prediction as prediction
    from ase_phonongnn import predict

    assert inspect.isfunction(predict) and predict is prediction.predict
    assert type(prediction) is types.ModuleType
    assert ase_phonongnn.predict is predict  # importing the stage keeps the name

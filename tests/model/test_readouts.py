"""The readout registry of ``ours``: keys, parts and the parameter names they keep."""

from __future__ import annotations

import pytest
import torch

from ase_phonongnn import keys
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import (
    READOUT_CLASSES,
    READOUTS,
    ModelConfig,
    Readout,
    build_model,
)
from ase_phonongnn.model._readouts import READOUT_PARTS
from ase_phonongnn.structures import antiperovskite

#: The parameters (beyond the intensive head) each readout has always saved:
#: a model file written before the registry must load into the same names.
SAVED_NAMES = {
    "mean": set(),
    "attention": {"intensive_gate.0.weight", "intensive_gate.3.bias"},
    "levels": {"level_log_temperature"},
    "tight-binding": {"tight_binding.onsite.0.weight"},
}


def config(readout: str) -> ModelConfig:
    return ModelConfig(
        model="ours",
        targets=(keys.ENERGY_PER_ATOM, keys.BAND_GAP),
        species=(16, 35, 47),
        readout=readout,
        hidden_channels=8,
        n_interactions=1,
        cutoff=4.0,
    )


def test_registry_is_closed_and_matches_the_config_keys() -> None:
    assert tuple(READOUT_CLASSES) == READOUTS
    assert all(issubclass(cls, Readout) for cls in READOUT_CLASSES.values())
    with pytest.raises(ValueError, match="readout must be one of"):
        config("sum")


@pytest.mark.parametrize("readout", READOUTS)
def test_parts_keep_their_saved_names(readout: str) -> None:
    model = build_model(config(readout), dtype=torch.float64)
    assert isinstance(model.readout, READOUT_CLASSES[readout])
    names = set(model.state_dict())
    others = set(READOUT_PARTS) - set(
        READOUT_CLASSES[readout]().parts(8, 8, 1)  # the parts this readout owns
    )
    for part in others:
        assert getattr(model, part) is None
        assert not any(n.split(".")[0] == part for n in names)
    assert SAVED_NAMES[readout] <= names
    heads = {n for n in names if n.startswith("intensive_head.")}
    assert heads == {
        f"intensive_head.{k}.{w}" for k in (0, 3) for w in ("weight", "bias")
    }
    graph = build_graph(antiperovskite("Br"), cutoff=4.0)
    out = model(graph)
    assert out[keys.BAND_GAP].shape == (1,)

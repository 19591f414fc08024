"""Saved models: round trip, metadata checks, and refusal of pickled objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ase import Atoms
from safetensors import safe_open
from safetensors.torch import save_file

from ase_phonongnn import keys
from ase_phonongnn.errors import ModelFormatError
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import (
    FORMAT_VERSION,
    ModelConfig,
    build_model,
    load_model,
    model_metadata,
    read_model_metadata,
    save_model,
)
from ase_phonongnn.structures import antiperovskite

CUTOFF = 4.0


def ag3sbr(seed=0) -> Atoms:
    atoms = antiperovskite("Br").repeat((2, 1, 1))
    atoms.rattle(0.1, seed=seed)
    return atoms


def fitted_model(key: str, dtype=torch.float32, **options):
    config = ModelConfig(
        model=key,
        **options,
        targets=(keys.ENERGY_PER_ATOM, keys.BAND_GAP),
        species=(47, 16, 35),
        cutoff=CUTOFF,
        hidden_channels=8,
        n_interactions=2,
    )
    net = build_model(config, seed=3, dtype=dtype)
    graphs = [build_graph(ag3sbr(s), cutoff=CUTOFF, dtype=dtype) for s in range(4)]
    for k, g in enumerate(graphs):
        g.y = torch.tensor([[-2.0 + 0.01 * k, 2.5 - 0.1 * k]], dtype=dtype)
        g.forces = torch.randn(
            g.num_nodes, 3, dtype=dtype, generator=torch.Generator().manual_seed(k)
        )
    net.fit_normalisation(graphs)
    net.train()
    for g in graphs[:2]:  # move batch-norm running statistics off their defaults
        net(g)
    return net.eval(), graphs


def outputs(net, graph):
    force = net.has_energy
    out = net(graph, compute_forces=force, compute_stress=force)
    return {k: v.detach() for k, v in out.items()}


@pytest.mark.parametrize(
    ("key", "options"),
    [
        ("ours", {}),
        ("ours", {"readout": "attention"}),
        ("ours", {"readout": "levels"}),
        ("ours", {"readout": "tight-binding"}),
        ("paper-2", {}),
    ],
    ids=["ours", "ours-attention", "ours-levels", "ours-tight-binding", "paper-2"],
)
def test_save_then_load_predicts_identically(tmp_path, key, options):
    net, graphs = fitted_model(key, **options)
    path = save_model(net, tmp_path / "m.safetensors", training={"note": "test"})
    loaded = load_model(path)
    assert not loaded.training
    assert loaded.config == net.config
    for graph in graphs:
        before, after = outputs(net, graph), outputs(loaded, graph)
        assert before.keys() == after.keys()
        for name in before:
            assert torch.equal(before[name], after[name]), name


def test_metadata_header_describes_the_model(tmp_path):
    net, _ = fitted_model("ours", dtype=torch.float64)
    path = save_model(net, tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()["ase_phonongnn"])
    assert header == read_model_metadata(path)
    assert header["format"] == "ase_phonongnn.model"
    assert header["format_version"] == FORMAT_VERSION
    assert header["model"] == "ours"
    assert header["species"] == {"numbers": [16, 35, 47], "symbols": ["S", "Br", "Ag"]}
    assert header["cutoff"] == CUTOFF
    assert header["targets"] == [keys.ENERGY_PER_ATOM, keys.BAND_GAP]
    assert header["units"][keys.FORCES] == "eV/Ang"
    assert header["units"][keys.BAND_GAP] == "eV"
    assert header["dtype"] == "float64"
    gap = header["normalisation"][keys.BAND_GAP]
    assert gap["shift"] == pytest.approx(2.35)  # mean of 2.5, 2.4, 2.3, 2.2
    assert load_model(path).target_shift.dtype == torch.float64


def rewrite(path: Path, out: Path, change) -> Path:
    """Copy a model file changed by ``change``, without a digest (as older files)."""
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()["ase_phonongnn"])
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    header.pop("digest", None)
    change(header, tensors)
    save_file(tensors, str(out), metadata={"ase_phonongnn": json.dumps(header)})
    return out


def test_newer_format_version_is_refused_with_upgrade_message(tmp_path):
    net, _ = fitted_model("ours")
    path = save_model(net, tmp_path / "m.safetensors")

    def newer(header, _):
        header["format_version"] = FORMAT_VERSION + 1

    bad = rewrite(path, tmp_path / "new.safetensors", newer)
    with pytest.raises(ModelFormatError, match="upgrade"):
        load_model(bad)


def test_unknown_model_key_is_refused(tmp_path):
    net, _ = fitted_model("paper-1")
    path = save_model(net, tmp_path / "m.safetensors")

    def renamed(header, _):
        header["model"] = header["config"]["model"] = "mypackage.evil:Model"

    bad = rewrite(path, tmp_path / "key.safetensors", renamed)
    with pytest.raises(ModelFormatError, match="unknown model key"):
        load_model(bad)


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    net, _ = fitted_model("ours")
    path = save_model(net, tmp_path / "m.safetensors")

    def wider(header, _):
        header["config"]["hidden_channels"] = 32

    with pytest.raises(ModelFormatError, match="do not match"):
        load_model(rewrite(path, tmp_path / "w.safetensors", wider))

    def missing(_, tensors):
        tensors.pop(next(iter(tensors)))

    with pytest.raises(ModelFormatError, match="do not match"):
        load_model(rewrite(path, tmp_path / "m2.safetensors", missing))


class Payload:
    """An object whose unpickling would run code."""

    def __init__(self, sentinel: str) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (Path(self.sentinel),))


def test_checkpoint_with_pickled_object_is_refused(tmp_path):
    net, _ = fitted_model("ours")
    sentinel = tmp_path / "code-ran"
    checkpoint = {
        "metadata": json.dumps(model_metadata(net)),
        "state_dict": net.state_dict(),
        "extra": Payload(str(sentinel)),
    }
    path = tmp_path / "evil.pt"
    torch.save(checkpoint, path)
    with pytest.raises(ModelFormatError, match=r"weights_only=True"):
        load_model(path)
    assert not sentinel.exists()


def test_weights_only_checkpoint_loads(tmp_path):
    net, graphs = fitted_model("ours")
    path = tmp_path / "plain.pt"
    torch.save(
        {"metadata": json.dumps(model_metadata(net)), "state_dict": net.state_dict()},
        path,
    )
    loaded = load_model(path)
    out, ref = outputs(loaded, graphs[0]), outputs(net, graphs[0])
    assert torch.equal(out[keys.ENERGY], ref[keys.ENERGY])


def test_not_a_model_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("hello, this is not a model")
    with pytest.raises(ModelFormatError):
        load_model(path)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "bare.safetensors"))
    with pytest.raises(ModelFormatError, match="not an ase_phonongnn model"):
        load_model(tmp_path / "bare.safetensors")


def test_model_config_validation_and_round_trip():
    config = ModelConfig(
        model="paper-3",
        targets=("band_gap",),
        species=("Ag", 16),
        hidden_channels=32,
        dropout=0.2,
    )
    assert config.species == (16, 47)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match=r"unknown ModelConfig key.*valid: model"):
        ModelConfig.from_dict({"modle": "ours"})
    with pytest.raises(ValueError, match="model must be one of"):
        ModelConfig(model="schnet")
    with pytest.raises(ValueError, match="unknown target"):
        ModelConfig(targets=("bandgap",))
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(dropout=1.0)
    with pytest.raises(ValueError, match="cutoff must be positive"):
        ModelConfig(cutoff=0.0)
    with pytest.raises(ValueError, match=r"readout must be one of mean, .*, levels"):
        ModelConfig(readout="max")
    with pytest.raises(ValueError, match="species is empty"):
        build_model(ModelConfig())

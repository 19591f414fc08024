"""Model files: bounded headers, and a digest that catches edits after saving."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
import torch

from ase_phonongnn.errors import ModelFormatError, ModelIntegrityError
from ase_phonongnn.model import load_model, named_model
from ase_phonongnn.model._io import read_model_metadata

DATA = Path(__file__).parents[2] / "ase_phonongnn" / "data"


def _edit_header(source: Path, target: Path, edit) -> None:
    """Copy a safetensors file, applying ``edit`` to its ase_phonongnn metadata."""
    raw = source.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    metadata = json.loads(header["__metadata__"]["ase_phonongnn"])
    edit(metadata)
    header["__metadata__"]["ase_phonongnn"] = json.dumps(metadata)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    target.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])


@pytest.mark.parametrize(
    ("name", "value"),
    [("hidden_channels", 200_000), ("n_interactions", 10**7), ("cutoff", 1e4)],
)
def test_hostile_header_sizes_are_refused_at_once(
    cu_potential_path, tmp_path, name, value
):
    hostile = tmp_path / "hostile.safetensors"

    def edit(metadata):
        metadata["config"][name] = value
        if name == "cutoff":
            metadata["cutoff"] = value

    _edit_header(cu_potential_path, hostile, edit)
    start = time.perf_counter()
    with pytest.raises(ModelFormatError, match=name):
        load_model(hostile)
    assert time.perf_counter() - start < 5.0


def test_an_edited_cutoff_is_caught_by_the_digest(cu_potential_path, tmp_path):
    assert read_model_metadata(cu_potential_path)["digest"].startswith("sha256:")
    edited = tmp_path / "edited.safetensors"

    def edit(metadata):
        metadata["config"]["cutoff"] = metadata["cutoff"] = 3.0

    _edit_header(cu_potential_path, edited, edit)
    with pytest.raises(ModelIntegrityError, match="digest"):
        load_model(edited)
    half = tmp_path / "half.safetensors"
    _edit_header(cu_potential_path, half, lambda m: m["config"].update(cutoff=3.0))
    with pytest.raises(ModelFormatError, match="cutoff"):
        load_model(half)


def test_changed_weights_are_caught_by_the_digest(cu_potential_path, tmp_path):
    raw = bytearray(cu_potential_path.read_bytes())
    raw[-3] ^= 0x40  # a bit of the last weight
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError):
        load_model(damaged)


@pytest.mark.parametrize(
    "path", sorted(DATA.glob("*.safetensors")), ids=lambda p: p.name
)
def test_shipped_models_load_their_weights_unchanged(path):
    from safetensors.torch import load_file

    # the sharp committee's files were written before models carried a
    # digest of their weights; the later ones carry it and it matches
    written_before = set(named_model("gfn2-xtb-sharp").members)
    assert ("digest" in read_model_metadata(path)) == (path not in written_before)
    state = load_model(path).state_dict()
    stored = load_file(path)
    assert state.keys() == stored.keys()
    assert all(torch.equal(state[name], stored[name]) for name in stored)

"""Datasets by name: shipped ones, and those a datasets folder lists."""

from __future__ import annotations

import json

import ase.io
import pytest

from ase_phonongnn import keys
from ase_phonongnn.cli.main import main
from ase_phonongnn.data import (
    DATASETS,
    DATASETS_ENV,
    dataset_manifest,
    dataset_names,
    dataset_path,
    datasets_directory,
    resolve_dataset,
)
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.structures import antiperovskite


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A datasets folder with one labelled store, named by the environment."""
    store = tmp_path / "family" / "cells.h5"
    store.parent.mkdir()
    atoms = antiperovskite("Br")
    atoms.info.update({keys.ENERGY: -1.5, keys.METHOD: "random"})
    with SnapshotStore.create(store) as s:
        s.add([atoms])
    manifest = {
        "family-cells": {"file": "family/cells.h5", "labeller": "emt"},
    }
    (tmp_path / "datasets.json").write_text(json.dumps(manifest))
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path))
    return tmp_path


def test_a_listed_store_is_found_by_name(folder, tmp_path) -> None:
    assert dataset_names() == (*DATASETS, "family-cells")
    assert dataset_path("family-cells") == folder / "family" / "cells.h5"
    assert resolve_dataset("family-cells") == folder / "family" / "cells.h5"
    assert resolve_dataset("phonon-Ag3SBr") == dataset_path("phonon-Ag3SBr")
    out = tmp_path / "cells.extxyz"
    assert main(["export", "family-cells", "--status", "all", "--out", str(out)]) == 0
    assert len(ase.io.read(out, ":")) == 1


def test_unknown_and_missing_datasets_are_clear_errors(folder) -> None:
    with pytest.raises(ValueError, match=r"no dataset 'cells'.*family-cells"):
        dataset_path("cells")
    (folder / "family" / "cells.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"its store .* is missing"):
        dataset_path("family-cells")


def test_the_repository_datasets_hold_what_their_manifest_says(monkeypatch) -> None:
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    manifest = dataset_manifest()
    if not (datasets_directory() / "datasets.json").is_file():
        pytest.skip("an installed package without the repository's datasets folder")
    present = [
        n for n in manifest if (datasets_directory() / manifest[n]["file"]).exists()
    ]
    assert present, "the datasets folder lists no store that exists"
    for name in present:
        with SnapshotStore.open(dataset_path(name)) as store:
            done = store.read_atoms(keys.DONE)
        assert done, name
        for atoms in done:
            provenance = atoms.info[keys.LABEL_PROVENANCE]
            assert atoms.info[keys.LABELLER] == manifest[name]["labeller"]
            assert 0 <= atoms.info[keys.BAND_GAP] < 10.0  # eV, finite
            if manifest[name]["labeller"] == "gpaw":
                assert provenance["parameters"]["xc"] == "PBEsol"
                # PBEsol: the ideal cells 0.7-1.0 eV, thermal snapshots below
                assert atoms.info[keys.BAND_GAP] < 2.0

"""Named shipped models: the manifest, its digests and its calibration check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ase_phonongnn import PhononGNNCalc, keys
from ase_phonongnn.data import DATA_DIR, MODEL_MANIFEST, dataset_path
from ase_phonongnn.errors import ModelManifestError
from ase_phonongnn.model import load_model, model_names, named_model, sha256
from ase_phonongnn.prediction import Committee
from ase_phonongnn.store import SnapshotStore


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    """A copy of the manifest and the files it lists, to tamper with."""
    manifest = json.loads((DATA_DIR / MODEL_MANIFEST).read_text())
    shutil.copy(DATA_DIR / MODEL_MANIFEST, tmp_path)
    for entry in manifest["models"].values():
        for member in entry["members"]:
            shutil.copy(DATA_DIR / member["file"], tmp_path)
        shutil.copy(DATA_DIR / entry["calibration"]["file"], tmp_path)
    return tmp_path


def test_default_is_an_alias_of_gfn2_xtb() -> None:
    assert {"default", "gfn2-xtb"} <= set(model_names())
    default, named = named_model("default"), named_model("gfn2-xtb")
    assert default == named and named_model(None) == named
    assert named.name == "gfn2-xtb" and len(named.members) == 4
    assert named.training_data == (
        "phonon-Ag3SBr",
        "random-Ag3SBr",
        "gfn2-xtb-off-ensemble-Ag3SBr",
        "gfn2-xtb-active-Ag3SBr",
    )
    assert "GFN2-xTB" in named.level_of_theory
    assert named.spread_scale is not None
    assert set(named.spread_scale) >= set(keys.TARGETS)


def test_every_shipped_model_file_is_listed_with_its_digest() -> None:
    manifest = json.loads((DATA_DIR / MODEL_MANIFEST).read_text())
    listed = {
        m["file"]: m["sha256"]
        for entry in manifest["models"].values()
        for m in entry["members"]
    }
    assert set(listed) == {p.name for p in DATA_DIR.glob("*.safetensors")}
    assert all(sha256(DATA_DIR / name) == digest for name, digest in listed.items())


def test_named_models_load_as_committee_member_and_calculator() -> None:
    committee = Committee.load("gfn2-xtb", "cpu")
    assert committee.size == 4
    scale = named_model("gfn2-xtb").spread_scale
    assert scale is not None
    assert committee.spread_scale[keys.VBM] == scale[keys.VBM]
    member = load_model("gfn2-xtb:0")
    assert member.config == load_model(named_model().members[0]).config
    with pytest.raises(ValueError, match="committee of 4 models"):
        load_model("gfn2-xtb")
    with pytest.raises(ValueError, match="numbered from 0"):
        load_model("gfn2-xtb:4")
    # the committee shipped before the smooth norm keeps its name
    assert Committee.load("gfn2-xtb-sharp", "cpu").size == 6
    with SnapshotStore.open(dataset_path("phonon-Ag3SBr")) as store:
        atoms = store.read_atoms("done")[0]
    by_name = PhononGNNCalc("gfn2-xtb", device="cpu")
    by_default = PhononGNNCalc(device="cpu")
    gap = by_name.get_property(keys.BAND_GAP, atoms)
    assert gap == by_default.get_property(keys.BAND_GAP, atoms)
    assert abs(gap - atoms.info[keys.BAND_GAP]) < 0.5  # eV, a GFN2-xTB label


def test_an_unknown_name_names_the_choices() -> None:
    with pytest.raises(ValueError, match="gfn2-xtb"):
        named_model("mace-mp")


def test_a_changed_member_is_refused(shipped_copy: Path) -> None:
    member = named_model(directory=shipped_copy).members[2]
    data = bytearray(member.read_bytes())
    data[-1] ^= 1  # one bit of the last weight
    member.write_bytes(bytes(data))
    with pytest.raises(ModelManifestError, match="SHA-256 differs"):
        named_model("gfn2-xtb", shipped_copy)


def test_a_model_file_that_no_entry_lists_is_refused(shipped_copy: Path) -> None:
    first = named_model(directory=shipped_copy).members[0]
    shutil.copy(first, shipped_copy / "default-model-new-0.safetensors")
    with pytest.raises(ModelManifestError, match="default-model-new-0"):
        named_model("default", shipped_copy)


def test_a_calibration_fitted_for_other_members_is_refused(
    shipped_copy: Path,
) -> None:
    manifest = json.loads((shipped_copy / MODEL_MANIFEST).read_text())
    entry = manifest["models"]["gfn2-xtb"]
    calibration = shipped_copy / entry["calibration"]["file"]
    fitted = json.loads(calibration.read_text())
    fitted["members"] = fitted["members"][:-1]
    calibration.write_text(json.dumps(fitted))
    # the manifest's digest of the calibration matches the new file: only the
    # member list is wrong
    entry["calibration"]["sha256"] = sha256(calibration)
    (shipped_copy / MODEL_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelManifestError, match="fitted for the members"):
        named_model("gfn2-xtb", shipped_copy)


def test_a_missing_member_says_so(shipped_copy: Path) -> None:
    named_model(directory=shipped_copy).members[1].unlink()
    with pytest.raises(ModelManifestError, match="is missing"):
        named_model("gfn2-xtb", shipped_copy)


def test_a_committee_member_by_name_equals_its_file():
    from ase_phonongnn.structures import antiperovskite

    atoms = antiperovskite("Br")
    atoms.positions[1] += 0.05
    by_name = PhononGNNCalc("gfn2-xtb:2").get_potential_energy(atoms.copy())
    member = named_model("gfn2-xtb").members[2]
    by_file = PhononGNNCalc(member).get_potential_energy(atoms.copy())
    assert by_name == by_file

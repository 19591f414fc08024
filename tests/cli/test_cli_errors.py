"""CLI errors: user errors are one line naming the option; bugs keep tracebacks."""

from __future__ import annotations

import configparser
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk

from ase_phonongnn.cli import sample as sample_cli
from ase_phonongnn.cli.main import main

ROOT = Path(__file__).parents[2]


def _one_line_error(capsys, prog: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"phonongnn {prog}: error:"), err
    assert err.count("\n") == 1, err
    return err


def test_internal_errors_keep_their_traceback(tmp_path, monkeypatch, capsys):
    def broken(snapshots, path):
        raise ValueError("an internal bug")

    monkeypatch.setattr(sample_cli, "write_snapshots", broken)
    argv = ["sample", "Ag3SBr", "-T", "300", "-n", "2", "--imaginary", "abs"]
    with pytest.raises(ValueError, match="an internal bug"):
        main([*argv, "--out", str(tmp_path / "x.extxyz")])


def test_debug_shows_the_traceback_of_a_user_error(tmp_path, capsys):
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("foo: [1, 2\n  bar: }}}\n")
    argv = ["sample", str(garbage), "-T", "300", "-n", "2", "--out", "x.extxyz"]
    assert main(argv) == 2
    err = _one_line_error(capsys, "sample")
    assert "phonopy cannot read it" in err and "Traceback" not in err
    assert main(["--debug", *argv]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-T", "1e6", "-n", "2"], "wrap around the cell"),
        (["-T", "300", "-n", "100000000"], "GiB"),
        (["-T", "-5", "-n", "2"], "--temperature must be >= 0"),
        (["-T", "300", "-n", "2", "--imaginary", "floor:x"], "--imaginary"),
    ],
)
def test_sample_refuses_impossible_requests(tmp_path, capsys, extra, message):
    out = tmp_path / "x.extxyz"
    assert (
        main(["sample", "Ag3SBr", "--imaginary", "abs", *extra, "--out", str(out)]) == 2
    )
    assert message in _one_line_error(capsys, "sample")
    assert not out.exists()


def test_sample_says_the_fix_in_option_syntax(tmp_path, capsys):
    argv = ["sample", "Ag3SBr", "-T", "300", "-n", "2"]
    assert main([*argv, "--out", str(tmp_path / "x.extxyz")]) == 2
    err = _one_line_error(capsys, "sample")
    assert "--imaginary abs" in err and "imaginary=" not in err


@pytest.fixture
def broken_inputs(tmp_path):
    cell = bulk("Cu", cubic=True).repeat(2)
    nan = cell.copy()
    nan.positions[0, 0] = np.nan
    twin = cell.copy()
    twin.positions[1] = twin.positions[0]
    files = {"nan": nan, "twin": twin}
    paths = {}
    for name, atoms in files.items():
        paths[name] = tmp_path / f"{name}.extxyz"
        ase.io.write(paths[name], atoms)
    paths["empty"] = tmp_path / "empty.extxyz"
    paths["empty"].write_text("")
    paths["garbage"] = tmp_path / "garbage.extxyz"
    paths["garbage"].write_text("foo: [1, 2\n")
    return paths


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nan", "non-finite positions"),
        ("twin", "two atoms on one site"),
        ("empty", "is empty"),
        ("garbage", "ase.io cannot read it"),
    ],
)
def test_label_refuses_broken_structures_before_writing(
    tmp_path, capsys, broken_inputs, name, message
):
    store = tmp_path / "labels.h5"
    argv = ["label", str(broken_inputs[name]), "--out", str(store), "--no-progress"]
    assert main([*argv, "--calculator", "emt"]) == 2
    assert message in _one_line_error(capsys, "label")
    assert not store.exists()


def test_nan_positions_are_never_hashed_or_stored(tmp_path, broken_inputs):
    from ase_phonongnn.store import SnapshotStore

    nan = ase.io.read(broken_inputs["nan"])
    with SnapshotStore.create(tmp_path / "s.h5") as store:
        with pytest.raises(ValueError, match="non-finite"):
            store.add([nan])
        assert len(store) == 0


def test_python_requires_matches_the_language_features_used():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    # contextlib.chdir (the phonopy hook) is new in Python 3.11
    assert config["options"]["python_requires"].strip() == ">=3.11"
    assert "contextlib.chdir" in (ROOT / "plugins/phonopy/hook.py").read_text()


def test_a_failed_predict_leaves_no_output_and_the_rerun_works(
    cu_potential_path, tmp_path, capsys, one_thread
):
    good = tmp_path / "cu.extxyz"
    frames = [bulk("Cu", "fcc", a=3.61, cubic=True) for _ in range(3)]
    for k, atoms in enumerate(frames):
        atoms.rattle(0.05, seed=k)
    ase.io.write(good, frames)
    foreign = tmp_path / "ag.extxyz"
    ase.io.write(foreign, bulk("Pt", "fcc", a=3.9, cubic=True))
    out = tmp_path / "pred.csv"
    argv = ["predict", str(cu_potential_path), "--out", str(out), "--no-progress"]
    # the first input's frames are predicted and written before the second fails
    assert main([*argv[:2], str(good), str(foreign), *argv[2:]]) == 2
    assert "Pt" in _one_line_error(capsys, "predict")
    assert not out.exists()
    assert not list(tmp_path.glob(".pred.partial-*"))
    assert main([*argv[:2], str(good), *argv[2:]]) == 0
    assert len(out.read_text().splitlines()) == 1 + len(frames)


@pytest.mark.parametrize(
    ("name", "message"),
    [("nan", "non-finite positions"), ("twin", "two atoms on one site")],
)
def test_predict_refuses_broken_frames(
    cu_potential_path, broken_inputs, tmp_path, capsys, one_thread, name, message
):
    out = tmp_path / "pred.csv"
    argv = ["predict", str(cu_potential_path), str(broken_inputs[name])]
    assert main([*argv, "--no-progress", "--out", str(out)]) == 2
    assert message in _one_line_error(capsys, "predict")
    assert not out.exists()


def test_explain_names_the_target_option(property_model, tmp_path, capsys):
    from ase_phonongnn.model import save_model

    model = save_model(property_model(seed=0), tmp_path / "m.safetensors")
    cells = tmp_path / "cells.extxyz"
    ase.io.write(cells, bulk("Cu", "fcc", a=3.61, cubic=True))
    argv = ["explain", str(model), str(cells), "--out", str(tmp_path / "x")]
    assert main([*argv, "--no-progress"]) == 2
    err = _one_line_error(capsys, "explain")
    assert "--target VALUE" in err and "target=" not in err


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["renormalise", "{garbage}", "--temperature", "300", "--out", "{out}"],
            "phonopy cannot read",
        ),
        (
            ["sample", "{garbage}", "-T", "300", "-n", "2", "--out", "{out}"],
            "phonopy cannot read",
        ),
        (["evaluate", "{model}", "{empty}"], "INPUT: no labelled structures"),
    ],
)
def test_unreadable_inputs_of_other_commands_are_one_line(
    tmp_path, capsys, command, message
):
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("foo: [1, 2\n  bar: }}}\n")
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    model = ROOT / "ase_phonongnn" / "data" / "default-model-painn-0.safetensors"
    out = tmp_path / "out.yaml"
    names = {"garbage": garbage, "empty": empty, "model": model, "out": out}
    assert main([part.format(**names) for part in command]) == 2
    assert message in _one_line_error(capsys, command[0])

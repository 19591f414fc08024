"""phonongnn predict: per-frame output, averages, committees, errors."""

from __future__ import annotations

import csv
import json

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk

from ase_phonongnn import SnapshotStore, keys, predict
from ase_phonongnn.cli.main import main
from ase_phonongnn.model import save_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trajectory(tmp_path_factory):
    frames = []
    for k in range(12):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 1)
        atoms.rattle(0.05, seed=k)
        frames.append(atoms)
    path = tmp_path_factory.mktemp("traj") / "md.extxyz"
    ase.io.write(path, frames)
    return path


@pytest.fixture(scope="module")
def committee_paths(property_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("committee")
    return [
        save_model(property_model(seed=s), folder / f"m{s}.safetensors") for s in (1, 2)
    ]


def test_csv_output_and_block_averaged_summary(
    cu_potential_path, trajectory, tmp_path, capsys
):
    out = tmp_path / "md.csv"
    code = main(
        [
            "predict",
            str(cu_potential_path),
            str(trajectory),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--batch-size",
            "5",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "predict" in captured.err  # the progress bar
    assert f"{trajectory}: 12 frames" in captured.out
    assert "wrote 12 frames" in captured.out
    expected = predict(cu_potential_path, trajectory, device="cpu")
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    energies = [float(r["energy"]) for r in rows]
    np.testing.assert_allclose(energies, expected[keys.ENERGY], rtol=1e-12)
    summary = next(line for line in captured.out.splitlines() if "energy " in line)
    assert f"{np.mean(expected[keys.ENERGY]):.6g}" in summary


def test_committee_json_summary_and_store_output(committee_paths, tmp_path, capsys):
    frames = []
    for k in range(6):
        atoms = bulk("Au", "fcc", a=4.08) * (2, 1, 1)
        atoms.numbers[0] = 29
        atoms.rattle(0.05, seed=k)
        frames.append(atoms)
    source = tmp_path / "frames.traj"
    ase.io.write(source, frames)
    out = tmp_path / "pred.h5"
    code = main(
        [
            "predict",
            str(committee_paths[0]),
            str(source),
            "--committee",
            str(committee_paths[1]),
            "--properties",
            "band_gap",
            "vbm",
            "--out",
            str(out),
            "--json",
            "--no-progress",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    report = json.loads(captured.out.split("\nwrote")[0])
    averages = report[str(source)]["averages"]
    assert set(averages) == {"band_gap", "vbm", "band_gap_std", "vbm_std"}
    expected = predict(committee_paths, frames, properties=["band_gap"])
    assert averages["band_gap"]["mean"] == pytest.approx(expected["band_gap"].mean())
    with SnapshotStore.open(out) as store:
        back = store.read_atoms()
    assert [a.info[keys.BAND_GAP] for a in back] == pytest.approx(
        expected[keys.BAND_GAP]
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["default"], "not in the committee"),
        (["{missing}"], "no model file"),
        (["{model}", "--properties", "band_gap"], "'band_gap' not given"),
        (["{model}", "--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_errors_end_with_one_line(
    cu_potential_path, trajectory, tmp_path, capsys, arguments, message
):
    arguments = [
        a.format(model=cu_potential_path, missing=tmp_path / "no.safetensors")
        for a in arguments
    ]
    code = main(["predict", arguments[0], str(trajectory), *arguments[1:]])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("phonongnn predict: error:")
    assert message in error
    assert "\n" not in error


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_and_foreign_elements(cu_potential_path, tmp_path, capsys):
    nickel = tmp_path / "ni.extxyz"
    ase.io.write(nickel, bulk("Ni", "fcc", a=3.52))
    assert main(["predict", str(cu_potential_path), str(nickel), "--device", "cuda"])
    assert "no CUDA device" in capsys.readouterr().err
    assert main(["predict", str(cu_potential_path), str(nickel), "--no-progress"])
    assert "element Ni of structure 0" in capsys.readouterr().err


def test_existing_output_is_kept(cu_potential_path, trajectory, tmp_path, capsys):
    out = tmp_path / "kept.csv"
    out.write_text("precious\n")
    code = main(["predict", str(cu_potential_path), str(trajectory), "--out", str(out)])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_text() == "precious\n"


def test_dtype_option_gives_the_float64_predictions(
    cu_potential_path, trajectory, tmp_path
):
    out = tmp_path / "md64.csv"
    argv = ["predict", str(cu_potential_path), str(trajectory), "--out", str(out)]
    assert main([*argv, "--device", "cpu", "--dtype", "float64", "--no-progress"]) == 0
    expected = predict(cu_potential_path, trajectory, device="cpu", dtype="float64")
    with out.open() as handle:
        energies = [float(r["energy"]) for r in csv.DictReader(handle)]
    np.testing.assert_allclose(energies, expected[keys.ENERGY], rtol=1e-14)

"""phonongnn train / evaluate on a store of EMT-labelled Cu snapshots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from ase_phonongnn.cli.main import main
from ase_phonongnn.model import load_model, read_model_metadata


@pytest.fixture(scope="module")
def cu_store(tmp_path_factory):
    from ase_phonongnn.label import label_snapshots

    rng = np.random.default_rng(0)
    snapshots = []
    for k in range(16):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 1, 1)
        atoms.positions += rng.normal(scale=0.03 + 0.01 * (k % 4), size=(8, 3))
        snapshots.append(atoms)
    path = tmp_path_factory.mktemp("store") / "cu.h5"
    label_snapshots(snapshots, "emt", path, progress=False)
    return path


def test_train_writes_model_config_metrics_and_plot(cu_store, tmp_path, capsys):
    out = tmp_path / "cu.safetensors"
    code = main(
        [
            "train",
            str(cu_store),
            "--target",
            "energy_per_atom",
            "--model",
            "paper-2",
            "--seed",
            "3",
            "--out",
            str(out),
            "--epochs",
            "3",
            "--cutoff",
            "3.0",
            "--hidden-channels",
            "8",
            "--no-progress",
        ]
    )
    assert code == 0
    assert "test energy_per_atom: MAE" in capsys.readouterr().out
    config = json.loads((tmp_path / "cu.config.json").read_text())
    assert config["model"]["model"] == "paper-2"
    assert config["model"]["species"] == [29]  # resolved from the data
    assert config["model"]["cutoff"] == 3.0
    assert config["train"]["seed"] == 3
    assert config["train"]["max_epochs"] == 3
    assert sorted(len(v) for v in config["split"].values()) == [2, 2, 12]
    metrics = json.loads((tmp_path / "cu.metrics.json").read_text())
    test = metrics["metrics"]["test"]["energy_per_atom"]
    assert set(test) == {"mae", "rmse", "r2", "n"} and test["n"] == 2
    assert (tmp_path / "cu.parity.png").read_bytes()[:4] == b"\x89PNG"
    header = read_model_metadata(out)
    assert header["training"]["n_structures"] == 16
    assert load_model(out).config.model == "paper-2"


def test_train_split_by_hash_follows_the_snapshots_content(cu_store, tmp_path):
    from ase_phonongnn.train import hash_split, load_structures

    out = tmp_path / "m.safetensors"
    model = ["--target", "energy_per_atom", "--cutoff", "3.0", "--hidden-channels", "8"]
    run = ["train", str(cu_store), *model, "--epochs", "1", "--split-by", "hash"]
    for seed in ("1", "2"):
        assert main([*run, "--no-progress", "--seed", seed, "--out", str(out)]) == 0
        record = json.loads((tmp_path / "m.config.json").read_text())
        assert record["train"]["split_by"] == "hash"
        expected = hash_split(load_structures([cu_store]))
        assert record["split"] == expected.to_dict()


def test_train_start_from_fine_tunes_a_trained_model(cu_store, tmp_path, capsys):
    first, tuned = tmp_path / "first.safetensors", tmp_path / "tuned.safetensors"
    train = ["train", str(cu_store), "--seed", "3", "--epochs", "1", "--no-progress"]
    model = ["--target", "energy_per_atom", "--cutoff", "3.0", "--hidden-channels", "8"]
    assert main([*train, *model, "--out", str(first)]) == 0
    # steps too small to move the weights: the same model, the same metrics
    again = ["--start-from", str(first), "--out", str(tuned)]
    assert main([*train, *again, "--learning-rate", "1e-300"]) == 0
    assert load_model(tuned).config == load_model(first).config
    before = json.loads((tmp_path / "first.metrics.json").read_text())["metrics"]
    after = json.loads((tmp_path / "tuned.metrics.json").read_text())["metrics"]
    for split in ("train", "test"):
        assert after[split]["energy_per_atom"]["mae"] == pytest.approx(
            before[split]["energy_per_atom"]["mae"], rel=1e-5
        )
    assert read_model_metadata(tuned)["training"]["start_from"] == str(first)
    capsys.readouterr()
    assert main([*train, *again, "--cutoff", "4.0"]) == 2
    assert "drop the model setting(s) cutoff" in capsys.readouterr().err


def test_evaluate_prints_json_metrics_per_target(cu_store, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                str(cu_store),
                "--target",
                "energy_per_atom",
                "hydrostatic_stress",
                "--out",
                str(out),
                "--epochs",
                "2",
                "--cutoff",
                "3.0",
                "--hidden-channels",
                "8",
                "--n-interactions",
                "1",
                "--equivariant",
                "--readout",
                "attention",
                "--no-progress",
            ]
        )
        == 0
    )
    config = load_model(out).config  # saved and read back
    assert config.equivariant
    assert config.readout == "attention"
    capsys.readouterr()
    assert main(["evaluate", str(out), str(cu_store), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for target in ("energy_per_atom", "hydrostatic_stress"):
        assert set(report[target]) == {"MAE", "RMSE", "R2", "n", "unit"}
        assert report[target]["n"] == 16
        assert report[target]["MAE"] >= 0
    assert report["hydrostatic_stress"]["unit"] == "GPa"
    assert report["forces"]["n"] == 16 * 8 * 3  # ours is a potential
    assert main(["evaluate", str(out), str(cu_store)]) == 0
    assert "energy_per_atom" in capsys.readouterr().out


def test_yaml_config_with_flag_override(cu_store, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "model:\n  model: paper-1\n  targets: [energy_per_atom]\n  cutoff: 3.0\n"
        "  hidden_channels: 8\ntrain:\n  max_epochs: 2\n  progress: false\n"
        "  seed: 1\n"
    )
    out = tmp_path / "y.safetensors"
    assert (
        main(
            [
                "train",
                str(cu_store),
                "--config",
                str(config),
                "--seed",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    resolved = json.loads((tmp_path / "y.config.json").read_text())
    assert resolved["train"]["seed"] == 5
    assert resolved["train"]["max_epochs"] == 2
    assert resolved["model"]["model"] == "paper-1"


def test_bad_input_exits_with_one_line_message(tmp_path, capsys):
    from ase_phonongnn.store import SnapshotStore

    empty = tmp_path / "empty.h5"
    SnapshotStore.create(empty).close()
    code = main(
        [
            "train",
            str(empty),
            "--target",
            "band_gap",
            "--out",
            str(tmp_path / "m.safetensors"),
            "--no-progress",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "no labelled structures" in err and len(err.strip().splitlines()) == 1
    assert main(["train", str(empty), "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "give the targets" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.safetensors"), str(empty)]) == 2
    assert "no model file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(empty), "--target", "bandgap", "--out", "m.safetensors"])

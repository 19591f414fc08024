"""phonongnn explain on a model trained by phonongnn train on Cu-Au pair labels."""

from __future__ import annotations

import json

import ase.io
import pytest
import torch
from _alloys import AB_BOND, cu_au_alloys
from ase.build import bulk

from ase_phonongnn.cli.main import main

PNG = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained through the CLI (about 5 s) and 8 held-out cells."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("explain_cli")
    ase.io.write(root / "train.extxyz", cu_au_alloys(96, seed=0))
    ase.io.write(root / "cells.extxyz", cu_au_alloys(8, seed=99))
    model = root / "alloy.safetensors"
    try:
        code = main(
            [
                "train",
                str(root / "train.extxyz"),
                "--target",
                "band_gap",
                "--model",
                "ours",
                "--cutoff",
                "3.2",
                "--hidden-channels",
                "16",
                "--n-interactions",
                "2",
                "--epochs",
                "60",
                "--patience",
                "60",
                "--batch-size",
                "8",
                "--learning-rate",
                "5e-3",
                "--seed",
                "0",
                "--no-progress",
                "--out",
                str(model),
            ]
        )
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return model, root / "cells.extxyz"


def test_explain_writes_summary_and_figures(trained, tmp_path, capsys):
    model, cells = trained
    out = tmp_path / "report"
    code = main(
        [
            "explain",
            str(model),
            str(cells),
            "--out",
            str(out),
            "--method",
            "integrated-gradients",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "faithfulness (deletion curve vs random):" in printed
    for name in ("importance_density", "significant_edges", "deletion_curve"):
        assert (out / f"{name}.png").read_bytes()[:8] == PNG
    summary = json.loads((out / "explain.json").read_text())
    assert summary["target"] == "band_gap" and summary["unit"] == "eV"
    assert summary["n_structures"] == 8 and len(summary["structures"]) == 8
    assert next(iter(summary["bond_types"])) == AB_BOND  # highest mean importance
    populations = [s["population"] for s in summary["bond_types"].values()]
    assert sum(populations) == pytest.approx(1.0)
    # measured: faithfulness 0.37; removing all Cu-Au edges changes the
    # prediction 1.6 times as much as removing as many random edges
    assert summary["faithfulness"]["score"] > 0.25
    assert next(iter(summary["bond_type_deletion"])) == AB_BOND
    assert "edges" not in summary["structures"][0]
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "integrated-gradients" and config["threshold"] == 0.86


def test_same_seed_same_report(trained, tmp_path):
    model, cells = trained
    reports = []
    for name in ("a", "b"):
        argv = [
            "explain",
            str(model),
            str(cells),
            "--out",
            str(tmp_path / name),
            "--seed",
            "3",
            "--epochs",
            "20",
            "--max-structures",
            "2",
            "--edges",
            "--no-deletion",
            "--no-progress",
        ]
        assert main(argv) == 0
        reports.append(json.loads((tmp_path / name / "explain.json").read_text()))
    assert reports[0]["structures"] == reports[1]["structures"]
    assert reports[0]["config"]["method"] == "gnnexplainer"  # the default
    assert reports[0]["config"]["epochs"] == 20
    assert [s["seed"] for s in reports[0]["structures"]] == [3, 4]
    assert len(reports[0]["structures"][0]["edges"]["importance"]) > 0
    assert "faithfulness" not in reports[0]
    assert not (tmp_path / "a" / "deletion_curve.png").exists()


def test_bad_input_ends_with_a_one_line_message(trained, tmp_path, capsys):
    model, cells = trained
    silver = tmp_path / "silver.extxyz"
    ase.io.write(silver, bulk("Ag", "fcc", a=4.09, cubic=True))
    yaml_file = tmp_path / "explain.yaml"
    yaml_file.write_text("methdo: gnnexplainer\n")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    cases = [
        ([str(model), str(silver)], "element Ag is not in this model's species"),
        ([str(tmp_path / "none.safetensors"), str(cells)], "no model file"),
        ([str(model), str(cells), "--max-structures", "0"], "--max-structures"),
        ([str(model), str(cells), "--threshold", "2"], "threshold"),
        ([str(model), str(cells), "--config", str(yaml_file)], "valid: method"),
        ([str(model), str(cells), "--out", str(a_file)], "--out must be a directory"),
    ]
    for argv, message in cases:
        code = main(["explain", *argv, "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2, argv
        assert message in err, err
        assert err.startswith("phonongnn explain: error:") and err.count("\n") == 1
    with pytest.raises(SystemExit) as stop:
        main(["explain", str(model), str(cells), "--method", "saliency"])
    assert stop.value.code == 2
    assert "invalid choice: 'saliency'" in capsys.readouterr().err

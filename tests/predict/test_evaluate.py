"""evaluate: the metrics of what predict gives, for single models and committees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ase_phonongnn import keys
from ase_phonongnn.cli.main import main
from ase_phonongnn.model import save_model
from ase_phonongnn.predict import evaluate, predict
from ase_phonongnn.train import evaluate_model, regression_metrics


def test_single_model_agrees_with_the_training_evaluation(property_model, cu_snapshots):
    model = property_model(seed=1)
    scored = evaluate(model, cu_snapshots, device="cpu")
    reference = evaluate_model(model, cu_snapshots)
    # Cu snapshots carry EMT energies, forces and stress, no band edges
    assert set(scored) == {
        keys.ENERGY_PER_ATOM,
        keys.HYDROSTATIC_STRESS,
        keys.FORCES,
        keys.STRESS,
    }
    for name, metrics in scored.items():
        assert metrics == pytest.approx(reference[name], rel=1e-9), name


def test_committee_is_scored_by_its_mean(
    property_model, cu_snapshots, tmp_path, capsys
):
    paths = [
        save_model(property_model(seed=s), tmp_path / f"m{s}.safetensors")
        for s in (1, 2)
    ]
    scored = evaluate([str(p) for p in paths], cu_snapshots, device="cpu")
    mean = predict([str(p) for p in paths], cu_snapshots, device="cpu")
    for name in (keys.ENERGY_PER_ATOM, keys.HYDROSTATIC_STRESS):
        true = [a.info[name] for a in cu_snapshots]
        assert scored[name] == pytest.approx(regression_metrics(true, mean[name]))
    # convexity: the mean's error is at most the members' mean error
    members = [evaluate(str(p), cu_snapshots, device="cpu") for p in paths]
    for name in scored:
        for metric in ("mae", "rmse"):
            spread = np.mean([m[name][metric] for m in members])
            assert scored[name][metric] <= spread * (1 + 1e-12), (name, metric)

    store = tmp_path / "cu.extxyz"
    import ase.io

    ase.io.write(store, cu_snapshots)
    capsys.readouterr()
    args = ["evaluate", str(paths[0]), str(store), "--committee", str(paths[1])]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report[keys.ENERGY_PER_ATOM]["MAE"] == pytest.approx(
        scored[keys.ENERGY_PER_ATOM]["mae"]
    )
    assert report[keys.FORCES]["n"] == 48 * 32 * 3
    with pytest.raises(ValueError, match="no structures"):
        evaluate(str(paths[0]), [], device="cpu")

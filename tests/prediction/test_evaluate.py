"""evaluate: the metrics of what predict gives, for single models and committees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ase_phonongnn import PhononGNNCalc, keys
from ase_phonongnn.cli.main import main
from ase_phonongnn.model import named_model, save_model
from ase_phonongnn.prediction import Committee, calibrate_spread, evaluate, predict
from ase_phonongnn.train import evaluate_model, load_structures, regression_metrics


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


def test_calibrated_spread_matches_the_error_it_was_fitted_on(
    property_model, cu_snapshots
):
    members = [property_model(seed=s) for s in (1, 2, 3)]
    scale = calibrate_spread(members, cu_snapshots, device="cpu")
    assert set(scale) == {
        keys.ENERGY_PER_ATOM,
        keys.HYDROSTATIC_STRESS,
        keys.FORCES,
        keys.STRESS,
    }
    committee = Committee(members, ["a", "b", "c"], spread_scale=scale)
    out = predict(committee, cu_snapshots)
    raw = predict(members, cu_snapshots, device="cpu")
    for name in (keys.ENERGY_PER_ATOM, keys.HYDROSTATIC_STRESS):
        true = np.array([a.info[name] for a in cu_snapshots])
        error = out[name] - true
        spread = out[name + "_std"]
        # the mean squared scaled spread is the mean squared error
        assert np.mean(spread**2) == pytest.approx(np.mean(error**2), rel=1e-9)
        np.testing.assert_allclose(spread, raw[name + "_std"] * scale[name])
        np.testing.assert_array_equal(out[name], raw[name])  # means untouched
    # the energy's spread takes the factor of the energy per atom
    np.testing.assert_allclose(
        out["energy_std"], raw["energy_std"] * scale[keys.ENERGY_PER_ATOM]
    )
    # calibrating a calibrated committee finds the same factors
    again = calibrate_spread(committee, cu_snapshots)
    assert again == pytest.approx(scale)
    with pytest.raises(ValueError, match="two or more"):
        calibrate_spread(members[0], cu_snapshots, device="cpu")
    with pytest.raises(ValueError, match="spread_scale"):
        Committee(members, ["a", "b", "c"], spread_scale={"band_gap": -1.0})


def test_shipped_committee_carries_its_validation_fitted_scales():
    scale = named_model("default").spread_scale
    assert scale is not None and set(scale) >= set(keys.TARGETS)
    committee = Committee.load("default", "cpu")
    assert committee.spread_scale[keys.BAND_GAP] == scale[keys.BAND_GAP]
    atoms = load_structures(["phonon-Ag3SBr"])[0]
    calibrated = PhononGNNCalc(device="cpu").get_property("band_gap_std", atoms)
    raw = Committee(committee.models, committee.sources).evaluate(
        [atoms], [keys.BAND_GAP]
    )["band_gap_std"][0]
    assert calibrated == pytest.approx(raw * scale[keys.BAND_GAP], rel=1e-12)

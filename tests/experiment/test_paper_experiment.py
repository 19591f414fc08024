"""phonongnn paper-experiment end to end on two small EMT-labelled Cu stores."""

from __future__ import annotations

import importlib
import json
import math
import shutil
from pathlib import Path

import pytest

from ase_phonongnn import keys
from ase_phonongnn.cli.main import main
from ase_phonongnn.experiment import ResultsFile
from ase_phonongnn.label import label_snapshots
from ase_phonongnn.store import SnapshotStore

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
KINDS = ("phonon", "random")
TEST_KINDS = ("phonon", "random", "combined")
PNG = b"\x89PNG\r\n\x1a\n"
N_PER_KIND = 30
# A quick run on hydrostatic stress (EMT gives no band gap; the stress needs
# no force training, which is slow), sizes 8 and 100 (clipped to 18: what 30
# structures leave after 8 test and 4 validation), small batches so that 15
# epochs are enough optimiser steps; Table 1 on the stress and on the band
# gap, which the stores lack.
OPTIONS = [
    "--quick",
    "--target", "hydrostatic_stress",
    "--sizes", "8", "100",
    "--seeds", "0", "1",
    "--n-test", "8",
    "--cutoff", "4.0",
    "--epochs", "15",
    "--patience", "15",
    "--batch-size", "4",
    "--learning-rate", "5e-3",
    "--table-size", "16",
    "--table-targets", "hydrostatic_stress", "band_gap",
    "--threads", "1",
]  # fmt: skip


class Verb:
    """``phonongnn paper-experiment`` called with its options."""

    @staticmethod
    def main(argv: list[str]) -> int:
        return main(["paper-experiment", *argv])


@pytest.fixture(scope="module")
def script() -> Verb:
    return Verb()


@pytest.fixture(scope="module")
def stores(cu_sampler, tmp_path_factory):
    """A phonon-informed (eq. 3) and a random (eq. 2) store of 30 Cu snapshots.

    As in the paper, thermal snapshots at several temperatures and random ones
    at several amplitudes (Å).
    """
    folder = tmp_path_factory.mktemp("stores")
    snapshots = {
        "phonon": cu_sampler.sample((100.0, 400.0, 900.0), 10, method="paper", seed=1),
        "random": [
            atoms
            for seed, amplitude in enumerate((0.03, 0.07, 0.15))
            for atoms in cu_sampler.sample(
                300.0, 10, method="random", amplitude=amplitude, seed=seed
            )
        ],
    }
    paths = {}
    for kind, atoms in snapshots.items():
        paths[kind] = folder / f"{kind}.h5"
        summary = label_snapshots(atoms, "emt", paths[kind], progress=False)
        assert summary.done == N_PER_KIND
    return paths


@pytest.fixture(scope="module")
def experiment(script, stores, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper_experiment")
    argv = ["--phonon", str(stores["phonon"]), "--random", str(stores["random"])]
    argv += ["--out", str(out), *OPTIONS]
    assert script.main(argv) == 0
    return {
        "argv": argv,
        "out": out,
        "results": json.loads((out / "results.json").read_text()),
    }


def test_every_record_is_there_and_sizes_are_clipped(experiment):
    results = experiment["results"]
    assert results["sizes"]["run"] == [8, 18]
    assert "the largest size is 18" in results["sizes"]["clipped"]
    found = {
        (r["train_kind"], r["model"], r["size"], r["seed"]): r
        for r in results["curves"]
    }
    expected = {
        (kind, model, size, seed)
        for kind in KINDS
        for model in ("paper-5", "ours")
        for size in (8, 18)
        for seed in (0, 1)
    }
    assert set(found) == expected
    assert len(results["curves"]) == len(expected)
    for record in found.values():
        for test_kind in TEST_KINDS:
            metrics = record["metrics"][test_kind]
            assert metrics["n"] == (16 if test_kind == "combined" else 8)
            assert all(math.isfinite(metrics[k]) for k in ("mae", "rmse", "r2"))
        assert record["metrics"]["train"]["n"] == record["size"]
        assert record["n_validation"] == math.ceil(0.15 / 0.7 * record["size"])


def test_test_sets_are_fixed_and_disjoint_from_training(experiment, stores):
    results = experiment["results"]
    for kind in KINDS:
        split = results["splits"][kind]
        # recorded relative to the results' folder, so that a clone can follow it
        assert not Path(split["path"]).is_absolute()
        recorded = (experiment["out"] / split["path"]).resolve()
        assert recorded == Path(stores[kind]).resolve()
        test = set(split["test_rows"])
        assert len(test) == 8
        with SnapshotStore.open(stores[kind]) as store:
            assert test <= set(store.indices(keys.DONE).tolist())
        for seed in ("0", "1"):
            order = split["pool_order_rows"][seed]
            assert len(order) == N_PER_KIND - 8 == len(set(order))
            assert not test & set(order)  # training and validation come from here
        assert split["pool_order_rows"]["0"] != split["pool_order_rows"]["1"]
    table = results["table"]
    assert {r["n_train"] for r in table} == {16}
    assert {r["metrics"]["test"]["n"] for r in table} == {16}  # both test sets


def test_trained_models_beat_a_constant_on_their_own_kind(experiment):
    # a constant predictor (e.g. the training mean) has R² <= 0 on average
    records = experiment["results"]["curves"]
    for kind in KINDS:
        r2 = [
            r["metrics"][kind]["r2"]
            for r in records
            if r["model"] == "paper-5" and r["train_kind"] == kind and r["size"] == 18
        ]
        assert len(r2) == 2 and sum(r2) / 2 > 0.15, r2
    table = experiment["results"]["table"]
    assert max(r["metrics"]["test"]["r2"] for r in table) > 0.5


def test_table_has_the_labelled_targets_and_figures_are_written(experiment):
    results, out = experiment["results"], experiment["out"]
    table = {(r["target"], r["model"]): r for r in results["table"]}
    assert set(table) == {(keys.HYDROSTATIC_STRESS, m) for m in ("paper-5", "ours")}
    assert results["table_skipped"] == [keys.BAND_GAP]
    for record in table.values():
        for split in ("train", "validation", "test", "test_phonon", "test_random"):
            assert math.isfinite(record["metrics"][split]["mae"])
        assert len(record["test_predictions"]["predictions"]) == 16
    for name in ("learning_curves.png", "table1_parity_ours.png"):
        assert (out / name).read_bytes().startswith(PNG)
    summary = (out / "summary.txt").read_text()
    assert "phonon-informed beats random at equal size:" in summary
    assert "Table 1 analog" in summary
    assert set(results["verdict"]) == {"paper-5", "ours"}


def test_md_snapshots_are_the_third_kind_with_their_own_test_set(
    script, stores, cu_sampler, tmp_path, capsys
):
    # EMT Langevin MD of the same Cu cell at the phonon store's temperatures,
    # labelled like the other kinds
    from ase.calculators.emt import EMT

    from ase_phonongnn.sample import MDSamplingConfig, md_snapshots

    config = MDSamplingConfig(timestep=5.0, equilibration=100, pilot=100, interval=20)
    frames = md_snapshots(
        cu_sampler.supercell, EMT(), (100.0, 400.0, 900.0), 10, config, seed=3
    )
    md_store = tmp_path / "md.h5"
    assert label_snapshots(frames, "emt", md_store, progress=False).done == 30
    out = tmp_path / "three"
    argv = ["--phonon", str(stores["phonon"]), "--random", str(stores["random"])]
    argv += ["--md", str(md_store), "--out", str(out), *OPTIONS]
    argv += ["--models", "paper-5", "--sizes", "8", "--seeds", "0", "--no-table"]
    assert script.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["setup"]["kinds"] == ["phonon", "random", "md"]
    assert {r["train_kind"] for r in results["curves"]} == {"phonon", "random", "md"}
    md_test = set(results["splits"]["md"]["test_rows"])
    assert len(md_test) == 8
    assert not md_test & set(results["splits"]["md"]["pool_order_rows"]["0"])
    for record in results["curves"]:
        for test_kind in ("phonon", "random", "md"):
            assert record["metrics"][test_kind]["n"] == 8
        assert record["metrics"]["combined"]["n"] == 24
    assert (out / "learning_curves.png").read_bytes().startswith(PNG)
    # the paper's two kinds alone cannot resume into a three-kind results file
    two = ["--phonon", str(stores["phonon"]), "--random", str(stores["random"])]
    two += ["--out", str(out), *OPTIONS, "--models", "paper-5", "--no-table"]
    capsys.readouterr()
    assert script.main(two) != 0
    assert "differ: data, kinds" in capsys.readouterr().err


def test_a_second_run_resumes_without_training(script, experiment, capsys):
    before = (experiment["out"] / "results.json").read_text()
    assert script.main(experiment["argv"]) == 0
    output = capsys.readouterr().out
    assert "trained on" not in output and "table: " not in output.replace(
        "table: the data have no", ""
    )
    after = json.loads((experiment["out"] / "results.json").read_text())
    assert after["curves"] == json.loads(before)["curves"]
    # other data, same output: refused instead of mixing results
    argv = [*experiment["argv"], "--n-test", "6"]
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("phonongnn paper-experiment: error:") and "--fresh" in err


def test_a_grown_store_resumes_on_the_recorded_structures(
    script, experiment, stores, cu_sampler, tmp_path, capsys
):
    # labelling goes on while the experiment is under way: 5 more snapshots
    # in the phonon store must change neither the test sets nor the records
    grown, out = tmp_path / "phonon.h5", tmp_path / "out"
    shutil.copy(stores["phonon"], grown)
    shutil.copytree(experiment["out"], out)
    more = cu_sampler.sample(250.0, 5, method="paper", seed=99)
    assert label_snapshots(more, "emt", grown, progress=False).labelled == 5
    argv = [*experiment["argv"]]
    argv[argv.index(str(stores["phonon"]))] = str(grown)
    argv[argv.index(str(experiment["out"]))] = str(out)
    assert script.main(argv) == 0
    output = capsys.readouterr().out
    assert "trained on" not in output
    assert "left_out_pinned 5" in output
    before = experiment["results"]
    after = json.loads((out / "results.json").read_text())
    assert after["curves"] == before["curves"]
    for kind in KINDS:
        assert after["splits"][kind]["test_rows"] == before["splits"][kind]["test_rows"]
    # with --fresh the new snapshots are used
    assert script.main([*argv, "--fresh", "--no-table", "--seeds", "0"]) == 0
    fresh = json.loads((out / "results.json").read_text())
    assert fresh["splits"]["phonon"]["n_used"] == N_PER_KIND + 5


def test_missing_store_is_a_one_line_error(script, tmp_path, capsys):
    argv = ["--phonon", str(tmp_path / "none.h5"), "--out", str(tmp_path), "--quick"]
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert "no phonon dataset at" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_bad_settings_are_a_one_line_error(script, tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--sizes", "0", "--quick"]
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("phonongnn paper-experiment: error:") and "sizes" in err


def test_the_benchmark_script_is_the_verb_writing_into_benchmarks_results(
    tmp_path, capsys
):
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        wrapper = importlib.import_module("paper_experiment")
    assert wrapper.OUT == BENCHMARKS / "results" / "paper_experiment"
    argv = ["--phonon", str(tmp_path / "none.h5"), "--out", str(tmp_path), "--quick"]
    assert wrapper.main(argv) == 2
    assert "no phonon dataset at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        wrapper.main(["--help"])
    assert "phonongnn paper-experiment" in capsys.readouterr().out


def test_results_shared_by_two_writers_keep_both_records(script, tmp_path):
    setup = {"target": "band_gap", "models": {"ours": {"width": 64}}}
    path = tmp_path / "results.json"
    first = ResultsFile(path, setup)
    second = ResultsFile(path, {**setup, "models": {"paper-5": {"width": 128}}})
    record = {"train_kind": "phonon", "size": 8, "seed": 0, "metrics": {}}
    first.add("curves", {**record, "model": "ours", "r2": math.nan})
    second.add("curves", {**record, "model": "paper-5"})
    second.add("curves", {**record, "model": "paper-5"})  # a duplicate is dropped
    data = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert [r["model"] for r in data["curves"]] == ["ours", "paper-5"]
    assert data["curves"][0]["r2"] is None
    assert set(data["setup"]["models"]) == {"ours", "paper-5"}
    assert first.has("curves", train_kind="phonon", model="paper-5", size=8, seed=0)
    with pytest.raises(ValueError, match="--fresh"):
        ResultsFile(path, {**setup, "target": "vbm"})
    assert (
        ResultsFile(path, {**setup, "target": "vbm"}, fresh=True).data["curves"] == []
    )


def test_results_resume_across_a_setting_added_at_its_default(script, tmp_path):
    from ase_phonongnn.train import TrainConfig

    train_config = {"max_epochs": 200, "learning_rate": 1e-3}
    path = tmp_path / "results.json"
    ResultsFile(path, {"models": {"ours": {"train_config": train_config}}})
    assert TrainConfig().balance_by is None  # a setting the file predates
    for balance_by, resumes in ((None, True), ("method", False)):
        later = {**train_config, "balance_by": balance_by}
        setup = {"models": {"ours": {"train_config": later}}}
        if resumes:
            ResultsFile(path, setup)
        else:
            with pytest.raises(ValueError, match=r"differ: models\.ours"):
                ResultsFile(path, setup)


def test_fig5_explains_the_best_and_the_poor_run(experiment):
    results, out = experiment["results"], experiment["out"]
    explanations = results["explanations"]
    assert set(explanations) == {"best", "poor"}
    largest = [r for r in results["curves"] if r["size"] == 18]
    maes = [r["metrics"]["combined"]["mae"] for r in largest]
    best, poor = explanations["best"], explanations["poor"]
    assert best["curve_mae"] == min(maes) and poor["curve_mae"] == max(maes)
    # a run is deterministic in its seed: trained again, it scores the same
    for entry in (best, poor):
        assert entry["retrained_mae"] == pytest.approx(entry["curve_mae"], rel=1e-6)
        # Cu has one bond type; importances are scaled to [0, 1]
        assert set(entry["all"]) == {"Cu-Cu"}
        assert 0.0 <= entry["all"]["Cu-Cu"]["mean"] <= 1.0
        assert list(entry["by_composition"]) == ["Cu32"]
    assert (out / "fig5_bond_types.png").read_bytes().startswith(PNG)
    assert "Fig. 5: bond types" in (out / "summary.txt").read_text()

"""Training on EMT-labelled Cu thermal snapshots, metrics, splits, studies, plots."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk

from ase_phonongnn import keys
from ase_phonongnn.errors import UnknownElementError
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import ModelConfig, load_model, save_model
from ase_phonongnn.store import content_hash
from ase_phonongnn.train import (
    PAPER_GRID,
    PAPER_MODELS,
    Split,
    TrainConfig,
    evaluate_model,
    hash_split,
    labelled_graphs,
    learning_curve,
    load_structures,
    plot_learning_curve,
    plot_parity,
    predict_graphs,
    random_split,
    regression_metrics,
    structure_labels,
    sweep,
    train,
)

# A small potential: 2 message-passing blocks, first two neighbour shells.
OURS = ModelConfig(
    model="ours", cutoff=4.0, hidden_channels=16, n_interactions=2, n_radial=6
)
FAST = TrainConfig(
    batch_size=8,
    learning_rate=5e-3,
    max_epochs=25,
    patience=15,
    max_time=55.0,
    progress=False,
)
PNG = b"\x89PNG\r\n\x1a\n"


def test_max_time_stops_training_after_the_epoch_that_passes_it(cu_snapshots):
    result = train(cu_snapshots[:12], OURS, FAST.replace(max_time=1e-6))
    assert len(result.history) == 1
    assert result.history[0]["seconds"] > 1e-6


@pytest.fixture(scope="module")
def trained(cu_snapshots):
    """A briefly trained potential, for the tests that need any trained model."""
    return train(cu_snapshots[:12], OURS, FAST.replace(max_epochs=2))


def test_ours_learns_held_out_energy_within_a_minute(cu_snapshots, tmp_path):
    # 48 snapshots (34 train / 7 validation / 7 test), through the CLI in a
    # process of its own with one intra-op thread: on cores shared with other
    # work, two threads ran this same training 8-60 times slower.
    data = tmp_path / "cu.extxyz"
    ase.io.write(data, cu_snapshots, format="extxyz")
    out = tmp_path / "cu.safetensors"
    command = [
        sys.executable,
        "-m",
        "ase_phonongnn.cli.main",
        "train",
        str(data),
        "--target",
        "energy_per_atom",
        "--model",
        "ours",
        "--cutoff",
        "4.0",
        "--hidden-channels",
        "16",
        "--n-interactions",
        "2",
        "--batch-size",
        "8",
        "--learning-rate",
        "5e-3",
        "--epochs",
        "25",
        "--patience",
        "15",
        "--max-time",
        "55",
        "--seed",
        "0",
        "--no-progress",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "cu.metrics.json").read_text())
    test = metrics["metrics"]["test"]
    assert test[keys.ENERGY_PER_ATOM]["n"] == 7
    assert test[keys.ENERGY_PER_ATOM]["r2"] > 0.9
    assert test[keys.FORCES]["r2"] > 0.9  # trained on forces too: they are learnt
    # the kept weights are those of the best validation epoch
    losses = [h["validation_loss"] for h in metrics["history"]]
    assert metrics["best_epoch"] == 1 + int(np.argmin(losses))


def test_saved_and_reloaded_model_predicts_identically(trained, cu_snapshots, tmp_path):
    assert trained.model_config.species == (29,)  # taken from the data
    path = save_model(
        trained.model,
        tmp_path / "cu.safetensors",
        training={"data_sha256": trained.data_digest},
    )
    loaded = load_model(path)
    graph = build_graph(cu_snapshots[0], cutoff=OURS.cutoff)
    before = trained.model(graph, compute_forces=True, compute_stress=True)
    after = loaded(graph, compute_forces=True, compute_stress=True)
    for name in before:
        assert torch.equal(before[name], after[name]), name
    state, reloaded = trained.model.state_dict(), loaded.state_dict()
    assert state.keys() == reloaded.keys()
    assert all(torch.equal(state[k], reloaded[k]) for k in state)
    # batched evaluation (multi-threaded BLAS may sum in another order)
    a = evaluate_model(loaded, cu_snapshots[:5])
    b = evaluate_model(trained.model, cu_snapshots[:5])
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=1e-5), name


def test_metrics_are_exact_on_known_values():
    perfect = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert perfect == {"mae": 0.0, "rmse": 0.0, "r2": 1.0, "n": 3}
    shifted = regression_metrics([1.0, 2.0, 3.0, np.nan], [1.5, 2.5, 3.5, 9.0])
    assert shifted["mae"] == pytest.approx(0.5)
    assert shifted["rmse"] == pytest.approx(0.5)
    assert shifted["r2"] == pytest.approx(1 - 0.75 / 2.0)
    assert shifted["n"] == 3
    assert math.isnan(regression_metrics([2.0], [1.0])["r2"])


def test_r2_of_components_is_against_each_components_own_mean():
    """A constant pressure on the diagonal is no variance a model explains."""
    rng = np.random.default_rng(3)
    stress = rng.normal(scale=0.004, size=(40, 6)) + np.array([-0.03] * 3 + [0.0] * 3)
    means = np.broadcast_to(stress.mean(axis=0), stress.shape)
    assert regression_metrics(stress, means)["r2"] == pytest.approx(0.0, abs=1e-12)
    assert regression_metrics(stress.ravel(), means.ravel())["r2"] > 0.9
    # one column at a time, R² is the usual one of that column
    noisy = stress + rng.normal(scale=0.001, size=stress.shape)
    error = np.sum((noisy - stress) ** 2)
    total = np.sum((stress - stress.mean(axis=0)) ** 2)
    assert regression_metrics(stress, noisy)["r2"] == pytest.approx(1 - error / total)
    assert regression_metrics(np.zeros((0, 3)), np.zeros((0, 3)))["n"] == 0


def test_random_split_is_seeded_70_15_15_and_disjoint():
    split = random_split(100, seed=4)
    assert (len(split.train), len(split.validation), len(split.test)) == (70, 15, 15)
    assert sorted(split.train + split.validation + split.test) == list(range(100))
    assert random_split(100, seed=4) == split
    assert random_split(100, seed=5) != split
    with pytest.raises(ValueError, match="at least 3 structures"):
        random_split(2)
    with pytest.raises(ValueError, match="overlap"):
        Split((0, 1), (1,), ())


def test_hash_split_keeps_each_structure_in_its_set_as_the_dataset_grows():
    rng = np.random.default_rng(0)
    base = bulk("Cu", "fcc", a=3.6, cubic=True)
    structures = []
    for _ in range(600):
        atoms = base.copy()
        atoms.rattle(0.05, seed=int(rng.integers(2**31)))
        structures.append(atoms)
    first = hash_split(structures[:400])
    grown = hash_split(structures)
    for name in ("train", "validation", "test"):
        kept = [i for i in getattr(grown, name) if i < 400]
        assert kept == list(getattr(first, name))
    # binomial counts: 0.15 × 600 = 90 ± 8.7 (one standard deviation)
    assert abs(len(grown.test) - 90) < 4 * 8.7
    assert abs(len(grown.validation) - 90) < 4 * 8.7
    assert sorted(grown.train + grown.validation + grown.test) == list(range(600))
    # the set follows the content: a stored hash and a computed one agree
    hashed = [a.copy() for a in structures[:50]]
    for atoms in hashed:
        atoms.info[keys.CONTENT_HASH] = content_hash(atoms)
    assert hash_split(hashed) == hash_split(structures[:50])
    reversed_split = hash_split(structures[:50][::-1])
    assert sorted(49 - i for i in reversed_split.test) == list(hash_split(hashed).test)
    with pytest.raises(ValueError, match="sum to 1"):
        hash_split(structures, (0.7, 0.2, 0.2))
    # what train() and sweep() use without a split
    assert TrainConfig(split_by="hash", seed=3).make_split(structures) == grown
    with pytest.raises(ValueError, match="split_by must be random or hash"):
        TrainConfig(split_by="time")


def test_given_split_and_paper_normalisation(cu_snapshots):
    split = Split(tuple(range(10)), (10, 11), (12, 13))
    config = ModelConfig(model="paper-1", cutoff=3.0, hidden_channels=8)
    result = train(cu_snapshots[:14], config, FAST.replace(max_epochs=2), split=split)
    assert result.split == split
    assert result.metrics["test"][keys.ENERGY_PER_ATOM]["n"] == 2
    energies = [a.info[keys.ENERGY_PER_ATOM] for a in cu_snapshots[:10]]
    # sigmoid output: targets min-max scaled over the training set only
    assert float(result.model.target_shift[0]) == pytest.approx(min(energies), rel=1e-6)
    assert float(result.model.target_scale[0]) == pytest.approx(
        max(energies) - min(energies), rel=1e-4
    )
    predicted = result.predictions["test"][keys.ENERGY_PER_ATOM][1]
    assert np.all(predicted >= min(energies) - 1e-6)
    assert np.all(predicted <= max(energies) + 1e-6)
    assert len(result.history) <= 2


def test_training_is_reproducible_with_a_seed(cu_snapshots):
    config = ModelConfig(model="paper-2", cutoff=3.0, hidden_channels=8, dropout=0.2)
    runs = [
        train(cu_snapshots[:12], config, FAST.replace(max_epochs=2, seed=3))
        for _ in range(2)
    ]
    assert runs[0].split == runs[1].split
    assert runs[0].history[-1]["train_loss"] == runs[1].history[-1]["train_loss"]


def test_fine_tuning_starts_from_the_given_model_and_leaves_it_unchanged(
    cu_potential, cu_snapshots
):
    before = {k: v.clone() for k, v in cu_potential.state_dict().items()}
    settings = FAST.replace(max_epochs=1, dtype="float64")
    # a step too small to move the weights: the copy predicts as the original
    still = train(
        cu_snapshots,
        cu_potential.config,
        settings.replace(learning_rate=1e-300),
        start_from=cu_potential,
    )
    test = [cu_snapshots[i] for i in still.split.test]
    original = evaluate_model(cu_potential, test)
    for target in (keys.ENERGY_PER_ATOM, keys.FORCES):
        assert still.metrics["test"][target]["mae"] == pytest.approx(
            original[target]["mae"], rel=1e-9
        )
    # an epoch of fine-tuning (small steps: a fresh Adam's first steps are
    # about the learning rate) keeps the trained model's accuracy; an epoch
    # from scratch is far from it
    settings = settings.replace(learning_rate=1e-4)
    tuned = train(cu_snapshots, cu_potential.config, settings, start_from=cu_potential)
    fresh = train(cu_snapshots, cu_potential.config, settings)
    start = still.history[0]["validation_loss"]
    assert tuned.history[0]["validation_loss"] < 1.05 * start
    assert start < 0.1 * fresh.history[0]["validation_loss"]
    for name, value in cu_potential.state_dict().items():
        assert torch.equal(value, before[name]), name
    gold = cu_snapshots[0].copy()
    gold.numbers[:] = 79
    with pytest.raises(UnknownElementError, match=r"Au that .* fine-tuned model keeps"):
        train([gold, *cu_snapshots], cu_potential.config, start_from=cu_potential)
    with pytest.raises(ValueError, match=r"start_from\.config"):
        train(cu_snapshots, OURS.replace(cutoff=3.0), settings, start_from=cu_potential)


def test_labels_from_extxyz_and_store(cu_snapshots, tmp_path):
    path = tmp_path / "cu.extxyz"
    ase.io.write(path, cu_snapshots[:3], format="extxyz")
    read = load_structures(path)
    assert len(read) == 3
    for original, copy in zip(cu_snapshots[:3], read, strict=True):
        a, b = structure_labels(original), structure_labels(copy)
        assert b[keys.ENERGY_PER_ATOM] == pytest.approx(a[keys.ENERGY_PER_ATOM])
        np.testing.assert_allclose(b[keys.FORCES], a[keys.FORCES], atol=1e-6)

        np.testing.assert_allclose(b[keys.STRESS], a[keys.STRESS], atol=1e-8)
        assert math.isnan(b[keys.BAND_GAP])

    from ase_phonongnn.label import label_snapshots
    from ase_phonongnn.store import SnapshotStore

    store = tmp_path / "cu.h5"
    label_snapshots(cu_snapshots[:4], "emt", store, progress=False)
    from_store = load_structures([store, path])
    assert len(from_store) == 7
    assert from_store[0].info[keys.ENERGY_PER_ATOM] == pytest.approx(
        cu_snapshots[0].info[keys.ENERGY_PER_ATOM]
    )
    empty = tmp_path / "empty.h5"
    SnapshotStore.create(empty).close()
    with pytest.raises(ValueError, match="no labelled structures in"):
        load_structures(empty)


def test_hydrostatic_stress_derived_from_stress_in_gpa(cu_snapshots):
    atoms = cu_snapshots[0].copy()
    del atoms.info[keys.HYDROSTATIC_STRESS]
    labels = structure_labels(atoms)
    assert labels[keys.HYDROSTATIC_STRESS] == pytest.approx(
        cu_snapshots[0].info[keys.HYDROSTATIC_STRESS]
    )
    assert labels[keys.HYDROSTATIC_STRESS] == pytest.approx(
        atoms.info[keys.STRESS][:3].mean() * 160.21766, rel=1e-6
    )


def test_a_potentials_hydrostatic_stress_is_the_trace_of_its_stress(
    property_model, cu_snapshots
):
    """Evaluation scores what prediction gives: tr σ / 3, not the σh head."""
    model = property_model(seed=1)
    graphs = [build_graph(a, cutoff=4.0, dtype=torch.float64) for a in cu_snapshots[:4]]
    out = predict_graphs(model, graphs)
    np.testing.assert_allclose(
        out[keys.HYDROSTATIC_STRESS], out[keys.STRESS][:, :3].mean(1) * 160.21766208
    )
    heads = predict_graphs(model, graphs, forces=False)[keys.HYDROSTATIC_STRESS]
    assert not np.allclose(heads, out[keys.HYDROSTATIC_STRESS])


def test_bad_training_input_gives_clear_errors(cu_snapshots):
    with pytest.raises(ValueError, match="no structures to train on"):
        train([], OURS, FAST)
    gap = ModelConfig(model="paper-1", targets=(keys.BAND_GAP,), cutoff=3.0)
    with pytest.raises(ValueError, match="no training structure has a 'band_gap'"):
        train(cu_snapshots[:6], gap, FAST)
    with pytest.raises(UnknownElementError, match="Cu"):
        train(cu_snapshots[:6], OURS.replace(species=(47,)), FAST)
    with pytest.raises(ValueError, match="unknown TrainConfig key"):
        TrainConfig.from_dict({"epochs": 3})
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        TrainConfig(fractions=(0.7, 0.2, 0.2))
    with pytest.raises(ValueError, match=r"'phase'.*6 structures have no such"):
        train(cu_snapshots[:6], OURS, FAST.replace(balance_by="phase"))


def test_balanced_loss_scales_each_group_by_its_own_spread(cu_snapshots):
    from torch_geometric.data import Batch

    from ase_phonongnn.train._trainer import _Loss

    # 100 K and 900 K snapshots: the hot group spreads ~3 times wider
    structures = cu_snapshots[:12] + cu_snapshots[36:]
    config = FAST.replace(max_epochs=1, dtype="float64", balance_by="temperature")
    graphs = labelled_graphs(
        structures, OURS.targets, cutoff=OURS.cutoff, dtype=torch.float64
    )
    split = Split(tuple(range(4, 24)), (0, 1, 2, 3), ())
    result = train(structures, OURS, config, split=split, graphs=graphs)
    assert [int(g.loss_group) for g in graphs] == [0] * 12 + [1] * 12
    loss = _Loss(result.model, [graphs[i] for i in split.train], config, 2)
    for group, rows in enumerate((range(4, 12), range(12, 24))):
        members = [structures[i] for i in rows]
        energy = [a.info[keys.ENERGY_PER_ATOM] for a in members]
        forces = np.concatenate([a.arrays[keys.FORCES] for a in members])
        stress = np.array([a.info[keys.STRESS] for a in members])
        assert float(loss.target_scale[group, 0]) == pytest.approx(np.std(energy))
        assert float(loss.force_scale[group]) == pytest.approx(
            np.sqrt(np.mean(forces**2))
        )
        assert float(loss.stress_scale[group]) == pytest.approx(np.std(stress))
    assert loss.force_scale[1] > 2 * loss.force_scale[0]
    # the loss of a batch is each structure's errors over its group's scales
    batch = Batch.from_data_list([graphs[i] for i in (4, 20)])
    model = result.model
    out = model(batch, compute_forces=True, compute_stress=True)
    group = torch.tensor([0, 1])
    energy = (out[keys.ENERGY_PER_ATOM] - batch.y[:, 0]) / loss.target_scale[group, 0]
    per_atom = group[batch.batch].unsqueeze(1)
    forces = (out[keys.FORCES] - batch.forces) / loss.force_scale[per_atom]
    stress = (out[keys.STRESS] - batch.stress) / loss.stress_scale[group, None]
    expected = energy.pow(2).mean() + forces.pow(2).mean() + stress.pow(2).mean()
    assert float(loss(model, batch).detach()) == pytest.approx(
        float(expected.detach()), rel=1e-10
    )


def test_learning_curve_and_plots(cu_snapshots, tmp_path, trained):
    config = ModelConfig(model="paper-4", cutoff=3.0, hidden_channels=8)
    curve = learning_curve(
        cu_snapshots[:30],
        config,
        FAST.replace(max_epochs=2),
        sizes=(4, 8),
        seeds=(0, 1),
        n_test=6,
    )
    assert [(r["size"], r["seed"]) for r in curve.records] == [
        (4, 0),
        (4, 1),
        (8, 0),
        (8, 1),
    ]
    assert all(r["metrics"][keys.ENERGY_PER_ATOM]["n"] == 6 for r in curve.records)
    summary = curve.summary("mae")[keys.ENERGY_PER_ATOM]
    assert sorted(summary) == [4, 8]
    png = plot_learning_curve(curve, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == PNG
    parity = plot_parity(trained, tmp_path / "parity.png")
    assert parity.read_bytes()[:8] == PNG


def test_paper_grid_sweep(cu_snapshots):
    assert len(PAPER_MODELS) * math.prod(len(v) for v in PAPER_GRID.values()) == 480
    assert PAPER_GRID["learning_rate"] == (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
    result = sweep(
        cu_snapshots[:12],
        ModelConfig(cutoff=3.0, hidden_channels=8),
        FAST.replace(max_epochs=2),
        grid={"learning_rate": (1e-2, 1e-4)},
        models=("paper-1", "paper-2"),
    )
    assert len(result.records) == 4
    losses = [r["validation_loss"] for r in result.records]
    assert result.best_index == int(np.argmin(losses))
    assert (
        result.best.model_config.model
        == result.records[result.best_index]["params"]["model"]
    )
    with pytest.raises(ValueError, match="unknown sweep parameter"):
        sweep(cu_snapshots[:12], OURS, FAST, grid={"lr": (1.0,)})

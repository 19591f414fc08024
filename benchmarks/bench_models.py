"""Models: training epoch time, inference throughput and accuracy, ours vs paper-*.

Measured side by side in one run:

1. speed, on 40-atom Ag3SBr snapshots (2×2×2, shipped harmonic GFN2-xTB force
   constants, normal-mode sampling at 300 K with |ω| for imaginary modes),
   labelled with a Lennard-Jones placeholder (speed does not depend on the
   labels): seconds per training epoch (batch 16) and inference structures
   per second (batch 32), for ``ours`` (trained on energy + forces + stress,
   and energy only) and ``paper-1`` ... ``paper-6`` with the hidden width that
   gives the parameter count closest to ``ours``, every model timed in turn
   in each of several rounds (the best round counts), and the ratio of the
   epoch time of ``ours`` to each ``paper-*``;
2. accuracy, on EMT-labelled thermal snapshots of a 32-atom Cu supercell
   (normal-mode sampling of phonopy + EMT force constants, 100-900 K; EMT is
   a many-body potential we can label in-process): test MAE and R² of the
   energy per atom, same split and epoch budget for every model; ``ours`` also
   trained on energies alone, to separate architecture from force labels.

One torch thread by default (``--threads``): these graphs are small and
intra-op threads only add overhead on a shared machine. Results in
benchmarks/results/models.json.

    python benchmarks/bench_models.py [--quick] [--threads 1] [--n-cu 160]
                                      [--epochs 150]

``--quick`` measures speed only, on 32 snapshots.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import RESULTS, interleaved_best, machine, write_json
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from ase_phonongnn import keys
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.model import MODEL_KEYS, ModelConfig, build_model
from ase_phonongnn.sample import PhononSampler, compute_force_constants
from ase_phonongnn.train import TrainConfig, labelled_graphs, train

OURS = {"hidden_channels": 32, "n_interactions": 3, "n_radial": 8}
PAPER_WIDTHS = (16, 24, 32, 48, 64, 96, 128, 192, 256)


def label(atoms: Atoms, calculator: Any) -> Atoms:
    atoms.calc = calculator
    energy = atoms.get_potential_energy()
    atoms.info[keys.ENERGY] = energy
    atoms.info[keys.ENERGY_PER_ATOM] = energy / len(atoms)
    atoms.info[keys.STRESS] = atoms.get_stress()
    atoms.arrays[keys.FORCES] = atoms.get_forces()
    atoms.calc = None
    return atoms


def n_parameters(config: ModelConfig) -> int:
    return sum(p.numel() for p in build_model(config).parameters())


def configs(species: tuple[int, ...], cutoff: float) -> dict[str, ModelConfig]:
    """``ours`` and each paper model at the width closest in parameter count."""
    ours = ModelConfig(model="ours", species=species, cutoff=cutoff, **OURS)
    target = n_parameters(ours)
    out = {"ours": ours}
    for key in MODEL_KEYS[1:]:
        candidates = [
            ModelConfig(model=key, species=species, cutoff=cutoff, hidden_channels=w)
            for w in PAPER_WIDTHS
        ]
        out[key] = min(candidates, key=lambda c: abs(n_parameters(c) - target))
    return out


def epoch_runner(config: ModelConfig, graphs: list, forces: bool):
    """Return a function that trains one epoch (batch 16) of a fresh model."""
    model = build_model(config)
    model.fit_normalisation(graphs)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(
        graphs, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

    def epoch() -> None:
        for batch in loader:
            out = model(batch, compute_forces=forces, compute_stress=forces)
            loss = (out[keys.ENERGY_PER_ATOM] - batch.y[:, 0]).pow(2).mean()
            if forces:
                loss = loss + (out[keys.FORCES] - batch.forces).pow(2).mean()
                loss = loss + (out[keys.STRESS] - batch.stress).pow(2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()

    return epoch


def inference_runner(config: ModelConfig, graphs: list, forces: bool):
    """Return a function that predicts every graph (batch 32)."""
    model = build_model(config)
    model.fit_normalisation(graphs)
    model.eval()
    batches = [
        Batch.from_data_list(graphs[k : k + 32]) for k in range(0, len(graphs), 32)
    ]

    def run() -> None:
        with torch.no_grad():
            for batch in batches:
                model(batch, compute_forces=forces, compute_stress=forces)

    return run


def speed(n_snapshots: int, rounds: int) -> dict[str, Any]:
    """Epoch and inference times of every model, in interleaved rounds."""
    sampler = PhononSampler.from_file(force_constants_path("Ag3SBr"))
    snapshots = sampler.sample(
        300.0, n_snapshots, method="normal-mode", imaginary="abs", seed=0
    )
    calculator = LennardJones(sigma=2.6, epsilon=0.05, rc=5.5, smooth=True)
    snapshots = [label(a, calculator) for a in snapshots]
    species = tuple(sorted({int(z) for z in snapshots[0].numbers}))
    graphs = labelled_graphs(snapshots, (keys.ENERGY_PER_ATOM,), cutoff=5.5)
    models = configs(species, 5.5)
    epochs, inference = {}, {}
    for key, config in models.items():
        epochs[key] = epoch_runner(config, graphs, forces=False)
        inference[key] = inference_runner(config, graphs, forces=False)
    epochs["ours+forces"] = epoch_runner(models["ours"], graphs, forces=True)
    inference["ours+forces"] = inference_runner(models["ours"], graphs, forces=True)
    epoch_s = interleaved_best(epochs, rounds)
    inference_s = interleaved_best(inference, rounds)
    rows = {}
    for key, config in models.items():
        rows[key] = {
            "hidden_channels": config.hidden_channels,
            "parameters": n_parameters(config),
            "epoch_seconds": epoch_s[key],
            "inference_structures_per_second": len(graphs) / inference_s[key],
        }
    rows["ours"]["epoch_seconds_with_forces_stress"] = epoch_s["ours+forces"]
    rows["ours"]["inference_with_forces_stress_per_second"] = (
        len(graphs) / inference_s["ours+forces"]
    )
    for key, row in rows.items():
        print(key, row)
    paper = [k for k in rows if k != "ours"]
    ratios = {
        k: rows["ours"]["epoch_seconds"] / rows[k]["epoch_seconds"] for k in paper
    }
    return {
        "data": f"{n_snapshots} Ag3SBr 2x2x2 snapshots (40 atoms), cutoff 5.5 Å, "
        f"{graphs[0].num_edges} edges in the first",
        "rounds": rounds,
        "models": rows,
        "ours_epoch_over_paper": ratios,
        "ours_epoch_over_paper_median": float(np.median(list(ratios.values()))),
        "ours_forces_stress_epoch_over_paper_median": float(
            np.median(
                [
                    rows["ours"]["epoch_seconds_with_forces_stress"]
                    / rows[k]["epoch_seconds"]
                    for k in paper
                ]
            )
        ),
    }


def accuracy(n_snapshots: int, epochs: int) -> dict[str, Any]:
    cu = bulk("Cu", "fcc", a=3.61, cubic=True)
    phonon = compute_force_constants(cu, [2, 2, 2], EMT(), progress=False)
    sampler = PhononSampler.from_phonopy(phonon)
    temperatures = (100.0, 300.0, 500.0, 700.0, 900.0)
    per_t = n_snapshots // len(temperatures)
    snapshots = []
    for seed, temperature in enumerate(temperatures):
        snapshots += sampler.sample(temperature, per_t, method="normal-mode", seed=seed)
    snapshots = [label(a, EMT()) for a in snapshots]
    rows = {}
    runs = configs((29,), 4.5)
    # the same model trained on energies only: what the architecture alone gives
    runs = {"ours": runs["ours"], "ours-energy-only": runs["ours"]} | runs
    for key, config in runs.items():
        lr = 5e-3 if key.startswith("ours") else 1e-3
        weight = 0.0 if key == "ours-energy-only" else 1.0
        settings = TrainConfig(
            batch_size=16,
            learning_rate=lr,
            max_epochs=epochs,
            patience=max(20, epochs // 4),
            force_weight=weight,
            stress_weight=weight,
            progress=False,
        )
        start = time.perf_counter()
        result = train(snapshots, config, settings)
        test = result.metrics["test"][keys.ENERGY_PER_ATOM]
        rows[key] = {
            "parameters": n_parameters(config),
            "learning_rate": lr,
            "epochs_run": len(result.history),
            "best_epoch": result.best_epoch,
            "train_seconds": time.perf_counter() - start,
            "test_mae_eV_per_atom": test["mae"],
            "test_rmse_eV_per_atom": test["rmse"],
            "test_r2": test["r2"],
            "test_n": test["n"],
        }
        print(key, rows[key])
    return {
        "data": f"{len(snapshots)} EMT Cu snapshots (32 atoms), 100-900 K, "
        "normal-mode; 70/15/15 split, seed 0; cutoff 4.5 Å",
        "energy_per_atom_std": float(
            np.std([a.info[keys.ENERGY_PER_ATOM] for a in snapshots])
        ),
        "models": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="speed only, smaller")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-ag3sbr", type=int, default=64)
    parser.add_argument("--n-cu", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--out", type=Path, default=RESULTS / "models.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {
        "benchmark": "models: ours against paper-1..6 of similar size",
        "machine": machine(),
        "quick": args.quick,
    }
    if args.quick:
        result["speed"] = speed(32, rounds=3)
    else:
        result["speed"] = speed(args.n_ag3sbr, rounds=5)
        result["accuracy"] = accuracy(args.n_cu, args.epochs)
    result["machine"]["load_average_after"] = machine()["load_average"]
    write_json(args.out, result)


if __name__ == "__main__":
    main()

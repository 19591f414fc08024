"""Train two small PaiNN potentials that differ only in their vector norm.

Both are ``ours`` with PaiNN blocks (32 channels, 2 blocks, cutoff 5.5 Å,
energy per atom with forces and stress in the loss), trained on the shipped
stores with the split of ``research/train_default.py`` (content hash; 2,506
train, 565 validation, 539 test snapshots), seed 0, float32, for the same
wall-clock budget side by side; one with ``vector_norm="sharp"`` (the
shipped models' norm), one with ``"smooth"``. For each it records the
held-out test metrics, the restoring force of one S atom of the ideal
cubic 2×2×2 cell moved by 1e-4 to 3e-2 Å (float64), and saves the model;
``benchmarks/bench_phonons.py --model <file>`` then compares its harmonic
phonons with the GFN2-xTB ones.

    python research/vector_norm_check.py sharp --max-time 1800 --out-dir /tmp/norm &
    python research/vector_norm_check.py smooth --max-time 1800 --out-dir /tmp/norm &
    python benchmarks/bench_phonons.py --model /tmp/norm/painn32-smooth.safetensors

Writes ``<out-dir>/painn32-<norm>.safetensors`` and ``.json``.
``research/vector_norm_check.json`` holds both records of one such run (two
processes side by side on two shared cores, 1,800 s each: 10 epochs) with
the figures of ``bench_phonons.py`` for each model.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ase_phonongnn import keys
from ase_phonongnn.data import dataset_path
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import VECTOR_NORMS, GraphModel, ModelConfig, save_model
from ase_phonongnn.structures import antiperovskite
from ase_phonongnn.train import TrainConfig, hash_split, load_structures, train

#: displacements of one S atom, Å
STEPS = (1e-4, 1e-3, 1e-2, 3e-2)


def restoring_ratios(model: GraphModel) -> list[float]:
    """-F_x / d of one S atom of the ideal 2×2×2 cell moved by d, eV/Å²."""
    model = model.to(torch.float64)
    ideal = antiperovskite("Br").repeat((2, 2, 2))
    site = ideal.get_chemical_symbols().index("S")
    ratios = []
    for step in STEPS:
        atoms = ideal.copy()
        atoms.positions[site, 0] += step
        graph = build_graph(atoms, cutoff=model.cutoff, dtype=torch.float64)
        forces = model(graph, compute_forces=True)[keys.FORCES].detach().numpy()
        ratios.append(float(-forces[site, 0] / step))
    return ratios


def main() -> None:
    """Train one model, record its metrics and restoring forces, save it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vector_norm", choices=VECTOR_NORMS)
    parser.add_argument("--max-time", type=float, default=1800.0, help="s")
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    stores = [dataset_path("phonon-Ag3SBr"), dataset_path("random-Ag3SBr")]
    structures = load_structures(stores, skip_retried=True)
    split = hash_split(structures)
    model_config = ModelConfig(
        targets=(keys.ENERGY_PER_ATOM,),
        hidden_channels=32,
        n_interactions=2,
        equivariant=True,
        vector_norm=args.vector_norm,
        cutoff=5.5,
    )
    train_config = TrainConfig(
        seed=0,
        batch_size=16,
        learning_rate=2e-3,
        max_epochs=2000,
        patience=40,
        max_time=args.max_time,
        progress=False,
    )
    start = time.time()
    result = train(structures, model_config, train_config, split=split)
    name = f"painn32-{args.vector_norm}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    save_model(result.model, args.out_dir / f"{name}.safetensors")
    record = {
        "vector_norm": args.vector_norm,
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "seconds": time.time() - start,
        "test": result.metrics["test"],
        "restoring_steps": list(STEPS),
        "restoring_ratios": restoring_ratios(result.model),
    }
    path = args.out_dir / f"{name}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{name}: -F/d at {STEPS} Å: {np.round(record['restoring_ratios'], 3)}")


if __name__ == "__main__":
    main()

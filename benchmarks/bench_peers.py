"""Prediction speed of one shipped member against PyG's SchNet and MACE.

Frames per second with energy and forces (autograd) on the same 40-atom
thermal Ag3SBr snapshots (shipped force constants, 300 K), batched 32
frames per forward pass, one torch thread, float32, in interleaved rounds
(each round times every model once; the best round of each counts):

- ``ours``: the first member of the shipped committee (``ours``, PaiNN
  blocks, 64 channels, 3 blocks), as :func:`~ase_phonongnn.predict` runs it
  (eager message kernels), and with compiled message kernels
  (``ours-compiled``, ``PotentialGNN.compiled_messages``);
- ``schnet``: ``torch_geometric.nn.models.SchNet`` with random weights, 64
  channels and filters, 3 interactions, 50 Gaussians, cutoff 5.5 Å, on the
  same periodic edges (our graph's edges, lengths recomputed from the
  positions so that forces follow);
- ``mace``: ``mace.modules.MACE`` (``pip install mace-torch``; skipped
  without it) with random weights, the size of MACE-MP "small": 128x0e
  hidden features, L_max = 0 messages from max_ell = 3 spherical harmonics,
  correlation 3, 2 interactions, 8 Bessel functions, cutoff 5.5 Å, on
  MACE's own graph of the same frames.

Graph construction is outside the timings of every model (built once per
batch beforehand). Parameters are counted.

    python benchmarks/bench_peers.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import RESULTS, machine, shipped_committee, write_json

N_BATCH = 32


def frames(n: int) -> list[Any]:
    """Return ``n`` thermal snapshots of the 40-atom Ag3SBr cell at 300 K."""
    from ase_phonongnn.data import force_constants_path
    from ase_phonongnn.sample import PhononSampler

    sampler = PhononSampler.from_file(force_constants_path("Ag3SBr"))
    return sampler.sample(300.0, n, method="normal-mode", imaginary="abs", seed=0)


def parameters(model: torch.nn.Module) -> int:
    """Return the number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def ours(structures: list[Any], compiled: bool) -> tuple[Callable[[], Any], int]:
    """Return a run of the shipped member on batches, and its parameter count."""
    from ase_phonongnn.graph import build_graphs
    from ase_phonongnn.model import load_model

    model = load_model(shipped_committee()[0][0])
    model.compiled_messages = compiled  # type: ignore[assignment]
    batches = [
        build_graphs(structures[i : i + N_BATCH], cutoff=model.cutoff)
        for i in range(0, len(structures), N_BATCH)
    ]

    def run() -> None:
        with torch.no_grad():
            for batch in batches:
                model(batch, compute_forces=True)

    return run, parameters(model)


def schnet(structures: list[Any]) -> tuple[Callable[[], Any], int]:
    """Return a run of PyG's SchNet (random weights) on the same edges."""
    from torch_geometric.nn.models import SchNet

    from ase_phonongnn.graph import build_graphs, edge_vectors

    batches = [
        build_graphs(structures[i : i + N_BATCH], cutoff=5.5)
        for i in range(0, len(structures), N_BATCH)
    ]
    current: dict[str, Any] = {}

    def periodic_graph(pos: torch.Tensor, batch: torch.Tensor) -> Any:
        data = current["data"]
        _, lengths = edge_vectors(data, pos, data.cell)
        return data.edge_index, lengths

    torch.manual_seed(0)
    model = SchNet(
        hidden_channels=64,
        num_filters=64,
        num_interactions=3,
        num_gaussians=50,
        cutoff=5.5,
        interaction_graph=periodic_graph,
    ).eval()

    def run() -> None:
        for data in batches:
            current["data"] = data
            pos = data.pos.detach().requires_grad_(True)
            energy = model(data.z, pos, data.batch)
            torch.autograd.grad(energy.sum(), pos)

    return run, parameters(model)


def mace(structures: list[Any]) -> tuple[Callable[[], Any], int] | None:
    """Return a run of a MACE-small-sized MACE (random weights), or None."""
    try:
        # e3nn 0.4.4 loads its bundled Wigner constants with torch.load, which
        # since torch 2.6 refuses their pickled slices unless allowed
        with torch.serialization.safe_globals([slice]):
            from e3nn import o3
        from mace import data as mace_data
        from mace import modules, tools
        from mace.tools import torch_geometric as mace_geometric
    except ImportError:
        return None
    numbers = [16, 35, 47]
    torch.manual_seed(0)
    model = modules.MACE(
        r_max=5.5,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=3,
        interaction_cls=modules.interaction_classes[
            "RealAgnosticResidualInteractionBlock"
        ],
        interaction_cls_first=modules.interaction_classes[
            "RealAgnosticResidualInteractionBlock"
        ],
        num_interactions=2,
        num_elements=len(numbers),
        hidden_irreps=o3.Irreps("128x0e"),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(len(numbers)),
        avg_num_neighbors=30.0,
        atomic_numbers=numbers,
        correlation=3,
        gate=torch.nn.functional.silu,
    ).eval()
    table = tools.AtomicNumberTable(numbers)
    items = [
        mace_data.AtomicData.from_config(
            mace_data.config_from_atoms(atoms), z_table=table, cutoff=5.5
        )
        for atoms in structures
    ]
    loader = mace_geometric.dataloader.DataLoader(
        items, batch_size=N_BATCH, shuffle=False, drop_last=False
    )
    batches = [b.to_dict() for b in loader]

    def run() -> None:
        for batch in batches:
            model(batch, training=False, compute_force=True)

    return run, parameters(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames, rounds")
    parser.add_argument("--out", type=Path, default=RESULTS / "peers.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n_frames, rounds = (32, 3) if args.quick else (64, 5)
    structures = frames(n_frames)
    runs: dict[str, tuple[Callable[[], Any], int]] = {
        "ours": ours(structures, compiled=False),
        "ours-compiled": ours(structures, compiled=True),
        "schnet": schnet(structures),
    }
    with_mace = mace(structures)
    if with_mace is not None:
        runs["mace"] = with_mace
    for run, _ in runs.values():
        run()  # warm-up (and compilation)
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, (run, _) in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    result: dict[str, Any] = {
        "benchmark": "one shipped member against PyG SchNet and MACE, forces",
        "machine": machine(),
        "n_frames_40": n_frames,
        "batch_frames": N_BATCH,
        "rounds": rounds,
        "mace_installed": with_mace is not None,
        "models": {},
    }
    for name, (_, n_parameters) in runs.items():
        result["models"][name] = {
            "frames_per_second": n_frames / best[name],
            "parameters": n_parameters,
            "ours_over_this": best[name] / best["ours"],
        }
        print(name, result["models"][name], flush=True)
    write_json(args.out, result)


if __name__ == "__main__":
    main()

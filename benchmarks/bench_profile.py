"""Profiles of the hot paths: graph construction, batched prediction, sampling.

Writes the top entries of each profile as text under
benchmarks/results/profiles/:

- ``graph_*``: cProfile of ``build_graph`` (40 and ~10,000 atoms) and of
  ``build_graphs`` on 32 thermal snapshots at once;
- ``predict_*``: cProfile of :func:`~ase_phonongnn.prediction` (scalars only,
  and every property) and of the calculator loop it is compared with, and
  torch.profiler operator tables of the model's forward pass and of forward
  plus forces and stress; ``predict_shipped_member_*``: the same tables for
  one member of the shipped committee (PaiNN, 64 channels) on one default
  batch;
- ``sampling_*``: cProfile of the normal-mode, paper and ZG samplers.

cProfile entries are sorted by own time (``tottime``): the functions where
the time is spent, not their callers. One torch thread.

    python benchmarks/bench_profile.py [--quick] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _common import RESULTS, machine
from bench_graph import ag3sbr
from bench_predict import SCALARS, frames_40, model
from torch.profiler import ProfilerActivity, profile

from ase_phonongnn import PhononGNNCalc, predict
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.graph import build_graph, build_graphs
from ase_phonongnn.sample import PhononSampler


def header(title: str) -> str:
    return f"{title}\nmachine: {json.dumps(machine())}\n\n"


def cprofile(function: Callable[[], object], title: str, path: Path, top: int) -> None:
    """Write the ``top`` entries by own time of one run of ``function``."""
    function()  # warm-up: imports and first allocations are not the hot path
    profiler = cProfile.Profile()
    profiler.enable()
    function()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    path.write_text(header(title) + text.getvalue())
    print(f"wrote {path}")


def operators(function: Callable[[], object], title: str, path: Path) -> None:
    """Write torch.profiler's operator table (self CPU time) of ``function``."""
    function()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        function()
    table = prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=40
    )
    path.write_text(header(title) + table + "\n")
    print(f"wrote {path}")


def graphs(out: Path, quick: bool) -> None:
    small = [ag3sbr((2, 2, 2), seed=s) for s in range(5)]
    large = ag3sbr((12, 12, 14), seed=0)
    thermal = frames_40(32)
    repeats = 20 if quick else 100
    cprofile(
        lambda: [build_graph(a) for _ in range(repeats) for a in small],
        f"build_graph, 40-atom Ag3SBr, {5 * repeats} calls",
        out / "graph_build_graph_40_atoms.txt",
        25,
    )
    cprofile(
        lambda: build_graph(large),
        f"build_graph, {len(large)}-atom Ag3SBr, one call",
        out / "graph_build_graph_10080_atoms.txt",
        20,
    )
    cprofile(
        lambda: [build_graphs(thermal) for _ in range(repeats // 4)],
        f"build_graphs, 32 thermal 40-atom snapshots, {repeats // 4} calls",
        out / "graph_build_graphs_32_snapshots.txt",
        25,
    )


def prediction(out: Path, quick: bool) -> None:
    net = model(torch.device("cpu"))
    frames = frames_40(64 if quick else 256)
    calc = PhononGNNCalc(net)

    def loop() -> None:
        for atoms in frames[:32]:
            atoms = atoms.copy()
            atoms.calc = calc
            atoms.get_forces()

    cprofile(
        lambda: predict(net, frames, batch_size=32, properties=SCALARS),
        f"predict, scalars only, {len(frames)} 40-atom frames, batch 32",
        out / "predict_scalars.txt",
        30,
    )
    cprofile(
        lambda: predict(net, frames, batch_size=8),
        f"predict, every property, {len(frames)} 40-atom frames, batch 8",
        out / "predict_all.txt",
        30,
    )
    cprofile(
        loop,
        "calculator loop, 32 40-atom frames, every property",
        out / "predict_calculator_loop.txt",
        30,
    )
    model_operators(
        net, build_graphs(frames[:32]), "model", "32 40-atom frames", out / "predict"
    )


def model_operators(net: Any, batch: Any, name: str, what: str, prefix: Path) -> None:
    """Operator tables of the forward pass, and with forces and stress."""

    def forward() -> None:
        with torch.inference_mode():
            net(batch)

    def derivatives() -> None:
        with torch.no_grad():
            net(batch, compute_forces=True, compute_stress=True)

    operators(
        forward,
        f"{name} forward (inference mode), {what}: operators",
        Path(f"{prefix}_forward_operators.txt"),
    )
    operators(
        derivatives,
        f"{name} forward + forces + stress, {what}: operators",
        Path(f"{prefix}_forces_stress_operators.txt"),
    )


def shipped_member(out: Path) -> None:
    """Operator tables of one shipped member on one default CPU batch."""
    from _common import shipped_committee

    from ase_phonongnn.model import load_model
    from ase_phonongnn.prediction import ATOMS_PER_BATCH

    net = load_model(shipped_committee()[0][0])
    frames = frames_40(ATOMS_PER_BATCH["cpu"] // 40)
    model_operators(
        net,
        build_graphs(frames, net.cutoff),
        "shipped member",
        f"{len(frames)} 40-atom frames",
        out / "predict_shipped_member",
    )


def sampling(out: Path, quick: bool) -> None:
    sampler = PhononSampler.from_file(force_constants_path("Ag3SBr"))
    n = 200 if quick else 1000
    for method, count in (("normal-mode", n), ("paper", n), ("zg", max(2, n // 100))):
        cprofile(
            lambda m=method, c=count: sampler.sample(
                300.0, c, m, imaginary="abs", seed=1
            ),
            f"PhononSampler.sample, {method}, {count} snapshots of 40-atom Ag3SBr "
            "(sampler loaded)",
            out / f"sampling_{method}.txt",
            20,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--out-dir", type=Path, default=RESULTS / "profiles")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    graphs(args.out_dir, args.quick)
    prediction(args.out_dir, args.quick)
    shipped_member(args.out_dir)
    sampling(args.out_dir, args.quick)


if __name__ == "__main__":
    main()

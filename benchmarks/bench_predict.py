"""Prediction: batched trajectory prediction against a loop of calculator calls.

Measured in one run, on the same frames:

1. throughput, frames per second, of
   - a loop of :class:`~ase_phonongnn.PhononGNNCalc` calls, one frame at a
     time, asking each frame for energy, forces, stress, band gap, VBM and
     hydrostatic stress (one evaluation per frame: the calculator computes
     them together);
   - :func:`~ase_phonongnn.predict` on the frames in memory, same properties,
     for several batch sizes;
   - :func:`~ase_phonongnn.predict` reading the frames from an extxyz
     trajectory (parsing included);
   - the same two routes for the scalar properties only (no backward pass in
     the batched route; the calculator always computes everything);
   and the ratio batched / loop;
2. peak memory against batch size: in a fresh process per batch size, the
   rise of the peak resident set (Linux ``VmHWM``, reset after loading the
   model) while predicting the trajectory file with every property, and on
   CUDA ``torch.cuda.max_memory_allocated``.

Frames: thermal snapshots of 2×2×2 Ag3SBr (40 atoms; shipped harmonic
GFN2-xTB force constants, normal-mode sampling at 300 K, |ω| for the
imaginary modes) and of its 5-atom unit cell, where the fixed cost of a call
dominates. Model: ``ours`` with all four targets, the width of
``bench_models.py`` (32 channels, 3 interactions, 8 radial functions),
cutoff 5.5 Å, float32, untrained (speed does not depend on the weights).

One torch thread by default (``--threads``). Results in
benchmarks/results/predict.json.

Measured (one thread, two cores shared with other jobs, load 4-5): on the
40-atom frames the calculator loop ran 137 frames/s and the batched route
268 (batch 8: 2.0x; 4.2x for the scalars alone, no backward pass); on the
5-atom cells 186 against 1,050 frames/s (batch 128: 5.6x; 6.3x for scalars).
Another run under the same load gave 2.6x and 9.3x. The batched cost on a CPU
is the model's arithmetic (elementwise products over the edges dominate a
profile); the per-call overhead that batching removes is largest on a GPU,
which was not available. Peak memory rises ~3.4 MiB per 40-atom frame with
forces (47 MiB at batch 8, 534 MiB at 128, 1.7 GiB at 512) and frames/s
falls beyond batch ~32 on a CPU.

    python benchmarks/bench_predict.py [--threads 1] [--n-frames 512]
                                       [--device auto]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ase.io
import torch
from ase import Atoms

from ase_phonongnn import PhononGNNCalc, keys, predict
from ase_phonongnn._version import __version__
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.model import ModelConfig, build_model
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.structures import antiperovskite

RESULTS = Path(__file__).resolve().parent / "results"
SCALARS = [keys.BAND_GAP, keys.VBM, keys.HYDROSTATIC_STRESS, keys.ENERGY]


def model(device: torch.device) -> Any:
    config = ModelConfig(
        model="ours",
        targets=keys.TARGETS,
        species=(16, 35, 47),
        cutoff=5.5,
        hidden_channels=32,
        n_interactions=3,
        n_radial=8,
    )
    net = build_model(config, seed=0)
    net.set_target_scaling([0.0, 3.0, -5.0, 0.0], [0.05, 0.3, 0.2, 1.0], [1] * 4)
    return net.to(device).eval()


def frames_40(n: int) -> list[Atoms]:
    sampler = PhononSampler.from_file(force_constants_path("Ag3SBr"))
    return sampler.sample(300.0, n, method="normal-mode", imaginary="abs", seed=0)


def frames_5(n: int) -> list[Atoms]:
    out = []
    for k in range(n):
        atoms = antiperovskite("Br")
        atoms.rattle(0.1, seed=k)
        out.append(atoms)
    return out


def calculator_loop(calc: PhononGNNCalc, frames: list[Atoms], names: list[str]):
    start = time.perf_counter()
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = calc
        for name in names:
            calc.get_property(name, atoms)
    return len(frames) / (time.perf_counter() - start)


def batched(net: Any, source: Any, n: int, batch_size: int, names: Any) -> float:
    start = time.perf_counter()
    out = predict(net, source, batch_size=batch_size, properties=names)
    elapsed = time.perf_counter() - start
    assert len(next(iter(out.values()))) == n
    return n / elapsed


def peak_rss_kib() -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def throughput(
    net: Any,
    frames: list[Atoms],
    batch_sizes: list[int],
    n_loop: int,
    trajectory: Path,
) -> dict[str, Any]:
    calc = PhononGNNCalc(net)
    everything = list(calc.implemented_properties)
    calculator_loop(calc, frames[:8], everything)  # warm-up
    loop = calculator_loop(calc, frames[:n_loop], everything)
    loop_scalars = calculator_loop(calc, frames[:n_loop], SCALARS)
    rows = []
    for size in batch_sizes:
        row = {
            "batch_size": size,
            "frames_per_second": batched(net, frames, len(frames), size, None),
            "scalars_frames_per_second": batched(
                net, frames, len(frames), size, SCALARS
            ),
        }
        row["ratio_to_calculator_loop"] = row["frames_per_second"] / loop
        row["scalars_ratio_to_calculator_loop"] = (
            row["scalars_frames_per_second"] / loop_scalars
        )
        rows.append(row)
        print(row)
    best = max(rows, key=lambda r: r["frames_per_second"])
    from_file = batched(net, trajectory, len(frames), best["batch_size"], None)
    return {
        "n_atoms": len(frames[0]),
        "n_frames": len(frames),
        "calculator_loop_frames": n_loop,
        "calculator_loop_frames_per_second": loop,
        "calculator_loop_scalars_frames_per_second": loop_scalars,
        "batched": rows,
        "best_batch_size": best["batch_size"],
        "best_ratio": best["ratio_to_calculator_loop"],
        "best_scalars_ratio": max(r["scalars_ratio_to_calculator_loop"] for r in rows),
        "from_extxyz_frames_per_second": from_file,
        "from_extxyz_ratio_to_calculator_loop": from_file / loop,
    }


def memory_child(trajectory: Path, n: int, batch_size: int, device: str) -> None:
    """Run in a fresh process: peak memory of predicting the trajectory."""
    from ase_phonongnn.predict import resolve_device

    net = model(resolve_device(device))
    predict(net, trajectory, batch_size=1, index=":1")  # imports, first allocations
    can_reset = reset_peak_rss()
    before = peak_rss_kib()
    cuda = next(net.parameters()).is_cuda
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    rate = batched(net, trajectory, n, batch_size, None)
    row: dict[str, Any] = {
        "batch_size": batch_size,
        "frames_per_second": rate,
        "peak_rss_rise_MiB": (peak_rss_kib() - before) / 1024 if can_reset else None,
    }
    if cuda:
        row["cuda_max_allocated_MiB"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(row))


def memory(
    trajectory: Path, n: int, batch_sizes: list[int], threads: int, device: str
) -> list[dict[str, Any]]:
    """Peak memory against batch size, each size in a fresh process."""
    rows = []
    for size in batch_sizes:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                str(trajectory),
                "--batch-size",
                str(size),
                "--n-frames",
                str(n),
                "--threads",
                str(threads),
                "--device",
                device,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-frames", type=int, default=512)
    parser.add_argument("--n-loop", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS / "predict.json")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.n_frames, args.batch_size, args.device)
        return
    from ase_phonongnn.predict import resolve_device

    device = resolve_device(args.device)
    net = model(device)
    sizes = [1, 8, 32, 128, 512]
    result: dict[str, Any] = {
        "package_version": __version__,
        "torch": torch.__version__,
        "device": str(device),
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "machine": platform.machine(),
        "model": "ours, 4 targets, 32 channels, 3 interactions, cutoff 5.5 Å, "
        "float32, untrained",
    }
    with tempfile.TemporaryDirectory() as folder:
        for name, make in (
            ("Ag3SBr_40_atoms", frames_40),
            ("Ag3SBr_5_atoms", frames_5),
        ):
            frames = make(args.n_frames)
            trajectory = Path(folder) / f"{name}.extxyz"
            ase.io.write(trajectory, frames)
            result[name] = throughput(
                net,
                frames,
                [s for s in sizes if s <= len(frames)],
                args.n_loop,
                trajectory,
            )
            print(name, {k: v for k, v in result[name].items() if k != "batched"})
        trajectory = Path(folder) / "Ag3SBr_40_atoms.extxyz"
        result["memory_40_atoms"] = memory(
            trajectory,
            args.n_frames,
            [s for s in sizes if s <= args.n_frames],
            args.threads,
            args.device,
        )
    result["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

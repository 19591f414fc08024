"""Prediction: batched against a calculator loop, the arithmetic bound, memory.

Measured side by side in one run, on the same frames, as interleaved rounds
(every round times every variant once; the best round of each counts, so a
change of the machine's load reaches all variants alike):

1. seconds per frame of
   - a loop of :class:`~ase_phonongnn.PhononGNNCalc` calls, one frame at a
     time, asking each frame for energy, forces, stress, band gap, VBM and
     hydrostatic stress (one evaluation per frame: the calculator computes
     them together), and the same loop asking for the scalars only (the
     calculator still computes everything);
   - :func:`~ase_phonongnn.prediction` on the frames in memory, every property
     and the scalars only (no backward pass), for several batch sizes, and
     reading the frames from an extxyz trajectory (parsing included);
   and the ratios loop / batched;
2. the arithmetic bound: the FLOPs of one forward pass
   counted by ``torch.utils.flop_counter.FlopCounterMode`` over the machine's
   matmul FLOP/s measured in this run; the scalar prediction's time per frame
   as a multiple of it, and the forces + stress time over the scalar time;
3. peak memory against batch size: in a fresh process per batch size, the
   rise of the peak resident set (Linux ``VmHWM``, reset after loading the
   model) while predicting the trajectory file with every property (and on
   CUDA ``torch.cuda.max_memory_allocated``); and at batch 32 for 512
   frames against 128, which must not need more memory (the frames stream).

Frames: thermal snapshots of 2×2×2 Ag3SBr (40 atoms; shipped harmonic
GFN2-xTB force constants, normal-mode sampling at 300 K, |ω| for the
imaginary modes) and of its 5-atom unit cell, where the fixed cost of a call
dominates. Model: ``ours`` with all four targets, the width of
``bench_models.py`` (32 channels, 3 interactions, 8 radial functions),
cutoff 5.5 Å, float32, untrained (speed does not depend on the weights).
One torch thread by default. Targets: ≥ 20× the calculator loop; scalars
within 3× of the arithmetic bound; forces and stress ≤ 3× the scalar time.

    python benchmarks/bench_predict.py [--quick] [--threads 1] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import ase.io
import torch
from _common import (
    RESULTS,
    interleaved_best,
    machine,
    peak_rss_kib,
    reset_peak_rss,
    write_json,
)
from ase import Atoms
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from ase_phonongnn import PhononGNNCalc, keys, predict
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.graph import build_graphs
from ase_phonongnn.model import ModelConfig, build_model
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.structures import antiperovskite

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
    def run() -> None:
        for atoms in frames:
            atoms = atoms.copy()
            atoms.calc = calc
            for name in names:
                calc.get_property(name, atoms)

    return run


def batched(net: Any, source: Any, n: int, batch_size: int, names: Any):
    def run() -> None:
        out = predict(net, source, batch_size=batch_size, properties=names)
        if len(next(iter(out.values()))) != n:
            raise RuntimeError("predict returned the wrong number of frames")

    return run


def throughput(
    net: Any,
    frames: list[Atoms],
    batch_sizes: list[int],
    n_loop: int,
    trajectory: Path,
    rounds: int,
) -> dict[str, Any]:
    """Seconds per frame of the calculator loop and of batched prediction."""
    calc = PhononGNNCalc(net)
    everything = list(calc.implemented_properties)
    n = len(frames)
    variants = {
        "loop": (calculator_loop(calc, frames[:n_loop], everything), n_loop),
        "loop_scalars": (calculator_loop(calc, frames[:n_loop], SCALARS), n_loop),
    }
    for size in batch_sizes:
        variants[f"all_{size}"] = (batched(net, frames, n, size, None), n)
        variants[f"scalars_{size}"] = (batched(net, frames, n, size, SCALARS), n)
    best = interleaved_best({k: f for k, (f, _) in variants.items()}, rounds)
    per_frame = {k: best[k] / variants[k][1] for k in variants}
    loop, loop_scalars = per_frame["loop"], per_frame["loop_scalars"]
    rows = []
    for size in batch_sizes:
        all_s, scalars_s = per_frame[f"all_{size}"], per_frame[f"scalars_{size}"]
        rows.append(
            {
                "batch_size": size,
                "frames_per_second": 1 / all_s,
                "scalars_frames_per_second": 1 / scalars_s,
                "ratio_to_calculator_loop": loop / all_s,
                "scalars_ratio_to_calculator_loop": loop_scalars / scalars_s,
            }
        )
        print(rows[-1])
    best_all = max(rows, key=lambda r: r["frames_per_second"])
    best_scalars = max(rows, key=lambda r: r["scalars_frames_per_second"])
    size = best_all["batch_size"]
    file_rates = interleaved_best(
        {
            "file": batched(net, trajectory, n, size, None),
            "memory": batched(net, frames, n, size, None),
        },
        max(1, rounds - 1),
    )
    return {
        "n_atoms": len(frames[0]),
        "n_frames": n,
        "calculator_loop_frames": n_loop,
        "calculator_loop_frames_per_second": 1 / loop,
        "calculator_loop_scalars_frames_per_second": 1 / loop_scalars,
        "batched": rows,
        "best_batch_size": size,
        "best_ratio": best_all["ratio_to_calculator_loop"],
        "best_scalars_batch_size": best_scalars["batch_size"],
        "best_scalars_ratio": best_scalars["scalars_ratio_to_calculator_loop"],
        "from_extxyz_over_in_memory_time": file_rates["file"] / file_rates["memory"],
    }


def count_flops(net: Any, batch: Any, derivatives: bool) -> int:
    """FLOPs of one evaluation of ``batch`` (matmul-like operations)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(batch, compute_forces=derivatives, compute_stress=derivatives)
    return int(counter.get_total_flops())


def matmul(n: int, m: int, k: int, dtype: torch.dtype):
    a, b = torch.randn(n, k, dtype=dtype), torch.randn(k, m, dtype=dtype)
    return lambda: torch.mm(a, b)


def op_shares(net: Any, batch: Any) -> dict[str, Any]:
    """Share of the forward pass's CPU time per operator (torch.profiler)."""
    with torch.inference_mode():
        net(batch)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                net(batch)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events)
    shares = {e.key: e.self_cpu_time_total / total for e in events}
    matmuls = ("aten::mm", "aten::addmm", "aten::bmm")
    return {
        "matmul_share": sum(shares.get(k, 0.0) for k in matmuls),
        "top": dict(sorted(shares.items(), key=lambda kv: -kv[1])[:8]),
    }


def arithmetic_bound(
    net: Any, frames: list[Atoms], scalar_batch: int, all_batch: int, rounds: int
) -> dict[str, Any]:
    """Compare prediction times with FLOPs over matmul FLOP/s, and the loop.

    FLOPs are those that ``FlopCounterMode`` counts (matrix products: the
    linear layers and the few small batched products of the edge vectors),
    per frame, for one forward pass. The machine's matmul rate is the best of
    square float32 products of 256, 512 and 1024 (single thread as set),
    timed in the same interleaved rounds as the predictions, the model alone
    on prebuilt graphs, and the calculator loop, each at the batch size where
    its prediction was fastest (``scalar_batch`` without, ``all_batch`` with
    forces and stress). The loop over the model alone is the most that
    batching could give: what is left when every cost of a call but the
    model's own arithmetic is gone.
    """
    n = max(scalar_batch, all_batch, 32)
    frames = frames[:n]
    dtype = next(net.parameters()).dtype

    def chunks(size: int) -> list[Any]:
        return [
            build_graphs(frames[k : k + size], net.cutoff, dtype=dtype)
            for k in range(0, n, size)
        ]

    scalar_batches, all_batches = chunks(scalar_batch), chunks(all_batch)
    forward_flops = count_flops(net, scalar_batches[0], derivatives=False)
    forward_flops /= min(scalar_batch, n)
    derivative_flops = count_flops(net, all_batches[0], derivatives=True)
    derivative_flops /= min(all_batch, n)

    def forward() -> None:
        with torch.inference_mode():
            for batch in scalar_batches:
                net(batch)

    def derivatives() -> None:
        with torch.no_grad():
            for batch in all_batches:
                net(batch, compute_forces=True, compute_stress=True)

    sizes = (256, 512, 1024)
    timed = {f"matmul_{s}": matmul(s, s, s, torch.float32) for s in sizes}
    edges = int(scalar_batches[0].num_edges)
    width = int(net.config.hidden_channels)
    timed["matmul_model_shape"] = matmul(edges, width, width, dtype)
    timed["predict_scalars"] = batched(net, frames, n, scalar_batch, SCALARS)
    timed["predict_all"] = batched(net, frames, n, all_batch, None)
    timed["model_forward"] = forward
    timed["model_forces_stress"] = derivatives
    calc = PhononGNNCalc(net)
    n_loop = 16
    everything = list(calc.implemented_properties)
    timed["loop"] = calculator_loop(calc, frames[:n_loop], everything)
    timed["loop_scalars"] = calculator_loop(calc, frames[:n_loop], SCALARS)
    best = interleaved_best(timed, max(3, 2 * rounds))
    rates = {s: 2.0 * s**3 / best[f"matmul_{s}"] for s in sizes}
    peak = max(rates.values())
    bound = forward_flops / peak
    per_frame = {
        k: best[k] / (n_loop if k.startswith("loop") else n)
        for k in timed
        if not k.startswith("matmul")
    }
    return {
        "scalar_batch_size": scalar_batch,
        "all_batch_size": all_batch,
        "edges_per_frame": scalar_batches[0].num_edges / min(scalar_batch, n),
        "forward_flops_per_frame": forward_flops,
        "forces_stress_flops_per_frame": derivative_flops,
        "matmul_flops_per_second": {str(s): r for s, r in rates.items()},
        "matmul_flops_per_second_model_shape": 2.0
        * edges
        * width
        * width
        / best["matmul_model_shape"],
        "peak_matmul_flops_per_second": peak,
        "bound_seconds_per_frame": bound,
        "seconds_per_frame": per_frame,
        "scalars_over_bound": per_frame["predict_scalars"] / bound,
        "model_forward_over_bound": per_frame["model_forward"] / bound,
        "forces_stress_over_scalars": per_frame["predict_all"]
        / per_frame["predict_scalars"],
        "model_forces_stress_over_forward": per_frame["model_forces_stress"]
        / per_frame["model_forward"],
        "loop_over_model_alone": per_frame["loop"] / per_frame["model_forces_stress"],
        "loop_scalars_over_model_alone": per_frame["loop_scalars"]
        / per_frame["model_forward"],
        "loop_over_forces_stress_bound": per_frame["loop"] * peak / derivative_flops,
        "forward_profile": op_shares(net, scalar_batches[0]),
    }


def memory_child(trajectory: Path, n: int, batch_size: int, device: str) -> None:
    """Run in a fresh process: peak memory of predicting the trajectory."""
    from ase_phonongnn.prediction import resolve_device

    net = model(resolve_device(device))
    predict(net, trajectory, batch_size=1, index=":1")  # imports, first allocations
    can_reset = reset_peak_rss()
    before = peak_rss_kib()
    cuda = next(net.parameters()).is_cuda
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    out = predict(net, trajectory, batch_size=batch_size, index=f":{n}")
    row: dict[str, Any] = {
        "batch_size": batch_size,
        "n_frames": len(out[keys.ENERGY]),
        "peak_rss_rise_MiB": (peak_rss_kib() - before) / 1024 if can_reset else None,
    }
    if cuda:
        row["cuda_max_allocated_MiB"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(row))


def memory(
    trajectory: Path, n: int, batch_size: int, threads: int, device: str
) -> dict[str, Any]:
    """Peak memory of predicting ``n`` frames, in a fresh process."""
    command = [sys.executable, __file__, "--memory-child", str(trajectory)]
    command += ["--batch-size", str(batch_size), "--n-frames", str(n)]
    command += ["--threads", str(threads), "--device", device]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames, rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS / "predict.json")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--n-frames", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.n_frames, args.batch_size, args.device)
        return
    from ase_phonongnn.prediction import resolve_device

    n_frames, n_loop, rounds = (128, 32, 2) if args.quick else (512, 128, 3)
    sizes = [1, 8, 32, 128] if args.quick else [1, 8, 16, 32, 128, 512]
    device = resolve_device(args.device)
    net = model(device)
    result: dict[str, Any] = {
        "benchmark": "batched prediction against a calculator loop",
        "machine": machine(),
        "device": str(device),
        "quick": args.quick,
        "rounds": rounds,
        "model": "ours, 4 targets, 32 channels, 3 interactions, cutoff 5.5 Å, "
        "float32, untrained",
    }
    with tempfile.TemporaryDirectory() as folder:
        for name, make in (
            ("Ag3SBr_40_atoms", frames_40),
            ("Ag3SBr_5_atoms", frames_5),
        ):
            frames = make(n_frames)
            trajectory = Path(folder) / f"{name}.extxyz"
            ase.io.write(trajectory, frames)
            result[name] = throughput(net, frames, sizes, n_loop, trajectory, rounds)
            print(name, {k: v for k, v in result[name].items() if k != "batched"})
        frames = frames_40(n_frames)
        best = result["Ag3SBr_40_atoms"]
        result["arithmetic_40_atoms"] = arithmetic_bound(
            net,
            frames,
            best["best_scalars_batch_size"],
            best["best_batch_size"],
            rounds,
        )
        print(result["arithmetic_40_atoms"])
        # memory: 512 frames on file, each batch size in a fresh process
        trajectory = Path(folder) / "memory_40_atoms.extxyz"
        ase.io.write(trajectory, frames_40(512))
        result["memory_40_atoms"] = [
            memory(trajectory, max(128, size), size, args.threads, args.device)
            for size in sizes
        ]
        # 4 batches against 16: a bounded peak stays put (one batch alone
        # peaks lower: the allocator's pools fill over the first batches)
        rises = [
            memory(trajectory, n, 32, args.threads, args.device)["peak_rss_rise_MiB"]
            for n in (128, 512)
        ]
        result["memory_streaming_40_atoms"] = {
            "batch_size": 32,
            "frames": [128, 512],
            "peak_rss_rise_MiB": rises,
            "ratio_4x_frames": rises[1] / max(rises[0], 1e-9),
        }
    result["machine"]["load_average_after"] = machine()["load_average"]
    write_json(args.out, result)


if __name__ == "__main__":
    main()

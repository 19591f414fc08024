"""The shipped committee on a CUDA GPU against the CPU: frames/s and equal results.

Cases, every property (energy, forces, stress, band gap, VBM, σh), the
shipped committee loaded as ``PhononGNNCalc()`` loads it:

- a 10,000-frame trajectory of 40-atom Ag3SBr thermal snapshots (shipped
  force constants, 300 K), through :func:`~ase_phonongnn.predict` with its
  default batching on each device; the CPU predicts the first
  ``--cpu-frames`` frames (all of them would take longer than the time
  allowed), and its frames/s is measured on those;
- one calculator evaluation of rattled Ag3SBr supercells of 1,000, 10,000
  and 50,000 atoms.

The GPU's time is the best of ``--repeats`` runs after a warm-up run; the
CPU's is one run (all its threads unless ``--threads``). Results on the GPU
are compared with the CPU's on the same frames: the largest difference over
the largest value, per property; they are equal when that is below
``--rtol`` (float32: the devices sum in different orders).

Precision: float32, as the models ship. float64 runs too when the package
offers a dtype option (a ``dtype`` parameter of ``load_model``); without
one it is recorded as skipped.

The run stops starting new cases after ``--budget`` seconds (default 480),
so that it ends within 10 minutes on any CUDA machine; skipped cases are
recorded. Without CUDA it prints why and exits with status 0.

    python benchmarks/bench_gpu.py [--out benchmarks/results/gpu.json]
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import RESULTS, machine, write_json

#: Supercells of the 5-atom Ag3SBr cell: atoms -> repeat.
CELLS = {1000: (5, 5, 8), 10000: (10, 10, 20), 50000: (20, 20, 25)}


def frames_40(n: int) -> list[Any]:
    """Return ``n`` thermal snapshots of 2x2x2 Ag3SBr at 300 K."""
    from ase_phonongnn.data import force_constants_path
    from ase_phonongnn.sample import PhononSampler

    sampler = PhononSampler.from_file(force_constants_path("Ag3SBr"))
    return sampler.sample(300.0, n, method="normal-mode", imaginary="abs", seed=0)


def supercell(n_atoms: int) -> Any:
    """Return a rattled Ag3SBr supercell of ``n_atoms`` atoms."""
    from ase_phonongnn.structures import antiperovskite

    atoms = antiperovskite("Br").repeat(CELLS[n_atoms])
    atoms.rattle(0.05, seed=n_atoms)
    return atoms


def committee(device: str, dtype: torch.dtype) -> Any:
    """Return the shipped committee on ``device`` in ``dtype``."""
    from ase_phonongnn.data import default_model_paths
    from ase_phonongnn.model import load_model
    from ase_phonongnn.predict import Committee

    if dtype == torch.float32:
        return Committee.load(None, device)
    models = [
        load_model(p, device=device, dtype=dtype)  # type: ignore[call-arg]
        for p in default_model_paths()
    ]
    from ase_phonongnn.data import default_spread_scale

    return Committee(
        models, [str(p) for p in default_model_paths()], default_spread_scale()
    )


def dtype_option() -> bool:
    """Whether ``load_model`` takes a ``dtype``."""
    from ase_phonongnn.model import load_model

    return "dtype" in inspect.signature(load_model).parameters


def run(models: Any, structures: list[Any]) -> tuple[float, dict[str, np.ndarray]]:
    """Predict every property; return the seconds and the flattened results."""
    from ase_phonongnn import predict

    start = time.perf_counter()
    out = predict(models, structures)
    if models.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    flat = {k: np.concatenate([np.ravel(x) for x in v]) for k, v in out.items()}
    return seconds, flat


def difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest |a - b| over the largest |b|, per property."""
    return {
        k: float(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(b[k])), 1e-30))
        for k in sorted(set(a) & set(b))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu.json")
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--cpu-frames", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--budget", type=float, default=480.0, help="seconds")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            f"no CUDA device (torch {torch.__version__}, CUDA build "
            f"{torch.version.cuda or 'none'}): nothing to measure; run this on a "
            "machine with a CUDA GPU"
        )
        return
    begin = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtypes = [torch.float32] + ([torch.float64] if dtype_option() else [])
    result: dict[str, Any] = {
        "benchmark": "shipped committee, CUDA against CPU",
        "machine": machine(),
        "gpu": torch.cuda.get_device_name(0),
        "cpu_threads": torch.get_num_threads(),
        "rtol": args.rtol,
        "float64": "run" if len(dtypes) == 2 else "skipped: load_model has no dtype",
        "cases": {},
        "skipped": [],
    }
    frames = frames_40(args.frames)
    print(
        f"{len(frames)} frames sampled, {time.perf_counter() - begin:.0f} s", flush=True
    )
    cases: list[tuple[str, list[Any], list[Any]]] = [
        ("trajectory40", frames, frames[: args.cpu_frames])
    ]
    for n_atoms in CELLS:
        cell = [supercell(n_atoms)]
        cases.append((f"cell{n_atoms}", cell, cell))
    for dtype in dtypes:
        name = str(dtype).removeprefix("torch.")
        gpu, cpu = committee("cuda", dtype), committee("cpu", dtype)
        run(gpu, frames[:64])  # CUDA context, kernels, allocator
        for case, on_gpu, on_cpu in cases:
            key = f"{name}/{case}"
            if time.perf_counter() - begin > args.budget:
                result["skipped"].append(key)
                print(f"{key}: skipped (over the time budget)", flush=True)
                continue
            cpu_seconds, cpu_out = run(cpu, on_cpu)
            seconds = []
            for _ in range(args.repeats + 1):
                elapsed, gpu_out = run(gpu, on_gpu)
                seconds.append(elapsed)
            best = min(seconds[1:])
            n = len(on_cpu)
            same = {k: v[: len(cpu_out[k])] for k, v in gpu_out.items()}
            diff = difference(same, cpu_out)
            row = {
                "gpu_frames": len(on_gpu),
                "cpu_frames": n,
                "gpu_frames_per_second": len(on_gpu) / best,
                "cpu_frames_per_second": n / cpu_seconds,
                "gpu_over_cpu": (len(on_gpu) / best) / (n / cpu_seconds),
                "largest_relative_difference": diff,
                "equal": max(diff.values()) < args.rtol,
                "gpu_max_memory_MiB": torch.cuda.max_memory_allocated() / 2**20,
            }
            result["cases"][key] = row
            print(
                key,
                {k: v for k, v in row.items() if k != "largest_relative_difference"},
                flush=True,
            )
            torch.cuda.reset_peak_memory_stats()
    result["seconds"] = time.perf_counter() - begin
    result["all_equal"] = all(r["equal"] for r in result["cases"].values())
    write_json(args.out, result)
    if not result["all_equal"]:
        sys.exit("GPU results differ from the CPU's beyond --rtol")


if __name__ == "__main__":
    main()

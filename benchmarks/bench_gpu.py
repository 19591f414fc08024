"""The shipped committee on a CUDA GPU against the CPU: frames/s and equal results.

Cases, every property (energy, forces, stress, band gap, VBM, σh), the
shipped committee loaded as ``PhononGNNCalc()`` loads it:

- a 10,000-frame trajectory of 40-atom Ag3SBr thermal snapshots (shipped
  force constants, 300 K), through :func:`~ase_phonongnn.prediction` with its
  default batching on each device; the CPU predicts the first
  ``--cpu-frames`` frames (all of them would take longer than the time
  allowed), and its frames/s is measured on those;
- one evaluation of rattled Ag3SBr supercells of 1,000, 10,000 and 50,000
  atoms by the committee without its tight-binding member ("local": the
  five members whose cost grows linearly with the atoms), and of the
  1,000-atom cell by the whole committee too. The tight-binding member
  diagonalises dense 2N × 2N Hamiltonians (time ∝ N³, memory ∝ N²: 9.6 GB
  of matrices for 10,000 atoms, 240 GB for 50,000), which no device
  evaluates in the time allowed.

The GPU's time is the best of ``--repeats`` runs after a warm-up run; the
CPU's is one run (all its threads unless ``--threads``). Results on the GPU
are compared with the CPU's on the same frames: the largest difference over
the largest value, per property; they are equal when that is below
``--rtol`` (float32: the devices sum in different orders).

The committee on the GPU must give the CPU's means; the spreads
(``_std``, differences of close numbers) are reported, not judged.

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
CELLS = {320: (4, 4, 4), 1000: (5, 5, 8), 10000: (10, 10, 20), 50000: (20, 20, 25)}


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


def committee(device: str, dtype: torch.dtype, local: bool = False) -> Any:
    """Return the shipped committee on ``device`` in ``dtype``.

    ``local`` leaves out the members with the tight-binding readout.
    """
    from _common import shipped_committee

    from ase_phonongnn.model import load_model
    from ase_phonongnn.prediction import Committee

    options = {} if dtype == torch.float32 else {"dtype": dtype}
    paths, spread_scale = shipped_committee()
    models = [load_model(p, device=device, **options) for p in paths]
    keep = [
        k
        for k, m in enumerate(models)
        if not local or m.config.readout != "tight-binding"
    ]
    return Committee(
        [models[k] for k in keep], [str(paths[k]) for k in keep], spread_scale
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


def memory_mib(device: str) -> float | None:
    """Peak CUDA memory allocated since the last reset, in MiB."""
    if device != "cuda":
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "gpu.json")
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--cpu-frames", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--budget", type=float, default=480.0, help="seconds")
    parser.add_argument(
        "--cells", type=int, nargs="+", default=[1000, 10000, 50000], choices=CELLS
    )
    # a check of this script without a GPU: "cpu" in place of "cuda"
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
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
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else "none",
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
    cases: list[tuple[str, bool, list[Any], list[Any]]] = [
        ("trajectory40", False, frames, frames[: args.cpu_frames])
    ]
    for n_atoms in args.cells:
        cell = [supercell(n_atoms)]
        if n_atoms <= 1000:
            cases.append((f"cell{n_atoms}", False, cell, cell))
        cases.append((f"cell{n_atoms}/local", True, cell, cell))
    for dtype in dtypes:
        name = str(dtype).removeprefix("torch.")
        models = {
            local: (
                committee(args.device, dtype, local),
                committee("cpu", dtype, local),
            )
            for local in (False, True)
        }
        run(models[False][0], frames[:64])  # CUDA context, kernels, allocator
        for case, local, on_gpu, on_cpu in cases:
            gpu, cpu = models[local]
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
            # spreads are differences of close numbers: reported, not judged
            means = [v for k, v in diff.items() if not k.endswith("_std")]
            row = {
                "gpu_frames": len(on_gpu),
                "cpu_frames": n,
                "gpu_frames_per_second": len(on_gpu) / best,
                "cpu_frames_per_second": n / cpu_seconds,
                "gpu_over_cpu": (len(on_gpu) / best) / (n / cpu_seconds),
                "largest_relative_difference": diff,
                "equal": max(means) < args.rtol,
                "gpu_max_memory_MiB": memory_mib(args.device),
            }
            result["cases"][key] = row
            print(
                key,
                {k: v for k, v in row.items() if k != "largest_relative_difference"},
                flush=True,
            )
            if args.device == "cuda":
                torch.cuda.reset_peak_memory_stats()
    result["seconds"] = time.perf_counter() - begin
    result["all_equal"] = all(r["equal"] for r in result["cases"].values())
    write_json(args.out, result)
    if not result["all_equal"]:
        sys.exit("GPU results differ from the CPU's beyond --rtol")


if __name__ == "__main__":
    main()

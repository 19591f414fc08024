"""Sampling speed: ase_phonongnn against phonopy's own thermal displacements.

Same supercell (Ag3SBr 2×2×2, shipped harmonic GFN2-xTB force constants), same
number of snapshots and temperature, measured side by side in one run; both
include loading the force constants and diagonalising. phonopy uses |ω| for
imaginary modes, so our samplers run with the ``abs`` policy. ZG builds one
optimised configuration per snapshot and is timed on n/50 snapshots.

    python benchmarks/bench_sampling.py [--n-snapshots 1000]
"""

from __future__ import annotations

import os

# Small dense matrices: one BLAS thread each for both sides, so that thread
# start-up and oversubscription do not decide the comparison.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import phonopy

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample import PhononSampler

RESULTS = Path(__file__).resolve().parent / "results"
PATH = force_constants_path("Ag3SBr")


def best_of(function: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def phonopy_displacements(n: int, temperature: float) -> None:
    phonon = phonopy.load(str(PATH), produce_fc=True, log_level=0)
    phonon.generate_displacements(
        number_of_snapshots=n, temperature=temperature, random_seed=1
    )
    assert len(phonon.supercells_with_displacements) == n


def our_snapshots(method: str, n: int, temperature: float) -> None:
    sampler = PhononSampler.from_file(PATH)
    snapshots = sampler.sample(temperature, n, method, imaginary="abs", seed=1)
    assert len(snapshots) == n


def run(n: int, temperature: float) -> dict[str, float]:
    phonopy_rate = n / best_of(lambda: phonopy_displacements(n, temperature))
    results = {
        "n_snapshots": n,
        "temperature_K": temperature,
        "phonopy_snapshots_per_s": phonopy_rate,
    }
    for method in ("normal-mode", "paper", "zg"):
        count = n if method != "zg" else max(1, n // 50)
        rate = count / best_of(
            lambda m=method, c=count: our_snapshots(m, c, temperature)
        )
        results[f"{method}_snapshots_per_s"] = rate
        results[f"{method}_vs_phonopy"] = rate / phonopy_rate
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-snapshots", type=int, default=1000)
    parser.add_argument("--temperature", type=float, default=300.0)
    args = parser.parse_args()
    results = run(args.n_snapshots, args.temperature)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sampling.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'sampler':<14}{'snapshots/s':>14}{'vs phonopy':>12}")
    print(f"{'phonopy':<14}{results['phonopy_snapshots_per_s']:>14.0f}{1.0:>12.2f}")
    for method in ("normal-mode", "paper", "zg"):
        rate, ratio = (
            results[f"{method}_snapshots_per_s"],
            results[f"{method}_vs_phonopy"],
        )
        print(f"{method:<14}{rate:>14.0f}{ratio:>12.2f}")


if __name__ == "__main__":
    main()

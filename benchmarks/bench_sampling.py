"""Sampling speed: ase_phonongnn against phonopy's own thermal displacements.

Same supercell (Ag3SBr 2×2×2, shipped harmonic GFN2-xTB force constants), same
number of snapshots and temperature, measured side by side in one run; both
include loading the force constants (phonopy_params.yaml) and diagonalising;
a second comparison starts from the phonopy object in memory (dynamical
matrix, modes and snapshots only), where the sampling itself shows, as
loading dominates a few hundred snapshots. phonopy uses |ω| for
imaginary modes, so our samplers run with the ``abs`` policy. ZG builds one
optimised configuration per snapshot (a search over the signs of every mode)
and is timed on n/50 snapshots. Interleaved rounds, the best of each counts.
Target: not slower than phonopy (ratio ≥ 1).

    python benchmarks/bench_sampling.py [--quick] [--n-snapshots 1000]
"""

from __future__ import annotations

import os

# Small dense matrices: one BLAS thread each for both sides, so that thread
# start-up and oversubscription do not decide the comparison.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import phonopy
from _common import RESULTS, interleaved_best, machine, write_json

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample import PhononSampler

PATH = force_constants_path("Ag3SBr")


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


def run(n: int, temperature: float, rounds: int) -> dict[str, Any]:
    """Snapshots per second of phonopy and of our samplers, interleaved."""
    counts = {"phonopy": n, "normal-mode": n, "paper": n, "zg": max(1, n // 50)}
    timed: dict[str, Callable[[], object]] = {
        "phonopy": lambda: phonopy_displacements(n, temperature)
    }
    for method in ("normal-mode", "paper", "zg"):
        timed[method] = lambda m=method: our_snapshots(m, counts[m], temperature)
    # after loading: both start from one phonopy object already in memory and
    # build the dynamical matrix and its modes (phonopy does on every call)
    phonon = phonopy.load(str(PATH), produce_fc=True, log_level=0)
    ours = phonopy.load(str(PATH), produce_fc=True, log_level=0)
    constants = phonon.force_constants.copy()

    def phonopy_loaded() -> None:
        # generate_displacements replaces the dataset and drops the constants
        phonon.force_constants = constants
        phonon.generate_displacements(
            number_of_snapshots=n, temperature=temperature, random_seed=1
        )
        # the structures, as our samplers return them (phonopy makes them lazily)
        if len(phonon.supercells_with_displacements) != n:
            raise RuntimeError("phonopy made the wrong number of snapshots")

    timed["phonopy_loaded"] = phonopy_loaded
    for method in ("normal-mode", "paper", "zg"):
        timed[f"{method}_loaded"] = lambda m=method: PhononSampler.from_phonopy(
            ours
        ).sample(temperature, counts[m], m, imaginary="abs", seed=1)
    counts |= {f"{m}_loaded": counts[m] for m in ("normal-mode", "paper", "zg")}
    counts["phonopy_loaded"] = n
    best = interleaved_best(timed, rounds)
    rates = {name: counts[name] / best[name] for name in timed}
    results: dict[str, Any] = {
        "n_snapshots": n,
        "n_snapshots_zg": counts["zg"],
        "temperature_K": temperature,
        "phonopy_snapshots_per_s": rates["phonopy"],
        "phonopy_after_load_snapshots_per_s": rates["phonopy_loaded"],
    }
    for method in ("normal-mode", "paper", "zg"):
        results[f"{method}_snapshots_per_s"] = rates[method]
        results[f"{method}_vs_phonopy"] = rates[method] / rates["phonopy"]
    for method in ("normal-mode", "paper", "zg"):
        rate = rates[f"{method}_loaded"]
        results[f"{method}_after_load_snapshots_per_s"] = rate
        results[f"{method}_after_load_vs_phonopy"] = rate / rates["phonopy_loaded"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 snapshots")
    parser.add_argument("--n-snapshots", type=int, default=1000)
    parser.add_argument("--temperature", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "sampling.json")
    args = parser.parse_args()
    n = 200 if args.quick else args.n_snapshots
    results = {"machine": machine(), "quick": args.quick}
    results |= run(n, args.temperature, rounds=3)
    results["machine"]["load_average_after"] = machine()["load_average"]
    write_json(args.out, results)
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

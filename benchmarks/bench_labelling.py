"""Labelling: store overhead against a GFN2-xTB single point, and worker scaling.

Measured side by side in one run, on 40-atom Ag3SBr snapshots (2×2×2 cubic
supercell, seeded displacements of up to 0.05 Å):

1. the cost of one GFN2-xTB single point (tblite, one OpenMP thread);
2. the store's cost per snapshot: ``SnapshotStore.add`` plus
   ``write_labels`` with 40-atom forces and a GFN2-xTB-sized provenance record,
   each record flushed in two steps as in a real run;
3. the whole pipeline's overhead per snapshot: ``label_snapshots`` with a
   near-free calculator (Lennard-Jones), wall time minus calculation time;
4. throughput of ``label_snapshots`` with GFN2-xTB and a ProcessPoolExecutor
   of 1 and of 2 workers (one thread each), in the order 1, 2, 2, 1 (best of
   each), so that a change of the machine's load reaches both.

Target: store overhead < 1 % of one single point. The 1-vs-2-worker speedup
approaches 2 only on two otherwise idle cores; the load average is recorded
with the results, in benchmarks/results/labelling.json.

    python benchmarks/bench_labelling.py [--quick] [--n-snapshots 4]
                                         [--n-records 300]

``--quick`` skips the worker scaling (8 more GFN2-xTB single points per
worker count and round, several minutes on a loaded machine).
``--calculator gpaw`` measures the worker scaling of the GPAW labeller
instead (about 200 CPU-seconds per snapshot: use ``--n-snapshots 2
--rounds 1``).
"""

from __future__ import annotations

import os

# One OpenMP thread per tblite process, so that 1 and 2 workers compare fairly.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import itertools
import json
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, machine, write_json
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn.label import GFN2xTB, label_snapshots
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.structures import antiperovskite


def ag3sbr_snapshots(n: int, seed: int = 0) -> list[Atoms]:
    unit = antiperovskite("Br")
    rng = np.random.default_rng(seed)
    snapshots = []
    for i in range(n):
        atoms = unit.repeat((2, 2, 2))
        atoms.positions += rng.uniform(-0.05, 0.05, atoms.positions.shape)
        atoms.info.update(
            temperature=100.0, method="random", seed=seed, snapshot_index=i
        )
        snapshots.append(atoms)
    return snapshots


def single_point_seconds(atoms: Atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = GFN2xTB()
    start = time.perf_counter()
    atoms.get_potential_energy()
    return time.perf_counter() - start


def store_seconds_per_record(n_records: int, directory: Path) -> float:
    snapshots = ag3sbr_snapshots(n_records, seed=1)
    rng = np.random.default_rng(2)
    provenance = {
        keys.LABELLER: "gfn2-xtb",
        "calculator_class": "ase_phonongnn.label.xtb.GFN2xTB",
        "parameters": {"method": "GFN2-xTB", "accuracy": 1.0, "retry": True},
        "scf_settings": {"retry_rung": 0, "mixer-damping": 0.4, "max-iter": 250},
        "unavailable_labels": [],
        "versions": {"ase": "3.29.0", "tblite": "0.8.0", "numpy": "2.4.6"},
        "seconds": 10.0,
        "host": platform.node(),
    }
    start = time.perf_counter()
    with SnapshotStore.create(directory / "store.h5") as store:
        for atoms in snapshots:
            (row,) = store.add([atoms])
            labels = {
                keys.ENERGY: -4194.9,
                keys.ENERGY_PER_ATOM: -104.87,
                keys.BAND_GAP: 3.1,
                keys.VBM: -10.2,
                keys.HYDROSTATIC_STRESS: 0.4,
                keys.STRESS: rng.normal(size=6) * 1e-3,
                keys.FORCES: rng.normal(size=(len(atoms), 3)),
            }
            store.write_labels(int(row), labels, provenance)
    return (time.perf_counter() - start) / n_records


def pipeline_overhead_per_snapshot(n: int, directory: Path) -> float:
    """Wall time of label_snapshots minus its calculations, per snapshot."""
    snapshots = ag3sbr_snapshots(n, seed=3)
    path = directory / "pipeline.h5"
    start = time.perf_counter()
    label_snapshots(snapshots, "ase.calculators.lj:LennardJones", path, progress=False)
    wall = time.perf_counter() - start
    with SnapshotStore.open(path) as store:
        calculation = sum(a.info[keys.LABEL_PROVENANCE]["seconds"] for a in store)
    return (wall - calculation) / n


def throughput(
    n_workers: int, snapshots: list[Atoms], directory: Path, calculator: str
) -> float:
    """Snapshots per second of ``calculator`` with a pool of ``n_workers``."""
    for k in itertools.count():  # a fresh store: an existing one would resume
        path = directory / f"workers{n_workers}_{k}.h5"
        if not path.exists():
            break
    with ProcessPoolExecutor(n_workers) as executor:
        executor.submit(int).result()  # start the workers outside the timing
        start = time.perf_counter()
        summary = label_snapshots(snapshots, calculator, path, executor, progress=False)
        wall = time.perf_counter() - start
    assert summary.done + summary.failed == len(snapshots)
    return len(snapshots) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one single point, no worker scaling"
    )
    parser.add_argument("--n-snapshots", type=int, default=4, help="GFN2-xTB snapshots")
    parser.add_argument("--n-records", type=int, default=300, help="store records")
    parser.add_argument(
        "--calculator",
        default="gfn2-xtb",
        help="labeller of the worker scaling: gfn2-xtb (default) or gpaw "
        "(results in labelling-gpaw.json)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="rounds of 1 and 2 workers (default 2: 1, 2, 2, 1)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    suffix = "" if args.calculator == "gfn2-xtb" else f"-{args.calculator}"
    args.out = args.out or RESULTS / f"labelling{suffix}.json"
    snapshots = ag3sbr_snapshots(args.n_snapshots)
    result: dict[str, Any] = {
        "benchmark": "labelling",
        "system": "Ag3SBr 2x2x2, 40 atoms, GFN2-xTB (tblite), 1 OpenMP thread",
        # worker scaling needs two idle cores: a loaded machine shows less
        "machine": machine(),
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        single_point = single_point_seconds(snapshots[0])
        store = store_seconds_per_record(args.n_records, directory)
        pipeline = pipeline_overhead_per_snapshot(args.n_records, directory)
        result |= {
            "gfn2_xtb_single_point_s": round(single_point, 3),
            "store_seconds_per_snapshot": round(store, 6),
            "store_overhead_fraction_of_single_point": round(store / single_point, 6),
            "pipeline_overhead_seconds_per_snapshot": round(pipeline, 6),
            "pipeline_overhead_fraction_of_single_point": round(
                pipeline / single_point, 6
            ),
            "target_store_overhead_below": 0.01,
        }
        if not args.quick:
            # 1 and 2 workers alternate (1, 2, 2, 1, ...), so that a change of
            # load reaches both
            rates: dict[int, list[float]] = {1: [], 2: []}
            order = [(1, 2) if r % 2 == 0 else (2, 1) for r in range(args.rounds)]
            for n_workers in itertools.chain.from_iterable(order):
                rates[n_workers].append(
                    throughput(n_workers, snapshots, directory, args.calculator)
                )
            one, two = max(rates[1]), max(rates[2])
            result |= {
                "throughput_calculator": args.calculator,
                "n_snapshots_throughput": args.n_snapshots,
                "rounds": args.rounds,
                "throughput_1_worker_per_s": round(one, 5),
                "throughput_2_workers_per_s": round(two, 5),
                "speedup_2_over_1_workers": round(two / one, 3),
            }
    result["machine"]["load_average_after"] = machine()["load_average"]
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

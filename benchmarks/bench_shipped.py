"""The shipped models' prediction speed and memory, against the code before.

What ships: the default committee (``ase_phonongnn/data/default-model*``,
loaded as ``PhononGNNCalc()`` loads it) and one member of it (the first
path of the shipped committee's manifest). Two versions of
the package run side by side in one run: this checkout ("now") and a frozen
copy of an earlier commit ("before", a ``git worktree`` given by
``--baseline``), each in a worker process of its own (``PYTHONPATH`` set to
its checkout), on the same frames read from the same files. The parent
times interleaved rounds (every round runs every case once in each worker,
in turn; the best round of each counts), so a change of the machine's load
reaches both versions alike.

Cases, for the committee and the member, every property (energy, forces,
stress, band gap, VBM, σh) and the scalars only (no backward pass), and
``predict40`` of the committee with compiled message kernels
(``committee-compiled``: ``PhononGNNCalc(compile_messages=True)``, in the
versions that have it; its speed-up is over the committee of "before"):

- ``predict40``: :func:`~ase_phonongnn.prediction` of thermal snapshots of the
  40-atom 2×2×2 Ag3SBr cell (shipped force constants, 300 K) with each
  version's default batch size;
- ``loop40``: a loop of calculator calls on the first of those frames (the
  calculator evaluates every property whatever is asked);
- ``cell<N>``: one calculator evaluation (every property) of a rattled
  N-atom Ag3SBr supercell: the member 320, 2,560 and (unless ``--quick``)
  10,080 atoms; the committee 320 atoms only, since its tight-binding
  member diagonalises dense 2N × 2N Hamiltonians (time ∝ N³: minutes for
  2,560 atoms on one core, in either version);
- ``batch<B>`` (member): ``predict`` with ``batch_size=B``, to show where
  per-batch throughput levels off and that the default is never slower
  than batch 1.

Every case runs in both workers, one after the other, so each case of one
version follows the same case of the other; each round starts at a later
case, so that no case always follows the same one.

Each worker keeps the results of its first run of every case; the parent
compares the two versions' results (largest difference over largest value,
per property). Memory: in a fresh process per version, model and size, the
rise of the peak resident set (Linux ``VmHWM``, reset after loading the
models and evaluating one 40-atom frame) over one calculator evaluation
with forces and stress.

Targets: committee, every property, ≥ 3× before; ``predict`` with its
defaults ≥ 1.5× the calculator loop on 40-atom frames and no slower than
batch 1; peak memory of a 2,560-atom frame ≤ 0.4 GiB.

    git worktree add /tmp/baseline 1385a40
    python benchmarks/bench_shipped.py --baseline /tmp/baseline [--quick]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, machine, peak_rss_kib, reset_peak_rss, write_json

ROOT = Path(__file__).resolve().parent.parent
SCALARS = ["energy", "band_gap", "vbm"]
MODELS = ("committee", "member")
#: The committee with compiled message kernels (versions that have them).
COMPILED = "committee-compiled"
WHAT = ("all", "scalars")


# -- frames ---------------------------------------------------------------
def write_frames(folder: Path, n_frames: int, cells: list[int]) -> dict[str, str]:
    """Write the 40-atom snapshots and the supercells; return their paths."""
    import ase.io

    from ase_phonongnn.data import force_constants_path
    from ase_phonongnn.sample import PhononSampler
    from ase_phonongnn.structures import antiperovskite

    sampler = PhononSampler.from_file(force_constants_path("Ag3SBr"))
    frames = sampler.sample(
        300.0, n_frames, method="normal-mode", imaginary="abs", seed=0
    )
    paths = {"frames40": str(folder / "frames40.extxyz")}
    ase.io.write(paths["frames40"], frames)
    for n in cells:
        repeat = {320: (4, 4, 4), 2560: (8, 8, 8), 10080: (12, 12, 14)}[n]
        atoms = antiperovskite("Br").repeat(repeat)
        atoms.rattle(0.05, seed=n)
        paths[f"cell{n}"] = str(folder / f"cell{n}.extxyz")
        ase.io.write(paths[f"cell{n}"], atoms)
    return paths


# -- worker: one version of the package --------------------------------------
def calculators() -> dict[str, Any]:
    """Return the committee and one member, loaded as ``PhononGNNCalc()`` does."""
    from _common import shipped_committee

    from ase_phonongnn import PhononGNNCalc

    calcs = {
        "committee": PhononGNNCalc(),
        "member": PhononGNNCalc(shipped_committee()[0][0]),
    }
    if "compile_messages" in inspect.signature(PhononGNNCalc).parameters:
        calcs[COMPILED] = PhononGNNCalc(compile_messages=True)
    return calcs


def make_cases(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the cases of a worker: name -> function returning its results."""
    import ase.io

    from ase_phonongnn import predict

    frames = ase.io.read(spec["paths"]["frames40"], index=":")
    cells = {k: ase.io.read(p) for k, p in spec["paths"].items() if k != "frames40"}
    calcs = calculators()
    cases: dict[str, Any] = {}

    def evaluate(calc: Any, structures: list[Any], names: list[str]) -> Any:
        def run() -> dict[str, np.ndarray]:
            out: dict[str, list[Any]] = {}
            calc.reset()  # ASE would return the results of an identical last call
            for atoms in structures:
                atoms = atoms.copy()
                atoms.calc = calc
                for name in names:
                    out.setdefault(name, []).append(calc.get_property(name, atoms))
            return {k: np.concatenate([np.ravel(x) for x in v]) for k, v in out.items()}

        return run

    def batched(calc: Any, names: list[str] | None, size: int | None = None) -> Any:
        options = {} if size is None else {"batch_size": size}

        def run() -> dict[str, np.ndarray]:
            out = predict(calc.committee, frames, properties=names, **options)
            return {k: np.concatenate([np.ravel(x) for x in v]) for k, v in out.items()}

        return run

    for model, calc in calcs.items():
        everything = list(calc.committee.properties)
        for what in WHAT:
            names = everything if what == "all" else SCALARS
            cases[f"{model}/{what}/predict40"] = batched(calc, names)
        if model == COMPILED:
            continue
        for key, atoms in cells.items():
            if model == "member" or len(atoms) <= spec["committee_cells_up_to"]:
                cases[f"{model}/all/{key}"] = evaluate(calc, [atoms], everything)
        cases[f"{model}/all/loop40"] = evaluate(
            calc, frames[: spec["n_loop"]], everything
        )
    for size in spec.get("batch_sizes", []):
        member = calcs["member"]
        everything = list(member.committee.properties)
        for what in WHAT:
            names = everything if what == "all" else SCALARS
            cases[f"member/{what}/batch{size}"] = batched(member, names, size)
    return cases


def worker(spec_path: Path) -> None:
    """Serve timings: read case names on stdin, answer seconds on stdout."""
    import torch

    spec = json.loads(spec_path.read_text())
    torch.set_num_threads(spec["threads"])
    import ase_phonongnn

    cases = make_cases(spec)
    results = {}
    for name, run in cases.items():  # warm-up, and the results to compare
        results.update({f"{name}|{k}": v for k, v in run().items()})
    np.savez(spec["results"], **results)
    print(json.dumps({"ready": list(cases), "package": ase_phonongnn.__file__}))
    sys.stdout.flush()
    for line in sys.stdin:
        name = line.strip()
        start = time.perf_counter()
        cases[name]()
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)


class Worker:
    """A worker process of one version of the package."""

    def __init__(self, root: Path, spec: dict[str, Any], folder: Path) -> None:
        path = folder / f"spec_{spec['version']}.json"
        path.write_text(json.dumps(spec))
        env = os.environ | {"PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=folder,
        )
        self.ready = self._read()
        print(f"{spec['version']}: {self.ready['package']}", flush=True)

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark worker stopped; see its error above")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def time(self, name: str) -> float:
        """Run case ``name`` once in the worker; return its seconds."""
        assert self.process.stdin is not None
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        return float(self._read()["seconds"])

    def close(self) -> None:
        """End the worker."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def compare(now: Path, before: Path) -> dict[str, float]:
    """Largest |now - before| over the largest |before|, per case and property.

    The compiled committee of "now" is compared with the committee of
    "before".
    """
    a, b = np.load(now), np.load(before)
    out = {}
    for key in sorted(a.files):
        other = key.replace(COMPILED, "committee", 1)
        if other not in b.files:
            continue
        x, y = a[key], b[other]
        out[key] = float(np.max(np.abs(x - y)) / max(np.max(np.abs(y)), 1e-30))
    return out


# -- memory ---------------------------------------------------------------
def memory_child(spec_path: Path, model: str, cell: str) -> None:
    """Run in a fresh process: peak memory of one evaluation with forces."""
    import ase.io
    import torch

    spec = json.loads(spec_path.read_text())
    torch.set_num_threads(spec["threads"])
    calc = calculators()[model]
    first = ase.io.read(spec["paths"]["frames40"], index=0)
    first.calc = calc
    first.get_forces()  # imports, first allocations
    atoms = ase.io.read(spec["paths"][cell])
    can_reset = reset_peak_rss()
    before = peak_rss_kib()
    atoms.calc = calc
    atoms.get_forces()
    atoms.get_stress()
    rise = (peak_rss_kib() - before) / 1024 if can_reset else None
    peak = peak_rss_kib() / 1024
    print(json.dumps({"peak_rss_rise_MiB": rise, "peak_rss_MiB": peak}))


def memory(root: Path, spec_path: Path, model: str, cell: str) -> dict[str, Any]:
    """Peak memory of one evaluation, in a fresh process of one version."""
    env = os.environ | {"PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "--memory-child", str(spec_path)]
    done = subprocess.run(
        [*command, model, cell], capture_output=True, text=True, env=env, check=True
    )
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


# -- the run ----------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames, rounds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=Path("/tmp/baseline"),
        help="checkout of the earlier commit (git worktree add PATH COMMIT)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "shipped.json")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return
    if args.memory_child is not None:
        spec_path, model, cell = args.memory_child
        memory_child(Path(spec_path), model, cell)
        return
    if not (args.baseline / "ase_phonongnn").is_dir():
        raise SystemExit(
            f"--baseline {args.baseline} is not a checkout of the package; make "
            "one with: git worktree add /tmp/baseline 1385a40"
        )
    n_frames, n_loop, rounds = (32, 8, 2) if args.quick else (64, 16, 3)
    cells = [320, 2560] if args.quick else [320, 2560, 10080]
    sizes = [1, 4, 16, 32] if args.quick else [1, 4, 8, 16, 32, 64]
    versions = {"now": ROOT, "before": args.baseline.resolve()}
    commit = subprocess.run(
        ["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    result: dict[str, Any] = {
        "benchmark": "shipped committee and member, now against before",
        "machine": machine(),
        "baseline_commit": commit,
        "quick": args.quick,
        "rounds": rounds,
        "n_frames_40": n_frames,
        "calculator_loop_frames": n_loop,
    }
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        paths = write_frames(folder, n_frames, cells)
        spec: dict[str, Any] = {
            "paths": paths,
            "n_loop": n_loop,
            "threads": args.threads,
            "committee_cells_up_to": 320,
        }
        workers = {}
        for version, root in versions.items():
            workers[version] = Worker(
                root,
                spec
                | {"batch_sizes": sizes, "version": version}
                | {"results": str(folder / f"{version}.npz")},
                folder,
            )
        names = workers["now"].ready["ready"]
        best: dict[tuple[str, str], float] = {}
        for k in range(rounds):
            # each round starts one case later: no case always follows another
            shift = k * len(names) // rounds
            for case in names[shift:] + names[:shift]:
                for version, w in workers.items():
                    if case in w.ready["ready"]:
                        seconds = w.time(case)
                        key = (version, case)
                        best[key] = min(best.get(key, float("inf")), seconds)
            print(f"round {k + 1}/{rounds} done", flush=True)
        for w in workers.values():
            w.close()
        differences = compare(folder / "now.npz", folder / "before.npz")
        result["cases"] = cases_table(best, n_frames, n_loop)
        result["largest_relative_difference"] = differences
        result["worst_relative_difference"] = max(differences.values())
        spec_path = folder / "spec_now.json"
        result["memory"] = {}
        for version, root in versions.items():
            row = memory(root, spec_path, "member", "cell2560")
            result["memory"][f"{version}/member/cell2560"] = row
            print(version, "member", row, flush=True)
    result["summary"] = summary(result["cases"])
    print(json.dumps(result["summary"], indent=1))
    result["machine"]["load_average_after"] = machine()["load_average"]
    write_json(args.out, result)


def cases_table(
    best: dict[tuple[str, str], float], n_frames: int, n_loop: int
) -> dict[str, Any]:
    """Frames per second of every case and version, and now / before."""
    table: dict[str, Any] = {}
    for (version, case), seconds in best.items():
        frames = n_frames if "predict40" in case or "batch" in case else 1
        frames = n_loop if case.endswith("loop40") else frames
        row = table.setdefault(case, {})
        row[f"{version}_frames_per_second"] = frames / seconds
        row[f"{version}_seconds"] = seconds
    for row in table.values():
        if "before_seconds" in row:
            row["speedup"] = row["before_seconds"] / row["now_seconds"]
    return table


def summary(cases: dict[str, Any]) -> dict[str, Any]:
    """Return the ratios that the targets ask for."""
    out: dict[str, Any] = {}
    for model in MODELS:
        loop = cases[f"{model}/all/loop40"]
        for what in WHAT:
            row = cases[f"{model}/{what}/predict40"]
            out[f"{model}/{what}/predict40/speedup"] = row["speedup"]
            for version in ("now", "before"):
                out[f"{model}/{what}/predict40/over_loop/{version}"] = (
                    row[f"{version}_frames_per_second"]
                    / loop[f"{version}_frames_per_second"]
                )
        out[f"{model}/all/loop40/speedup"] = loop["speedup"]
        for case, row in cases.items():
            if case.startswith(model) and "/cell" in case:
                out[f"{case}/speedup"] = row["speedup"]
    for what in WHAT:
        compiled = cases.get(f"{COMPILED}/{what}/predict40")
        if compiled is not None:
            before = cases[f"committee/{what}/predict40"]["before_seconds"]
            out[f"{COMPILED}/{what}/predict40/speedup"] = (
                before / compiled["now_seconds"]
            )
            out[f"{COMPILED}/{what}/predict40/over_eager_now"] = (
                cases[f"committee/{what}/predict40"]["now_seconds"]
                / compiled["now_seconds"]
            )
    for version in ("now", "before"):
        batch = {
            int(case.rsplit("batch", 1)[1]): row[f"{version}_frames_per_second"]
            for case, row in cases.items()
            if case.startswith("member/all/batch")
        }
        default = cases["member/all/predict40"][f"{version}_frames_per_second"]
        out[f"member/all/default_over_batch1/{version}"] = default / batch[1]
        out[f"member/all/default_over_best_batch/{version}"] = default / max(
            batch.values()
        )
    return out


if __name__ == "__main__":
    main()

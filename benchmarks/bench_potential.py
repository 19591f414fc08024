r"""A committee as a potential off its thermal ensemble: relaxations and hot MD.

What a user's scripts do with ``atoms.calc = PhononGNNCalc(...)``, on a
2×2×2 cell (Ag3SBr by default), with the committee's own labeller
(``--labeller``: GFN2-xTB by default, ``gpaw`` for a PBEsol committee) as the
judge:

1. **Relaxations.** From seeded 300 K phonon-informed snapshots (the shipped
   renormalised Ag3SBr force constants, or ``--force-constants``), ASE's
   BFGS to fmax 0.05 eV/Å at the fixed cell, and BFGS on a
   ``FrechetCellFilter`` (positions and cell), at most ``--max-steps`` steps
   each. Reported per run: converged, steps, the closest contact at the end
   (target ≥ 2.2 Å), the volume change, and at the end point the labeller's
   energy per atom against the model's (target within 10 meV/atom) and the
   labeller's largest force (a minimum of the model is one of the labeller's
   where that is small).
2. **Calibration along the trajectories.** Every ``--every``-th step of each
   relaxation is labelled too (``--every 0``: the end points only): the
   committee's error in energy per atom against its calibrated spread (RMSE
   over RMS spread; the fraction of errors within two spreads; the rank
   correlation of |error| and spread). A calibrated committee's spread rises
   where the model leaves its data.
3. **MD.** ASE Langevin at ``--md-temperature`` (600 K) for ``--md-ps``
   (10 ps) at 1 fs from the ideal cell (friction 0.01/fs), checked every 10
   steps: finite positions, the closest contact, the committee's energy
   spread. The run stays physical when it ends with no contact below
   0.5 Å (:class:`~ase_phonongnn.sample.md.MDCollapseError`).

GFN2-xTB labels on the first rung of its retry ladder (the training data
leave out what converged only on later rungs); a structure on which the
labeller's SCF fails is recorded as such. With ``--retry-end-points`` an
end point on which it fails is labelled once more with the labeller's own
defaults (for GFN2-xTB its whole ladder: more mixer damping and iterations,
the same Hamiltonian; 10–30 minutes where every rung fails), and
``label_retried`` says so.

    python benchmarks/bench_potential.py                      # shipped gfn2-xtb
    python benchmarks/bench_potential.py --model m1.safetensors m2.safetensors \
        --calibration calibration.json --name smooth
    python benchmarks/bench_potential.py --model p0.safetensors p1.safetensors \
        --labeller gpaw --force-constants Ag3SI_300K_params.yaml.xz --every 0 \
        --snapshots 2 --name pbesol-Ag3SI

Writes ``benchmarks/results/potential-<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, machine, write_json
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.filters import FrechetCellFilter
from ase.neighborlist import neighbor_list
from ase.optimize import BFGS
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from ase_phonongnn import PhononGNNCalc
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.label import resolve_calculator
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.sample.md import check_physical, langevin

#: relaxations end at this largest force, eV/Å
FMAX = 0.05
#: options of the labellers: GFN2-xTB on the first rung of its SCF ladder
LABELLER_OPTIONS = {"gfn2-xtb": {"retry": False}}


def closest_contact(atoms: Atoms) -> float:
    """Return the shortest interatomic distance (Å) under periodic boundaries."""
    distances = neighbor_list("d", atoms, 4.0)
    return float(distances.min())


def label(atoms: Atoms, labeller: BaseCalculator) -> dict[str, float] | None:
    """Return the labeller's energy per atom and largest force, None on failure."""
    system = atoms.copy()
    system.calc = labeller
    try:
        energy = system.get_potential_energy() / len(system)
        forces = system.get_forces()
    except Exception:  # any failure, recorded as the labelling pipeline does
        # (e.g. GPAW's singular overlap where a collapsed model put atoms together)
        return None
    return {
        "energy_per_atom": float(energy),
        "fmax": float(np.linalg.norm(forces, axis=1).max()),
    }


def model_point(atoms: Atoms, calc: PhononGNNCalc) -> dict[str, float]:
    """Return the committee's energy per atom and its spread at ``atoms``."""
    system = atoms.copy()
    system.calc = calc
    return {
        "energy_per_atom": float(calc.get_property("energy_per_atom", system)),
        "energy_per_atom_std": float(calc.get_property("energy_per_atom_std", system)),
    }


def relax(
    atoms: Atoms, calc: PhononGNNCalc, cell: bool, max_steps: int, every: int
) -> dict[str, Any]:
    """Relax a copy of ``atoms``; return the run's figures and sampled frames."""
    system = atoms.copy()
    system.calc = calc
    target = FrechetCellFilter(system) if cell else system
    optimiser = BFGS(target, logfile=None)
    frames: list[Atoms] = []
    if every:
        optimiser.attach(lambda: frames.append(system.copy()), interval=every)
    start = time.perf_counter()
    try:
        converged = bool(optimiser.run(fmax=FMAX, steps=max_steps))
        error = None
    except Exception as err:  # a model that fails mid-run is a result
        converged, error = False, f"{type(err).__name__}: {err}"
    end = system.copy()
    frames.append(end)
    return {
        "cell_filter": cell,
        "converged": converged,
        "error": error,
        "steps": int(optimiser.nsteps),
        "seconds": time.perf_counter() - start,
        "closest_contact": closest_contact(end),
        "volume_change_percent": 100 * (end.get_volume() / atoms.get_volume() - 1),
        "frames": frames,
    }


def judged(
    run: dict[str, Any],
    calc: PhononGNNCalc,
    labeller: BaseCalculator,
    fallback: BaseCalculator | None = None,
) -> dict[str, Any]:
    """Label a relaxation's frames; add the end point's and the frames' figures.

    Where ``labeller`` fails at the end point, ``fallback`` (if given) labels it.
    """
    frames = run.pop("frames")
    points = []
    for frame in tqdm(frames, desc="labelling frames", unit="frame"):
        point = model_point(frame, calc)
        truth = label(frame, labeller)
        point["label"] = truth
        points.append(point)
    end = points[-1]
    retried = end["label"] is None and fallback is not None
    if retried:
        end["label"] = label(frames[-1], fallback)
    run["end"] = {
        "model_energy_per_atom": end["energy_per_atom"],
        "model_spread": end["energy_per_atom_std"],
        "label_retried": retried,
    }
    if end["label"] is not None:
        run["end"]["label_energy_per_atom"] = end["label"]["energy_per_atom"]
        run["end"]["label_fmax"] = end["label"]["fmax"]
        run["end"]["error_mev_per_atom"] = 1000 * (
            end["energy_per_atom"] - end["label"]["energy_per_atom"]
        )
    run["trajectory"] = [
        {
            "model": p["energy_per_atom"],
            "spread": p["energy_per_atom_std"],
            "label": None if p["label"] is None else p["label"]["energy_per_atom"],
        }
        for p in points
    ]
    return run


def calibration(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the committee's energy error against its spread over all frames."""
    rows = [p for run in runs for p in run["trajectory"] if p["label"] is not None]
    error = np.array([p["model"] - p["label"] for p in rows])
    spread = np.array([p["spread"] for p in rows])
    return {
        "n_frames": len(rows),
        "n_label_failures": sum(
            p["label"] is None for run in runs for p in run["trajectory"]
        ),
        "rmse_mev_per_atom": 1000 * float(np.sqrt(np.mean(error**2))),
        "rms_spread_mev_per_atom": 1000 * float(np.sqrt(np.mean(spread**2))),
        "rmse_over_rms_spread": float(np.sqrt(np.mean(error**2) / np.mean(spread**2))),
        "within_two_spreads": float(np.mean(np.abs(error) <= 2 * spread)),
        "spearman_abs_error_spread": float(spearmanr(np.abs(error), spread)[0]),
    }


def md(
    calc: PhononGNNCalc,
    sampler: PhononSampler,
    temperature: float,
    picoseconds: float,
    seed: int,
) -> dict[str, Any]:
    """Run Langevin MD from the ideal cell; return whether it stayed physical."""
    timestep = 1.0
    system, dynamics = langevin(
        sampler.supercell,
        calc,
        temperature,
        timestep,
        0.01,
        np.random.RandomState(seed),
    )
    steps = round(1000 * picoseconds / timestep)
    closest, spread, kinetic = np.inf, 0.0, []
    start = time.perf_counter()
    error = None
    try:
        for _ in range(steps // 10):
            dynamics.run(10)
            check_physical(system, temperature, dynamics.nsteps, timestep)
            closest = min(closest, closest_contact(system))
            spread = max(
                spread, float(calc.get_property("energy_per_atom_std", system))
            )
            kinetic.append(system.get_temperature())
    except Exception as err:  # a collapse, within a chunk too (non-finite positions)
        error = f"{type(err).__name__}: {err}"
    return {
        "temperature": temperature,
        "timestep_fs": timestep,
        "steps_run": int(dynamics.nsteps),
        "steps_asked": steps,
        "stayed_physical": error is None,
        "error": error,
        "closest_contact": float(closest),
        "max_energy_spread_mev_per_atom": 1000 * spread,
        # the kinetic temperature of a run that stayed physical (after its
        # first fifth); a collapsed run's is meaningless
        "mean_temperature": (
            float(np.mean(kinetic[len(kinetic) // 5 :])) if error is None else None
        ),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    """Run the checks on the committee and write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["gfn2-xtb"])
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="JSON with the committee's spread_scale (a named model has its own)",
    )
    parser.add_argument("--name", default="gfn2-xtb")
    parser.add_argument(
        "--labeller", default="gfn2-xtb", help="gfn2-xtb | gpaw | MODULE:FACTORY"
    )
    parser.add_argument(
        "--force-constants",
        type=Path,
        default=force_constants_path("Ag3SBr", 300),
        help="phonopy params whose supercell and 300 K normal modes start the runs",
    )
    parser.add_argument("--snapshots", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument(
        "--every", type=int, default=25, help="label every k-th step (0: the ends)"
    )
    parser.add_argument(
        "--retry-end-points",
        action="store_true",
        help="label an end point the first SCF rung fails on with the whole ladder",
    )
    parser.add_argument("--md-temperature", type=float, default=600.0)
    parser.add_argument("--md-ps", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    spec: Any = args.model[0] if len(args.model) == 1 else args.model
    scale = None
    if args.calibration is not None:
        scale = json.loads(args.calibration.read_text())["spread_scale"]
    calc = PhononGNNCalc(spec, device="cpu", compile_messages=True, spread_scale=scale)
    factory, _ = resolve_calculator(args.labeller, LABELLER_OPTIONS.get(args.labeller))
    fallback = None
    if args.retry_end_points and args.labeller in LABELLER_OPTIONS:
        fallback, _ = resolve_calculator(args.labeller)
    sampler = PhononSampler.from_file(args.force_constants)
    snapshots = sampler.sample(
        300, args.snapshots, "normal-mode", imaginary="floor:0.5", seed=args.seed
    )
    runs = []
    for k, snapshot in enumerate(snapshots):
        for cell in (False, True):
            run = relax(snapshot, calc, cell, args.max_steps, args.every)
            retry = fallback() if fallback is not None else None
            run = judged(run, calc, factory(), retry)
            run["snapshot"] = k
            print(json.dumps({key: run[key] for key in run if key != "trajectory"}))
            runs.append(run)
    result = {
        "machine": machine(),
        "model": [str(m) for m in args.model],
        "labeller": args.labeller,
        "force_constants": str(args.force_constants),
        "relaxations": runs,
        "calibration_along_relaxations": calibration(runs),
        "md": md(calc, sampler, args.md_temperature, args.md_ps, args.seed),
    }
    print(json.dumps(result["calibration_along_relaxations"]))
    print(json.dumps(result["md"]))
    write_json(RESULTS / f"potential-{args.name}.json", result)


if __name__ == "__main__":
    main()

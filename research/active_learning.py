r"""Where a committee leaves its data as a potential, label it there.

    python research/active_learning.py --round 1           # explore (GFN2-xTB)
    phonongnn label research/datasets/active-Ag3SBr-round1.extxyz \
        --out datasets/gfn2-xtb/active-Ag3SBr.h5 --calculator gfn2-xtb \
        --calculator-option retry=False                    # label

    python research/active_learning.py --model pbesol --force-constants \
        research/pbesol/force-constants/Ag3SBr_300K_model_al3_params.yaml.xz \
        --threshold 0.05 --strained 0 \
        --out research/pbesol/samples/active-Ag3SBr-part0.extxyz

One round of active learning on a 2×2×2 cell, with the committee
(``--model``: member files or a shipped name, default ``gfn2-xtb``) as the
potential, from seeded snapshots of ``--force-constants`` (default the
shipped Ag3SBr constants renormalised at 300 K):

1. **MD.** ASE Langevin at 300, 450 and 600 K (``--temperatures``; 1 fs,
   friction 0.01/fs) from seeded phonon-informed snapshots at that
   temperature, at most ``--md-ps`` each. Every 250 steps (``--keep-every``)
   a frame is kept (the committee's own MD ensemble);
   the energy spread is checked every 10 steps, and where it first exceeds
   ``--threshold`` the run keeps that frame and the one checked before it,
   and stops: past it the model is outside its data and what follows is the
   model's artefact, not the crystal's.
2. **Relaxations.** BFGS at the fixed cell and on a ``FrechetCellFilter``
   from seeded 300 K snapshots (``--relax-seeds`` of each, 0 for none);
   every 10th step is kept until the spread first exceeds the threshold
   (checked at every step), which is kept and ends the run.
3. **Strains.** Phonon-informed snapshots at 100–600 K in cells strained
   isotropically by −8 … +12 % (the GFN2-xTB equation of state has its
   minimum near +3 %; a cell filter goes there) with shears of up to ±2 %.

With ``--past-exit K`` a run goes on for K relaxation steps (MD: K checks)
after its exit and keeps them: where the labeller's SCF fails on the exit
frames themselves, the frames a few steps along the model's false descent
are where it can still be told the energy goes up.

The frames go to ``--out`` (default
``research/datasets/active-Ag3SBr-round<N>.extxyz``) with their provenance
(``method`` "active", ``active_source``, the spread, the step). The GFN2-xTB
round labels them into the dataset ``gfn2-xtb-active-Ag3SBr``, on the first
rung of GFN2-xTB's retry ladder as the other training stores; the PBEsol one
into ``pbesol-active-Ag3SBr`` (``research/pbesol/label.sh``).

    python research/active_learning.py --summary   # labelled and failed

counts the GFN2-xTB store's labels and SCF failures by where the frames came
from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import ase.io
import numpy as np
from ase import Atoms
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from tqdm.auto import tqdm

from ase_phonongnn import PhononGNNCalc, keys
from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.sample.md import langevin

HERE = Path(__file__).resolve().parent / "datasets"
MD_TEMPERATURES = (300.0, 450.0, 600.0)
CHECK = 10
KEEP_EVERY = 250


def spread(system: Atoms, calc: PhononGNNCalc) -> float:
    """Return the committee's calibrated energy spread per atom (eV) at ``system``."""
    return float(calc.get_property("energy_per_atom_std", system))


def frame(system: Atoms, source: str, step: int, calc: PhononGNNCalc) -> Atoms:
    """Return a bare copy of ``system`` with the active-learning provenance."""
    out = Atoms(
        system.numbers, system.get_positions(wrap=True), cell=system.cell, pbc=True
    )
    out.info = {
        keys.METHOD: "active",
        "active_source": source,
        "active_step": step,
        "active_spread": spread(system, calc),
    }
    return out


def md_run(
    start: Atoms,
    calc: PhononGNNCalc,
    temperature: float,
    seed: int,
    steps: int,
    threshold: float,
    past_exit: int = 0,
    keep_every: int = KEEP_EVERY,
) -> list[Atoms]:
    """Run Langevin MD; return the frames kept and those about the exit.

    Every ``keep_every`` steps a frame is kept; where the spread first
    exceeds ``threshold`` the frame checked before, that one and the
    ``past_exit`` checked frames after it are kept, and the run stops.
    """
    system, dynamics = langevin(
        start, calc, temperature, 1.0, 0.01, np.random.RandomState(seed)
    )
    source = f"md {temperature:g} K seed {seed}"
    kept: list[Atoms] = []
    previous = frame(system, source, 0, calc)
    beyond = -1  # checks left past the exit; -1 while inside the data
    for step in tqdm(range(CHECK, steps + 1, CHECK), desc=source, leave=False):
        try:
            dynamics.run(CHECK)
        except Exception:  # collapsed within the check interval
            if not (kept and kept[-1] is previous):
                kept.append(previous)
            break
        current = frame(system, source, step, calc)
        if beyond >= 0:
            kept.append(current)
            beyond -= 1
            if beyond < 0:
                break
        elif current.info["active_spread"] > threshold:
            # the frame before may be kept already (every KEEP_EVERY steps)
            kept += [current] if kept and kept[-1] is previous else [previous, current]
            if past_exit == 0:
                break
            beyond = past_exit - 1
        elif step % keep_every == 0:
            kept.append(current)
        previous = current
    return kept


def relax_run(
    start: Atoms,
    calc: PhononGNNCalc,
    cell: bool,
    seed: int,
    threshold: float,
    past_exit: int = 0,
) -> list[Atoms]:
    """Relax; return every 10th step up to the first frame out of the data.

    The spread is checked at every step; the first step past ``threshold``
    is kept, with the ``past_exit`` steps after it.
    """
    system = start.copy()
    system.calc = calc
    optimiser = BFGS(FrechetCellFilter(system) if cell else system, logfile=None)
    source = f"{'cell-filter' if cell else 'bfgs'} seed {seed}"
    kept: list[Atoms] = []
    beyond = -1  # steps left past the exit; -1 while inside the data
    for step, _ in enumerate(optimiser.irun(fmax=0.05, steps=400)):
        if beyond >= 0:
            kept.append(frame(system, source, step, calc))
            beyond -= 1
            if beyond < 0:
                break
            continue
        current = frame(system, source, step, calc)
        if current.info["active_spread"] > threshold:
            kept.append(current)
            if past_exit == 0:
                break
            beyond = past_exit - 1
        elif step % CHECK == 0:
            kept.append(current)
    return kept


def strained(sampler: PhononSampler, n: int, seed: int) -> list[Atoms]:
    """Phonon-informed snapshots in isotropically strained and sheared cells."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(n):
        temperature = float(rng.choice([100.0, 200.0, 300.0, 400.0, 500.0, 600.0]))
        atoms = sampler.sample(
            temperature,
            1,
            "normal-mode",
            imaginary="floor:0.5",
            seed=int(rng.integers(2**31)),
        )[0]
        iso = float(rng.uniform(-0.08, 0.12))
        shear = rng.uniform(-0.02, 0.02, size=(3, 3))
        deformation = (1 + iso) * np.eye(3) + (shear + shear.T) / 2
        cell = atoms.cell.array @ deformation
        atoms.set_cell(cell, scale_atoms=True)
        snapshot = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
        snapshot.info = {
            keys.METHOD: "active",
            "active_source": "strain",
            "active_step": index,
            keys.TEMPERATURE: temperature,
            "active_strain": iso,
        }
        out.append(snapshot)
    return out


def save(frames: list[Atoms], out: Path, base: int) -> None:
    """Write the frames so far (after each run: a stopped round keeps them)."""
    for index, atoms in enumerate(frames):
        atoms.info[keys.SEED] = base
        atoms.info["snapshot_index"] = index
    ase.io.write(out, frames, format="extxyz")


def summary() -> None:
    """Print the store's labels and SCF failures by source and by temperature."""
    from collections import Counter

    from ase_phonongnn import SnapshotStore
    from ase_phonongnn.data import dataset_path

    by_source: Counter[tuple[str, str, str]] = Counter()
    strains: Counter[tuple[float, bool, str]] = Counter()
    with SnapshotStore.open(dataset_path("gfn2-xtb-active-Ag3SBr")) as store:
        for status in (keys.DONE, keys.FAILED):
            for atoms in store.read_atoms(status):
                source = atoms.info["active_source"].split(" seed")[0]
                out = "out" if atoms.info.get("active_spread", 0) > 0.015 else "in"
                by_source[source, out, status] += 1
                if source == "strain":
                    compressed = atoms.info["active_strain"] < 0
                    strains[atoms.info[keys.TEMPERATURE], compressed, status] += 1
    for key, count in sorted(by_source.items()):
        print(*key, count)
    print("strained snapshots: temperature, compressed, status, count")
    for key, count in sorted(strains.items()):
        print(*key, count)


def main() -> None:
    """Explore with the committee and write the round's frames."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--model", nargs="*", default=None, help="files, or a name")
    parser.add_argument("--calibration", default=None)
    parser.add_argument("--threshold", type=float, default=0.015, help="eV/atom")
    parser.add_argument("--md-ps", type=float, default=4.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--first-seed", type=int, default=None, help="default 100 × --round"
    )
    parser.add_argument("--strained", type=int, default=80)
    parser.add_argument(
        "--temperatures", type=float, nargs="+", default=list(MD_TEMPERATURES)
    )
    parser.add_argument(
        "--keep-every", type=int, default=KEEP_EVERY, help="MD steps between frames"
    )
    parser.add_argument(
        "--relax-seeds",
        type=int,
        default=None,
        help="relaxations per kind (default twice --seeds; 0 skips them)",
    )
    parser.add_argument(
        "--past-exit",
        type=int,
        default=0,
        help="frames kept after the first one out of the data (relaxation steps, "
        "MD checks)",
    )
    parser.add_argument(
        "--force-constants",
        type=Path,
        default=force_constants_path("Ag3SBr", 300),
        help="phonopy file whose snapshots start the runs",
    )
    parser.add_argument("--out", type=Path, default=None, help=".extxyz")
    args = parser.parse_args()
    if args.summary:
        summary()
        return
    # one name or file, or a committee of files
    spec: Any = "gfn2-xtb"
    if args.model:
        spec = args.model[0] if len(args.model) == 1 else args.model
    scale = None
    if args.calibration:
        scale = json.loads(Path(args.calibration).read_text())["spread_scale"]
    calc = PhononGNNCalc(spec, device="cpu", compile_messages=True, spread_scale=scale)
    sampler = PhononSampler.from_file(args.force_constants)
    out = args.out or HERE / f"active-Ag3SBr-round{args.round}.extxyz"
    frames: list[Atoms] = []
    base = 100 * args.round if args.first_seed is None else args.first_seed
    for temperature in args.temperatures:
        for seed in range(base, base + args.seeds):
            start = sampler.sample(
                temperature, 1, "normal-mode", imaginary="floor:0.5", seed=seed
            )[0]
            run = md_run(
                start,
                calc,
                temperature,
                seed,
                int(1000 * args.md_ps),
                args.threshold,
                args.past_exit,
                args.keep_every,
            )
            last = run[-1].info if run else {}
            print(
                f"md {temperature:g} K seed {seed}: {len(run)} frames, last step "
                f"{last.get('active_step')}, spread {last.get('active_spread', 0):.3f}",
                flush=True,
            )
            frames += run
            save(frames, out, base)
    relax_seeds = 2 * args.seeds if args.relax_seeds is None else args.relax_seeds
    for cell in (False, True):
        for seed in range(base, base + relax_seeds):
            start = sampler.sample(
                300, 1, "normal-mode", imaginary="floor:0.5", seed=seed
            )[0]
            run = relax_run(start, calc, cell, seed, args.threshold, args.past_exit)
            print(
                f"relax cell={cell} seed {seed}: {len(run)} frames, last step "
                f"{run[-1].info['active_step']}, spread "
                f"{run[-1].info['active_spread']:.3f}",
                flush=True,
            )
            frames += run
            save(frames, out, base)
    frames += strained(sampler, args.strained, seed=base)
    save(frames, out, base)
    print(f"{len(frames)} frames -> {out}")


if __name__ == "__main__":
    main()

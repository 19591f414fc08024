"""Phonon-informed snapshots against MD on the same potential (Ag3SBr, 2×2×2).

    python research/ensemble_check.py 100 200 300 400 600
    python research/ensemble_check.py 300 --model A.safetensors B.safetensors \
        --force-constants Ag3SI_300K_params.yaml.xz --out ensemble_check-X.json

For each temperature: Langevin MD with the shipped default committee from the
ideal cubic cell (1 fs, friction 0.01/fs, up to 10 ps; positions every 10
steps), stopped where the committee's calibrated energy spread passes
15 meV/atom (the model has left its data) or the run collapses; and
normal-mode snapshots of the shipped GFN2-xTB force constants renormalised
at that temperature (the nearest one that ships: 300 K below it) with each
imaginary-mode policy (soft modes floored at 0.5 THz, or |ω|), quantum and
classical statistics. ⟨u²⟩ of MD is a time average over the frames after the
first picosecond (the frames are correlated; that sets its error, not its
value), also per picosecond, which shows whether the run stays in the cubic
basin. Per ensemble: per-species ⟨u²⟩ (Å², about the ideal sites, and about
each atom's mean position), the largest displacement, the closest Ag–S and
Ag–Ag contacts, and the committee's band gap (MD: frames 200 fs apart).
Results are appended to research/ensemble_check.json (one record per
temperature; a temperature already there is skipped).

Earlier runs: with a 4 fs time step the committee of the time collapsed at
300 K (research/ensemble_check-4fs.json: contacts of 0 Å, ⟨u²⟩ of 10³¹ Å²);
at 1 fs the committee before active learning collapsed at 300 K after 1.8 ps
(research/ensemble_check-before-active.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list

from ase_phonongnn import PhononGNNCalc, predict
from ase_phonongnn.data import force_constants_path, renormalised_temperatures
from ase_phonongnn.model import named_model
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.sample.md import langevin

OUT = Path(__file__).with_name("ensemble_check.json")
TIMESTEP_FS = 1.0
FRICTION = 0.01
MD_PS = 10.0
EQUILIBRATION_PS = 1.0
MAX_SPREAD = 0.015  # eV/atom, calibrated
N_PHONON = 200
POLICIES = ("floor:0.5", "abs")


def per_species(values: np.ndarray, symbols: np.ndarray) -> dict[str, float]:
    """Mean of (frames, atoms) values per species."""
    return {s: float(values[:, symbols == s].mean()) for s in dict.fromkeys(symbols)}


def summary(positions: np.ndarray, ideal: Atoms) -> dict[str, object]:
    """Per-species ⟨u²⟩, largest displacement and contacts of (frames, atoms, 3)."""
    symbols = np.array(ideal.get_chemical_symbols())
    u2 = np.sum((positions - ideal.positions) ** 2, axis=-1)
    about_mean = np.sum((positions - positions.mean(axis=0)) ** 2, axis=-1)
    contacts: dict[str, list[float]] = {"Ag-S": [], "Ag-Ag": []}
    for frame in positions[:: max(1, len(positions) // 200)]:
        atoms = Atoms(ideal.numbers, frame, cell=ideal.cell, pbc=True)
        i, j, d = neighbor_list("ijd", atoms, 4.0)
        pair = np.char.add(np.char.add(symbols[i], "-"), symbols[j])
        for name in contacts:
            contacts[name].append(float(d[pair == name].min()))
    return {
        "msd": per_species(u2, symbols),
        "msd_about_mean": per_species(about_mean, symbols),
        "largest_displacement": {
            s: float(np.sqrt(u2[:, symbols == s].max())) for s in dict.fromkeys(symbols)
        },
        "closest": {
            k: [float(np.mean(v)), float(np.min(v))] for k, v in contacts.items()
        },
        "n_frames": len(positions),
    }


def gaps(
    positions: np.ndarray, ideal: Atoms, model: list[str] | None = None
) -> list[float]:
    """Return the committee's band gap over frames: mean and standard deviation."""
    frames = [Atoms(ideal.numbers, p, cell=ideal.cell, pbc=True) for p in positions]
    values = predict(model, frames, progress=False)["band_gap"]
    return [float(np.mean(values)), float(np.std(values))]


def run_md(
    ideal: Atoms,
    temperature: float,
    seed: int,
    model: list[str] | None = None,
    ps: float = MD_PS,
) -> dict[str, object]:
    """Langevin MD from the ideal cell until MD_PS, a spread stop or a collapse."""
    calc = PhononGNNCalc(model, compile_messages=True)
    rng = np.random.RandomState(seed)
    system, dynamics = langevin(ideal, calc, temperature, TIMESTEP_FS, FRICTION, rng)
    frames, energies, spreads = [], [], []
    stop = None
    n_steps = round(1000 * ps / TIMESTEP_FS)
    while dynamics.nsteps < n_steps:
        dynamics.run(10)
        positions = system.get_positions(wrap=False)
        spread = float(calc.results["energy_std"]) / len(system)
        if not np.isfinite(positions).all() or not spread <= MAX_SPREAD:
            stop = (
                f"energy spread {1000 * spread:.1f} meV/atom at "
                f"{dynamics.nsteps * TIMESTEP_FS / 1000:.2f} ps"
            )
            break
        frames.append(positions)
        energies.append(float(calc.results["energy_per_atom"]))
        spreads.append(spread)
    frames_per_ps = round(100 / TIMESTEP_FS)
    start = int(EQUILIBRATION_PS * frames_per_ps)
    positions = np.asarray(frames)
    record: dict[str, object] = {
        "stop": stop,
        "ps_run": len(frames) / frames_per_ps,
        "energy_per_atom_by_ps": [
            float(np.mean(energies[k : k + frames_per_ps]))
            for k in range(0, len(energies), frames_per_ps)
        ],
        "max_spread_mev_per_atom": 1000 * max(spreads) if spreads else None,
    }
    symbols = np.array(ideal.get_chemical_symbols())
    u2 = np.sum((positions - ideal.positions) ** 2, axis=-1)
    record["msd_by_ps"] = [
        per_species(u2[k : k + frames_per_ps], symbols)
        for k in range(0, len(u2), frames_per_ps)
    ]
    if len(positions) > start:
        record.update(summary(positions[start:], ideal))
        record["band_gap"] = gaps(positions[start::20], ideal, model)
    return record


def main(args: argparse.Namespace) -> None:
    """Run the check at each temperature not yet in the output."""
    torch.set_num_threads(1)
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {r["temperature"] for r in records}
    for temperature in args.temperatures:
        if temperature in done:
            continue
        if args.force_constants is None:
            # the nearest temperature whose renormalised force constants ship
            shipped = min(
                renormalised_temperatures("Ag3SBr"),
                key=lambda t: abs(t - temperature),
            )
            path = force_constants_path("Ag3SBr", shipped)
        else:
            shipped, path = None, args.force_constants
        sampler = PhononSampler.from_file(path)
        ideal = sampler.supercell
        start = time.perf_counter()
        md = run_md(
            ideal.repeat(args.repeat),
            temperature,
            seed=11,
            model=args.model,
            ps=args.ps,
        )
        committee = (
            [m.name for m in named_model("default").members]
            if args.model is None
            else args.model
        )
        record: dict[str, object] = {
            "temperature": temperature,
            "force_constants": str(path.name),
            "force_constants_temperature": shipped,
            "md": md,
            "md_timestep_fs": TIMESTEP_FS,
            "md_friction_per_fs": FRICTION,
            "md_seconds": round(time.perf_counter() - start),
            "md_ps_asked": args.ps,
            "committee": committee,
            "md_cell_repeat": args.repeat,
        }
        # normal modes of the force constants' own supercell only
        for policy in POLICIES if args.repeat == 1 else ():
            for statistics in ("quantum", "classical"):
                snapshots = sampler.sample(
                    temperature,
                    N_PHONON,
                    "normal-mode",
                    statistics=statistics,
                    imaginary=policy,
                    seed=11,
                )
                positions = np.array([a.positions for a in snapshots])
                result = summary(positions, ideal)
                result["band_gap"] = gaps(positions, ideal, args.model)
                record[f"phonon-{statistics}-{policy}"] = result
        records.append(record)
        args.out.write_text(json.dumps(records, indent=1) + "\n")
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("temperatures", type=float, nargs="*", default=[300.0])
    parser.add_argument(
        "--model",
        nargs="+",
        default=None,
        help="model files of the committee (default: the shipped one)",
    )
    parser.add_argument(
        "--force-constants",
        type=Path,
        default=None,
        help="phonopy_params of the phonon-informed ensemble (default: the "
        "shipped Ag3SBr ones nearest the temperature)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="MD on the supercell repeated N times along each axis (N = 2: the "
        "4×4×4 cell), without the phonon-informed ensembles",
    )
    parser.add_argument("--ps", type=float, default=MD_PS, help="most MD ps")
    parser.add_argument("--out", type=Path, default=OUT)
    main(parser.parse_args())

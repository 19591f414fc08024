"""Check whether GFN2-xTB's SCF (tblite) converges on thermal snapshots.

Samples a few normal-mode snapshots from a phonopy_params.yaml and runs one
tblite single point per snapshot and SCF setting, printing whether it
converged, the time and the band gap. The settings are those tried for Ag3SI
(see research/README.rst): the retry ladder's mixer dampings, more cycles, looser
accuracy, hot electrons, other starting guesses, a hot SCF (CEH or EEQ guess)
whose density restarts the 300 K one, tblite's electronic-temperature
annealing (hot electrons cooled to 300 K within the SCF) and Broyden
mixers with a short memory.

    python research/scf_convergence_check.py research/Ag3SI_300K_start_params.yaml 300 3

``--iodine K --first-rung`` checks Br-rich solid solutions instead: K of the
Br sites of each Ag3SBr snapshot (seeded) become I and the cell is scaled to
the Vegard lattice parameter of Ag3SBr_x I_(1-x), on the ladder's first rung
only:

    python research/scf_convergence_check.py \
        ase_phonongnn/data/Ag3SBr_300K_params.yaml.xz 100 3 --iodine 1 2 4 --first-rung
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree, kB
from tblite.interface import Calculator

from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.structures import substitute_iodine

SETTINGS: list[dict[str, float]] = [
    {"mixer-damping": 0.4, "max-iter": 250},  # the ladder's first rung
    {"mixer-damping": 0.2, "max-iter": 500},
    {"mixer-damping": 0.05, "max-iter": 500},
    {"mixer-damping": 0.7, "max-iter": 250},
    {"mixer-damping": 0.4, "max-iter": 1000},
    {"accuracy": 3.0, "max-iter": 250},
    {"accuracy": 10.0, "max-iter": 250},
    {"max-iter": 250, "temperature_K": 1000.0},
    {"max-iter": 250, "guess": 1},  # EEQ charges
    {"max-iter": 250, "hot_K": 5000.0, "guess": 2},  # CEH, then restart at 300 K
    {"max-iter": 250, "hot_K": 3000.0, "guess": 1},
    # tblite's own annealing: electrons start hot (K), held, then cooled to 300 K
    {"max-iter": 500, "anneal_K": (3000.0, 50, 50)},
    {"max-iter": 500, "anneal_K": (5000.0, 100, 100)},
    # Broyden mixers that keep only the last 5-40 cycles
    *(
        {"mixer-damping": damping, "mixer-memory": memory, "max-iter": 500}
        for memory in (5, 10, 20, 40)
        for damping in (0.4, 0.1)
    ),
]


def single_point(atoms: Atoms, settings: dict[str, float], restart=None):
    """One tblite GFN2-xTB single point with the given settings."""
    return gfn2_calculator(atoms, settings).singlepoint(restart)


def gfn2_calculator(atoms: Atoms, settings: dict[str, float]) -> Calculator:
    """Return a tblite GFN2-xTB calculator of ``atoms`` set up with ``settings``."""
    settings = dict(settings)
    temperature = settings.pop("temperature_K", 300.0)
    settings.pop("hot_K", None)
    if "anneal_K" in settings:  # (start in K, cycles held, cycles cooling)
        start, hold, cycles = settings.pop("anneal_K")
        settings["annealing"] = (start * kB / Hartree, hold, cycles)
    calc = Calculator(
        "GFN2-xTB",
        atoms.numbers,
        atoms.positions / Bohr,
        lattice=atoms.cell.array / Bohr,
        periodic=np.array([True] * 3),
    )
    calc.set("verbosity", 0)
    calc.set("temperature", temperature * kB / Hartree)
    for key, value in settings.items():
        calc.set(key, value)
    return calc


def check(atoms: Atoms, settings: dict[str, float]) -> tuple[bool, float, float]:
    """Return (converged, seconds, band gap in eV or nan)."""
    start = time.perf_counter()
    try:
        result = None
        if "hot_K" in settings:
            hot = {**settings, "temperature_K": settings["hot_K"]}
            result = single_point(atoms, hot)
        result = single_point(atoms, settings, result)
    except RuntimeError:
        return False, time.perf_counter() - start, float("nan")
    energies = np.asarray(result.get("orbital-energies")) * Hartree
    n = round(np.asarray(result.get("orbital-occupations")).sum() / 2)
    return True, time.perf_counter() - start, float(energies[n] - energies[n - 1])


def main() -> None:
    """Print one line per snapshot and SCF setting."""
    parser = argparse.ArgumentParser()
    parser.add_argument("source", help="phonopy_params.yaml")
    parser.add_argument("temperature", type=float, help="K")
    parser.add_argument("n_snapshots", type=int, nargs="?", default=2)
    parser.add_argument(
        "--iodine", type=int, nargs="+", default=[], help="I atoms per snapshot"
    )
    parser.add_argument(
        "--first-rung", action="store_true", help="only the first SCF setting"
    )
    args = parser.parse_args()
    settings_tried = SETTINGS[:1] if args.first_rung else SETTINGS
    sampler = PhononSampler.from_file(args.source)
    drawn = sampler.sample(
        args.temperature,
        args.n_snapshots,
        method="normal-mode",
        imaginary="floor:0.5",
        seed=5,
    )
    if args.iodine:
        rng = np.random.default_rng(7)
        for n_iodine in args.iodine:
            for index, atoms in enumerate(drawn, start=1):
                substituted = substitute_iodine(atoms, n_iodine, rng)
                for settings in settings_tried:
                    report(f"{n_iodine} I, snapshot {index}", substituted, settings)
        return
    snapshots = [sampler.supercell, *drawn]
    for index, atoms in enumerate(snapshots):
        name = "undisplaced" if index == 0 else f"snapshot {index}"
        for settings in settings_tried:
            report(name, atoms, settings)
            if index == 0:
                break


def report(name: str, atoms: Atoms, settings: dict[str, float]) -> None:
    """Run one single point and print whether it converged."""
    converged, seconds, gap = check(atoms, settings)
    print(
        f"{name:18s} {settings!s:55s} "
        f"{'converged' if converged else 'FAILED':9s} {seconds:6.1f} s  "
        f"gap {gap:.2f} eV",
        flush=True,
    )


if __name__ == "__main__":
    main()

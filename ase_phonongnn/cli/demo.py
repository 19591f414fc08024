"""``phonongnn demo``: the embedded default, end to end, with no arguments.

Samples cubic Ag3SBr (2×2×2, 40 atoms) from the shipped GFN2-xTB force
constants and prints the per-species root-mean-square displacement against
temperature. Renormalised force constants are used where they ship; the
harmonic ones have imaginary modes and are sampled with |ω|.
"""

from __future__ import annotations

import argparse

import numpy as np

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample import PhononSampler

TEMPERATURES = (0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn demo`` (none are needed)."""
    parser.add_argument("--n-snapshots", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    """Sample Ag3SBr at 0–600 K and print rms displacements per species."""
    try:
        path, policy = force_constants_path("Ag3SBr", 300.0), "error"
    except FileNotFoundError:
        path, policy = force_constants_path("Ag3SBr"), "abs"
    sampler = PhononSampler.from_file(path)
    symbols = np.array(sampler.supercell.get_chemical_symbols())
    species = list(dict.fromkeys(symbols))
    print(f"Ag3SBr 2x2x2 from {path.name} (imaginary modes: {policy})")
    print(f"{'T (K)':>7}" + "".join(f"{f'rms u {s} (Å)':>15}" for s in species))
    for temperature in TEMPERATURES:
        snapshots = sampler.sample(
            temperature, args.n_snapshots, imaginary=policy, seed=args.seed
        )
        u = np.array([a.positions for a in snapshots]) - sampler.supercell.positions
        msd = np.sum(u**2, axis=-1)
        row = "".join(f"{np.sqrt(msd[:, symbols == s].mean()):>15.3f}" for s in species)
        print(f"{temperature:>7.0f}{row}")
    return 0

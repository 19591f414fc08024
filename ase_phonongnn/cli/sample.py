"""``phonongnn sample``: thermal snapshots from phonopy force constants."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase import Atoms

from ase_phonongnn.data import MATERIALS, resolve_force_constants
from ase_phonongnn.sample import METHODS, PhononSampler


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn sample``."""
    parser.add_argument(
        "phonopy_params",
        help=f"phonopy_params.yaml with force constants, or a shipped material "
        f"({', '.join(MATERIALS)})",
    )
    parser.add_argument(
        "--temperature", "-T", type=float, nargs="+", required=True, help="K"
    )
    parser.add_argument(
        "--n-snapshots", "-n", type=int, required=True, help="snapshots per temperature"
    )
    parser.add_argument(
        "--method",
        choices=(*METHODS, "md"),
        default="normal-mode",
        help="md: Langevin MD from the ideal supercell with --calculator",
    )
    parser.add_argument(
        "--amplitude", type=float, default=None, help="a in Å (random method)"
    )
    parser.add_argument(
        "--statistics", choices=("quantum", "classical"), default="quantum"
    )
    parser.add_argument(
        "--imaginary", default="error", help="error | abs | drop | floor:THZ"
    )
    parser.add_argument("--plus-minus", action="store_true")
    parser.add_argument("--min-distance", type=float, default=None, help="Å")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help=".extxyz (or any ase.io format) or .h5 store",
    )
    md = parser.add_argument_group("md method")
    md.add_argument(
        "--calculator",
        default="model:default",
        help="model:NAME_OR_PATH (a trained model or committee; default "
        "model:default), or a labeller: gfn2-xtb | gpaw | emt | MODULE:FACTORY",
    )
    md.add_argument("--timestep", type=float, default=2.0, help="fs (default 2)")
    md.add_argument(
        "--friction", type=float, default=0.01, help="Langevin, 1/fs (default 0.01)"
    )
    md.add_argument(
        "--equilibration", type=int, default=1000, help="steps (default 1000)"
    )
    md.add_argument(
        "--pilot",
        type=int,
        default=1000,
        help="steps on which the decorrelation time is measured (default 1000)",
    )
    md.add_argument(
        "--interval",
        type=int,
        default=None,
        help="steps between snapshots (default: the measured decorrelation time)",
    )


def run(args: argparse.Namespace) -> int:
    """Sample and write the snapshots."""
    source = resolve_force_constants(args.phonopy_params)
    sampler = PhononSampler.from_file(source)
    if args.method == "md":
        snapshots = _md_snapshots(sampler.supercell, args)
    else:
        snapshots = sampler.sample(
            args.temperature,
            args.n_snapshots,
            method=args.method,
            statistics=args.statistics,
            imaginary=args.imaginary,
            amplitude=args.amplitude,
            plus_minus=args.plus_minus,
            min_distance=args.min_distance,
            seed=args.seed,
        )
    write_snapshots(snapshots, args.out)
    u = np.array([a.positions - sampler.supercell.positions for a in snapshots])
    symbols = np.array(sampler.supercell.get_chemical_symbols())
    rms = {
        s: float(np.sqrt(np.mean(np.sum(u[:, symbols == s] ** 2, axis=-1))))
        for s in dict.fromkeys(symbols)
    }
    text = ", ".join(f"{s} {v:.3f}" for s, v in rms.items())
    print(f"wrote {len(snapshots)} snapshots to {args.out}; rms |u| (Å): {text}")
    return 0


def _md_snapshots(supercell: Atoms, args: argparse.Namespace) -> list[Atoms]:
    from ase_phonongnn.sample.md import MDSamplingConfig, md_snapshots

    config = MDSamplingConfig(
        timestep=args.timestep,
        friction=args.friction,
        equilibration=args.equilibration,
        pilot=args.pilot,
        interval=args.interval,
    )
    from ase_phonongnn.cli._calculators import calculator_factory

    factory, name = calculator_factory(args.calculator)
    calculator = factory()
    return md_snapshots(
        supercell,
        calculator,
        args.temperature,
        args.n_snapshots,
        config,
        seed=args.seed,
        calculator_name=name,
    )


def write_snapshots(snapshots: list[Atoms], path: Path) -> None:
    """Write snapshots to extxyz (or another ase.io format) or a new store."""
    if path.suffix in (".h5", ".hdf5"):
        from ase_phonongnn.store import SnapshotStore

        with SnapshotStore.create(path) as store:
            store.add(snapshots)
        return
    import ase.io

    ase.io.write(path, snapshots)

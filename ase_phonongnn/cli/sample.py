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
    parser.add_argument("--method", choices=METHODS, default="normal-mode")
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


def run(args: argparse.Namespace) -> int:
    """Sample and write the snapshots."""
    source = resolve_force_constants(args.phonopy_params)
    sampler = PhononSampler.from_file(source)
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


def write_snapshots(snapshots: list[Atoms], path: Path) -> None:
    """Write snapshots to extxyz (or another ase.io format) or a new store."""
    if path.suffix in (".h5", ".hdf5"):
        from ase_phonongnn.store import SnapshotStore

        with SnapshotStore.create(path) as store:
            store.add(snapshots)
        return
    import ase.io

    ase.io.write(path, snapshots)

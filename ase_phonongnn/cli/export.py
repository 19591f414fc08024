"""``phonongnn export``: a store to extended XYZ or an ASE database."""

from __future__ import annotations

import argparse
from pathlib import Path

from ase_phonongnn import keys
from ase_phonongnn.data import resolve_dataset
from ase_phonongnn.errors import UserInputError
from ase_phonongnn.store import SnapshotStore

_DB_SUFFIXES = (".db", ".json")
_XYZ_SUFFIXES = (".extxyz", ".xyz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn export``."""
    parser.add_argument(
        "store",
        type=Path,
        help="snapshot store .h5 or a dataset name (phonon-Ag3SBr, ...)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="extended XYZ (.extxyz, .xyz) or ASE database (.db, .json)",
    )
    parser.add_argument(
        "--status",
        choices=(*keys.STATUSES, "all"),
        default=keys.DONE,
        help="which snapshots (default done)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output file"
    )


def run(args: argparse.Namespace) -> int:
    """Export the snapshots and say how many."""
    suffix = args.out.suffix.lower()
    if suffix not in _DB_SUFFIXES + _XYZ_SUFFIXES:
        raise UserInputError(
            f"--out must end in {', '.join(_XYZ_SUFFIXES + _DB_SUFFIXES)} "
            f"(got {args.out.name!r})"
        )
    if args.out.exists() and not args.overwrite:
        raise UserInputError(f"--out {args.out} exists: pass --overwrite to replace it")
    status = None if args.status == "all" else args.status
    with SnapshotStore.open(resolve_dataset(args.store)) as store:
        if suffix in _DB_SUFFIXES:
            n = store.export_ase_db(args.out, status, overwrite=args.overwrite)
        else:
            n = store.export_extxyz(args.out, status, overwrite=args.overwrite)
    print(f"wrote {n} snapshots to {args.out}")
    return 0

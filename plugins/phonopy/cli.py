"""``phonopy-thermal-displacements``: thermal supercells in phonopy's file formats."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ase_phonongnn.cli.main import report
from ase_phonongnn.errors import UserInputError
from ase_phonongnn.sample import METHODS
from ase_phonongnn_plugins.phonopy.hook import write_thermal_supercells


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``phonopy-thermal-displacements``."""
    parser = argparse.ArgumentParser(
        prog="phonopy-thermal-displacements",
        description="Thermally displaced supercells (ase_phonongnn samplers) in "
        "any format phonopy writes.",
    )
    parser.add_argument("phonopy_params", help="phonopy_params.yaml with forces or FC")
    parser.add_argument("--temperature", "-T", type=float, required=True, help="K")
    parser.add_argument("--n-snapshots", "-n", type=int, required=True)
    parser.add_argument("--method", choices=METHODS, default="normal-mode")
    parser.add_argument("--imaginary", default="error")
    parser.add_argument(
        "--statistics", choices=("quantum", "classical"), default="quantum"
    )
    parser.add_argument("--amplitude", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--calculator",
        default="vasp",
        help="phonopy interface: vasp, qe, abinit, aims, ...",
    )
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write thermally displaced supercells and phonopy_disp.yaml."""
    args = build_parser().parse_args(argv)
    try:
        if not 0 <= args.temperature < float("inf"):
            raise UserInputError(
                f"--temperature must be >= 0 K and finite (got {args.temperature})"
            )
        phonon = write_thermal_supercells(
            args.phonopy_params,
            args.temperature,
            args.n_snapshots,
            interface_mode=args.calculator,
            out_dir=args.out_dir,
            method=args.method,
            imaginary=args.imaginary,
            statistics=args.statistics,
            amplitude=args.amplitude,
            seed=args.seed,
        )
    except Exception as err:
        return report(err, "phonopy-thermal-displacements", debug=args.debug)
    n = len(phonon.supercells_with_displacements)
    print(f"wrote {n} {args.calculator} supercells to {args.out_dir}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

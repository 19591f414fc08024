"""``phonongnn renormalise``: effective force constants at a temperature.

Two routes: ``scph`` (self-consistent loop with any ASE calculator) and
``md`` (DynaPhoPy normal-mode decomposition of an MD trajectory).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ase_phonongnn.data import MATERIALS, force_constants_path
from ase_phonongnn.errors import ConvergenceError
from ase_phonongnn.sample.force_constants import save_phonopy
from ase_phonongnn.sample.renormalise import RenormalisationConfig, renormalise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn renormalise``."""
    parser.add_argument(
        "phonopy_params",
        help=f"phonopy_params.yaml or a shipped material ({', '.join(MATERIALS)})",
    )
    parser.add_argument("--temperature", "-T", type=float, required=True, help="K")
    parser.add_argument(
        "--calculator", default="gfn2-xtb", help="gfn2-xtb | emt | MODULE:FACTORY"
    )
    parser.add_argument("--n-snapshots", type=int, default=40)
    parser.add_argument("--max-iterations", type=int, default=15)
    parser.add_argument("--mixing", type=float, default=0.5)
    parser.add_argument("--tolerance", type=float, default=0.1, help="THz")
    parser.add_argument("--imaginary", default="abs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="directory for per-iteration checkpoints (resumed)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="phonopy_params.yaml to write; the history goes "
        "next to it as <stem>_history.json",
    )


def run(args: argparse.Namespace) -> int:
    """Run the self-consistent loop and write the force constants."""
    from ase_phonongnn.label.calculators import resolve_calculator

    source = (
        force_constants_path(args.phonopy_params)
        if args.phonopy_params in MATERIALS
        else Path(args.phonopy_params)
    )
    config = RenormalisationConfig(
        temperature=args.temperature,
        n_snapshots=args.n_snapshots,
        max_iterations=args.max_iterations,
        mixing=args.mixing,
        tolerance_thz=args.tolerance,
        imaginary=args.imaginary,
        seed=args.seed,
    )
    factory = resolve_calculator(args.calculator)
    executor = None
    if args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(args.workers)
    try:
        result = renormalise(source, factory, config, executor, args.checkpoint)
        status = 0
    except ConvergenceError as err:
        result, status = err.result, 1
        print(str(err))
    finally:
        if executor is not None:
            executor.shutdown()
    save_phonopy(result.phonon, args.out)
    history = args.out.with_name(
        args.out.name.replace("_params.yaml", "") + "_history.json"
    )
    history.write_text(
        json.dumps(
            {
                "config": config.to_dict(),
                "calculator": args.calculator,
                "start": str(source.name),
                "converged": result.converged,
                "history": result.history,
            }
        )
    )
    print(f"wrote {args.out} and {history} (converged: {result.converged})")
    return status

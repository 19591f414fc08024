"""``phonongnn renormalise``: effective force constants at a temperature.

Two routes: ``scph`` (self-consistent loop with any ASE calculator) and
``md`` (DynaPhoPy normal-mode decomposition of an MD trajectory). Both write
phonopy_params.yaml and a JSON record next to it; ``--plot`` draws the
harmonic against the renormalised dispersions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ase_phonongnn.cli._inputs import checked_options, phonopy_input
from ase_phonongnn.cli.label import add_calculator_option_argument
from ase_phonongnn.data import MATERIALS, resolve_force_constants
from ase_phonongnn.errors import ConvergenceError, UserInputError
from ase_phonongnn.sample._phonopy import load_phonopy
from ase_phonongnn.sample.force_constants import save_phonopy
from ase_phonongnn.sample.renormalise import (
    RenormalisationConfig,
    RenormalisationResult,
    renormalise,
)

if TYPE_CHECKING:
    from phonopy import Phonopy

#: Options of the md route only (default None, so that a stray one is seen).
_MD_ONLY = ("trajectory", "time_step", "index", "power_spectrum", "frequency_max")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn renormalise``."""
    parser.add_argument(
        "phonopy_params",
        help=f"phonopy_params.yaml or a shipped material ({', '.join(MATERIALS)})",
    )
    parser.add_argument(
        "--route",
        choices=("scph", "md"),
        default="scph",
        help="scph: self-consistent sampling with a calculator; md: DynaPhoPy "
        "on an MD trajectory (default scph)",
    )
    parser.add_argument(
        "--temperature",
        "-T",
        type=float,
        default=None,
        help="K; required for scph, recorded for md (default: the kinetic "
        "temperature of the trajectory)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="phonopy_params.yaml to write (.yaml.xz: xz-compressed); the "
        "history (scph) or the quasiparticle data (md) go next to it as "
        "<stem>_history.json or <stem>_md.json",
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="PNG of harmonic vs renormalised bands"
    )
    scph = parser.add_argument_group("scph route")
    scph.add_argument(
        "--calculator",
        default="gfn2-xtb",
        help="gfn2-xtb | gpaw | emt | MODULE:FACTORY, or model:NAME_OR_PATH to "
        "renormalise with a trained model (e.g. model:gfn2-xtb; "
        "model:A.safetensors,B.safetensors: a committee of files)",
    )
    add_calculator_option_argument(scph)
    scph.add_argument("--n-snapshots", type=int, default=40)
    scph.add_argument("--max-iterations", type=int, default=15)
    scph.add_argument("--mixing", type=float, default=0.5)
    scph.add_argument("--tolerance", type=float, default=0.1, help="THz")
    scph.add_argument("--imaginary", default="abs")
    scph.add_argument("--seed", type=int, default=0)
    scph.add_argument(
        "--pool",
        type=int,
        default=1,
        help="fit the displacement-force data of the last POOL iterations "
        "together (averages sampling noise near convergence; default 1)",
    )
    scph.add_argument("--workers", type=int, default=1)
    scph.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="directory for per-iteration checkpoints (resumed)",
    )
    md = parser.add_argument_group("md route")
    md.add_argument(
        "--trajectory",
        type=Path,
        default=None,
        help="MD trajectory that ase.io reads (extxyz, .traj, ...), constant cell",
    )
    md.add_argument(
        "--time-step",
        type=float,
        default=None,
        help="fs between stored frames (MD time step x write interval)",
    )
    md.add_argument(
        "--index",
        default=None,
        help="frames to use, ase.io.read syntax (e.g. 200: skips 200 frames)",
    )
    md.add_argument(
        "--power-spectrum", choices=("fft", "mem"), default=None, help="default fft"
    )
    md.add_argument(
        "--frequency-max",
        type=float,
        default=None,
        help="THz; default twice the highest harmonic frequency",
    )
    md.add_argument(
        "--reorder",
        action="store_true",
        help="match the trajectory atoms to the supercell sites by position",
    )


def run(args: argparse.Namespace) -> int:
    """Run the chosen route, write the force constants, record and plot."""
    source = resolve_force_constants(args.phonopy_params)
    with phonopy_input(source):
        load_phonopy(source)
    if args.route == "md":
        return _run_md(args, source)
    stray = [f"--{name.replace('_', '-')}" for name in _MD_ONLY if getattr(args, name)]
    if stray or args.reorder:
        raise UserInputError(
            f"{', '.join(stray or ['--reorder'])} belong to the md route: add "
            "--route md"
        )
    return _run_scph(args, source)


def _run_scph(args: argparse.Namespace, source: Path) -> int:
    from ase_phonongnn.cli._calculators import calculator_factory

    if args.temperature is None:
        raise UserInputError("--temperature is required for --route scph (K)")
    config = RenormalisationConfig(
        temperature=args.temperature,
        n_snapshots=args.n_snapshots,
        max_iterations=args.max_iterations,
        mixing=args.mixing,
        tolerance_thz=args.tolerance,
        imaginary=args.imaginary,
        seed=args.seed,
        pool=args.pool,
    )
    options = dict(args.calculator_options)
    factory, calculator_name = calculator_factory(args.calculator, options)
    executor = None
    if args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(args.workers)
    try:
        result = renormalise(source, factory, config, executor, args.checkpoint)
        status = 0
    except ConvergenceError as err:
        result, status = cast(RenormalisationResult, err.result), 1
        print(str(err))
    finally:
        if executor is not None:
            executor.shutdown()
    save_phonopy(result.phonon, args.out)
    history = _sidecar(args.out, "_history.json")
    history.write_text(
        json.dumps(
            {
                "config": config.to_dict(),
                "calculator": calculator_name,
                "calculator_options": options,
                "start": str(source.name),
                "converged": result.converged,
                "history": result.history,
            }
        )
    )
    print(f"wrote {args.out} and {history} (converged: {result.converged})")
    _plot(args, source, result.phonon, config.temperature)
    return status


def _run_md(args: argparse.Namespace, source: Path) -> int:
    from ase_phonongnn.sample.renormalise_md import renormalise_from_trajectory

    if args.trajectory is None:
        raise UserInputError("--trajectory is required for --route md")
    if args.time_step is None:
        raise UserInputError(
            "--time-step is required for --route md: the time between stored "
            "frames in fs (MD time step x write interval)"
        )
    # its ValueErrors are checks of the trajectory and options, made before
    # the fit
    with checked_options("--trajectory", "--time-step", "--index"):
        result = renormalise_from_trajectory(
            source,
            args.trajectory,
            temperature=args.temperature,
            time_step=args.time_step,
            index=args.index or ":",
            reorder=args.reorder,
            power_spectrum=args.power_spectrum or "fft",
            frequency_max=args.frequency_max,
        )
    save_phonopy(result.phonon, args.out)
    record = _sidecar(args.out, "_md.json")
    record.write_text(
        json.dumps(
            {
                "route": "md",
                "start": str(source.name),
                "trajectory": str(args.trajectory),
                "index": args.index or ":",
                "power_spectrum": args.power_spectrum or "fft",
                **result.to_dict(),
            }
        )
    )
    frequencies = result.phonon.run_qpoints(result.q_points).frequencies
    temperature = (
        f"{result.temperature:.1f} K" if result.temperature is not None else "T n/a"
    )
    print(
        f"{result.n_frames} frames at {temperature}: largest shift "
        f"{abs(result.frequency_shifts).max():.3f} THz, "
        f"{int((frequencies < -1e-2).sum())} imaginary commensurate modes left"
    )
    print(f"wrote {args.out} and {record}")
    _plot(args, source, result.phonon, result.temperature)
    return 0


def _sidecar(out: Path, suffix: str) -> Path:
    name = out.name.removesuffix(".xz").replace("_params.yaml", "")
    return out.with_name(name + suffix)


def _plot(
    args: argparse.Namespace,
    source: Path,
    renormalised: Phonopy,
    temperature: float | None,
) -> None:
    if args.plot is None:
        return
    from ase_phonongnn.sample.plots import plot_dispersions

    label = "renormalised" + (f" {temperature:.0f} K" if temperature else "")
    plot_dispersions(
        {"harmonic": source, label: renormalised},
        args.plot,
        title=f"{source.name} ({args.route})",
    )
    print(f"wrote {args.plot}")

"""``phonongnn sample``: thermal snapshots from phonopy force constants."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Final

import numpy as np
from ase import Atoms

from ase_phonongnn.cli._inputs import checked_options, phonopy_input
from ase_phonongnn.data import MATERIALS, resolve_force_constants
from ase_phonongnn.errors import UserInputError
from ase_phonongnn.sample import (
    METHODS,
    PhononSampler,
    SamplingConfig,
    SnapshotSampler,
    SolidSolutionSampler,
)
from ase_phonongnn.sample.off_ensemble import (
    OFF_ENSEMBLE_KINDS,
    OffEnsembleConfig,
    off_ensemble_snapshots,
)
from ase_phonongnn.structures import bromine_fraction

#: Share of the machine's memory the snapshots of one run may take.
MEMORY_SHARE: Final = 0.5
#: Bytes per snapshot beyond its positions (an Atoms object and its info).
SNAPSHOT_OVERHEAD: Final = 4096


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn sample``."""
    parser.add_argument(
        "phonopy_params",
        help=f"phonopy_params.yaml with force constants, a shipped material "
        f"({', '.join(MATERIALS)}: its harmonic constants) or a solid solution "
        "Ag3SBr<x>I<1-x>, e.g. Ag3SBr0.5I0.5 (a new Br/I occupation per snapshot, "
        "the end members' shipped constants interpolated in x)",
    )
    parser.add_argument(
        "--temperature",
        "-T",
        type=float,
        nargs="+",
        default=None,
        help="K (every method but off-ensemble)",
    )
    parser.add_argument(
        "--n-snapshots",
        "-n",
        type=int,
        required=True,
        help="snapshots per temperature (off-ensemble: per kind)",
    )
    parser.add_argument(
        "--method",
        choices=(*METHODS, "md", "off-ensemble"),
        default="normal-mode",
        help="md: Langevin MD from the ideal supercell with --calculator; "
        "off-ensemble: small displacements, strains and close contacts about "
        "the ideal supercell (or --references)",
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
    md.add_argument(
        "--compile",
        action="store_true",
        help="model: calculators with compiled message kernels, as predict "
        "--compile (compiling takes tens of seconds and needs a C++ compiler)",
    )
    md.add_argument(
        "--max-spread",
        type=float,
        default=None,
        help="eV/atom: stop where a committee's energy spread exceeds it (the "
        "model left its data), keeping the snapshots taken before (default: "
        "no limit)",
    )

    off = parser.add_argument_group("off-ensemble method")
    off.add_argument(
        "--references",
        type=Path,
        default=None,
        help="structures (any ase.io format) to draw about, e.g. relaxed ones; "
        "default: the ideal supercell",
    )
    off.add_argument(
        "--kinds",
        nargs="+",
        choices=tuple(OFF_ENSEMBLE_KINDS),
        default=tuple(OFF_ENSEMBLE_KINDS),
        help="default: all",
    )
    off.add_argument(
        "--max-strain",
        type=float,
        default=OffEnsembleConfig.strain,
        help=f"largest isotropic strain (default {OffEnsembleConfig.strain})",
    )
    off.add_argument(
        "--contact",
        type=float,
        default=OffEnsembleConfig.contact,
        help=f"shortest contact, Å (default {OffEnsembleConfig.contact})",
    )


def run(args: argparse.Namespace) -> int:
    """Sample and write the snapshots."""
    sampler = load_sampler(args.phonopy_params)
    if args.n_snapshots < 1:
        raise UserInputError(
            f"--n-snapshots must be at least 1 (got {args.n_snapshots})"
        )
    ideal = sampler.ideal_structure(np.random.default_rng(args.seed))
    if args.method == "off-ensemble":
        check_memory(len(ideal), args.n_snapshots * len(args.kinds))
        snapshots = _off_ensemble_snapshots(ideal, args)
        write_snapshots(snapshots, args.out)
        print(f"wrote {len(snapshots)} snapshots to {args.out}")
        return 0
    if args.temperature is None:
        raise UserInputError(
            f"--temperature is required with --method {args.method}, e.g. -T 300"
        )
    check_memory(len(ideal), args.n_snapshots * len(args.temperature))
    for temperature in args.temperature:
        if not 0 <= temperature < float("inf"):
            raise UserInputError(
                f"--temperature must be >= 0 K and finite (got {temperature})"
            )
    if args.method == "md":
        snapshots = _md_snapshots(ideal, args)
    else:
        with checked_options(
            "--method", "--statistics", "--imaginary", "--amplitude", "--min-distance"
        ):
            config = SamplingConfig(
                method=args.method,
                statistics=args.statistics,
                imaginary=args.imaginary,
                amplitude=args.amplitude,
                plus_minus=args.plus_minus,
                min_distance=args.min_distance,
            )
        snapshots = sampler.sample_config(
            args.temperature, args.n_snapshots, config, seed=args.seed
        )
    reference = ideal if args.method == "md" else sampler.supercell
    check_displacements(reference, snapshots)
    write_snapshots(snapshots, args.out)
    rms = rms_displacements(reference, snapshots)
    text = ", ".join(f"{s} {v:.3f}" for s, v in rms.items())
    if isinstance(sampler, SolidSolutionSampler):
        text += f"; bromine fraction x = {sampler.bromine_fraction:g}"
    print(f"wrote {len(snapshots)} snapshots to {args.out}; rms |u| (Å): {text}")
    return 0


def load_sampler(source: str) -> SnapshotSampler:
    """Return the sampler of a phonopy file, shipped material or solid solution.

    A name Ag3SBr<x>I<1-x> that is not a file gives
    :meth:`SolidSolutionSampler.shipped`; anything that cannot be read is a
    :class:`UserInputError`.
    """
    if source not in MATERIALS and not Path(source).exists():
        try:
            fraction = bromine_fraction(source)
        except ValueError as err:
            if source.startswith("Ag3SBr") and "I" in source:
                raise UserInputError(f"phonopy_params: {err}") from err
        else:
            return SolidSolutionSampler.shipped(fraction)
    path = resolve_force_constants(source)
    if not path.is_file():
        raise UserInputError(
            f"no phonopy file {source}: give a phonopy_params.yaml, a shipped "
            f"material ({', '.join(MATERIALS)}) or a solid solution such as "
            "Ag3SBr0.5I0.5"
        )
    with phonopy_input(path):
        return PhononSampler.from_file(path)


def check_memory(n_atoms: int, n_snapshots: int) -> None:
    """Refuse a run whose snapshots would not fit in memory, with an estimate."""
    per_snapshot = n_atoms * 3 * 8 * 4 + SNAPSHOT_OVERHEAD
    needed = per_snapshot * n_snapshots
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf: assume 16 GiB
        available = 16 << 30
    if needed > MEMORY_SHARE * available:
        most = max(1, int(MEMORY_SHARE * available // per_snapshot))
        raise UserInputError(
            f"--n-snapshots {n_snapshots} of {n_atoms} atoms needs about "
            f"{needed / 2**30:.1f} GiB, more than half of this machine's "
            f"{available / 2**30:.1f} GiB: sample at most {most} per run "
            "(different --seed each) and label them into one store"
        )


def displacements(supercell: Atoms, atoms: Atoms) -> np.ndarray:
    """Return the displacements (Å) of a snapshot from its supercell's sites.

    The sites are the supercell's fractional coordinates in the snapshot's own
    cell, so that a solid solution's Vegard cell leaves them where they are.
    """
    fractional = atoms.get_scaled_positions(wrap=False) - (
        supercell.get_scaled_positions(wrap=False)
    )
    return np.asarray(fractional @ atoms.cell.array)


def rms_displacements(supercell: Atoms, snapshots: list[Atoms]) -> dict[str, float]:
    """Return the RMS displacement (Å) per element over the snapshots."""
    squares: dict[str, list[float]] = {}
    for atoms in snapshots:
        u2 = np.sum(displacements(supercell, atoms) ** 2, axis=1)
        for symbol, value in zip(atoms.get_chemical_symbols(), u2, strict=True):
            squares.setdefault(symbol, []).append(float(value))
    return {s: float(np.sqrt(np.mean(v))) for s, v in squares.items()}


def check_displacements(supercell: Atoms, snapshots: list[Atoms]) -> None:
    """Refuse snapshots whose displacements exceed half the supercell's width.

    A harmonic displacement that large wraps around the periodic cell: the
    temperature (or amplitude) is far outside where the harmonic sampling
    means anything.
    """
    if not snapshots:
        return
    cell = supercell.cell
    width = float(np.min(1.0 / np.linalg.norm(cell.reciprocal(), axis=1)))
    largest = max(
        float(np.linalg.norm(displacements(supercell, a), axis=1).max())
        for a in snapshots
    )
    if largest > width / 2:
        raise UserInputError(
            f"--temperature/--amplitude: the largest displacement is "
            f"{largest:.1f} Å in a supercell {width:.1f} Å wide, more than half "
            "of it, so atoms wrap around the cell; choose a lower --temperature "
            "(or --amplitude)"
        )


def _md_snapshots(supercell: Atoms, args: argparse.Namespace) -> list[Atoms]:
    from ase.calculators.calculator import CalculatorSetupError

    from ase_phonongnn.cli._calculators import MODEL_PREFIX, calculator_factory
    from ase_phonongnn.sample.md import MDCollapseError, MDSamplingConfig, md_snapshots

    if min(args.temperature) <= 0:
        raise UserInputError("--method md needs --temperature > 0 K")
    with checked_options(
        "--timestep",
        "--friction",
        "--equilibration",
        "--pilot",
        "--interval",
        "--max-spread",
    ):
        config = MDSamplingConfig(
            timestep=args.timestep,
            friction=args.friction,
            equilibration=args.equilibration,
            pilot=args.pilot,
            interval=args.interval,
            max_energy_spread=args.max_spread,
        )

    options = {}
    if args.compile:
        if not args.calculator.strip().startswith(MODEL_PREFIX):
            raise UserInputError(
                f"--compile compiles a trained model's kernels; --calculator "
                f"{args.calculator} is not one (give model:NAME_OR_PATH or drop "
                "--compile)"
            )
        options["compile_messages"] = True
    factory, name = calculator_factory(args.calculator, options)
    calculator = factory()
    try:
        return md_snapshots(
            supercell,
            calculator,
            args.temperature,
            args.n_snapshots,
            config,
            seed=args.seed,
            calculator_name=name,
        )
    except MDCollapseError as err:
        message = str(err).replace("the time step", "--timestep")
        if err.snapshots:
            write_snapshots(err.snapshots, args.out)
            message += f"; the {len(err.snapshots)} snapshots before are in {args.out}"
        raise UserInputError(f"--timestep / --calculator: {message}") from err
    except (NotImplementedError, CalculatorSetupError) as err:
        raise UserInputError(
            f"--calculator {args.calculator} cannot compute this structure "
            f"({err}); choose one for its elements, e.g. model:default"
        ) from err


def _off_ensemble_snapshots(supercell: Atoms, args: argparse.Namespace) -> list[Atoms]:
    from ase_phonongnn.cli.label import read_structures

    references = [supercell]
    if args.references is not None:
        references = read_structures(args.references, "--references")
        for reference in references:
            if len(reference) != len(supercell):
                raise UserInputError(
                    f"--references: structures of {len(reference)} atoms, the "
                    f"supercell has {len(supercell)}; give relaxed supercells"
                )
    with checked_options("--max-strain", "--contact"):
        config = OffEnsembleConfig(strain=args.max_strain, contact=args.contact)
    return off_ensemble_snapshots(
        references, args.n_snapshots, args.kinds, config, seed=args.seed
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

"""``phonongnn label``: label snapshots into an HDF5 store, resumably."""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path

from ase import Atoms

from ase_phonongnn.cli._inputs import checked_options
from ase_phonongnn.errors import UserInputError
from ase_phonongnn.label import (
    CALCULATORS,
    LabelPool,
    label_snapshots,
    resolve_calculator,
)
from ase_phonongnn.label.run import check_snapshots
from ase_phonongnn.store import SnapshotStore

_STORE_SUFFIXES = (".h5", ".hdf5")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn label``."""
    parser.add_argument(
        "input",
        type=Path,
        help="snapshots: .extxyz (or any ase.io format) or .h5 store",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="store .h5 (created or resumed)"
    )
    parser.add_argument(
        "--calculator",
        default="gfn2-xtb",
        help=f"{' | '.join(CALCULATORS)} | MODULE:FACTORY (default gfn2-xtb)",
    )
    add_calculator_option_argument(parser)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local worker processes, sharing the cores' OpenMP threads (default "
        "1); a worker that crashes fails only its snapshot",
    )
    where.add_argument(
        "--dask", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://10.0.0.1:8786"
    )
    parser.add_argument(
        "--no-stress",
        dest="include_stress",
        action="store_false",
        help="skip stress and hydrostatic stress (non-periodic structures)",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="label failed snapshots again"
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="most snapshots submitted at once (default: 4 per worker, at least 16)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="longest wall time of one calculation; a longer one is stopped and "
        "recorded as failed (default: no limit; not with --dask)",
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )


def add_calculator_option_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
) -> None:
    """Add ``--calculator-option KEY=VALUE`` (repeatable) to a parser or group."""
    parser.add_argument(
        "--calculator-option",
        dest="calculator_options",
        metavar="KEY=VALUE",
        type=calculator_option,
        action="append",
        default=[],
        help="keyword argument for the calculator, repeatable, recorded with "
        "the results (e.g. retry=false: GFN2-xTB's first SCF rung only)",
    )


def calculator_option(text: str) -> tuple[str, object]:
    """Parse ``KEY=VALUE``: the value as a Python literal, else as a string.

    ``true``/``false``/``none`` in any case are booleans and None, so that
    ``retry=false`` reads as on a shell.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not KEY=VALUE with KEY a Python name (e.g. retry=false)"
        )
    raw = raw.strip()
    words = {"true": True, "false": False, "none": None}
    if raw.lower() in words:
        return key, words[raw.lower()]
    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key, raw


def _read_input(path: Path) -> list[Atoms]:
    if not path.exists():
        raise FileNotFoundError(f"no input file {path}")
    if path.suffix in _STORE_SUFFIXES:
        with SnapshotStore.open(path) as store:
            snapshots = store.read_atoms(status=None)
    else:
        snapshots = read_structures(path)
    if not snapshots:
        raise UserInputError(f"INPUT {path} holds no structures")
    return snapshots


def read_structures(path: Path, option: str = "INPUT") -> list[Atoms]:
    """Read every structure of an ``ase.io`` file, or raise a user error."""
    import ase.io

    if not path.is_file():
        raise UserInputError(f"{option} {path}: no such file")
    if path.stat().st_size == 0:
        raise UserInputError(f"{option} {path} is empty; give a file of structures")
    try:
        return list(ase.io.iread(path, index=":"))
    except Exception as err:  # ase.io's readers raise many types on bad files
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserInputError(
            f"{option} {path}: ase.io cannot read it ({type(err).__name__}: {first}); "
            "give an .extxyz (or another ase.io format) or a .h5 store"
        ) from err


@contextmanager
def _executor(args: argparse.Namespace) -> Iterator[tuple[Executor | None, int]]:
    """Yield the executor the options ask for, and its number of workers."""
    if args.timeout is not None and not (0 < args.timeout < float("inf")):
        raise UserInputError(
            f"--timeout must be a positive number of seconds (got {args.timeout})"
        )
    if args.dask:
        if args.timeout is not None:
            raise UserInputError(
                "--timeout needs local workers (--workers N): a Dask cluster "
                "cannot stop a running calculation; drop --timeout or --dask"
            )
        try:
            from dask.distributed import Client
        except ImportError as err:
            raise ImportError(
                "--dask needs dask.distributed: pip install 'ase-phonongnn[dask]'"
            ) from err
        with Client(args.dask) as client:
            yield client.get_executor(), sum(client.nthreads().values())
        return
    if args.workers < 1:
        raise UserInputError(f"--workers must be at least 1 (got {args.workers})")
    # Calculations run in worker processes even with one worker: a calculator
    # that crashes or hangs then fails one snapshot, not the run.
    pool = LabelPool(
        args.workers,
        timeout=args.timeout,
        initializer=_set_openmp_threads,
        initargs=(worker_threads(args.workers),),
    )
    try:
        yield pool, args.workers
    finally:
        pool.shutdown(cancel_futures=True)


def worker_threads(n_workers: int) -> int:
    """Return the OpenMP threads each of ``n_workers`` local workers may use.

    The cores this process may run on, shared evenly; ``OMP_NUM_THREADS``,
    when set, is respected. Without a share, every worker's OpenMP runtime
    (tblite's) starts one thread per core: with two workers on two cores that
    is four busy threads, and each GFN2-xTB single point took twice as long.
    """
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores // n_workers)


def _set_openmp_threads(threads: int) -> None:
    # Runs in each spawned worker before any task: the OpenMP runtime reads
    # the variable when tblite first loads it, inside the first calculation.
    os.environ["OMP_NUM_THREADS"] = str(threads)


def run(args: argparse.Namespace) -> int:
    """Label the snapshots and print the store's counts."""
    in_place = (
        args.input.exists()
        and args.out.exists()
        and os.path.samefile(args.input, args.out)
    )
    snapshots = None if in_place else _read_input(args.input)
    with checked_options("--calculator", "--calculator-option"):
        resolve_calculator(args.calculator, dict(args.calculator_options))
    if snapshots is not None:
        with checked_options(f"INPUT {args.input}"):
            check_snapshots(snapshots, args.include_stress)
    with _executor(args) as (executor, n_workers):
        summary = label_snapshots(
            snapshots,
            args.calculator,
            args.out,
            executor,
            calculator_options=dict(args.calculator_options),
            include_stress=args.include_stress,
            retry_failed=args.retry_failed,
            max_in_flight=args.max_in_flight or max(16, 4 * n_workers),
            progress=args.progress,
        )
    if summary.unavailable_labels:
        print(f"{args.calculator} cannot give: {', '.join(summary.unavailable_labels)}")
    print(f"done {summary.done}, failed {summary.failed}, pending {summary.pending}")
    if summary.newly_failed and not summary.labelled:
        print(
            f"phonongnn label: error: all {summary.newly_failed} calculations of "
            f"this run failed; read their messages with 'phonongnn export "
            f"{args.out} --status failed --out failed.extxyz'",
            file=sys.stderr,
        )
        return 1
    return 0

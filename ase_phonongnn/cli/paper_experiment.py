"""``phonongnn paper-experiment``: the paper's Fig. 4 and Table 1 on our data.

Trains models on phonon-informed and on random snapshots (by default the
shipped ``phonon-Ag3SBr`` and ``random-Ag3SBr`` stores) and compares them on
fixed held-out test sets (:mod:`ase_phonongnn.experiment`). Writes into
``--out DIR``: ``results.json`` (after every training run; running the same
command again resumes), ``learning_curves.png``, ``table1_parity_<model>.png``
and ``summary.txt``, which states whether phonon-informed data beat random
data at equal size on the combined test set.

``--quick`` is a smoke run (sizes 25 50, seeds 0 1, 15 epochs, test sets of
25, table models on 50 structures); explicit options override it. Use one
torch thread per process (the default): these graphs are small. Processes
may share one ``--out`` (each update re-reads results.json under a lock): on
two cores, run e.g. ``--models ours`` and ``--models paper-5`` side by side.
Sizes too large for the data are clipped to the largest that fits both
kinds, with a message.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ase_phonongnn import keys
from ase_phonongnn.cli._inputs import checked_options
from ase_phonongnn.data import DATASETS, resolve_dataset
from ase_phonongnn.model import MODEL_KEYS

if TYPE_CHECKING:
    from ase_phonongnn.experiment import ExperimentConfig

#: The output directory when ``--out`` is not given.
DEFAULT_OUT = Path("paper_experiment")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn paper-experiment``."""
    data = parser.add_argument_group("data and output")
    data.add_argument(
        "--phonon",
        type=Path,
        default=Path(DATASETS[0]),
        metavar="PATH",
        help="phonon-informed store (.h5, a shipped dataset name, or .extxyz, "
        "also .gz/.xz/.bz2); default %(default)s",
    )
    data.add_argument(
        "--random",
        type=Path,
        default=Path(DATASETS[1]),
        metavar="PATH",
        help="random store; default %(default)s",
    )
    data.add_argument(
        "--md",
        type=Path,
        default=None,
        metavar="PATH",
        help="MD snapshots (phonongnn sample --method md), the paper's third "
        "kind: trained and tested on like the other two (default: none)",
    )
    data.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="output directory; default %(default)s",
    )
    data.add_argument(
        "--keep-retried",
        action="store_true",
        help="also use labels whose SCF converged only on a damped retry rung "
        "(left out by default, as for the shipped models)",
    )
    data.add_argument(
        "--fresh",
        action="store_true",
        help="discard earlier results in DIR instead of resuming",
    )
    run = parser.add_argument_group("experiment")
    run.add_argument("--quick", action="store_true", help="a smoke run of minutes")
    run.add_argument(
        "--target",
        choices=keys.TARGETS,
        default=keys.BAND_GAP,
        metavar="TARGET",
        help=f"target of the learning curves: {', '.join(keys.TARGETS)} (%(default)s)",
    )
    run.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        metavar="N",
        help="training sizes (100 200 400 700 1000)",
    )
    run.add_argument(
        "--seeds", type=int, nargs="+", metavar="S", help="seeds per size (0 1 2 3 4)"
    )
    run.add_argument(
        "--models",
        nargs="+",
        choices=MODEL_KEYS,
        metavar="MODEL",
        default=["paper-5", "ours"],
        help=f"{', '.join(MODEL_KEYS)} (paper-5 ours)",
    )
    run.add_argument(
        "--n-test", type=int, metavar="N", help="fixed test structures per kind (100)"
    )
    run.add_argument(
        "--validation-fraction",
        type=float,
        default=0.15 / 0.7,
        metavar="F",
        help="validation / training size (15:70)",
    )
    run.add_argument("--no-curves", action="store_true", help="skip Fig. 4")
    run.add_argument("--no-table", action="store_true", help="skip Table 1")
    run.add_argument(
        "--no-explain",
        action="store_true",
        help="skip Fig. 5 (which bonds the best and the poor curve run rest on)",
    )
    run.add_argument(
        "--table-targets",
        nargs="+",
        choices=keys.TARGETS,
        default=list(keys.TARGETS),
        metavar="TARGET",
        help="targets of Table 1 (all four)",
    )
    run.add_argument(
        "--table-data",
        choices=("phonon", "random", "md", "combined"),
        default="combined",
        help="training data of Table 1 (md needs --md)",
    )
    run.add_argument(
        "--table-size",
        type=int,
        metavar="N",
        help="at most N training structures in Table 1",
    )
    fit = parser.add_argument_group("training")
    fit.add_argument(
        "--epochs", type=int, metavar="N", help="most epochs per run (200)"
    )
    fit.add_argument(
        "--patience",
        type=int,
        metavar="N",
        help="early-stopping patience in epochs (40)",
    )
    fit.add_argument(
        "--batch-size",
        type=int,
        default=16,
        metavar="N",
        help="structures per step (%(default)s)",
    )
    fit.add_argument(
        "--learning-rate",
        type=float,
        metavar="LR",
        help="override the presets (paper-1 to paper-6: 1e-4, ours: 1e-3)",
    )
    fit.add_argument(
        "--cutoff",
        type=float,
        default=5.5,
        metavar="Å",
        help="graph radius (%(default)s)",
    )
    fit.add_argument(
        "--test-seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the test sets and the Table-1 split",
    )
    fit.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    fit.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="torch threads (%(default)s)",
    )


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """Resolve flags: explicit values, else ``--quick`` values, else the defaults."""
    from ase_phonongnn.experiment import QUICK, ExperimentConfig

    preset = QUICK if args.quick else {}
    chosen = {
        "sizes": args.sizes,
        "seeds": args.seeds,
        "max_epochs": args.epochs,
        "patience": args.patience,
        "n_test": args.n_test,
        "table_size": args.table_size,
    }
    values = {k: v if v is not None else preset.get(k) for k, v in chosen.items()}
    with checked_options("paper-experiment options"):
        return ExperimentConfig(
            phonon=resolve_dataset(args.phonon),
            random=resolve_dataset(args.random),
            md=None if args.md is None else resolve_dataset(args.md),
            out=args.out,
            target=args.target,
            table_targets=tuple(args.table_targets),
            models=tuple(args.models),
            validation_fraction=args.validation_fraction,
            table_data=args.table_data,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            cutoff=args.cutoff,
            test_seed=args.test_seed,
            device=args.device,
            skip_retried=not args.keep_retried,
            **{k: v for k, v in values.items() if v is not None},
        )


def run(args: argparse.Namespace) -> int:
    """Run or resume the experiment; print progress and the summary."""
    import torch

    from ase_phonongnn.experiment import run_experiment

    config = config_from_args(args)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, args.threads))
    try:
        run_experiment(
            config,
            curves=not args.no_curves,
            table=not args.no_table,
            explain=not args.no_explain,
            fresh=args.fresh,
            log=print,
        )
    finally:
        torch.set_num_threads(threads)
    return 0

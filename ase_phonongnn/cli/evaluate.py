"""``phonongnn evaluate``: MAE, RMSE, R² and n of a model on labelled data.

The model is a file, ``default`` (the shipped committee) or, with
``--committee``, several files; the values scored are what ``phonongnn
predict`` gives (a committee's mean).
"""

from __future__ import annotations

import argparse
import json

from ase_phonongnn import keys
from ase_phonongnn.cli._inputs import add_labelled_inputs, checked_options
from ase_phonongnn.errors import UserInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn evaluate``."""
    parser.add_argument(
        "model",
        help="model file (.safetensors), or a shipped model's name (gfn2-xtb, "
        "alias default)",
    )
    add_labelled_inputs(parser)
    parser.add_argument(
        "--json", action="store_true", help="print JSON: per target MAE, RMSE, R2, n"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="structures per batch (default: by atoms, 1,280 on CPU)",
    )
    parser.add_argument(
        "--committee",
        nargs="+",
        default=[],
        metavar="MODEL",
        help="more models: with MODEL a committee, scored by its mean",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")


def run(args: argparse.Namespace) -> int:
    """Evaluate the model and print the metrics."""
    from ase_phonongnn._json import to_jsonable
    from ase_phonongnn.prediction import Committee, evaluate
    from ase_phonongnn.train import load_structures

    if args.batch_size is not None and args.batch_size < 1:
        raise UserInputError(f"--batch-size must be at least 1 (got {args.batch_size})")
    models = [args.model, *args.committee]
    committee = Committee.load(models if len(models) > 1 else args.model, args.device)
    with checked_options("INPUT"):
        structures = load_structures(args.inputs, skip_retried=args.skip_retried)
    metrics = evaluate(committee, structures, batch_size=args.batch_size)
    report = {
        name: {
            "MAE": m["mae"],
            "RMSE": m["rmse"],
            "R2": m["r2"],
            "n": m["n"],
            "unit": keys.UNITS.get(name, ""),
        }
        for name, m in metrics.items()
    }
    if args.json:
        print(json.dumps(to_jsonable(report), indent=2))
        return 0
    print(f"{'property':<20} {'MAE':>10} {'RMSE':>10} {'R2':>8} {'n':>7}  unit")
    for name, m in report.items():
        print(
            f"{name:<20} {m['MAE']:>10.4g} {m['RMSE']:>10.4g} {m['R2']:>8.4f} "
            f"{m['n']:>7d}  {m['unit']}"
        )
    return 0

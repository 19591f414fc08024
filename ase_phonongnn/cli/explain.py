"""``phonongnn explain``: which bonds a model's predictions rely on.

Writes into ``--out DIR``: ``explain.json`` (importance statistics per bond
type, the faithfulness of the importances, the change of the prediction when
each bond type is removed, and a summary per structure), ``config.json``
(the resolved :class:`~ase_phonongnn.explain.ExplainConfig`),
``importance_density.png`` (the paper's Fig. 5e,f), ``significant_edges.png``
(the first structure with its significant edges) and ``deletion_curve.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ase_phonongnn import keys
from ase_phonongnn.cli._inputs import checked_options
from ase_phonongnn.errors import UserInputError

#: flag destination -> ExplainConfig field
_OVERRIDES = {
    "method": "method",
    "seed": "seed",
    "threshold": "threshold",
    "epochs": "epochs",
    "learning_rate": "learning_rate",
    "n_steps": "n_steps",
}
#: As :data:`ase_phonongnn.explain.METHODS`, which would import torch here.
_METHODS = ("gnnexplainer", "integrated-gradients")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn explain``."""
    parser.add_argument("model", type=Path, help="model file (.safetensors)")
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="snapshot stores (.h5, their labelled snapshots), shipped datasets "
        "(phonon-Ag3SBr, random-Ag3SBr) or .extxyz files",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("explain"), help="output directory (explain)"
    )
    parser.add_argument(
        "--target",
        choices=keys.TARGETS,
        help="output to explain (default: the model's only target)",
    )
    parser.add_argument(
        "--method", choices=_METHODS, help="explanation method (gnnexplainer)"
    )
    parser.add_argument("--seed", type=int, help="seed of GNNExplainer and draws (0)")
    parser.add_argument(
        "--threshold", type=float, help="significant above this importance (0.86)"
    )
    parser.add_argument(
        "--config", type=Path, help="YAML mapping of ExplainConfig; flags override it"
    )
    parser.add_argument(
        "--max-structures",
        type=int,
        help="explain only the first N structures (default all)",
    )
    group = parser.add_argument_group("methods")
    group.add_argument("--epochs", type=int, help="GNNExplainer steps (100)")
    group.add_argument(
        "--learning-rate", type=float, help="GNNExplainer learning rate (0.01)"
    )
    group.add_argument(
        "--n-steps", type=int, help="integrated gradients: quadrature points (32)"
    )
    group = parser.add_argument_group("faithfulness")
    group.add_argument(
        "--n-random", type=int, default=8, help="random deletions per point (8)"
    )
    group.add_argument(
        "--no-deletion",
        dest="deletion",
        action="store_false",
        help="skip the deletion curve and bond-type deletions",
    )
    parser.add_argument(
        "--edges", action="store_true", help="also write every edge to explain.json"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bar",
    )


def resolve_config(args: argparse.Namespace) -> Any:
    """Return the ExplainConfig of ``--config`` with the flags applied."""
    from ase_phonongnn.explain import ExplainConfig

    values: dict[str, Any] = {}
    if args.config is not None:
        import yaml

        if not args.config.is_file():
            raise FileNotFoundError(f"no config file {args.config}")
        content = yaml.safe_load(args.config.read_text()) or {}
        if not isinstance(content, dict):
            raise UserInputError(
                f"{args.config}: expected a mapping of ExplainConfig fields"
            )
        values.update(content)
    for dest, name in _OVERRIDES.items():
        value = getattr(args, dest, None)
        if value is not None:
            values[name] = value
    given = [
        f"--{dest.replace('_', '-')}"
        for dest in _OVERRIDES
        if getattr(args, dest, None) is not None
    ]
    with checked_options(*(["--config"] if args.config is not None else []), *given):
        return ExplainConfig.from_dict(values)


def run(args: argparse.Namespace) -> int:
    """Explain the model's predictions and write the summary and figures."""
    import torch

    from ase_phonongnn._json import to_jsonable
    from ase_phonongnn.explain import (
        aggregate_bond_types,
        bond_type_deletion,
        deletion_curve,
        explain_dataset,
        plot_deletion_curve,
        plot_importance_density,
        plot_significant_edges,
    )
    from ase_phonongnn.explain._explain import resolve_target
    from ase_phonongnn.model import load_model
    from ase_phonongnn.train import load_structures

    config = resolve_config(args)
    if args.max_structures is not None and args.max_structures < 1:
        raise UserInputError(
            f"--max-structures must be at least 1 (got {args.max_structures})"
        )
    if args.n_random < 1:
        raise UserInputError(f"--n-random must be at least 1 (got {args.n_random})")
    if args.out.exists() and not args.out.is_dir():
        raise UserInputError(f"--out must be a directory (got the file {args.out})")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_model(args.model, device=device)
    with checked_options("--target"):
        target = resolve_target(model, args.target)
    with checked_options("INPUT"):
        structures = load_structures(args.inputs)[: args.max_structures]
    results = explain_dataset(
        model, structures, target, config=config, progress=args.progress
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stats = aggregate_bond_types(results)
    record: dict[str, Any] = {
        "model": str(args.model),
        "inputs": [str(p) for p in args.inputs],
        "target": results[0].target,
        "unit": results[0].unit,
        "config": config.to_dict(),
        "n_structures": len(results),
        "bond_types": {name: s.to_dict() for name, s in stats.items()},
    }
    curve = None
    if args.deletion:
        curve = deletion_curve(model, results, n_random=args.n_random, seed=config.seed)
        removal = bond_type_deletion(
            model, results, n_random=args.n_random, seed=config.seed
        )
        record["faithfulness"] = curve.to_dict()
        record["bond_type_deletion"] = {n: d.to_dict() for n, d in removal.items()}
    record["structures"] = [r.to_dict(edges=args.edges) for r in results]
    (args.out / "explain.json").write_text(
        json.dumps(to_jsonable(record), indent=2) + "\n"
    )
    (args.out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    title = f"{args.model.name}: {results[0].target}, {config.method}"
    plot_importance_density(results, args.out / "importance_density.png", title=title)
    plot_significant_edges(results[0], args.out / "significant_edges.png")
    if curve is not None:
        plot_deletion_curve(curve, args.out / "deletion_curve.png")
    print(
        f"{len(results)} structures, target {results[0].target}, "
        f"method {config.method}, threshold {config.threshold:g}"
    )
    print(f"{'bond':<8} {'edges':>7} {'population':>10} {'mean':>6} {'signif.':>8}")
    for name, s in stats.items():
        print(
            f"{name:<8} {s.n_edges:>7d} {s.population:>10.3f} {s.mean:>6.3f} "
            f"{s.fraction_significant:>8.3f}"
        )
    if curve is not None:
        print(f"faithfulness (deletion curve vs random): {curve.score:.3f}")
    print(f"wrote {args.out}")
    return 0

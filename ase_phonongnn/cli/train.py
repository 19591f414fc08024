"""``phonongnn train``: train a model on labelled stores or extxyz files.

Writes, next to ``--out MODEL``: ``MODEL-stem.config.json`` (the resolved
model and training configuration, inputs and split),
``MODEL-stem.metrics.json`` (MAE, RMSE, R² and n per split and target, the
best epoch and the loss history) and ``MODEL-stem.parity.png``. With
``--start-from`` a trained model (e.g. a member of the shipped committee) is
fine-tuned on the inputs instead: its architecture and targets are kept.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ase_phonongnn import keys
from ase_phonongnn.cli._inputs import add_labelled_inputs, checked_options
from ase_phonongnn.errors import UserInputError
from ase_phonongnn.model import MODEL_KEYS, READOUTS

#: flag destination -> (config section, field)
_OVERRIDES = {
    "model": ("model", "model"),
    "target": ("model", "targets"),
    "cutoff": ("model", "cutoff"),
    "hidden_channels": ("model", "hidden_channels"),
    "dropout": ("model", "dropout"),
    "n_interactions": ("model", "n_interactions"),
    "equivariant": ("model", "equivariant"),
    "readout": ("model", "readout"),
    "seed": ("train", "seed"),
    "epochs": ("train", "max_epochs"),
    "patience": ("train", "patience"),
    "batch_size": ("train", "batch_size"),
    "learning_rate": ("train", "learning_rate"),
    "force_weight": ("train", "force_weight"),
    "stress_weight": ("train", "stress_weight"),
    "dtype": ("train", "dtype"),
    "device": ("train", "device"),
    "max_time": ("train", "max_time"),
    "split_by": ("train", "split_by"),
    "progress": ("train", "progress"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn train``."""
    add_labelled_inputs(parser)
    parser.add_argument(
        "--target",
        nargs="+",
        choices=keys.TARGETS,
        help="targets to learn (one model predicts all of them)",
    )
    parser.add_argument(
        "--model", choices=MODEL_KEYS, help="architecture (default ours)"
    )
    parser.add_argument("--seed", type=int, help="seed of split, weights, batches")
    parser.add_argument(
        "--out", type=Path, required=True, help="model file to write (.safetensors)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="YAML with 'model:' (ModelConfig) and 'train:' (TrainConfig) "
        "mappings; flags override it",
    )
    parser.add_argument(
        "--start-from",
        type=Path,
        help="fine-tune this trained model (.safetensors) instead of training "
        "a new one; it fixes the architecture and targets (no model flags), "
        "and a learning rate below the default suits it (e.g. 1e-4)",
    )
    parser.add_argument(
        "--split",
        type=Path,
        help='JSON {"train": [...], "validation": [...], "test": [...]} of '
        "indices into the concatenated inputs (default: seeded 70/15/15)",
    )
    parser.add_argument(
        "--split-by",
        choices=("random", "hash"),
        help="without --split: a seeded random split (default) or one by "
        "content hash, which keeps each snapshot's set as a store grows",
    )
    group = parser.add_argument_group("model")
    group.add_argument("--cutoff", type=float, help="graph radius in Å (5.5)")
    group.add_argument("--hidden-channels", type=int, help="width (64)")
    group.add_argument("--dropout", type=float, help="dropout probability (0)")
    group.add_argument("--n-interactions", type=int, help="ours: blocks (3)")
    group.add_argument(
        "--equivariant",
        action="store_const",
        const=True,
        help="ours: PaiNN blocks with vector features (bond angles)",
    )
    group.add_argument(
        "--readout",
        choices=READOUTS,
        help="ours: pooling of band gap, VBM and stress heads (mean)",
    )
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, help="most epochs (500)")
    group.add_argument("--patience", type=int, help="early-stopping patience (50)")
    group.add_argument("--batch-size", type=int, help="structures per step (16)")
    group.add_argument("--learning-rate", type=float, help="Adam learning rate (1e-3)")
    group.add_argument("--force-weight", type=float, help="force loss weight (1)")
    group.add_argument("--stress-weight", type=float, help="stress loss weight (1)")
    group.add_argument("--dtype", choices=("float32", "float64"))
    group.add_argument("--device", help="cpu, cuda, cuda:N or auto (cpu)")
    group.add_argument("--max-time", type=float, help="time budget in s")
    group.add_argument(
        "--no-progress",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress bars",
    )


def resolve_configs(
    args: argparse.Namespace, start_from: Any | None = None
) -> tuple[Any, Any]:
    """Return (ModelConfig, TrainConfig) from ``--config`` and the flags.

    With a model to fine-tune (``start_from``) the ModelConfig is its own.
    """
    from ase_phonongnn.model import ModelConfig
    from ase_phonongnn.train import TrainConfig

    sections: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    if args.config is not None:
        sections = _read_yaml(args.config)
    for dest, (section, name) in _OVERRIDES.items():
        value = getattr(args, dest, None)
        if value is not None:
            sections[section][name] = value
    if start_from is not None:
        if sections["model"]:
            raise UserInputError(
                "--start-from keeps the trained model's architecture and targets; "
                f"drop the model setting(s) {', '.join(sorted(sections['model']))}"
            )
        return start_from.config, TrainConfig.from_dict(sections["train"])
    if "targets" not in sections["model"]:
        raise UserInputError(
            "give the targets to learn: --target energy_per_atom|band_gap|vbm|"
            "hydrostatic_stress ... (or model: targets: in --config)"
        )
    return (
        ModelConfig.from_dict(sections["model"]),
        TrainConfig.from_dict(sections["train"]),
    )


def _read_yaml(path: Path) -> dict[str, dict[str, Any]]:
    import yaml

    if not path.is_file():
        raise FileNotFoundError(f"no config file {path}")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict):
        raise UserInputError(f"{path}: expected a mapping with 'model:' and 'train:'")
    unknown = sorted(set(content) - {"model", "train"})
    if unknown:
        raise UserInputError(
            f"{path}: unknown section(s) {', '.join(unknown)}; valid: model, train"
        )
    sections: dict[str, dict[str, Any]] = {}
    for name in ("model", "train"):
        value = content.get(name) or {}
        if not isinstance(value, dict):
            raise UserInputError(f"{path}: '{name}:' must be a mapping")
        sections[name] = dict(value)
    return sections


def side_files(model_path: Path) -> dict[str, Path]:
    """Paths of the files written next to a model."""
    stem = model_path.with_suffix("")
    return {
        "config": stem.with_name(stem.name + ".config.json"),
        "metrics": stem.with_name(stem.name + ".metrics.json"),
        "parity": stem.with_name(stem.name + ".parity.png"),
    }


def run(args: argparse.Namespace) -> int:
    """Train, save the model, and write configuration, metrics and a plot."""
    from ase_phonongnn.model import load_model, save_model
    from ase_phonongnn.train import Split, load_structures, plot_parity, train

    start_from = None if args.start_from is None else load_model(args.start_from)
    model_config, train_config = resolve_configs(args, start_from)
    if not args.out.parent.is_dir():
        raise FileNotFoundError(f"the directory of --out does not exist: {args.out}")
    with checked_options("INPUT"):
        structures = load_structures(args.inputs, skip_retried=args.skip_retried)
    split = None
    if args.split is not None:
        split = Split.from_dict(json.loads(args.split.read_text()))
    result = train(
        structures, model_config, train_config, split=split, start_from=start_from
    )
    record = result.to_dict()
    inputs = [str(p) for p in args.inputs]
    started = None if args.start_from is None else str(args.start_from)
    save_model(
        result.model,
        args.out,
        training={
            "inputs": inputs,
            "start_from": started,
            "data_sha256": result.data_digest,
            "n_structures": len(structures),
            "best_epoch": result.best_epoch,
            "metrics": record["metrics"],
        },
    )
    files = side_files(args.out)
    config_record = {
        "model": record["model_config"],
        "train": record["train_config"],
        "inputs": inputs,
        "start_from": started,
        "split": record["split"],
        "data_sha256": result.data_digest,
    }
    files["config"].write_text(json.dumps(config_record, indent=2) + "\n")
    metrics_record = {
        "metrics": record["metrics"],
        "best_epoch": result.best_epoch,
        "history": record["history"],
    }
    files["metrics"].write_text(json.dumps(metrics_record, indent=2) + "\n")
    shown = "test" if result.split.test else "validation"
    plot_parity(result, files["parity"], split=shown)
    print(f"model {args.out} (best epoch {result.best_epoch})")
    for target in result.model.targets:
        m = result.metrics[shown][target]
        print(
            f"{shown} {target}: MAE {m['mae']:.4g} RMSE {m['rmse']:.4g} "
            f"R2 {m['r2']:.4f} n {m['n']} ({keys.UNITS[target]})"
        )
    return 0

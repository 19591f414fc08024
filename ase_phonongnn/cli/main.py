"""The ``phonongnn`` command: one verb per stage of the flow.

Each verb lives in its own module of :mod:`ase_phonongnn.cli`, imported only
when it runs, with two functions: ``add_arguments(parser)`` and
``run(args) -> int``. Errors of the user's making end the command with a
one-line message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from ase_phonongnn._version import __version__
from ase_phonongnn.errors import PhononGNNError

#: verb -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sample": ("ase_phonongnn.cli.sample", "thermal snapshots of a supercell"),
    "label": ("ase_phonongnn.cli.label", "label snapshots into an HDF5 store"),
    "export": ("ase_phonongnn.cli.export", "export a store to extxyz or ASE db"),
    "train": ("ase_phonongnn.cli.train", "train a GNN on labelled stores"),
    "evaluate": ("ase_phonongnn.cli.evaluate", "MAE, RMSE and R2 of a model"),
    "predict": ("ase_phonongnn.cli.predict", "predict properties of structures"),
    "explain": ("ase_phonongnn.cli.explain", "edge importances by bond type"),
    "renormalise": ("ase_phonongnn.cli.renormalise", "anharmonic force constants"),
    "demo": ("ase_phonongnn.cli.demo", "the embedded default, end to end"),
}


def _available() -> dict[str, tuple[str, str]]:
    found = {}
    for verb, (module, text) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[verb] = (module, text)
    return found


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``phonongnn`` with every available verb."""
    parser = argparse.ArgumentParser(
        prog="phonongnn",
        description="Phonon-informed thermal snapshots and graph neural networks.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb, (module, text) in _available().items():
        verb_parser = sub.add_parser(verb, help=text, description=text)
        importlib.import_module(module).add_arguments(verb_parser)
        verb_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``phonongnn`` with ``argv`` (default: the command line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except (
        PhononGNNError,
        ValueError,
        TypeError,
        FileNotFoundError,
        ImportError,
    ) as err:
        print(f"phonongnn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"phonongnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

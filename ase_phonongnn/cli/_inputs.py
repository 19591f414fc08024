"""The labelled-data inputs shared by ``phonongnn train`` and ``evaluate``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_labelled_inputs(parser: argparse.ArgumentParser) -> None:
    """Add the INPUT files and ``--skip-retried`` (see ``load_structures``)."""
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="snapshot stores (.h5), shipped datasets (phonon-Ag3SBr, "
        "random-Ag3SBr) or .extxyz files with labels in atoms.info",
    )
    parser.add_argument(
        "--skip-retried",
        action="store_true",
        help="leave out structures whose SCF converged only on a later rung of "
        "the labeller's retry ladder (on GFN2-xTB Ag3SBr another SCF solution)",
    )

"""Inputs shared by the commands: labelled data, checks of option values."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Final

from ase_phonongnn.errors import UserInputError

#: Library keyword -> the option that sets it, for messages written for the
#: Python API (``imaginary='abs'`` becomes ``--imaginary abs``).
OPTION_OF_KEYWORD: Final = {
    "imaginary": "--imaginary",
    "target": "--target",
    "include_stress=False": "--no-stress",
    "retry_failed=True": "--retry-failed",
}


def _as_option(option: str, match: re.Match[str]) -> str:
    return f"{option} {match.group(1) or match.group(2) or 'VALUE'}"


def in_option_syntax(
    message: str, options: Mapping[str, str] = OPTION_OF_KEYWORD
) -> str:
    """Rewrite the keyword arguments a message suggests as command-line options."""
    for keyword, option in options.items():
        if "=" in keyword:
            message = message.replace(keyword, option)
            continue
        message = re.sub(
            rf"\b{keyword}=(?:'([^']*)'|\.\.\.|(\S+))",
            partial(_as_option, option),
            message,
        )
    return message


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


@contextmanager
def checked_options(*options: str) -> Iterator[None]:
    """Report a library's refusal of the values of ``options`` as a user error.

    Wrap only the call that validates the options: a ValueError or TypeError
    raised inside becomes a :class:`UserInputError` naming them, with the fix
    in option syntax; anything else passes unchanged.
    """
    try:
        yield
    except (ValueError, TypeError) as err:
        if isinstance(err, UserInputError):
            raise
        raise UserInputError(
            f"{' / '.join(options)}: {in_option_syntax(str(err))}"
        ) from err


@contextmanager
def phonopy_input(path: Path) -> Iterator[None]:
    """Report a phonopy file that cannot be read (phonopy, PyYAML) as a user error."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no phonopy file {path}: give a phonopy_params.yaml or a shipped material"
        )
    try:
        yield
    except Exception as err:  # phonopy and PyYAML raise many types on bad files
        if isinstance(err, UserInputError):
            raise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserInputError(
            f"phonopy_params {path}: phonopy cannot read it ({first}); give a "
            "phonopy_params.yaml with force constants or forces (phonopy "
            "--include-all writes one)"
        ) from err

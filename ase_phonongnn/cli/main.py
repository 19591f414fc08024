"""The ``phonongnn`` command: one verb per stage of the flow.

Each verb lives in its own module of :mod:`ase_phonongnn.cli`, imported only
when it runs, with two functions: ``add_arguments(parser)`` and
``run(args) -> int``. Errors of the user's making (:data:`USER_ERRORS`) end
the command with a one-line message and exit code 2; ``--debug`` shows their
traceback too. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Final

from ase_phonongnn._version import __version__
from ase_phonongnn.cli._inputs import in_option_syntax
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
    "paper-experiment": (
        "ase_phonongnn.cli.paper_experiment",
        "the paper's Fig. 4 and Table 1: phonon-informed against random data",
    ),
}


#: Exceptions that report a user's input or environment, not a bug: printed as
#: one line. Plain ValueError and TypeError are not among them: the commands
#: check their options themselves and raise UserInputError.
USER_ERRORS: Final = (
    PhononGNNError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ImportError,
)
#: OSError numbers of the environment (full disk, quota, read-only medium).
_ENVIRONMENT_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` reports the user's input or environment (one line, no bug)."""
    if isinstance(err, USER_ERRORS):
        return True
    return isinstance(err, OSError) and err.errno in _ENVIRONMENT_ERRNOS


def report(err: BaseException, prog: str, *, debug: bool) -> int:
    """Print ``err`` as the one-line error of ``prog``; return the exit code.

    A user error (:func:`is_user_error`) is one line and exit code 2 (with
    ``debug``, after its traceback); anything else is re-raised.
    """
    if not is_user_error(err):
        raise err
    if debug:
        traceback.print_exception(err)
    text = " ".join(in_option_syntax(str(err)).split())
    print(f"{prog}: error: {text}", file=sys.stderr)
    return 2


def _exit_if_a_write_failed(code: int) -> None:
    """End the process now if a store write failed (see SnapshotStore).

    HDF5 can crash when it finally closes a file whose write failed (a full
    disk); the records before are on disk, so the process ends without the
    interpreter's teardown, with the exit code of the one-line error.
    """
    store_module = sys.modules.get("ase_phonongnn.store.snapshot_store")
    if store_module is not None and getattr(store_module, "_ABANDONED", None):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


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
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an error, not only its one-line message",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb, (module, text) in _available().items():
        verb_parser = sub.add_parser(verb, help=text, description=text)
        importlib.import_module(module).add_arguments(verb_parser)
        verb_parser.set_defaults(_module=module)
    return parser


class _Below(logging.Filter):
    """Pass log records below a level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


@contextmanager
def _library_log() -> Iterator[None]:
    """Show the library's log while a verb runs: INFO on stdout, warnings on stderr.

    The library logs (``logging.getLogger("ase_phonongnn")``) and prints
    nothing; the command shows its messages as plain lines, as its own output.
    """
    logger = logging.getLogger("ase_phonongnn")
    info = logging.StreamHandler(sys.stdout)
    info.addFilter(_Below(logging.WARNING))
    warnings = logging.StreamHandler(sys.stderr)
    warnings.setLevel(logging.WARNING)
    level = logger.level
    for handler in (info, warnings):
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)
        for handler in (info, warnings):
            logger.removeHandler(handler)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is so that it unwinds as on Ctrl-C."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM (``kill``, a batch system's stop) unwind the command.

    Python's default for SIGTERM ends the process at once; unwound instead,
    an open store closes as its writer's ``with`` block ends, so the file is
    left closed rather than flagged "open for writing" for the next writer
    to repair.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``phonongnn`` with ``argv`` (default: the command line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_unwinds(), _library_log():
            return int(importlib.import_module(args._module).run(args) or 0)
    except Exception as err:
        code = report(err, f"phonongnn {args.command}", debug=args.debug)
        _exit_if_a_write_failed(code)
        return code
    except _Terminated:
        print(f"phonongnn {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"phonongnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

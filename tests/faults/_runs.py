"""Labelling runs in new processes, for the fault tests (to be killed, or to fail)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).parent

#: label_snapshots in a new process: python -c API SOURCE STORE CALCULATOR WORKERS.
#: It imports no torch, so it starts in a fraction of the CLI's time.
API = """
import sys
import ase.io
from ase_phonongnn.label import LabelPool, label_snapshots
source, store, calculator, workers = sys.argv[1:]
snapshots = ase.io.read(source, ":")
if int(workers):
    with LabelPool(int(workers)) as pool:
        label_snapshots(snapshots, calculator, store, pool, progress=False)
else:
    label_snapshots(snapshots, calculator, store, progress=False)
"""


def environment() -> dict[str, str]:
    """This environment, with the fault injectors importable, on one thread."""
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]),
        OMP_NUM_THREADS="1",
    )


def cli_argv(source: Path, store: Path, calculator: str, *extra: str) -> list[str]:
    """``phonongnn label SOURCE --out STORE --calculator CALCULATOR ...``."""
    cli = [sys.executable, "-m", "ase_phonongnn.cli.main", "label", str(source)]
    return [
        *cli,
        "--out",
        str(store),
        "--calculator",
        calculator,
        "--no-progress",
        *extra,
    ]


def api_argv(source: Path, store: Path, calculator: str, workers: int = 0) -> list[str]:
    """:data:`API` labelling SOURCE into STORE (in a LabelPool if ``workers``)."""
    return [
        sys.executable,
        "-c",
        API,
        str(source),
        str(store),
        calculator,
        str(workers),
    ]

"""The paper's experiment with our data: Fig. 4 (learning curves) and Table 1.

A thin wrapper of ``phonongnn paper-experiment`` (:mod:`ase_phonongnn.experiment`)
that writes into ``benchmarks/results/paper_experiment/`` unless ``--out`` is
given; every other option is the verb's (``--help`` lists them).

    python benchmarks/paper_experiment.py [--phonon STORE] [--random STORE]
        [--out DIR] [--sizes 100 200 400 700 1000] [--seeds 0 1 2 3 4]
        [--epochs 200] [--models paper-5 ours] [--threads 1] [--quick]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ase_phonongnn.cli.main import main as phonongnn

ROOT = Path(__file__).resolve().parent.parent
#: Where the benchmark's results live (read by the docs' science section).
OUT = ROOT / "benchmarks" / "results" / "paper_experiment"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``phonongnn paper-experiment`` with ``argv``, ``--out`` defaulting to OUT."""
    argv = list(sys.argv[1:] if argv is None else argv)
    given = any(a == "--out" or a.startswith("--out=") for a in argv)
    out = [] if given or {"-h", "--help"} & set(argv) else ["--out", str(OUT)]
    return phonongnn(["paper-experiment", *argv, *out])


if __name__ == "__main__":
    sys.exit(main())

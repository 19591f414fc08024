"""Counts of the PBEsol stores, their SCF failure rate and labelling time.

    python research/pbesol/counts.py [REVISION]

Reads the stores as committed at REVISION (default HEAD; ``git show``), so
that a running labeller's store is read as it was last committed. Prints one
row per store: done, failed, pending, the failure rate of the finished
labels, and the mean and total wall time per label that the labeller recorded
(``label_provenance["seconds"]``; one worker per core, often two workers on
two cores, so about the CPU time).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ase_phonongnn import keys
from ase_phonongnn.store import SnapshotStore

ROOT = Path(__file__).resolve().parents[2]


def committed_stores(revision: str) -> Iterator[tuple[str, bytes]]:
    """Yield (path, content) of each PBEsol store as committed at ``revision``."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", revision, "datasets/pbesol/"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in (n for n in names if n.endswith(".h5")):
        show = ["git", "show", f"{revision}:{name}"]
        yield (
            name,
            subprocess.run(show, cwd=ROOT, check=True, capture_output=True).stdout,
        )


def main(revision: str) -> None:
    """Print the table."""
    print(
        f"{'store':28s} {'done':>5s} {'failed':>6s} {'pending':>7s} {'fail %':>6s} "
        f"{'s/label':>8s} {'hours':>6s}"
    )
    total_done = total_failed = 0
    total_seconds = 0.0
    for name, blob in committed_stores(revision):
        with tempfile.NamedTemporaryFile(suffix=".h5") as copy:
            copy.write(blob)
            copy.flush()
            with SnapshotStore.open(copy.name) as store:
                counts = store.counts()
                done = store.read_atoms(keys.DONE)
        seconds = np.array(
            [a.info[keys.LABEL_PROVENANCE].get("seconds", np.nan) for a in done]
        )
        finished = counts["done"] + counts["failed"]
        print(
            f"{Path(name).stem:28s} {counts['done']:5d} {counts['failed']:6d} "
            f"{counts['pending']:7d} {100 * counts['failed'] / max(finished, 1):6.1f} "
            f"{np.nanmean(seconds) if len(seconds) else 0:8.0f} "
            f"{np.nansum(seconds) / 3600:6.1f}"
        )
        total_done += counts["done"]
        total_failed += counts["failed"]
        total_seconds += float(np.nansum(seconds))
    print(
        f"{'all':28s} {total_done:5d} {total_failed:6d} {'':7s} "
        f"{100 * total_failed / max(total_done + total_failed, 1):6.1f} "
        f"{total_seconds / max(total_done, 1):8.0f} {total_seconds / 3600:6.1f}"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "HEAD")

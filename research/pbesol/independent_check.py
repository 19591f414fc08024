"""The family committee on PBEsol labels made after it was trained.

    python research/pbesol/independent_check.py REV [--model NAME|A,B] [--out NAME]

REV is the commit whose stores the committee was trained on (the one its
training log names). Every label in the stores as they are now that was not
in any store at REV is one the committee never saw, sampled and labelled
apart from its training, validation and test sets: the independent check of
issue-style targets, per store and per class (Ag3SBr, Ag3SI, solid
solutions). Writes ``independent_check.json`` (or ``--out``) beside this
script.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from ase import Atoms
from counts import committed_stores

from ase_phonongnn import keys
from ase_phonongnn.prediction import Committee, evaluate
from ase_phonongnn.store import SnapshotStore

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STORES = ROOT / "datasets" / "pbesol"


def hashes_at(revision: str) -> set[str]:
    """Content hashes of every snapshot in the PBEsol stores at ``revision``."""
    seen: set[str] = set()
    with tempfile.TemporaryDirectory() as scratch:
        for name, blob in committed_stores(revision):
            copy = Path(scratch) / Path(name).name
            copy.write_bytes(blob)
            with SnapshotStore.open(copy) as store:
                seen.update(store.content_hashes())
    return seen


def material(atoms: Atoms) -> str:
    """Ag3SBr, Ag3SI or solid solution, from the halogens present."""
    halogens = set(atoms.get_chemical_symbols()) & {"Br", "I"}
    return "solid solution" if len(halogens) == 2 else f"Ag3S{halogens.pop()}"


def main() -> None:
    """Score the committee on the new labels, per store and per class."""
    parser = argparse.ArgumentParser()
    parser.add_argument("revision")
    parser.add_argument(
        "--model",
        default="pbesol",
        help="a shipped name, or model files separated by commas (a committee)",
    )
    parser.add_argument("--out", default="independent_check.json", help="beside this")
    args = parser.parse_args()
    seen = hashes_at(args.revision)
    groups: dict[str, list[Atoms]] = defaultdict(list)
    for path in sorted(STORES.glob("*.h5")):
        with SnapshotStore.open(path, mode="r") as store:
            new = [
                a
                for a in store.read_atoms(keys.DONE)
                if a.info[keys.CONTENT_HASH] not in seen
            ]
        for atoms in new:
            groups[f"store {path.stem}"].append(atoms)
            groups[f"class {material(atoms)}"].append(atoms)
            groups["all"].append(atoms)
    result = {"model": args.model, "trained_on": args.revision}
    parts = args.model.split(",")
    committee = Committee.load(parts if len(parts) > 1 else args.model, "cpu")
    for name, frames in sorted(groups.items()):
        result[name] = evaluate(committee, frames)
        scores = {
            p: (round(v["mae"], 4), round(v["r2"], 2)) for p, v in result[name].items()
        }
        print(f"{name:28s} n={len(frames):3d}  (MAE, R²) {scores}")
    out = HERE / args.out
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Which bonds the family committee's band gap rests on, per composition.

    python research/pbesol/explain_family.py [N]

The paper's Fig. 5 question, asked of the shipped ``pbesol`` members: does
the band gap rest on the Ag–S bonds (whose distortion lowers the Ag-s/S-s
conduction band) in every member of the family? Each member explains the
band gap of up to N (default 8) labelled snapshots per composition with
GNNExplainer (the package's defaults): Ag3SI (``pbesol-phonon-Ag3SI``),
x = 2/8 … 7/8 (``pbesol-thermal-mixed``) and Ag3SBr (``pbesol-random-Ag3SBr``,
its smallest amplitudes). Writes ``explain_family.json`` beside this script
and ``docs/figures/pbesol-explain-band-gap.png``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from ase import Atoms
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ase_phonongnn import keys, load_model
from ase_phonongnn.data import dataset_path
from ase_phonongnn.explain import aggregate_bond_types, explain_dataset
from ase_phonongnn.model import named_model
from ase_phonongnn.store import SnapshotStore

HERE = Path(__file__).resolve().parent
FIGURE = HERE.parents[1] / "docs" / "figures" / "pbesol-explain-band-gap.png"


def read(name: str) -> list[Atoms]:
    """Return the labelled snapshots of a dataset."""
    with SnapshotStore.open(dataset_path(name)) as store:
        return store.read_atoms(keys.DONE)


def groups(n: int) -> dict[str, list[Atoms]]:
    """Return up to n snapshots per composition, named by x in eighths."""
    by_x: dict[str, list[Atoms]] = defaultdict(list)
    by_x["x=0/8"] = read("pbesol-phonon-Ag3SI")[:n]
    for atoms in read("pbesol-thermal-mixed"):
        x = round(8 * np.mean(atoms.numbers[np.isin(atoms.numbers, (35, 53))] == 35))
        if len(by_x[f"x={x}/8"]) < n:
            by_x[f"x={x}/8"].append(atoms)
    bromide = read("pbesol-random-Ag3SBr")
    bromide.sort(key=lambda a: a.info[keys.AMPLITUDE])
    by_x["x=8/8"] = bromide[:n]
    return dict(sorted(by_x.items(), key=lambda kv: int(kv[0][2])))


def main(n: int) -> None:
    """Explain, aggregate per composition and member, plot."""
    members = [m.name for m in named_model("pbesol").members]
    result: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for name, frames in groups(n).items():
        result[name] = {}
        for k, member in enumerate(members):
            explained = explain_dataset(
                load_model(f"pbesol:{k}"), frames, keys.BAND_GAP, seed=0
            )
            result[name][member] = {
                bond: {
                    "mean": s.mean,
                    "fraction_significant": s.fraction_significant,
                    "share_of_significant": s.share_of_significant,
                    "n_edges": s.n_edges,
                }
                for bond, s in aggregate_bond_types(explained).items()
            }
            top = max(result[name][member].items(), key=lambda kv: kv[1]["mean"])
            print(f"{name} ({len(frames)}) {member}: top {top[0]} {top[1]['mean']:.3f}")
    (HERE / "explain_family.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result)


def plot(result: dict[str, dict[str, dict[str, dict[str, float]]]]) -> None:
    """Mean scaled importance per bond type against x, members averaged."""
    compositions = list(result)
    bonds = sorted({b for r in result.values() for m in r.values() for b in m})
    figure = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = figure.subplots()
    x = [int(name[2]) / 8 for name in compositions]
    for bond in bonds:
        values = [
            np.mean([m[bond]["mean"] for m in result[c].values() if bond in m])
            if any(bond in m for m in result[c].values())
            else np.nan
            for c in compositions
        ]
        style = "-" if bond.startswith("Ag-") else ":"
        ax.plot(x, values, style, marker="o", label=bond)
    ax.set_xlabel("bromine fraction x")
    ax.set_ylabel("mean scaled edge importance, band gap")
    ax.legend(fontsize=7, ncols=3)
    ax.set_title("pbesol committee (members averaged), GNNExplainer")
    FigureCanvasAgg(figure)
    figure.savefig(FIGURE, dpi=120)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)

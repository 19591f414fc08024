"""What the VBM of a thermal Ag3SBr snapshot is made of, and what a model sees of it.

In GFN2-xTB the top valence level of the ideal cubic Ag3SBr 2×2×2 cell is
six-fold degenerate (Γ point of the supercell); a thermal snapshot splits it,
and its VBM is the highest of the six. The degeneracies of smaller ideal
supercells, each folding fewer points of the cubic cell's Brillouin zone,
tell where the six come from (printed first). This writes the VBM of each
snapshot as the centroid of its top ``g`` occupied levels plus the splitting
above it, within one temperature, and regresses a model's (by default the
shipped committee's) VBM predictions on the two parts: a slope below 1 on
the splitting is the share of it the model does not follow.

    python research/vbm_levels.py [--temperatures 300 500] [--count 40]
        [--model default]

The snapshots are the first ``--count`` of each temperature in the
phonon-informed validation set (same content-hash split as
``research/train_default.py``). Their levels (one GFN2-xTB single point each,
about 10 s) are kept in ``research/vbm_levels.json`` by content hash and reused;
each is checked against its stored VBM label.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn.data import dataset_path
from ase_phonongnn.label import GFN2xTB
from ase_phonongnn.prediction import predict
from ase_phonongnn.structures import antiperovskite
from ase_phonongnn.train import hash_split, load_structures

OUT = Path(__file__).parent / "vbm_levels.json"
#: Occupied levels kept per snapshot, from the VBM down.
N_KEPT = 24
#: Points of the cubic cell's Brillouin zone that each ideal supercell folds
#: onto its Γ point.
FOLDED_POINTS = {
    "1x1x1": "Γ",
    "2x1x1": "Γ, one X",
    "2x2x1": "Γ, two X, one M",
    "2x2x2": "Γ, three X, three M, R",
}


def occupied_levels(atoms: Atoms) -> list[float]:
    """Return the top :data:`N_KEPT` occupied GFN2-xTB levels (eV), ascending."""
    atoms = atoms.copy()
    atoms.calc = GFN2xTB()
    atoms.get_potential_energy()
    levels = atoms.calc.get_eigenvalues()
    occupied = atoms.calc.get_occupation_numbers() > 1.0
    return levels[occupied][-N_KEPT:].tolist()


def r2(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Return the coefficient of determination."""
    return float(1 - ((labels - predictions) ** 2).mean() / labels.var())


def main() -> None:
    """Compute (or reuse) the levels and print the decomposition per temperature."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--temperatures", type=float, nargs="+", default=[300, 500])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    cache = json.loads(OUT.read_text()) if OUT.exists() else {}
    # which points of the cubic cell's Brillouin zone the six-fold level
    # comes from: each supercell folds its own set onto its Γ point
    folded = cache.setdefault("ideal_cells", {})
    for repeat, points in FOLDED_POINTS.items():
        if repeat not in folded:
            cells = tuple(int(n) for n in repeat.split("x"))
            folded[repeat] = occupied_levels(antiperovskite("Br").repeat(cells))
        levels = np.array(folded[repeat])
        print(
            f"ideal {repeat} cell ({points}): top valence level "
            f"{int(np.sum(np.abs(levels - levels[-1]) < 1e-4))}-fold"
        )
    ideal = np.array(folded["2x2x2"])
    top = ideal[-1]
    print(
        f"ideal 2×2×2 cell: top valence level {top:.3f} eV, "
        f"{int(np.sum(np.abs(ideal - top) < 1e-4))}-fold"
    )
    snapshots = load_structures([dataset_path("phonon-Ag3SBr")], skip_retried=True)
    # the validation set of research/train_default.py
    validation = [snapshots[i] for i in hash_split(snapshots).validation]
    levels_of = cache.setdefault("snapshots", {})
    for temperature in args.temperatures:
        chosen = [a for a in validation if a.info[keys.TEMPERATURE] == temperature]
        chosen = chosen[: args.count]
        for atoms in chosen:
            key = atoms.info[keys.CONTENT_HASH]
            if key not in levels_of:
                levels_of[key] = occupied_levels(atoms)
                OUT.write_text(json.dumps(cache))
            if abs(levels_of[key][-1] - atoms.info[keys.VBM]) > 1e-6:
                raise RuntimeError(f"{key}: top level is not the stored VBM")
        OUT.write_text(json.dumps(cache))
        levels = np.array([levels_of[a.info[keys.CONTENT_HASH]] for a in chosen])
        vbm = levels[:, -1]
        predicted = predict(args.model, chosen, properties=[keys.VBM])[keys.VBM]
        print(
            f"\n{temperature:.0f} K, {len(chosen)} snapshots: VBM spread "
            f"{1e3 * vbm.std():.0f} meV, model MAE "
            f"{1e3 * np.abs(predicted - vbm).mean():.0f} meV, "
            f"R² {r2(vbm, predicted):.2f}"
        )
        print("   g  spread of centroid, of splitting (meV)  prediction ≈")
        for g in (3, 6, 12):
            centroid = levels[:, -g:].mean(axis=1)
            splitting = vbm - centroid
            design = np.c_[
                np.ones(len(vbm)),
                centroid - centroid.mean(),
                splitting - splitting.mean(),
            ]
            slopes, *_ = np.linalg.lstsq(design, predicted, rcond=None)
            print(
                f"  {g:2d}  {1e3 * centroid.std():18.0f} {1e3 * splitting.std():14.0f}"
                f"       {slopes[1]:.2f} · centroid + {slopes[2]:.2f} · splitting"
            )


if __name__ == "__main__":
    main()

"""Check whether the VBM the committee misses is a localised level.

The shipped committee's largest VBM errors on the held-out phonon-informed
test set are labels well above its prediction (docs/ag3sbr-findings.rst).
A level that splits off the top of the valence band onto a few atoms, in a
locally distorted environment, would do that: a readout that averages over
the cell sees such an environment diluted forty-fold. This script scores
the committee on the test set of ``research/train_default.py``, takes the
snapshots with the largest VBM residuals and as many drawn at random, reruns
their GFN2-xTB single point on the labelling settings, and prints for the
top valence orbital its Mulliken populations per atom: the inverse
participation ratio (IPR = Σ_A q_A², 1/40 when spread evenly over the 40
atoms, 1 on one atom), the share on the atom that holds most of it and that
atom's element. The results are kept, by content hash, in
``vbm_localisation.json``.

``--all`` then reruns every test snapshot (resuming) and prints how many
have a localised top orbital (IPR above :data:`LOCALISED`) and what share
of the committee's squared VBM error they carry.

    python research/vbm_localisation.py [--count 20] [--all]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import Hartree
from scf_annealing_check import phonon_test_set
from scf_convergence_check import gfn2_calculator
from scipy.stats import spearmanr

from ase_phonongnn import keys
from ase_phonongnn.label.xtb import RETRY_LADDER
from ase_phonongnn.prediction import predict
from ase_phonongnn.train import regression_metrics

OUT = Path(__file__).parent / "vbm_localisation.json"
#: an IPR above this counts as localised (spread evenly over the 40 atoms: 0.025;
#: the 20 snapshots drawn at random: median 0.075, up to 0.16)
LOCALISED = 0.15


def top_orbital_populations(atoms: Atoms) -> tuple[float, np.ndarray]:
    """Return the VBM (eV) and the top valence orbital's population per atom.

    Mulliken populations q_A = Σ_{μ∈A} c_μ (S c)_μ of the highest occupied
    orbital of a closed-shell Γ-point GFN2-xTB calculation; they sum to 1.
    """
    calc = gfn2_calculator(atoms, {**RETRY_LADDER[0], "save-integrals": 1})
    result = calc.singlepoint()
    energies = np.asarray(result.get("orbital-energies")) * Hartree
    occupations = np.asarray(result.get("orbital-occupations"))
    coefficients = np.asarray(result.get("orbital-coefficients"))
    overlap = np.asarray(result.get("overlap-matrix"))
    # orbital -> shell -> atom (0-based)
    orbital_atom = np.asarray(calc.get("shell-map"))[
        np.asarray(calc.get("orbital-map"))
    ]
    homo = round(float(occupations.sum())) // 2 - 1
    order = np.argsort(energies)
    # the molecular orbitals are the columns, S-orthonormal (tblite 0.8)
    if not np.allclose(
        coefficients.T @ overlap @ coefficients, np.eye(len(overlap)), atol=1e-6
    ):
        raise RuntimeError("tblite's orbital coefficients are not S-orthonormal")
    c = coefficients[:, order[homo]]
    per_orbital = c * (overlap @ c)
    populations = np.bincount(orbital_atom, weights=per_orbital, minlength=len(atoms))
    return float(energies[order[homo]]), populations


def cached_populations(atoms: Atoms, kept: dict[str, list[float]]) -> np.ndarray:
    """Return the top valence orbital's populations, computing and keeping them."""
    digest = atoms.info[keys.CONTENT_HASH]
    if digest not in kept:
        vbm, populations = top_orbital_populations(atoms)
        if abs(vbm - atoms.info[keys.VBM]) > 1e-4:
            raise RuntimeError(
                f"{digest[:12]}: VBM {vbm} != label {atoms.info[keys.VBM]}"
            )
        kept[digest] = populations.tolist()
        OUT.write_text(json.dumps(kept))
    return np.array(kept[digest])


def main(count: int, every: bool) -> None:
    """Score the committee, rerun 2 × count snapshots and print their IPRs."""
    test = phonon_test_set()
    committee = predict("default", test, properties=[keys.VBM])
    labels = np.array([a.info[keys.VBM] for a in test])
    residual = labels - committee[keys.VBM]
    worst = np.argsort(-np.abs(residual))[:count]
    rest = np.setdiff1d(np.arange(len(test)), worst)
    drawn = np.random.default_rng(0).choice(rest, count, replace=False)
    kept = json.loads(OUT.read_text()) if OUT.exists() else {}
    rows = []
    for group, indices in (("worst", worst), ("random", drawn)):
        for k in indices:
            atoms = test[k]
            q = cached_populations(atoms, kept)
            top = int(np.argmax(q))
            kept_row = {
                "group": group,
                "T": atoms.info[keys.TEMPERATURE],
                "gap": round(atoms.info[keys.BAND_GAP], 3),
                "residual": round(float(residual[k]), 3),
                "ipr": round(float(np.sum(q**2)), 3),
                "top_share": round(float(q[top]), 3),
                "top_atom": atoms.get_chemical_symbols()[top],
            }
            print(kept_row, flush=True)
            rows.append(kept_row)
    summarise(rows)
    if every:
        for k in np.random.default_rng(1).permutation(len(test)):
            cached_populations(test[k], kept)
        ipr = np.array([np.sum(cached_populations(a, kept) ** 2) for a in test])
        summarise_test_set(test, labels, residual, ipr)


def summarise_test_set(
    test: list[Atoms], labels: np.ndarray, residual: np.ndarray, ipr: np.ndarray
) -> None:
    """Print how common localised VBMs are and how much of the error they carry."""
    temperature = np.array([a.info[keys.TEMPERATURE] for a in test])
    localised = ipr > LOCALISED
    squared = residual**2
    print(
        f"test set: {localised.sum()} of {len(test)} with IPR > {LOCALISED} "
        f"(per temperature: "
        + ", ".join(
            f"{t:.0f} K {localised[temperature == t].sum()}/{(temperature == t).sum()}"
            for t in np.unique(temperature)
        )
        + f"); they carry {squared[localised].sum() / squared.sum():.0%} of the "
        f"squared VBM error, mean residual {1000 * residual[localised].mean():+.0f} "
        f"meV against {1000 * residual[~localised].mean():+.0f} meV"
    )
    predicted = labels - residual
    r2_all = regression_metrics(labels, predicted)["r2"]
    r2_rest = regression_metrics(labels[~localised], predicted[~localised])["r2"]
    print(
        f"committee VBM R² {r2_all:.3f} on all, {r2_rest:.3f} without them; "
        f"Spearman ρ residual-IPR {spearmanr(residual, ipr).statistic:.2f}"
    )


def summarise(rows: list[dict]) -> None:
    """Print the IPRs of each group and their rank correlation with the residual."""
    residual = np.array([r["residual"] for r in rows])
    ipr = np.array([r["ipr"] for r in rows])
    gap = np.array([r["gap"] for r in rows])
    worst = np.array([r["group"] == "worst" for r in rows])
    for name, chosen in (
        ("largest residuals, label above", worst & (residual > 0)),
        ("largest residuals, label below", worst & (residual < 0)),
        ("drawn at random", ~worst),
    ):
        print(
            f"{name}: {chosen.sum()} snapshots, IPR median "
            f"{np.median(ipr[chosen]):.3f} ({ipr[chosen].min():.3f}-"
            f"{ipr[chosen].max():.3f}), gap median {np.median(gap[chosen]):.2f} eV"
        )
    print(
        f"Spearman ρ: residual-IPR {spearmanr(residual, ipr).statistic:.2f}, "
        f"gap-IPR {spearmanr(gap, ipr).statistic:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument(
        "--all", action="store_true", help="then every test snapshot (resuming)"
    )
    args = parser.parse_args()
    main(args.count, args.all)

"""Screen labelled stores for hydrostatic stresses off their neighbours' relation.

Within one temperature (one amplitude for random snapshots) the GFN2-xTB
hydrostatic stress of Ag3SBr follows the energy per atom and the band gap
closely. For each such group this fits σh ≈ a + b·E + c·Eg by least
squares and measures each label's residual in robust spreads (1.4826 times
the median absolute deviation); labels more than ``--threshold`` spreads
above it are flagged (the second SCF solution found so far always raises
σh, by 1–4 GPa). They lie where the SCF has more than one solution
(``research/scf_branch_check.py``); the screen only names them, it removes
nothing. ``research/train_default.py --summarise`` scores the committee on the
test set with and without them.

    python research/stress_screen.py [STORE ...] [--threshold 4.5]

Writes ``research/stress_screen.json``: per store, the flagged labels (content
hash, temperature or amplitude, σh, residual in spreads) and each group's
fitted relation and spread.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ase_phonongnn import keys
from ase_phonongnn.data import dataset_path
from ase_phonongnn.train import load_structures

OUT = Path(__file__).parent / "stress_screen.json"


def group_key(info: dict) -> tuple[str, float]:
    """Return the sampling setting a label is compared within."""
    if info[keys.METHOD] == "random":  # eq. 2: one amplitude, no temperature
        return "amplitude", float(info[keys.AMPLITUDE])
    return "temperature", float(info[keys.TEMPERATURE])


def screen(path: Path, threshold: float) -> dict:
    """Return the screen of one store (retried labels left out, as in training)."""
    infos = [a.info for a in load_structures([path], skip_retried=True)]
    groups: dict[tuple[str, float], list[int]] = {}
    for k, info in enumerate(infos):
        groups.setdefault(group_key(info), []).append(k)
    flagged, relations = [], []
    for (name, value), rows in sorted(groups.items()):
        if len(rows) < 10:  # too few for a relation and a spread
            continue
        sigma = np.array([infos[k][keys.HYDROSTATIC_STRESS] for k in rows])
        design = np.array(
            [
                [1.0, infos[k][keys.ENERGY_PER_ATOM], infos[k][keys.BAND_GAP]]
                for k in rows
            ]
        )
        coefficients, *_ = np.linalg.lstsq(design, sigma, rcond=None)
        residual = sigma - design @ coefficients
        spread = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
        z = residual / spread
        relations.append(
            {
                name: value,
                "n": len(rows),
                "gpa_per_ev_atom": float(coefficients[1]),
                "gpa_per_ev_gap": float(coefficients[2]),
                "spread_gpa": spread,
            }
        )
        for k, score in zip(rows, z, strict=True):
            if score > threshold:
                info = infos[k]
                flagged.append(
                    {
                        "hash": info[keys.CONTENT_HASH],
                        name: value,
                        "hydrostatic_stress": float(info[keys.HYDROSTATIC_STRESS]),
                        "spreads": float(score),
                    }
                )
    return {"n": len(infos), "flagged": flagged, "relations": relations}


def main() -> None:
    """Screen the stores named on the command line and write the report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "stores",
        nargs="*",
        type=Path,
        default=[dataset_path("phonon-Ag3SBr"), dataset_path("random-Ag3SBr")],
    )
    parser.add_argument("--threshold", type=float, default=4.5)
    args = parser.parse_args()
    report = {"threshold": args.threshold}
    for path in args.stores:
        report[path.stem] = screen(path, args.threshold)
        flagged = report[path.stem]["flagged"]
        print(f"{path.stem}: {len(flagged)} of {report[path.stem]['n']} flagged")
        for row in flagged:
            print(
                "  "
                + "  ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v[:12]}"
                    for k, v in row.items()
                )
            )
    OUT.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

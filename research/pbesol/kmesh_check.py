"""Ideal cubic Ag3SBr and Ag3SI: the 2×2×2 cell at Γ against the unit cell on a k-mesh.

    python research/pbesol/kmesh_check.py

Band gap and VBM with the labeller's defaults (no stress), one JSON line per
case into research/pbesol/kmesh_check.jsonl. The plain 8×8×8 mesh is
Monkhorst–Pack, shifted off Γ (an even mesh); the Γ-centred one holds Γ, X, M
and R, where the band edges of these crystals are.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ase_phonongnn.label.gpaw import GPAWPBEsol
from ase_phonongnn.label.labels import compute_labels
from ase_phonongnn.structures import antiperovskite

OUT = Path(__file__).with_name("kmesh_check.jsonl")


def main() -> None:
    """Compute each case not yet in the output."""
    done = set()
    if OUT.exists():
        done = {json.loads(line)["case"] for line in OUT.read_text().splitlines()}
    for halogen in ("Br", "I"):
        cases = {
            f"Ag3S{halogen} 2x2x2 Gamma": (
                antiperovskite(halogen).repeat(2),
                (1, 1, 1),
            ),
            f"Ag3S{halogen} unit cell 8x8x8": (antiperovskite(halogen), (8, 8, 8)),
            f"Ag3S{halogen} unit cell 8x8x8 Gamma-centred": (
                antiperovskite(halogen),
                {"size": (8, 8, 8), "gamma": True},
            ),
        }
        for case, (atoms, kpts) in cases.items():
            if case in done:
                continue
            start = time.process_time()
            labels, _ = compute_labels(
                atoms, GPAWPBEsol(strain=None, kpts=kpts), include_stress=False
            )
            record = {
                "case": case,
                "cpu_s": round(time.process_time() - start, 1),
                "band_gap": labels["band_gap"],
                "vbm": labels["vbm"],
                "energy_per_atom": labels["energy_per_atom"],
            }
            with OUT.open("a") as stream:
                stream.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()

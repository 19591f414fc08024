"""Harmonic PBEsol force constants of Ag3SBr and Ag3SI (2×2×2, fixed lattice).

    python research/pbesol/harmonic.py [Ag3SBr] [Ag3SI]

phonopy's finite displacements (0.01 Å, symmetry-reduced) labelled with the
GPAW labeller's forces (one plane-wave SCF per displaced 40-atom cell) go to
research/pbesol/force-constants/<material>_harmonic_params.yaml.xz, with the
dispersion against the shipped GFN2-xTB harmonic force constants in
research/pbesol/figures/. A material already there is skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.label.gpaw import GPAWPBEsol
from ase_phonongnn.sample import compute_force_constants, plot_dispersions, save_phonopy
from ase_phonongnn.structures import antiperovskite

HERE = Path(__file__).resolve().parent


def main(materials: list[str]) -> None:
    """Compute the force constants of each material not yet written."""
    for material in materials or ["Ag3SI", "Ag3SBr"]:
        out = HERE / "force-constants" / f"{material}_harmonic_params.yaml.xz"
        if out.exists():
            continue
        out.parent.mkdir(exist_ok=True)
        unit_cell = antiperovskite(material.removeprefix("Ag3S"))
        phonon = compute_force_constants(unit_cell, [2, 2, 2], GPAWPBEsol)
        save_phonopy(phonon, out)
        figures = HERE / "figures"
        figures.mkdir(exist_ok=True)
        plot_dispersions(
            {"GFN2-xTB": force_constants_path(material), "PBEsol": out},
            figures / f"{material}_harmonic_dispersions.png",
            title=f"{material}, harmonic: GFN2-xTB and PBEsol (GPAW)",
        )
        print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

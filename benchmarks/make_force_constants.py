"""Regenerate the shipped harmonic GFN2-xTB force constants of Ag3SBr and Ag3SI.

phonopy finite displacements (0.01 Å) in 2×2×2 supercells with forces from the
built-in GFN2-xTB labeller. Writes ase_phonongnn/data/<name>_harmonic_params.yaml.xz.

    python benchmarks/make_force_constants.py [--halogen Br I]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ase_phonongnn.label import GFN2xTB
from ase_phonongnn.sample.force_constants import compute_force_constants, save_phonopy
from ase_phonongnn.structures import antiperovskite

DATA = Path(__file__).resolve().parents[1] / "ase_phonongnn" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--halogen", nargs="+", default=["Br", "I"])
    args = parser.parse_args()
    for halogen in args.halogen:
        phonon = compute_force_constants(
            antiperovskite(halogen), np.diag([2, 2, 2]), GFN2xTB
        )
        path = save_phonopy(phonon, DATA / f"Ag3S{halogen}_harmonic_params.yaml.xz")
        phonon.run_mesh([8, 8, 8], is_gamma_center=True)
        freqs = phonon.mesh.frequencies
        n_imag = int((freqs < -1e-2).sum())
        print(
            f"{path.name}: {n_imag} of {freqs.size} mesh modes imaginary, "
            f"lowest {freqs.min():.3f} THz"
        )


if __name__ == "__main__":
    main()

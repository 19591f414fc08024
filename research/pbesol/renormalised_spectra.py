"""What stays imaginary in the renormalised PBEsol spectra, per temperature.

    python research/pbesol/renormalised_spectra.py [PATTERN]

For each ``force-constants/<PATTERN>_params.yaml.xz`` (default
``Ag3S*_*K_model_al2``): the number of unstable commensurate modes and the
lowest one (the loop's own figures, from its history), and on 8×8×8 meshes
(Γ-centred and shifted by half a step) the lowest frequency and the modes
below −0.2 THz. Adds its rows to renormalised_spectra.json beside this
script.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import phonopy

HERE = Path(__file__).resolve().parent
MESH = (8, 8, 8)
THRESHOLD = -0.2  # THz


def mesh_frequencies(phonon: phonopy.Phonopy, shifted: bool) -> np.ndarray:
    """Frequencies (THz) on the 8×8×8 mesh, Γ-centred or shifted."""
    # phonopy's even mesh without is_gamma_center is the Monkhorst-Pack one,
    # shifted by half a step from Γ
    phonon.run_mesh(MESH, is_gamma_center=not shifted)
    assert phonon.mesh is not None
    return np.asarray(phonon.mesh.frequencies)


def main(pattern: str) -> None:
    """Print and record one row per force-constant file."""
    rows = {}
    for path in sorted((HERE / "force-constants").glob(f"{pattern}_params.yaml.xz")):
        stem = path.name.removesuffix("_params.yaml.xz")
        history = json.loads(path.with_name(f"{stem}_history.json").read_text())
        last = history["history"][-1]
        phonon = phonopy.load(path, log_level=0)
        row: dict[str, object] = {
            "temperature": float(re.search(r"_(\d+)K_", stem).group(1)),  # type: ignore[union-attr]
            "loop": {k: v for k, v in last.items() if not isinstance(v, list)}
            | {"converged": history["converged"], "calculator": history["calculator"]},
        }
        for name, shifted in (("gamma", False), ("shifted", True)):
            f = mesh_frequencies(phonon, shifted)
            row[f"mesh_{name}"] = {
                "lowest_thz": float(f.min()),
                "below_threshold": int((f < THRESHOLD).sum()),
                "modes": int(f.size),
            }
        rows[stem] = row
        print(stem, json.dumps(row))
    out = HERE / "renormalised_spectra.json"
    recorded = json.loads(out.read_text()) if out.is_file() else {}
    out.write_text(json.dumps(recorded | rows, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Ag3S*_*K_model_al2")

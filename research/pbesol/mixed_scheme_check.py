"""Force constants for Ag3SBr_x I_(1-x), checked against GPAW forces.

    python research/pbesol/mixed_scheme_check.py [KIND ...]

The scheme: a solid solution's 2×2×2 force constants are the end members'
interpolated in its bromine fraction, Φ(x) = x Φ(Ag3SBr) + (1 − x) Φ(Ag3SI),
on the configuration's own cell (Vegard) and masses (phonopy takes the masses
of the configuration when it samples). The check is the force that each
choice of Φ predicts, F = −Φ u with u the displacement from the ideal sites,
against GPAW's on the labelled snapshots of ``pbesol-thermal-mixed`` (and the
end members' stores as controls); KIND is ``harmonic`` and/or ``300K_model``
(default: both). Writes mixed_scheme_check.json beside this script.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import phonopy
from ase import Atoms
from ase.geometry import find_mic

from ase_phonongnn import keys
from ase_phonongnn.data import dataset_path
from ase_phonongnn.store import SnapshotStore

HERE = Path(__file__).resolve().parent
STORES = ("pbesol-thermal-mixed", "pbesol-thermal-Ag3SI", "pbesol-phonon-Ag3SI")


def force_constants(material: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Full (N, N, 3, 3) force constants and the supercell's fractional sites."""
    path = HERE / "force-constants" / f"{material}_{kind}_params.yaml.xz"
    ph = phonopy.load(path, is_compact_fc=False, log_level=0)
    assert ph.force_constants is not None, f"{path} has no force constants"
    return ph.force_constants, ph.supercell.scaled_positions


def displacements(atoms: Atoms, sites: np.ndarray) -> np.ndarray:
    """Cartesian displacements from the ideal sites, minimum image."""
    ideal = atoms.cell.cartesian_positions(sites)
    vectors, _ = find_mic(atoms.positions - ideal, atoms.cell)
    return np.asarray(vectors)


def scores(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """RMSE (eV/Å) and R² of predicted against reference force components."""
    residual = predicted - reference
    variance = ((reference - reference.mean()) ** 2).sum()
    return {
        "rmse": float(np.sqrt((residual**2).mean())),
        "r2": float(1 - (residual**2).sum() / variance),
        "reference_rms": float(np.sqrt((reference**2).mean())),
    }


def main(kinds: list[str]) -> None:
    """Score each scheme per store and bromine fraction."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for kind in kinds:
        phi_br, sites = force_constants("Ag3SBr", kind)
        phi_i, sites_i = force_constants("Ag3SI", kind)
        assert np.allclose(sites, sites_i), "the end members' supercells differ"
        # the weight of Φ(Ag3SBr) at bromine fraction x; Φ(Ag3SI) takes the rest
        schemes: dict[str, Callable[[float], float]] = {
            "Ag3SBr": lambda x: 1.0,
            "Ag3SI": lambda x: 0.0,
            "interpolated": lambda x: x,
        }
        groups: dict[str, dict[str, list[np.ndarray]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for name in STORES:
            with SnapshotStore.open(dataset_path(name)) as store:
                frames = store.read_atoms(keys.DONE)
            for atoms in frames:
                bromine = atoms.numbers == 35
                x = float(bromine.sum() / np.isin(atoms.numbers, (35, 53)).sum())
                u = displacements(atoms, sites)
                group = f"{name} x={round(8 * x)}/8"
                groups[group]["gpaw"].append(atoms.arrays[keys.FORCES])
                for scheme, weight in schemes.items():
                    w = weight(x)
                    phi = w * phi_br + (1 - w) * phi_i
                    groups[group][scheme].append(-np.einsum("ijab,jb->ia", phi, u))
        for group, arrays in sorted(groups.items()):
            reference = np.concatenate(arrays["gpaw"])
            results[f"{kind} {group}"] = {
                scheme: scores(np.concatenate(arrays[scheme]), reference)
                | {"n_snapshots": len(arrays["gpaw"])}
                for scheme in schemes
            }
            row = "  ".join(
                f"{s} {v['rmse']:.3f} ({v['r2']:.2f})"
                for s, v in results[f"{kind} {group}"].items()
            )
            print(f"{kind:10s} {group:32s} n={len(arrays['gpaw']):3d}  {row}")
    out = HERE / "mixed_scheme_check.json"
    out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["harmonic", "300K_model"])

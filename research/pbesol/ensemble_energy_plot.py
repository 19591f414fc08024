"""Figure: PBEsol Ag3SI at 300 K, phonon-informed snapshots against MD.

    python research/pbesol/ensemble_energy_plot.py

Left: per-species ⟨u²⟩ of the committee's MD (about the ideal sites and
about the mean positions) and of normal-mode snapshots of the force
constants the same committee renormalised
(research/ensemble_check-pbesol-Ag3SI-al2.json). Right: GPAW energies of the
labelled 300 K snapshots above the ideal cubic cell
(research/pbesol/thermal_energy_check.json for the ideal cell), per kind, with
the harmonic expectation (3N − 3)/(2N) k_B T. Writes
docs/figures/pbesol-Ag3SI-ensembles.png.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ase_phonongnn import keys
from ase_phonongnn.data import dataset_path
from ase_phonongnn.train import load_structures

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHECK = ROOT / "research" / "ensemble_check-pbesol-Ag3SI-al2.json"
ENERGIES = HERE / "thermal_energy_check.json"
OUT = ROOT / "docs" / "figures" / "pbesol-Ag3SI-ensembles.png"


def main() -> None:
    """Draw both panels."""
    (record,) = json.loads(CHECK.read_text())
    species = ["I", "S", "Ag"]
    bars = {
        "MD, about the ideal sites": record["md"]["msd"],
        "MD, about the mean positions": record["md"]["msd_about_mean"],
        "phonon-informed": record["phonon-quantum-floor:0.5"]["msd"],
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / len(bars)
    for k, (name, values) in enumerate(bars.items()):
        x = np.arange(len(species)) + (k - 1) * width
        left.bar(x, [values[s] for s in species], width, label=name)
    left.set_xticks(range(len(species)), species)
    left.set_ylabel("⟨u²⟩ (Å²)")
    left.set_title("Ag3SI, 300 K, PBEsol committee")
    left.legend(fontsize=8, loc="upper left")

    e0 = json.loads(ENERGIES.read_text())["ideal_energy_per_atom"]
    kinds: dict[str, list[float]] = {
        "phonon-informed": [
            a.info[keys.ENERGY_PER_ATOM]
            for a in load_structures(dataset_path("pbesol-phonon-Ag3SI"))
        ]
    }
    for atoms in load_structures(dataset_path("pbesol-md-Ag3SI")):
        which = "al1" if "al1" in str(atoms.info.get("md_calculator")) else "first"
        name = f"MD, {'fine-tuned' if which == 'al1' else 'first'} committee"
        kinds.setdefault(name, []).append(atoms.info[keys.ENERGY_PER_ATOM])
    for k, energies in enumerate(kinds.values()):
        values = 1000 * (np.array(energies) - e0)
        jitter = np.random.default_rng(k).uniform(-0.15, 0.15, len(values))
        right.scatter(k + jitter, values, s=12, label=f"{len(values)} snapshots")
        right.hlines(values.mean(), k - 0.3, k + 0.3, color="k")
    harmonic = json.loads(ENERGIES.read_text())["harmonic_expectation_mev_per_atom"]
    right.axhline(0, color="grey", lw=0.8)
    right.axhline(harmonic["classical"], color="grey", ls="--", lw=0.8)
    right.text(-0.4, harmonic["classical"] + 1, "harmonic crystal, 300 K", fontsize=8)
    right.text(-0.4, 1, "ideal cubic cell", fontsize=8)
    right.set_xticks(range(len(kinds)), [n.replace(", ", "\n") for n in kinds])
    right.set_ylabel("GPAW energy above the cubic cell (meV/atom)")
    right.set_title("labelled 300 K snapshots")
    right.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(OUT, dpi=120)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

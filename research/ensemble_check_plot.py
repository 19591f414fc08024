"""Plot research/ensemble_check.json: ⟨u²⟩ of MD against phonon-informed sampling.

    python research/ensemble_check_plot.py

Writes docs/figures/ensemble-check-msd.png: per species, ⟨u²⟩ against
temperature for MD (about the ideal sites, and, for runs of 3 ps or more,
about each atom's mean position over the run) and for normal-mode sampling
(quantum statistics, soft modes floored at 0.5 THz), and the MD ⟨u²⟩ about
the ideal sites per picosecond of each run.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
FIGURE = HERE.parent / "docs" / "figures" / "ensemble-check-msd.png"
SPECIES = ("Ag", "S", "Br")


def main() -> None:
    """Draw the two panels from the records."""
    records = sorted(
        json.loads((HERE / "ensemble_check.json").read_text()),
        key=lambda r: r["temperature"],
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    colours = dict(zip(SPECIES, ("tab:blue", "tab:orange", "tab:green"), strict=True))
    for s in SPECIES:
        with_md = [r for r in records if "msd" in r["md"]]
        t_md = [r["temperature"] for r in with_md]
        left.plot(t_md, [r["md"]["msd"][s] for r in with_md], "o-", color=colours[s])
        # about the mean positions only where the run lasted 2 ps past its
        # first (equilibration) picosecond
        settled = [r for r in with_md if r["md"]["ps_run"] >= 3]
        left.plot(
            [r["temperature"] for r in settled],
            [r["md"]["msd_about_mean"][s] for r in settled],
            "s:",
            color=colours[s],
        )
        left.plot(
            [r["temperature"] for r in records],
            [r["phonon-quantum-floor:0.5"]["msd"][s] for r in records],
            "^--",
            color=colours[s],
            label=s,
        )
    left.plot([], [], "ko-", label="MD, about the ideal sites")
    left.plot([], [], "ks:", label="MD, about the mean positions")
    left.plot([], [], "k^--", label="phonon-informed (floor 0.5 THz)")
    left.set_xlabel("temperature (K)")
    left.set_ylabel("⟨u²⟩ (Å²)")
    left.set_ylim(0, 1.05)
    left.legend(fontsize=7, ncol=2, loc="upper center")
    for r in records:
        by_ps = r["md"]["msd_by_ps"]
        right.plot(
            range(1, len(by_ps) + 1),
            [block["Ag"] for block in by_ps],
            "o-",
            label=f"{r['temperature']:g} K",
        )
    right.set_xlabel("picosecond of the MD run")
    right.set_ylabel("Ag ⟨u²⟩ about the ideal sites (Å²)")
    right.legend(fontsize=8)
    fig.suptitle("Ag3SBr 2×2×2, GFN2-xTB committee: MD against phonon-informed")
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=120)
    print(f"wrote {FIGURE}")


if __name__ == "__main__":
    main()

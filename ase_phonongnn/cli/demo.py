"""``phonongnn demo``: the embedded default, end to end, with no arguments.

Samples cubic Ag3SBr (2×2×2, 40 atoms) at 0–600 K with correlated
normal-mode displacements, each temperature from the shipped GFN2-xTB force
constants renormalised at the nearest temperature (the harmonic ones if none
ship; the shipped training data took 100–300 K from the 300 K ones, 400 K
from the 300 K and the 400 K ones and 500–600 K mostly from their own);
predicts every snapshot with the
shipped pretrained committee, and prints the thermal averages ⟨Eg⟩, ⟨VBM⟩,
⟨σh⟩ and ⟨E⟩ per atom against T with their standard errors; writes the plot
and the numbers (JSON) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ase_phonongnn import keys
from ase_phonongnn.data import force_constants_path, renormalised_temperatures
from ase_phonongnn.prediction import thermal_averages
from ase_phonongnn.sample import PhononSampler

TEMPERATURES = (0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0)
#: The imaginary-mode policy the shipped force constants were fitted with
#: (the documentation's Ag3SBr pages): the demo samples the ensemble the
#: models learned from.
_FLOOR = "floor:0.5"
#: The properties the table shows, in its order.
_COLUMNS = (keys.BAND_GAP, keys.VBM, keys.HYDROSTATIC_STRESS, keys.ENERGY_PER_ATOM)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn demo`` (none are needed)."""
    parser.add_argument(
        "--n-snapshots", type=int, default=64, help="snapshots per temperature"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model",
        default="default",
        help="model file(s) to predict with (default: the shipped committee)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("phonongnn-demo"),
        help="directory for thermal-averages.png and .json (default phonongnn-demo)",
    )


def run(args: argparse.Namespace) -> int:
    """Sample Ag3SBr at 0–600 K, predict, print and plot the thermal averages."""
    renormalised = renormalised_temperatures("Ag3SBr")
    paths = {t: force_constants_path("Ag3SBr", t) for t in renormalised}
    if paths:
        samplers = {t: PhononSampler.from_file(p) for t, p in paths.items()}
        origin = "renormalised at " + ", ".join(f"{t:.0f}" for t in paths) + " K"
        origin += "; each T from the nearest"
    else:
        path = force_constants_path("Ag3SBr")
        paths, samplers = {0.0: path}, {0.0: PhononSampler.from_file(path)}
        origin = "harmonic"
    print(f"Ag3SBr 2x2x2 (40 atoms), GFN2-xTB force constants {origin}")
    print(
        f"{args.n_snapshots} normal-mode snapshots per temperature; every mode "
        "sampled with max(|nu|, 0.5 THz), as the force constants were fitted"
    )
    result = thermal_averages(
        args.model,
        samplers,
        TEMPERATURES,
        args.n_snapshots,
        method="normal-mode",
        imaginary=_FLOOR,
        seed=args.seed,
        progress=True,
    )
    names = [p for p in _COLUMNS if p in result.mean]
    header = f"{'T (K)':>6}{'FC (K)':>8}" + "".join(
        f"{f'{keys.PROPERTY_TABLE[p].mean_symbol()} ({keys.UNITS[p]})':>24}"
        for p in names
    )
    print(header)
    for t, temperature in enumerate(result.temperatures):
        cells = "".join(
            f"{f'{result.mean[p][t]:.4f} ± {result.error[p][t]:.4f}':>24}"
            for p in names
        )
        source = "harm." if origin == "harmonic" else f"{result.sampled_from[t]:.0f}"
        print(f"{temperature:>6.0f}{source:>8}{cells}")
    args.out.mkdir(parents=True, exist_ok=True)
    plot = result.plot(args.out / "thermal-averages.png")
    payload = {
        "force_constants": {f"{t:.0f}": p.name for t, p in paths.items()},
        **result.to_dict(),
    }
    (args.out / "thermal-averages.json").write_text(json.dumps(payload, indent=1))
    print(f"± is the standard error of the mean; plot: {plot}")
    return 0

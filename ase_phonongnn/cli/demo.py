"""``phonongnn demo``: the embedded default, end to end, with no arguments.

Samples a 2×2×2 supercell (40 atoms) of the family at 0–600 K with
correlated normal-mode displacements, each temperature from the shipped
force constants renormalised at the nearest temperature (Ag3SBr: GFN2-xTB's
at 300–600 K; Ag3SI: the PBEsol committee's at 100–600 K; a solid solution:
a new Br/I occupation per snapshot with the end members' constants
interpolated, :class:`~ase_phonongnn.sample.SolidSolutionSampler`); predicts
every snapshot with a shipped committee (the default where it covers the
elements, else the one that does), and prints the thermal averages ⟨Eg⟩,
⟨VBM⟩, ⟨σh⟩ and ⟨E⟩ per atom against T with their standard errors; writes
the plot and the numbers (JSON) to ``--out``.

``--family`` does so for Ag3SBr, Ag3SBr0.5I0.5 and Ag3SI side by side with
the family committee, and adds the band-gap map ⟨Eg⟩(T, x) over the solid
solutions in eighths (:func:`~ase_phonongnn.prediction.composition_map`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ase_phonongnn import keys
from ase_phonongnn.data import force_constants_path, renormalised_temperatures
from ase_phonongnn.model import is_model_name, models_covering
from ase_phonongnn.prediction import (
    EIGHTHS,
    Committee,
    ThermalAverages,
    composition_map,
    plot_thermal_averages,
    thermal_averages,
)
from ase_phonongnn.sample import PhononSampler, SolidSolutionSampler
from ase_phonongnn.structures import bromine_fraction

TEMPERATURES = (0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0)
#: The imaginary-mode policy the shipped force constants were fitted with
#: (the documentation's Ag3SBr pages): the demo samples the ensemble the
#: models learned from.
_FLOOR = "floor:0.5"
#: The properties the table shows, in its order.
_COLUMNS = (keys.BAND_GAP, keys.VBM, keys.HYDROSTATIC_STRESS, keys.ENERGY_PER_ATOM)
#: The members of the family that ``--family`` sets side by side.
FAMILY = ("Ag3SBr", "Ag3SBr0.5I0.5", "Ag3SI")
#: Where each end member's shipped force constants come from.
_FORCE_CONSTANTS_SOURCE = {
    "Ag3SBr": "GFN2-xTB",
    "Ag3SI": "PBEsol (the family committee)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn demo`` (none are needed)."""
    parser.add_argument(
        "--material",
        type=_family_member,
        default="Ag3SBr",
        help="Ag3SBr (default), Ag3SI or a solid solution such as Ag3SBr0.5I0.5",
    )
    parser.add_argument(
        "--family",
        action="store_true",
        help="Ag3SBr, Ag3SBr0.5I0.5 and Ag3SI side by side, and the band-gap "
        "map <Eg>(T, x) over x in eighths, with the family committee",
    )
    parser.add_argument(
        "--n-snapshots",
        type=int,
        default=None,
        help="snapshots per temperature (default 64; with --family 24 per (T, x))",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model",
        default=None,
        help="model file(s) or a shipped name to predict with (default: the "
        "shipped default committee where it covers the material's elements, "
        "else the shipped committee that does)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("phonongnn-demo"),
        help="directory for the plots and the numbers (default phonongnn-demo)",
    )


def run(args: argparse.Namespace) -> int:
    """Sample, predict, print and plot the thermal averages."""
    if args.family:
        return _family(args)
    material = args.material
    x = bromine_fraction(material)
    model = args.model or _covering_model(material)
    n = args.n_snapshots or 64
    sampler, origin, paths = _sampler(material, x)
    print(f"{material} 2x2x2 (40 atoms), {origin}; model {_describe(model)}")
    print(
        f"{n} normal-mode snapshots per temperature; every mode sampled with "
        "max(|nu|, 0.5 THz), as the force constants were fitted"
    )
    result = thermal_averages(
        model,
        sampler,
        TEMPERATURES,
        n,
        method="normal-mode",
        imaginary=_FLOOR,
        seed=args.seed,
        progress=True,
    )
    _print_table(result, show_source=bool(result.sampled_from))
    args.out.mkdir(parents=True, exist_ok=True)
    plot = result.plot(args.out / "thermal-averages.png")
    payload = {
        "material": material,
        "force_constants": {f"{t:.0f}": p.name for t, p in paths.items()},
        **result.to_dict(),
    }
    (args.out / "thermal-averages.json").write_text(json.dumps(payload, indent=1))
    print(f"± is the standard error of the mean; plot: {plot}")
    return 0


def _family(args: argparse.Namespace) -> int:
    model = args.model or _covering_model("Ag3SBr0.5I0.5")
    n = args.n_snapshots or 24
    print(
        f"Ag3SBr_x I_(1-x) 2x2x2 (40 atoms), x = 0, 1/8, ..., 1; model "
        f"{_describe(model)}; {n} normal-mode snapshots per (T, x), each of its "
        "own Br/I occupation, from the end members' renormalised force "
        f"constants interpolated in x (Ag3SBr: {_FORCE_CONSTANTS_SOURCE['Ag3SBr']}, "
        f"Ag3SI: {_FORCE_CONSTANTS_SOURCE['Ag3SI']})"
    )
    grid = composition_map(
        Committee.load(model),
        EIGHTHS,
        TEMPERATURES,
        n,
        imaginary=_FLOOR,
        seed=args.seed,
        progress=True,
    )
    members = {
        material: grid.averages[EIGHTHS.index(bromine_fraction(material))]
        for material in FAMILY
    }
    for material, result in members.items():
        print(f"\n{material}")
        _print_table(result, show_source=False)
    print()
    print(grid.table(keys.BAND_GAP))
    args.out.mkdir(parents=True, exist_ok=True)
    curves = plot_thermal_averages(
        members,
        args.out / "family-thermal-averages.png",
        properties=[p for p in _COLUMNS if p in grid.averages[0].mean],
    )
    band_gap_map = grid.plot(args.out / "band-gap-map.png", keys.BAND_GAP)
    (args.out / "family.json").write_text(
        json.dumps({"materials": list(FAMILY), **grid.to_dict()}, indent=1)
    )
    print(
        "± is the standard error of the mean; 'model ±' the committee's spread. "
        f"Plots: {curves}, {band_gap_map}"
    )
    return 0


def _sampler(material: str, x: float) -> tuple[Any, str, dict[float, Path]]:
    """Return the sampler of a material, a line saying what it samples, its files."""
    if material not in _FORCE_CONSTANTS_SOURCE:
        return (
            SolidSolutionSampler.shipped(x),
            "a new Br/I occupation per snapshot, force constants of the end "
            "members interpolated in x",
            {},
        )
    level = _FORCE_CONSTANTS_SOURCE[material]
    paths = {
        t: force_constants_path(material, t)
        for t in renormalised_temperatures(material)
    }
    if not paths:
        harmonic = force_constants_path(material)
        return PhononSampler.from_file(harmonic), f"{level} harmonic", {0.0: harmonic}
    samplers = {t: PhononSampler.from_file(p) for t, p in paths.items()}
    temperatures = ", ".join(f"{t:.0f}" for t in paths)
    origin = (
        f"{level} force constants renormalised at {temperatures} K; "
        "each T from the nearest"
    )
    return samplers, origin, paths


def _family_member(name: str) -> str:
    """Return ``name`` if it names a member of the family (argparse's check)."""
    try:
        bromine_fraction(name)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("material ")) from err
    return name


def _covering_model(material: str) -> str:
    """Return the default model where it covers the material, else one that does."""
    symbols = {"Ag", "S"}
    x = bromine_fraction(material)
    symbols |= {"Br"} if x > 0 else set()
    symbols |= {"I"} if x < 1 else set()
    covering = models_covering(symbols)
    if not covering:
        raise SystemExit(f"no shipped model covers {material}: give --model")
    return "default" if "default" in covering else covering[0]


def _describe(model: str) -> str:
    return f"'{model}' (shipped)" if is_model_name(model) else str(model)


def _print_table(result: ThermalAverages, *, show_source: bool) -> None:
    names = [p for p in _COLUMNS if p in result.mean]
    header = f"{'T (K)':>6}" + (f"{'FC (K)':>8}" if show_source else "")
    header += "".join(
        f"{f'{keys.PROPERTY_TABLE[p].mean_symbol()} ({keys.UNITS[p]})':>24}"
        for p in names
    )
    print(header)
    for t, temperature in enumerate(result.temperatures):
        cells = "".join(
            f"{f'{result.mean[p][t]:.4f} ± {result.error[p][t]:.4f}':>24}"
            for p in names
        )
        source = f"{result.sampled_from[t]:>8.0f}" if show_source else ""
        print(f"{temperature:>6.0f}{source}{cells}")

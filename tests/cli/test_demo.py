"""``phonongnn demo``: the embedded default end to end, with the shipped models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.units import kB

from ase_phonongnn import keys
from ase_phonongnn.cli.main import main
from ase_phonongnn.data import renormalised_temperatures

pytestmark = pytest.mark.usefixtures("one_thread")


def test_demo_runs_on_the_shipped_models(tmp_path, capsys) -> None:
    assert main(["demo", "--n-snapshots", "8", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "<Eg> (eV)" in table and "600" in table
    result = json.loads((tmp_path / "thermal-averages.json").read_text())
    assert (tmp_path / "thermal-averages.png").stat().st_size > 10_000
    assert result["temperatures"] == [0, 100, 200, 300, 400, 500, 600]
    # each temperature from the shipped force constants renormalised nearest it
    shipped = renormalised_temperatures("Ag3SBr")
    assert set(result["force_constants"]) == {f"{t:.0f}" for t in shipped}
    pairs = zip(result["temperatures"], result["sampled_from"], strict=True)
    for temperature, source in pairs:
        assert abs(source - temperature) == min(abs(t - temperature) for t in shipped)
    mean = {p: np.array(v, dtype=float) for p, v in result["mean"].items()}
    assert {
        keys.BAND_GAP,
        keys.VBM,
        keys.HYDROSTATIC_STRESS,
        keys.ENERGY_PER_ATOM,
    } <= set(mean)
    assert all(np.isfinite(v).all() for v in mean.values())
    # The shipped models learned GFN2-xTB energies: heating from 0 to 600 K
    # raises the potential energy per atom by about the classical 3/2 kB ΔT
    # of the displacements (less: zero-point motion is already there at 0 K).
    rise = mean[keys.ENERGY_PER_ATOM][-1] - mean[keys.ENERGY_PER_ATOM][0]
    assert 0.3 * 1.5 * kB * 600 < rise < 1.5 * 1.5 * kB * 600


def test_demo_of_ag3si_takes_the_family_committee_and_its_constants(
    tmp_path, capsys
) -> None:
    out = tmp_path / "ag3si"
    argv = ["demo", "--material", "Ag3SI", "--n-snapshots", "4", "--out", str(out)]
    assert main(argv) == 0
    assert "model 'pbesol'" in capsys.readouterr().out
    result = json.loads((out / "thermal-averages.json").read_text())
    shipped = renormalised_temperatures("Ag3SI")
    assert result["material"] == "Ag3SI"
    assert result["sampled_from"] == [
        min(shipped, key=lambda s: abs(s - t)) for t in result["temperatures"]
    ]
    assert result["model_spread"][keys.BAND_GAP]


def test_demo_across_the_family(tmp_path, capsys) -> None:
    argv = ["demo", "--family", "--n-snapshots", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for material in ("Ag3SBr", "Ag3SBr0.5I0.5", "Ag3SI"):
        assert f"\n{material}\n" in printed
    result = json.loads((tmp_path / "family.json").read_text())
    assert result["bromine_fractions"] == [k / 8 for k in range(9)]
    for name in ("family-thermal-averages.png", "band-gap-map.png"):
        assert (tmp_path / name).stat().st_size > 20_000
    # every composition's occupations are 40-atom 2x2x2 cells of the family:
    # the energy per atom moves from the iodide's to the bromide's
    energies = [a["mean"][keys.ENERGY_PER_ATOM][0] for a in result["averages"]]
    assert energies[0] > energies[-1]


def test_demo_rejects_a_material_outside_the_family(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--material", "NaCl", "--out", str(tmp_path)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--material: must be Ag3SBr, Ag3SI or Ag3SBr<x>I<1-x>" in error

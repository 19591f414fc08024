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

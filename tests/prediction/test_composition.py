"""Thermal averages across Ag3SBr_x I_(1-x) with the family committee."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ase_phonongnn import keys
from ase_phonongnn.data import force_constants_path, renormalised_temperatures
from ase_phonongnn.prediction import Committee, composition_map, thermal_averages
from ase_phonongnn.sample import PhononSampler

pytestmark = pytest.mark.usefixtures("one_thread")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def committee() -> Committee:
    return Committee.load("pbesol", "cpu")


@pytest.fixture(scope="module")
def grid(committee):
    return composition_map(committee, [1.0, 0.0, 0.5], [0.0, 300.0], 12, seed=1)


def test_the_grid_is_ordered_in_x_and_carries_both_uncertainties(grid) -> None:
    np.testing.assert_array_equal(grid.fractions, [0.0, 0.5, 1.0])
    mean = grid.grid(keys.BAND_GAP)
    assert mean.shape == (3, 2) and np.isfinite(mean).all()
    error = grid.grid(keys.BAND_GAP, "error")
    spread = grid.grid(keys.BAND_GAP, "model_spread")
    assert (error > 0).all() and (spread > 0).all()
    # the committee's uncertainty of an average does not shrink with the
    # snapshots: it stays above the sampling error of 12 snapshots at 0 K
    assert (spread[:, 0] > error[:, 0]).all()


def test_heating_closes_the_gap_at_every_composition(grid) -> None:
    # the paper's physics: soft phonons distort the Ag-S bonds and lower the
    # conduction band
    mean, error = grid.grid(keys.BAND_GAP), grid.grid(keys.BAND_GAP, "error")
    assert (mean[:, 1] + 3 * error[:, 1] < mean[:, 0]).all()


def test_the_end_members_agree_with_their_own_samplers(grid, committee) -> None:
    # x = 1 draws Φ(Ag3SBr) on the Ag3SBr cell: the same ensemble as the
    # Ag3SBr force constants sampled directly, up to the sampling error
    samplers = {
        t: PhononSampler.from_file(force_constants_path("Ag3SBr", t))
        for t in renormalised_temperatures("Ag3SBr")
    }
    direct = thermal_averages(
        committee, samplers, [0.0, 300.0], 12, imaginary="floor:0.5", seed=2
    )
    for prop in (keys.BAND_GAP, keys.ENERGY_PER_ATOM):
        difference = grid.grid(prop)[-1] - direct.mean[prop]
        combined = np.hypot(grid.grid(prop, "error")[-1], direct.error[prop])
        assert (np.abs(difference) < 4 * combined + 1e-4).all(), prop


def test_table_plot_and_json(grid, tmp_path) -> None:
    table = grid.table(keys.BAND_GAP).splitlines()
    assert len(table) == 4 and "model ±" in table[0]
    assert table[1].split()[0] == "0.000" and table[3].split()[0] == "1.000"
    png = grid.plot(tmp_path / "map.png")
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 20_000
    payload = json.loads(json.dumps(grid.to_dict()))
    assert payload["bromine_fractions"] == [0.0, 0.5, 1.0]
    assert len(payload["averages"][0]["model_spread"][keys.BAND_GAP]) == 2


def test_clear_errors(committee, grid) -> None:
    with pytest.raises(ValueError, match="round to the same occupations"):
        composition_map(committee, [0.5, 0.51], [300.0], 2)
    with pytest.raises(ValueError, match="what must be mean, error"):
        grid.grid(keys.BAND_GAP, "median")
    with pytest.raises(ValueError, match="prop must be one of"):
        grid.grid("forces")

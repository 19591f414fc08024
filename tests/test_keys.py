"""The property table: one place for each quantity's unit, shape and names."""

from __future__ import annotations

from ase_phonongnn import keys
from ase_phonongnn.prediction import PROPERTIES


def test_every_label_and_prediction_is_in_the_table() -> None:
    names = {*keys.TARGETS, *keys.SCALAR_LABELS, keys.FORCES, keys.STRESS}
    assert names | set(PROPERTIES) <= set(keys.PROPERTY_TABLE)
    for name, entry in keys.PROPERTY_TABLE.items():
        assert entry.name == name
        assert keys.UNITS[name] == entry.unit


def test_units_shapes_and_names() -> None:
    assert keys.UNITS[keys.HYDROSTATIC_STRESS] == "GPa"
    assert keys.UNITS[keys.STRESS] == "eV/Ang^3"
    assert keys.PER_ATOM == (keys.FORCES,)
    assert keys.plot_label(keys.BAND_GAP) == "band gap"
    assert keys.plot_label("not_a_property") == "not_a_property"
    table = keys.PROPERTY_TABLE
    assert table[keys.BAND_GAP].mean_symbol() == "<Eg>"
    assert table[keys.ENERGY_PER_ATOM].mean_symbol() == "<E>/atom"
    assert table[keys.HYDROSTATIC_STRESS].mean_symbol(tex=True) == (
        r"$\langle \sigma_h\rangle$"
    )

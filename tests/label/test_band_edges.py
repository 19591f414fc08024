"""Band gap and VBM from eigenvalues and occupations over k-points and spins."""

from __future__ import annotations

import numpy as np
import pytest
from _label_helpers import (
    INSULATOR_EIGENVALUES,
    INSULATOR_OCCUPATIONS,
    K_POINT_WEIGHTS,
    KnownBandsEMT,
    cu_snapshots,
)
from ase.dft.bandgap import bandgap

from ase_phonongnn import keys
from ase_phonongnn.errors import LabelError
from ase_phonongnn.label import (
    band_edges,
    closed_shell_edges,
    eigenvalue_band_edges,
    label_snapshots,
)
from ase_phonongnn.store import SnapshotStore


def test_indirect_gap_across_spins():
    vbm, cbm, metallic = band_edges(INSULATOR_EIGENVALUES, INSULATOR_OCCUPATIONS)
    assert (vbm, cbm, metallic) == (0.7, 1.9, False)


def test_agrees_with_ase_bandgap():
    calculator = KnownBandsEMT()
    vbm, gap = eigenvalue_band_edges(calculator)
    ase_gap, _, _ = bandgap(calculator, output=None)
    assert gap == pytest.approx(ase_gap, abs=1e-12)
    assert gap == pytest.approx(1.2, abs=1e-12)
    assert vbm == 0.7


def test_occupation_normalisation_does_not_matter():
    unpolarised = 2.0 * INSULATOR_OCCUPATIONS
    weighted = INSULATOR_OCCUPATIONS * K_POINT_WEIGHTS[None, :, None]
    for occupations in (unpolarised, weighted):
        assert band_edges(INSULATOR_EIGENVALUES, occupations) == (0.7, 1.9, False)


def test_band_crossing_the_fermi_level_is_a_metal():
    eigenvalues = [[[-3.0, 0.2, 1.5], [-3.0, 0.5, 1.6]]]
    occupations = [[[2.0, 2.0, 0.0], [2.0, 0.0, 0.0]]]
    vbm, cbm, metallic = band_edges(eigenvalues, occupations)
    assert (vbm, cbm, metallic) == (0.2, 0.5, True)
    calculator = KnownBandsEMT(eigenvalues, occupations, weights=[0.5, 0.5])
    assert eigenvalue_band_edges(calculator) == (0.2, 0.0)


def test_partial_occupation_is_a_metal():
    vbm, _, metallic = band_edges([[[-3.0, 0.0, 1.0]]], [[[2.0, 1.2, 0.0]]])
    assert vbm == 0.0 and metallic


def test_without_empty_bands_there_is_no_gap_to_give():
    with pytest.raises(LabelError, match="empty bands"):
        band_edges([[[-3.0, -1.0]]], [[[2.0, 2.0]]])


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same shape"):
        band_edges(INSULATOR_EIGENVALUES, INSULATOR_OCCUPATIONS[:, :2])


def test_closed_shell_edges_use_half_the_electrons():
    # 6 electrons: levels 0..2 filled, HOMO = third lowest, LUMO = fourth lowest
    energies = np.array([1.5, -2.0, 0.3, -0.5, 4.0])
    occupations = np.array([0.0, 2.0, 0.0, 2.0, 2.0])
    assert closed_shell_edges(energies, occupations) == (0.3, 1.5)


def test_labels_through_the_store(tmp_path):
    label_snapshots(cu_snapshots(2), KnownBandsEMT, tmp_path / "s.h5", progress=False)
    with SnapshotStore.open(tmp_path / "s.h5") as store:
        for atoms in store.read_atoms():
            assert atoms.info[keys.VBM] == 0.7
            assert atoms.info[keys.BAND_GAP] == pytest.approx(1.2, abs=1e-12)
            assert atoms.info[keys.LABEL_PROVENANCE]["unavailable_labels"] == []

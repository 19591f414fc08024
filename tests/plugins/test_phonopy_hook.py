"""The phonopy hook writes thermal supercells with phonopy's own writers."""

from __future__ import annotations

import ase.io
import numpy as np
from ase.units import Bohr
from phonopy import Phonopy

from ase_phonongnn.sample import PhononSampler
from ase_phonongnn_plugins.phonopy import (
    thermal_displacement_dataset,
    write_thermal_supercells,
)
from ase_phonongnn_plugins.phonopy.cli import main


def test_dataset_is_the_samplers(cu3au_phonon: Phonopy) -> None:
    dataset = thermal_displacement_dataset(cu3au_phonon, 300.0, 4, seed=3)
    sampler = PhononSampler.from_phonopy(cu3au_phonon)
    expected = sampler.dataset(sampler.sample(300.0, 4, seed=3))
    np.testing.assert_array_equal(dataset["displacements"], expected["displacements"])


def test_vasp_and_qe_files_hold_the_snapshots(cu3au_phonon: Phonopy, tmp_path) -> None:
    sampler = PhononSampler.from_phonopy(cu3au_phonon)
    snaps = sampler.sample(300.0, 2, seed=4)
    write_thermal_supercells(cu3au_phonon, 300.0, 2, "vasp", tmp_path / "v", seed=4)
    written = ase.io.read(tmp_path / "v" / "POSCAR-001", format="vasp")
    # POSCAR positions are wrapped into the cell.
    expected = snaps[0].copy()
    expected.wrap()
    np.testing.assert_allclose(written.positions, expected.positions, atol=1e-6)
    assert (tmp_path / "v" / "phonopy_disp.yaml").is_file()
    # QE files are in bohr: the hook converts lengths to the calculator's unit.
    write_thermal_supercells(cu3au_phonon, 300.0, 2, "qe", tmp_path / "q", seed=4)
    text = (tmp_path / "q" / "supercell-002.in").read_text()
    cell_line = text.split("CELL_PARAMETERS bohr")[1].split("\n")[1]
    a = float(cell_line.split()[0])
    assert abs(a * Bohr - snaps[1].cell[0, 0]) < 1e-6


def test_cli(cu3au_phonon: Phonopy, tmp_path, capsys) -> None:
    params = tmp_path / "phonopy_params.yaml"
    cu3au_phonon.save(str(params), settings={"force_constants": True})
    assert main([str(params), "-T", "200", "-n", "3", "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "POSCAR-003").is_file()
    assert main([str(params), "-T", "-1", "-n", "3"]) == 2
    assert "temperature must be >= 0" in capsys.readouterr().err

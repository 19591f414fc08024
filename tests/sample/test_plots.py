"""Dispersion plots: the plotted bands are phonopy's, paths, PNG output."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from matplotlib.image import imread
from phonopy import Phonopy

from ase_phonongnn.sample import (
    compute_force_constants,
    dispersion_bands,
    draw_dispersions,
    plot_dispersions,
)
from ase_phonongnn.sample._phonopy import full_force_constants
from ase_phonongnn.sample.modes import EV_ANGSTROM_AMU_TO_THZ


@pytest.fixture(scope="module")
def harmonic() -> Phonopy:
    """EMT force constants of conventional Cu (simple cubic lattice), 1×1×1."""
    cell = bulk("Cu", "fcc", cubic=True)
    return compute_force_constants(cell, [1, 1, 1], EMT, progress=False)


@pytest.fixture(scope="module")
def unstable(harmonic: Phonopy) -> Phonopy:
    """The same with its top Γ triplet moved to 2i THz (eigenvectors kept)."""
    fc = full_force_constants(harmonic)
    n = len(harmonic.supercell)
    masses = np.repeat(np.asarray(harmonic.supercell.masses), 3)
    weight = np.sqrt(np.outer(masses, masses))
    dynamical = fc.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n) / weight
    values, vectors = np.linalg.eigh(dynamical)
    target = -((2.0 / EV_ANGSTROM_AMU_TO_THZ) ** 2)
    top = vectors[:, -3:]
    dynamical += top @ np.diag(target - values[-3:]) @ top.T
    phonon = Phonopy(
        harmonic.unitcell,
        supercell_matrix=harmonic.supercell_matrix,
        primitive_matrix=harmonic.primitive_matrix,
        log_level=0,
    )
    phonon.force_constants = (
        (dynamical * weight).reshape(n, 3, n, 3).transpose(0, 2, 1, 3)
    )
    return phonon


def test_plot_writes_png_of_phonopy_bands(harmonic, unstable, tmp_path) -> None:
    path = tmp_path / "plots" / "dispersion.png"
    phonons = {"harmonic": harmonic, "unstable": unstable}
    bands = plot_dispersions(phonons, path, n_points=21, title="Cu", dpi=100)
    image = imread(path)
    assert image.shape[:2] == (480, 640)  # 4.8 × 6.4 inches at 100 dpi
    assert path.stat().st_size > 10_000
    assert image[..., :3].std() > 0.05  # something is drawn
    # Simple cubic lattice: the fixed path with a jump X|M.
    assert [label for _, label in bands.ticks] == ["Γ", "X", "M", "Γ", "R", "X|M", "R"]
    assert len(bands.qpoints) == 6
    for label, phonon in phonons.items():
        for q, f in zip(bands.qpoints, bands.frequencies[label], strict=True):
            expected = phonon.run_qpoints(q).frequencies
            np.testing.assert_allclose(f, expected, rtol=1e-10, atol=1e-6)
    # Imaginary modes are drawn as negative frequencies.
    assert min(f.min() for f in bands.frequencies["unstable"]) == pytest.approx(-2.0)
    assert min(f.min() for f in bands.frequencies["harmonic"]) > -1e-3
    x = np.concatenate(bands.distances)
    assert np.all(np.diff(x) >= -1e-12)
    # X = (0, 1/2, 0) of the cubic cell, a = 3.61 Å: |q| = 1/(2a) from Γ.
    assert bands.ticks[1][0] == pytest.approx(1 / (2 * 3.61))


def test_drawn_lines_are_the_bands(harmonic, unstable) -> None:
    from matplotlib.figure import Figure

    bands = dispersion_bands({"harmonic": harmonic, "unstable": unstable}, n_points=11)
    axes = Figure().add_subplot()
    draw_dispersions(bands, axes)
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["harmonic", "unstable"]
    n_bands = 12
    curves = [line for line in axes.get_lines() if len(line.get_xdata()) == 11]
    assert len(curves) == 2 * len(bands.qpoints) * n_bands
    first = np.array([line.get_ydata() for line in curves[:n_bands]]).T
    np.testing.assert_allclose(first, bands.frequencies["harmonic"][0])
    np.testing.assert_allclose(curves[0].get_xdata(), bands.distances[0])


def test_seekpath_points_of_a_primitive_fcc_cell() -> None:
    primitive = bulk("Cu", "fcc")
    smat = 2 * (np.ones((3, 3)) - 2 * np.eye(3))  # 32-atom cubic supercell
    phonon = compute_force_constants(primitive, smat, EMT, progress=False)
    bands = dispersion_bands({"harmonic": phonon}, qpath="auto", n_points=5)
    labels = [label for _, label in bands.ticks]
    assert labels[:3] == ["Γ", "X", "U|K"]
    # seekpath's X of fcc, converted to this primitive basis, is (1/2, 0, 1/2):
    # a zone-boundary point |q| = 1/a from Γ.
    np.testing.assert_allclose(bands.qpoints[0][-1], [0.5, 0.0, 0.5], atol=1e-12)
    assert bands.ticks[1][0] == pytest.approx(1 / 3.61)
    x_point = phonon.run_qpoints([[0.5, 0.0, 0.5]]).frequencies[0]
    np.testing.assert_allclose(bands.frequencies["harmonic"][0][-1], x_point)


def test_bad_input_is_refused(harmonic, tmp_path) -> None:
    other = compute_force_constants(bulk("Cu", "fcc"), [2, 2, 2], EMT, progress=False)
    with pytest.raises(ValueError, match="another primitive cell"):
        dispersion_bands({"a": harmonic, "b": other})
    with pytest.raises(ValueError, match="qpath must be auto, cubic, seekpath"):
        dispersion_bands({"a": harmonic}, qpath="fcc")
    with pytest.raises(ValueError, match="at least two"):
        dispersion_bands({"a": harmonic}, qpath=[[("Γ", (0, 0, 0))]])
    with pytest.raises(ValueError, match="phonons is empty"):
        plot_dispersions({}, tmp_path / "x.png")

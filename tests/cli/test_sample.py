"""phonongnn sample."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest

from ase_phonongnn import keys
from ase_phonongnn.cli.main import main


def test_sample_shipped_material_to_extxyz(tmp_path, capsys) -> None:
    out = tmp_path / "snaps.extxyz"
    argv = ["sample", "Ag3SBr", "-T", "100", "300", "-n", "3", "--seed", "2"]
    assert main([*argv, "--imaginary", "floor:0.5", "--out", str(out)]) == 0
    snaps = ase.io.read(out, ":")
    assert len(snaps) == 6
    assert [s.info[keys.TEMPERATURE] for s in snaps] == [100.0] * 3 + [300.0] * 3
    assert snaps[0].info[keys.SEED] == 2
    assert snaps[0].info[keys.IMAGINARY_POLICY] == "floor:0.5"
    assert "rms |u|" in capsys.readouterr().out


def test_random_method_amplitude(tmp_path) -> None:
    out = tmp_path / "random.extxyz"
    argv = ["sample", "Ag3SBr", "-T", "0", "-n", "5", "--method", "random"]
    assert main([*argv, "--amplitude", "0.1", "--out", str(out)]) == 0
    snaps = ase.io.read(out, ":")
    reference = snaps[0].copy()
    u = np.array([s.positions for s in snaps])
    assert np.ptp(u - u.mean(axis=0), axis=0).max() <= 0.2 + 1e-9
    assert reference.info[keys.AMPLITUDE] == 0.1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--imaginary", "error"], "imaginary"),
        (["--imaginary", "floor:abc"], "floor needs a frequency"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, extra, message) -> None:
    out = str(tmp_path / "x.xyz")
    argv = ["sample", "Ag3SBr", "-T", "300", "-n", "2", "--out", out]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_sample_into_a_store_as_pending(tmp_path) -> None:
    from ase_phonongnn.store import SnapshotStore

    out = tmp_path / "snaps.h5"
    argv = ["sample", "Ag3SBr", "-T", "200", "-n", "4", "--imaginary", "drop"]
    assert main([*argv, "--seed", "1", "--out", str(out)]) == 0
    with SnapshotStore.open(out) as store:
        assert store.counts() == {"done": 0, "failed": 0, "pending": 4}
        assert store[3].info[keys.TEMPERATURE] == 200.0
        assert store[3].info[keys.SNAPSHOT_INDEX] == 3


def test_md_method_with_the_shipped_committee(tmp_path) -> None:
    out = tmp_path / "md.extxyz"
    argv = ["sample", "Ag3SBr", "-T", "300", "-n", "2", "--method", "md"]
    steps = ["--equilibration", "20", "--interval", "10", "--timestep", "2"]
    assert main([*argv, *steps, "--seed", "4", "--out", str(out)]) == 0
    frames = ase.io.read(out, ":")
    assert len(frames) == 2
    assert frames[0].info[keys.METHOD] == "md"
    assert frames[0].info["md_calculator"] == "model:default"
    assert frames[0].info["md_interval_steps"] == 10
    # 40 fs of MD at 300 K moves atoms, by far less than a bond
    u = frames[1].positions - frames[0].positions
    assert 1e-3 < np.abs(u).max() < 1.0


def test_off_ensemble_method_needs_no_temperature(tmp_path) -> None:
    out = tmp_path / "off.extxyz"
    argv = ["sample", "Ag3SBr", "--method", "off-ensemble", "-n", "2", "--seed", "1"]
    assert main([*argv, "--kinds", "strain", "contact", "--out", str(out)]) == 0
    snaps = ase.io.read(out, ":")
    assert [s.info["off_ensemble_kind"] for s in snaps] == ["strain"] * 2 + [
        "contact"
    ] * 2
    assert all(s.info[keys.METHOD] == "off-ensemble" for s in snaps)


def test_other_methods_need_a_temperature(tmp_path, capsys) -> None:
    argv = ["sample", "Ag3SBr", "-n", "2", "--out", str(tmp_path / "x.extxyz")]
    assert main(argv) == 2
    assert "--temperature is required" in capsys.readouterr().err


def test_md_with_a_calculator_that_lacks_an_element_is_one_line(tmp_path, capsys):
    argv = ["sample", "Ag3SBr", "-T", "300", "-n", "1", "--method", "md"]
    out = str(tmp_path / "md.extxyz")
    assert main([*argv, "--calculator", "emt", "--out", out]) == 2
    (error,) = [
        line for line in capsys.readouterr().err.splitlines() if "error" in line
    ]
    assert "--calculator emt cannot compute" in error and "for S" in error


def test_md_method_stops_where_the_committee_spread_passes_max_spread(
    tmp_path, capsys
) -> None:
    out = tmp_path / "md.extxyz"
    argv = ["sample", "Ag3SBr", "-T", "300", "-n", "2", "--method", "md"]
    steps = ["--equilibration", "20", "--interval", "10", "--timestep", "2"]
    # the shipped members disagree by more than 0.01 meV/atom anywhere
    code = main([*argv, *steps, "--max-spread", "1e-5", "--out", str(out)])
    assert code != 0
    assert "energy spread" in capsys.readouterr().err
    assert not out.exists()  # stopped in the equilibration: no snapshot yet


def test_md_compile_needs_a_model_calculator(tmp_path, capsys) -> None:
    argv = ["sample", "Ag3SBr", "-T", "300", "-n", "1", "--method", "md"]
    out = tmp_path / "md.extxyz"
    code = main([*argv, "--calculator", "emt", "--compile", "--out", str(out)])
    assert code != 0
    assert "--compile" in capsys.readouterr().err


def test_a_solid_solution_name_samples_the_interpolated_end_members(tmp_path) -> None:
    from ase_phonongnn.sample import SolidSolutionSampler
    from ase_phonongnn.structures import vegard_lattice_parameter

    out = tmp_path / "mixed.extxyz"
    argv = ["sample", "Ag3SBr0.25I0.75", "-T", "300", "-n", "4", "--seed", "5"]
    assert main([*argv, "--imaginary", "floor:0.5", "--out", str(out)]) == 0
    snaps = ase.io.read(out, ":")
    expected = SolidSolutionSampler.shipped(0.25).sample(
        300.0, 4, imaginary="floor:0.5", seed=5
    )
    for atoms, reference in zip(snaps, expected, strict=True):
        assert atoms.get_chemical_formula() == "Ag24Br2I6S8"
        assert atoms.info[keys.BROMINE_FRACTION] == 0.25
        # the Vegard cell of x = 1/4, twice the unit cell's lattice parameter
        assert np.allclose(atoms.cell.lengths(), 2 * vegard_lattice_parameter(0.25))
        assert np.allclose(atoms.positions, reference.positions, atol=1e-6)
    # every snapshot draws its own occupation of the 8 halogen sites
    occupations = {tuple(np.flatnonzero(s.numbers == 53)) for s in snaps}
    assert len(occupations) > 1


def test_off_ensemble_about_a_solid_solution(tmp_path) -> None:
    out = tmp_path / "off.extxyz"
    argv = ["sample", "Ag3SBr0.5I0.5", "-n", "1", "--method", "off-ensemble"]
    assert main([*argv, "--seed", "3", "--out", str(out)]) == 0
    snaps = ase.io.read(out, ":")
    assert {s.get_chemical_formula() for s in snaps} == {"Ag24Br4I4S8"}


@pytest.mark.parametrize(
    ("material", "message"),
    [
        ("Ag3SBr0.5I0.7", "Ag3SBr<x>I<1-x>"),
        ("Ag3SCl", "solid solution such as Ag3SBr0.5I0.5"),
    ],
)
def test_a_bad_material_name_is_one_line(tmp_path, capsys, material, message) -> None:
    out = str(tmp_path / "x.xyz")
    assert main(["sample", material, "-T", "300", "-n", "1", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err

"""phonongnn renormalise --route md: EMT MD of a 4-atom Cu cell, end to end."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import phonopy
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.velocitydistribution import PhononHarmonics
from ase.md.verlet import VelocityVerlet
from matplotlib.image import imread

from ase_phonongnn.cli.main import main
from ase_phonongnn.sample import compute_force_constants, md_supercell, save_phonopy
from ase_phonongnn.sample._phonopy import full_force_constants

pytest.importorskip("dynaphopy")


@pytest.fixture(scope="module")
def md_files(tmp_path_factory):
    """phonopy_params.yaml (EMT, 1×1×1) and 200 frames of NVE MD at 50 K, 5 fs."""
    root = tmp_path_factory.mktemp("md")
    cell = bulk("Cu", "fcc", cubic=True)
    phonon = compute_force_constants(cell, [1, 1, 1], EMT, progress=False)
    params = save_phonopy(phonon, root / "harmonic_params.yaml")
    atoms = md_supercell(phonon)
    fc = full_force_constants(phonon).transpose(0, 2, 1, 3).reshape(12, 12)
    PhononHarmonics(
        atoms, fc, temperature_K=50, rng=np.random.RandomState(4), failfast=False
    )
    atoms.calc = EMT()
    frames = []
    dynamics = VelocityVerlet(atoms, timestep=5 * units.fs)
    dynamics.attach(lambda: frames.append(atoms.copy()), interval=1)
    dynamics.run(199)
    trajectory = root / "md.extxyz"
    ase.io.write(trajectory, frames)
    return phonon, params, trajectory


def test_md_route_writes_force_constants_record_and_plot(
    md_files, tmp_path, capsys
) -> None:
    phonon, params, trajectory = md_files
    out = tmp_path / "cu_50K_params.yaml"
    plot = tmp_path / "cu.png"
    argv = ["renormalise", str(params), "--route", "md", "--trajectory"]
    argv += [str(trajectory), "--time-step", "5", "-T", "50"]
    assert main([*argv, "--out", str(out), "--plot", str(plot)]) == 0
    printed = capsys.readouterr().out
    assert "200 frames at 50.0 K" in printed and "0 imaginary" in printed
    renormalised = phonopy.load(out, log_level=0)
    harmonic = phonon.run_qpoints([[0, 0, 0]]).frequencies[0]
    frequencies = renormalised.run_qpoints([[0, 0, 0]]).frequencies[0]
    np.testing.assert_allclose(frequencies, harmonic, atol=0.2)  # as the API test
    record = json.loads((tmp_path / "cu_50K_md.json").read_text())
    assert record["route"] == "md" and record["n_frames"] == 200
    assert record["time_step_fs"] == 5.0 and record["temperature"] == 50.0
    np.testing.assert_allclose(
        record["harmonic_frequencies_thz"], [harmonic], atol=1e-6
    )
    assert imread(plot).shape[:2] == (720, 960)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--route", "md", "--trajectory", "{traj}"], "--time-step is required"),
        (["--route", "md", "--time-step", "5"], "--trajectory is required"),
        (["--trajectory", "{traj}", "-T", "50"], "belong to the md route"),
        (["-T", "50", "--reorder"], "belong to the md route"),
        (["--calculator", "emt"], "--temperature is required"),
        (
            ["--route", "md", "--trajectory", "{short}", "--time-step", "5"],
            "atoms but the MD supercell",
        ),
    ],
)
def test_errors_are_one_line(md_files, tmp_path, capsys, extra, message) -> None:
    _, params, trajectory = md_files
    short = tmp_path / "short.extxyz"
    ase.io.write(short, [frame[:-1] for frame in ase.io.read(trajectory, ":")])
    extra = [x.format(traj=trajectory, short=short) for x in extra]
    out = str(tmp_path / "x_params.yaml")
    assert main(["renormalise", str(params), *extra, "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_scph_route_writes_history_and_plot(md_files, tmp_path) -> None:
    _, params, _ = md_files
    out = tmp_path / "scph_params.yaml"
    plot = tmp_path / "scph.png"
    argv = ["renormalise", str(params), "-T", "50", "--calculator", "emt"]
    argv += ["--n-snapshots", "4", "--max-iterations", "3", "--tolerance", "0.5"]
    argv += ["--calculator-option", "asap_cutoff=false"]  # EMT's default
    assert main([*argv, "--out", str(out), "--plot", str(plot)]) == 0
    history = json.loads((tmp_path / "scph_history.json").read_text())
    assert history["calculator"] == "emt" and history["converged"]
    assert history["calculator_options"] == {"asap_cutoff": False}
    assert phonopy.load(out, log_level=0).force_constants is not None
    assert imread(plot).shape[:2] == (720, 960)

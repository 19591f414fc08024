"""phonongnn label and phonongnn export."""

from __future__ import annotations

import argparse
import os

import ase.db
import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.cluster import Octahedron

from ase_phonongnn import keys
from ase_phonongnn.cli.label import _executor, calculator_option, worker_threads
from ase_phonongnn.cli.main import main
from ase_phonongnn.store import SnapshotStore


def _snapshots(n=4):
    rng = np.random.default_rng(0)
    snapshots = []
    for i in range(n):
        atoms = bulk("Cu", cubic=True).repeat(2)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.info.update(temperature=300.0, seed=0, snapshot_index=i)
        snapshots.append(atoms)
    return snapshots


@pytest.fixture
def extxyz(tmp_path):
    path = tmp_path / "snapshots.extxyz"
    ase.io.write(path, _snapshots())
    return path


def _label(*args):
    return main(["label", *map(str, args), "--calculator", "emt", "--no-progress"])


def test_label_resumes_and_reports(tmp_path, extxyz, capsys):
    store = tmp_path / "labels.h5"
    assert _label(extxyz, "--out", store) == 0
    out = capsys.readouterr().out
    assert "done 4, failed 0, pending 0" in out
    assert "emt cannot give: band_gap, vbm" in out
    assert _label(extxyz, "--out", store) == 0
    assert "done 4, failed 0, pending 0" in capsys.readouterr().out
    with SnapshotStore.open(store) as labelled:
        assert len(labelled) == 4
        assert labelled[2].info[keys.SNAPSHOT_INDEX] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retry=false", ("retry", False)),
        ("retry=True", ("retry", True)),
        ("accuracy=0.5", ("accuracy", 0.5)),
        ("electronic_temperature = 1000", ("electronic_temperature", 1000)),
        ("xc=PBE", ("xc", "PBE")),
        ("kpts=(2, 2, 2)", ("kpts", (2, 2, 2))),
        ("smearing=none", ("smearing", None)),
    ],
)
def test_calculator_option_values(text, expected):
    assert calculator_option(text) == expected


@pytest.mark.parametrize("text", ["retry", "=1", "not a name=1"])
def test_calculator_option_needs_key_equals_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        calculator_option(text)


def test_label_with_calculator_options(tmp_path, extxyz, capsys):
    store = tmp_path / "lj.h5"
    argv = ["label", str(extxyz), "--out", str(store), "--no-progress"]
    argv += ["--calculator", "ase.calculators.lj:LennardJones"]
    argv += ["--calculator-option", "sigma=2.3", "--calculator-option", "rc=6"]
    assert main(argv) == 0
    assert "done 4, failed 0, pending 0" in capsys.readouterr().out
    with SnapshotStore.open(store) as labelled:
        parameters = labelled[0].info[keys.LABEL_PROVENANCE]["parameters"]
    assert (parameters["sigma"], parameters["rc"]) == (2.3, 6)


def test_label_with_two_workers(tmp_path, extxyz, capsys):
    assert _label(extxyz, "--out", tmp_path / "s.h5", "--workers", "2") == 0
    assert "done 4, failed 0, pending 0" in capsys.readouterr().out


def test_workers_share_the_cores_openmp_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [worker_threads(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_threads(2) == 3


def test_each_worker_process_gets_its_thread_share(monkeypatch):
    # the variable is unset here, so a worker has it only from its share
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)))
    args = argparse.Namespace(dask=None, workers=2, timeout=None)
    with _executor(args) as (executor, n_workers):
        seen = set(executor.map(os.getenv, ["OMP_NUM_THREADS"] * 4))
    assert n_workers == 2
    assert seen == {"2"}


def test_label_a_store_of_pending_snapshots(tmp_path, capsys):
    path = tmp_path / "sampled.h5"
    with SnapshotStore.create(path) as store:
        store.add(_snapshots(3))
    # into another store, then in place
    assert _label(path, "--out", tmp_path / "labels.h5") == 0
    assert "done 3, failed 0, pending 0" in capsys.readouterr().out
    assert _label(path, "--out", path) == 0
    assert "done 3, failed 0, pending 0" in capsys.readouterr().out


def test_export_extxyz_and_db(tmp_path, extxyz, capsys):
    store = tmp_path / "labels.h5"
    _label(extxyz, "--out", store)
    assert main(["export", str(store), "--out", str(tmp_path / "out.extxyz")]) == 0
    assert "wrote 4 snapshots" in capsys.readouterr().out
    frames = ase.io.read(tmp_path / "out.extxyz", index=":")
    assert len(frames) == 4
    assert frames[0].info[keys.LABELLER] == "emt"
    assert keys.HYDROSTATIC_STRESS in frames[0].info
    assert main(["export", str(store), "--out", str(tmp_path / "out.db")]) == 0
    assert ase.db.connect(tmp_path / "out.db").count() == 4


def test_errors_are_one_line_and_leave_data_alone(tmp_path, extxyz, capsys):
    store = tmp_path / "labels.h5"
    _label(extxyz, "--out", store)
    before = store.read_bytes()
    capsys.readouterr()
    code = main(["label", str(extxyz), "--out", str(store), "--calculator", "dft9"])
    assert code == 2
    assert "unknown calculator 'dft9'" in capsys.readouterr().err
    ase.io.write(tmp_path / "cluster.extxyz", Octahedron("Cu", 3))
    assert _label(tmp_path / "cluster.extxyz", "--out", store) == 2
    assert "--no-stress" in capsys.readouterr().err
    assert store.read_bytes() == before
    assert main(["export", str(store), "--out", str(tmp_path / "out.csv")]) == 2
    assert "--out must end in" in capsys.readouterr().err
    assert _label(tmp_path / "missing.extxyz", "--out", store) == 2
    (tmp_path / "junk.h5").write_text("not hdf5")
    assert _label(extxyz, "--out", tmp_path / "junk.h5") == 2
    assert "not an HDF5 file" in capsys.readouterr().err
    assert (tmp_path / "junk.h5").read_text() == "not hdf5"

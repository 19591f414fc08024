"""ASE plugin: the calculator by name, and ase.io reading and writing stores."""

from __future__ import annotations

import subprocess
import sys

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import get_calculator_class
from ase.calculators.emt import EMT
from ase.io.formats import filetype

from ase_phonongnn import PhononGNNCalc, SnapshotStore, keys
from ase_phonongnn.label import label_snapshots
from ase_phonongnn_plugins.ase import FORMAT_NAME, register_calculator


def cu_frames(n: int) -> list:
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 1, 1)
        atoms.rattle(0.05, seed=k)
        atoms.info[keys.TEMPERATURE] = 100.0 * (k + 1)
        frames.append(atoms)
    return frames


def test_ase_finds_the_calculator_without_importing_this_package():
    # ase.io loads the 'ase.ioformats' entry points, which registers the name
    code = (
        "import sys, ase.io\n"
        "from ase.calculators.calculator import get_calculator_class\n"
        "cls = get_calculator_class('phonongnn')\n"
        "print(cls.__module__, cls.__name__, 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ase_phonongnn.calculator", "PhononGNNCalc", "False"]
    assert "Failed to register" not in done.stderr


def test_registered_class_makes_a_working_calculator(cu_potential_path):
    assert register_calculator() is PhononGNNCalc
    assert register_calculator() is PhononGNNCalc  # again: no error
    assert get_calculator_class("phonongnn") is PhononGNNCalc
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    atoms.calc = get_calculator_class("phonongnn")(
        model=cu_potential_path, device="cpu"
    )
    assert np.isfinite(atoms.get_potential_energy())


def test_a_name_taken_by_another_calculator_is_refused(monkeypatch):
    from ase.calculators import calculator

    monkeypatch.setitem(calculator.external_calculators, "phonongnn-taken", EMT)
    with pytest.raises(ValueError, match="'phonongnn-taken' is taken by"):
        register_calculator("phonongnn-taken")


def test_ase_io_reads_a_store(tmp_path):
    path = tmp_path / "cu.h5"
    frames = cu_frames(4)
    label_snapshots(frames[:3], "emt", path, progress=False)
    with SnapshotStore.open(path, mode="a") as store:
        store.add(frames[3:])  # one pending snapshot
    assert filetype(str(path)) == FORMAT_NAME
    images = ase.io.read(path, ":")
    assert len(images) == 4
    for atoms, frame in zip(images[:3], frames, strict=False):
        reference = frame.copy()
        reference.calc = EMT()
        # labels as calculator results, like a labelled extxyz
        assert atoms.get_potential_energy() == pytest.approx(
            reference.get_potential_energy()
        )
        np.testing.assert_allclose(atoms.get_forces(), reference.get_forces())
        assert atoms.info[keys.TEMPERATURE] == frame.info[keys.TEMPERATURE]
        assert atoms.info[keys.LABEL_STATUS] == keys.DONE
    assert images[3].calc is None
    assert images[3].info[keys.LABEL_STATUS] == keys.PENDING
    last = ase.io.read(path)
    assert last.info[keys.TEMPERATURE] == 400.0
    done = ase.io.read(path, ":", status=keys.DONE)
    assert [a.info[keys.TEMPERATURE] for a in done] == [100.0, 200.0, 300.0]
    assert len(list(ase.io.iread(path, "1:3"))) == 2


def test_ase_io_writes_a_store_of_pending_snapshots(tmp_path):
    path = tmp_path / "new.h5"
    ase.io.write(path, cu_frames(3))
    ase.io.write(path, cu_frames(5)[3:], append=True)
    with SnapshotStore.open(path) as store:
        assert store.counts() == {keys.DONE: 0, keys.FAILED: 0, keys.PENDING: 5}
        temperatures = [a.info[keys.TEMPERATURE] for a in store.read_atoms(None)]
    assert temperatures == [100.0, 200.0, 300.0, 400.0, 500.0]
    with pytest.raises(FileExistsError):
        ase.io.write(path, cu_frames(1))

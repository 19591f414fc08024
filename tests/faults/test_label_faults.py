"""Labelling under failing calculators: every fault is one recorded failure.

The injectors of :mod:`_faulty` fault on the structures whose content hash
ends in 0-3, so each test knows in advance which snapshots must fail.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import ase.io
import numpy as np
import psutil
import pytest
from _faulty import faults
from _runs import api_argv, cli_argv, environment

from ase_phonongnn import keys
from ase_phonongnn.label import LabelPool, label_snapshots
from ase_phonongnn.store import SnapshotStore, content_hash

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"
)


def cu_cells(n: int, seed: int = 0) -> list:
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(n):
        atoms = bulk("Cu", cubic=True).repeat(2)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        cells.append(atoms)
    return cells


@pytest.fixture(scope="module")
def cells():
    snapshots = cu_cells(12)
    n_faulty = sum(faults(atoms) for atoms in snapshots)
    assert 0 < n_faulty < len(snapshots)  # both kinds present
    return snapshots


def _failed_hashes(path: Path) -> dict[str, str]:
    with SnapshotStore.open(path) as store:
        return {
            atoms.info[keys.CONTENT_HASH]: atoms.info[keys.LABEL_MESSAGE]
            for atoms in store.read_atoms(keys.FAILED)
        }


def _expected(cells) -> set[str]:
    return {content_hash(atoms) for atoms in cells if faults(atoms)}


@pytest.mark.parametrize("injector", ["NaNEMT", "NaNForcesEMT"])
def test_non_finite_labels_are_failures_that_retry_failed_sees(
    tmp_path, cells, injector
):
    store = tmp_path / "labels.h5"
    summary = label_snapshots(cells, f"_faulty:{injector}", store, progress=False)
    failed = _failed_hashes(store)
    assert set(failed) == _expected(cells)
    assert summary.newly_failed == len(failed)
    assert all("non-finite" in message for message in failed.values())
    with SnapshotStore.open(store) as opened:
        for atoms in opened.read_atoms(keys.DONE):
            assert np.isfinite(atoms.info[keys.ENERGY])
            assert np.isfinite(atoms.arrays[keys.FORCES]).all()
    # --retry-failed with the same labeller relabels exactly the failed ones
    again = label_snapshots(
        cells, f"_faulty:{injector}", store, retry_failed=True, progress=False
    )
    assert again.newly_failed == len(failed) and again.labelled == 0


def test_a_segfaulting_calculator_fails_its_snapshots_and_the_run_goes_on(
    tmp_path, cells
):
    store = tmp_path / "labels.h5"
    with LabelPool(2) as pool:
        summary = label_snapshots(
            cells, "_faulty:SegfaultingEMT", store, pool, progress=False
        )
    failed = _failed_hashes(store)
    assert set(failed) == _expected(cells)
    assert all("SIGSEGV" in message for message in failed.values())
    assert summary.done == len(cells) - len(failed) and summary.pending == 0


def test_a_hanging_calculator_is_stopped_by_the_timeout(tmp_path, cells):
    store = tmp_path / "labels.h5"
    start = time.perf_counter()
    summary = label_snapshots(
        cells[:6], "_faulty:HangingEMT", store, timeout=2.0, progress=False
    )
    elapsed = time.perf_counter() - start
    failed = _failed_hashes(store)
    assert set(failed) == _expected(cells[:6])
    assert all("time limit of 2 s" in message for message in failed.values())
    assert summary.done == 6 - len(failed)
    # each hang costs its 2 s limit (plus a fresh worker), not an hour
    assert elapsed < 2.0 * len(failed) + 30


def test_timeout_is_refused_where_it_cannot_stop_a_calculation(tmp_path, cells):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="timeout"):
        label_snapshots(cells, "emt", tmp_path / "x.h5", pool, timeout=1.0)
    with pytest.raises(ValueError, match="positive"):
        label_snapshots(cells, "emt", tmp_path / "x.h5", timeout=-1)
    assert not (tmp_path / "x.h5").exists()


def test_cli_timeout_and_exit_code_when_everything_fails(tmp_path, cells):
    hanging = [atoms for atoms in cells if faults(atoms)][:2]
    source, store = tmp_path / "cells.extxyz", tmp_path / "labels.h5"
    ase.io.write(source, hanging)
    argv = cli_argv(source, store, "_faulty:HangingEMT", "--timeout", "1.5")
    run = subprocess.run(
        argv, capture_output=True, text=True, env=environment(), timeout=120
    )
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "all 2 calculations" in run.stderr
    failed = _failed_hashes(store)
    assert set(failed) == _expected(hanging)
    assert all("time limit of 1.5 s" in message for message in failed.values())


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_workers_end_with_their_killed_parent(tmp_path, cells):
    source = tmp_path / "cells.extxyz"
    ase.io.write(source, cells)
    parent = subprocess.Popen(
        api_argv(source, tmp_path / "labels.h5", "_faulty:HangingEMT", workers=2),
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.5)
            workers = [
                child
                for child in psutil.Process(parent.pid).children()
                if "spawn_main" in " ".join(child.cmdline())
            ]
        assert len(workers) == 2
        # both workers hang on a faulting structure sooner or later
        time.sleep(3)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w.pid) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w.pid) for w in workers)

"""A labelling process killed with SIGKILL loses only what was in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import h5py
import numpy as np
import pytest
from _store_helpers import displaced_snapshots

from ase_phonongnn import keys
from ase_phonongnn.errors import StoreError
from ase_phonongnn.label import label_snapshots
from ase_phonongnn.store import SnapshotStore, content_hash

HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"
)


def _label_command(source: Path, store: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ase_phonongnn.cli.main",
        "label",
        str(source),
        "--out",
        str(store),
        "--calculator",
        "_slow_emt:SlowEMT",
        "--no-progress",
    ]


def _environment(delay: float) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["SLOW_EMT_DELAY"] = str(delay)
    return env


def _done(path: Path) -> int:
    try:
        with SnapshotStore.open(path) as store:
            return store.counts()[keys.DONE]
    except (FileNotFoundError, StoreError):
        return 0


def _committed_results(path: Path) -> int:
    with h5py.File(path, "r") as file:
        return int(np.count_nonzero(file["results/status"][...]))


def _assert_same_labels(path: Path, reference: Path) -> None:
    with SnapshotStore.open(path) as store, SnapshotStore.open(reference) as ref:
        assert (
            store.counts()
            == ref.counts()
            == {"done": len(ref), "failed": 0, "pending": 0}
        )
        assert store.content_hashes() == ref.content_hashes()
        for atoms, expected in zip(store.read_atoms(), ref.read_atoms(), strict=True):
            for key in (keys.ENERGY, keys.ENERGY_PER_ATOM, keys.HYDROSTATIC_STRESS):
                assert atoms.info[key] == expected.info[key]
            assert np.array_equal(atoms.info[keys.STRESS], expected.info[keys.STRESS])
            assert np.array_equal(
                atoms.arrays[keys.FORCES], expected.arrays[keys.FORCES]
            )
    # one committed result per snapshot: nothing was labelled twice
    assert _committed_results(path) == _committed_results(reference)


def test_sigkill_mid_run_then_resume(tmp_path):
    snapshots = displaced_snapshots(16)
    ase.io.write(tmp_path / "in.extxyz", snapshots)
    label_snapshots(
        ase.io.read(tmp_path / "in.extxyz", index=":"),
        "emt",
        tmp_path / "ref.h5",
        progress=False,
    )
    store = tmp_path / "run.h5"
    command = _label_command(tmp_path / "in.extxyz", store)
    process = subprocess.Popen(command, env=_environment(0.15))
    try:
        deadline = time.monotonic() + 60
        # read the store while it is written (SWMR), kill once a few are done
        while _done(store) < 4:
            assert process.poll() is None, "labelling ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    with SnapshotStore.open(store) as killed:
        counts = killed.counts()
        assert len(killed) == 16  # every snapshot was registered before labelling
        assert 4 <= counts["done"] < 16 and counts["failed"] == 0
        assert killed.content_hashes() == [content_hash(a) for a in snapshots]

    rerun = subprocess.run(
        command, env=_environment(0.0), capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "done 16, failed 0, pending 0" in rerun.stdout
    assert not (tmp_path / "run.h5.lock").exists()
    _assert_same_labels(store, tmp_path / "ref.h5")


def test_repeated_sigkill_during_writes(tmp_path):
    """Kill a writer whose time goes into store writes: the file always recovers."""
    snapshots = displaced_snapshots(100, "Al", repeat=1)
    ase.io.write(tmp_path / "in.extxyz", snapshots)
    label_snapshots(
        ase.io.read(tmp_path / "in.extxyz", index=":"),
        "emt",
        tmp_path / "ref.h5",
        progress=False,
    )
    store = tmp_path / "run.h5"
    command = _label_command(tmp_path / "in.extxyz", store)
    rng = np.random.default_rng(7)
    previous = 0
    for _ in range(2):
        process = subprocess.Popen(command, env=_environment(0.0))
        try:
            deadline = time.monotonic() + 60
            while _done(store) <= previous:
                if process.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.05))
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait()
        done = _done(store)
        assert done >= previous  # committed records are never lost
        previous = done
    rerun = subprocess.run(
        command, env=_environment(0.0), capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    _assert_same_labels(store, tmp_path / "ref.h5")

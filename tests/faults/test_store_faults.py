"""The store under faults: a full disk, readers during writes, damaged bytes, kills."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import ase.io
import numpy as np
import pytest
from _runs import api_argv, cli_argv, environment
from ase.build import bulk

from ase_phonongnn import keys
from ase_phonongnn.errors import StoreError
from ase_phonongnn.label import label_snapshots
from ase_phonongnn.store import SnapshotStore

#: Size of the full disk: its free space ends during the labelling of 300
#: (space check) or 600 (failed write) 4-atom snapshots.
DISK_SIZE = "448k"
DATA = Path(__file__).parents[2] / "ase_phonongnn" / "data"

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"
)


def cells(n: int, repeat: int = 3, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = bulk("Cu", cubic=True).repeat(repeat)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        out.append(atoms)
    return out


def _label(source: Path, store: Path, *extra: str, prelude: str = ""):
    """Run ``phonongnn label`` in a new process (after ``prelude``, Python code)."""
    code = (
        f"{prelude}\nimport sys\nfrom ase_phonongnn.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    argv = cli_argv(source, store, "emt", *extra)[3:]
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
    )


def _assert_sound(path: Path) -> dict[str, int]:
    """Every done snapshot of the store has finite labels and readable provenance."""
    with SnapshotStore.open(path) as store:
        for atoms in store.read_atoms(keys.DONE):
            assert np.isfinite(atoms.info[keys.ENERGY])
            assert np.isfinite(atoms.arrays[keys.FORCES]).all()
            assert atoms.info[keys.LABEL_PROVENANCE][keys.LABELLER] == "emt"
        return store.counts()


@pytest.fixture
def small_disk():
    """A :data:`DISK_SIZE` tmpfs (needs root; skipped where it cannot be mounted)."""
    where = Path(f"/tmp/phonongnn-full-{uuid.uuid4().hex[:8]}")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(where)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip("mounting a small tmpfs is not permitted here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


# The first case stops at the free-space check before a record; the second
# switches that check off, so that HDF5's own write fails mid-record.
@pytest.mark.parametrize(
    ("prelude", "n"),
    [
        ("", 300),
        (
            "from ase_phonongnn.store import _writing\n"
            "_writing.check_space = lambda file, nbytes: None",
            600,
        ),
    ],
    ids=["space-check", "failed-write"],
)
def test_full_disk_stops_with_one_line_and_loses_nothing(
    tmp_path, small_disk, prelude, n
):
    source = tmp_path / "in.extxyz"
    ase.io.write(source, cells(n, repeat=1))
    store = small_disk / "labels.h5"
    run = _label(source, store, prelude=prelude)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "phonongnn label: error:" in run.stderr
    assert "run again to resume" in run.stderr
    counts = _assert_sound(store)
    assert 0 < counts[keys.DONE] < n and counts[keys.FAILED] == 0
    # resumed on a disk with room: the rest is labelled, nothing twice
    moved = tmp_path / "labels.h5"
    shutil.copy(store, moved)
    label_snapshots(ase.io.read(source, ":"), "emt", moved, progress=False)
    assert _assert_sound(moved) == {"done": n, "failed": 0, "pending": 0}


def test_a_store_opened_before_the_writer_sees_every_new_label(tmp_path):
    source = tmp_path / "in.extxyz"
    ase.io.write(source, cells(6, repeat=2))
    path = tmp_path / "labels.h5"
    with SnapshotStore.create(path) as store:
        store.add(ase.io.read(source, ":")[:2])
    reader = SnapshotStore.open(path)
    assert reader.counts() == {"done": 0, "failed": 0, "pending": 2}
    writer = subprocess.run(
        api_argv(source, path, "emt"), env=environment(), capture_output=True
    )
    assert writer.returncode == 0, writer.stderr
    assert reader.counts() == {"done": 6, "failed": 0, "pending": 0}
    assert len(reader.read_atoms()) == 6
    # and a second store opened in this process is not stale either
    with SnapshotStore.open(path) as fresh:
        assert fresh.counts()[keys.DONE] == 6
    reader.close()


def test_readers_during_a_write_never_see_a_damaged_store(tmp_path):
    source = tmp_path / "in.extxyz"
    ase.io.write(source, cells(150, repeat=1))
    path = tmp_path / "labels.h5"
    writer = subprocess.Popen(
        api_argv(source, path, "emt"),
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    reads, done_seen = 0, []
    try:
        while writer.poll() is None:
            try:
                with SnapshotStore.open(path) as store:
                    done = store.counts()[keys.DONE]
                    labelled = store.read_atoms()
            except FileNotFoundError:
                continue
            assert len(labelled) >= done  # a label may come between the calls
            assert all(np.isfinite(a.arrays[keys.FORCES]).all() for a in labelled)
            done_seen.append(done)
            reads += 1
            time.sleep(0.02)  # leave the writer its core
    finally:
        writer.wait()
    assert writer.returncode == 0, writer.stderr.read()
    assert reads > 10
    assert done_seen == sorted(done_seen)  # committed labels never disappear


def test_flipped_bytes_give_a_store_error(tmp_path):
    import h5py

    path = tmp_path / "flipped.h5"
    shutil.copy(DATA / "random-Ag3SBr.h5", path)
    with h5py.File(path, "r") as file:
        text = file["text/bytes"]
        offset = text.id.get_chunk_info(0).byte_offset
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(bytes(np.random.default_rng(0).integers(128, 256, 4096, "u1")))
    with SnapshotStore.open(path) as store, pytest.raises(StoreError, match="damaged"):
        store.read_atoms(status=None)


def test_random_flips_never_raise_anything_but_a_store_error(tmp_path):
    reference = (DATA / "random-Ag3SBr.h5").read_bytes()
    rng = np.random.default_rng(1)
    outcomes = set()
    for trial in range(12):
        damaged = bytearray(reference)
        start = int(rng.integers(0, len(reference) - 4096))
        damaged[start : start + 4096] = rng.integers(0, 256, 4096, "u1").tobytes()
        path = tmp_path / f"flip{trial}.h5"
        path.write_bytes(bytes(damaged))
        try:
            with SnapshotStore.open(path) as store:
                store.read_atoms(status=None)
            outcomes.add("read")
        except StoreError:
            outcomes.add("StoreError")
    assert outcomes <= {"read", "StoreError"}


def test_kills_at_random_points_with_workers_lose_nothing(tmp_path):
    source = tmp_path / "in.extxyz"
    ase.io.write(source, cells(24, repeat=1))
    path = tmp_path / "labels.h5"
    argv = api_argv(source, path, "_faulty:SegfaultingEMT", workers=2)
    rng = np.random.default_rng(3)
    for _ in range(3):
        process = subprocess.Popen(
            argv,
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(float(rng.uniform(2.0, 5.0)))
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = subprocess.run(argv, env=environment(), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    from _faulty import faults

    with SnapshotStore.open(path) as store:
        assert store.counts()[keys.PENDING] == 0
        failed = {a.info[keys.CONTENT_HASH] for a in store.read_atoms(keys.FAILED)}
        expected = {
            a.info[keys.CONTENT_HASH]
            for a in store.read_atoms(status=None)
            if faults(a)
        }
        assert failed == expected
        # every snapshot was registered once
        assert len(store) == 24 == len(set(store.content_hashes()))


def test_sigterm_closes_the_store_as_an_interrupt_does(tmp_path):
    import h5py

    source = tmp_path / "in.extxyz"
    ase.io.write(source, cells(3000, repeat=1))
    path = tmp_path / "labels.h5"
    process = subprocess.Popen(
        cli_argv(source, path, "emt"),
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    done = 0
    while process.poll() is None and done < 5:
        time.sleep(0.2)
        with contextlib.suppress(FileNotFoundError, StoreError):
            with SnapshotStore.open(path) as store:
                done = store.counts()[keys.DONE]
    assert process.poll() is None, "labelling ended before it could be stopped"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert "terminated" in err
    # closed by its writer: plain HDF5 readers open it (a writer killed
    # outright leaves its "open for writing" flags set, and they refuse)
    with h5py.File(path, "r"):
        pass
    counts = _assert_sound(path)
    assert counts[keys.DONE] >= 5
    assert counts[keys.DONE] + counts[keys.PENDING] == 3000

"""SnapshotStore: round trips, resume keys, exports, format checks and bad input."""

from __future__ import annotations

import json
import multiprocessing
import pickle

import ase.db
import ase.io
import h5py
import numpy as np
import pytest
from _store_helpers import displaced_snapshots, emt_labels, mixed_snapshots

from ase_phonongnn import keys
from ase_phonongnn.errors import StoreError, StoreFormatError
from ase_phonongnn.store import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SnapshotStore,
    _schema,
    content_hash,
)


@pytest.fixture
def snapshots():
    return mixed_snapshots()


def _labelled_store(path, snapshots):
    store = SnapshotStore.create(path)
    rows = store.add(snapshots)
    for row, atoms in zip(rows, snapshots, strict=True):
        labels = emt_labels(atoms)
        labels.update(band_gap=0.5 + 0.01 * row, vbm=-3.0 - 0.01 * row)
        store.write_labels(int(row), labels, {"labeller": "emt", "retry_rung": 0})
    return store


def test_round_trip_is_exact(tmp_path, snapshots):
    with _labelled_store(tmp_path / "s.h5", snapshots):
        pass
    with SnapshotStore.open(tmp_path / "s.h5") as store:
        assert len(store) == len(snapshots)
        assert store.counts() == {"done": 8, "failed": 0, "pending": 0}
        read = store.read_atoms(status="done")
    for original, back in zip(snapshots, read, strict=True):
        expected = emt_labels(original)
        assert np.array_equal(back.numbers, original.numbers)
        assert np.array_equal(back.positions, original.positions)
        assert np.array_equal(back.cell.array, original.cell.array)
        assert np.array_equal(back.pbc, original.pbc)
        assert back.info[keys.ENERGY] == expected["energy"]
        assert back.info[keys.ENERGY_PER_ATOM] == expected["energy_per_atom"]
        assert np.array_equal(back.info[keys.STRESS], expected["stress"])
        assert np.array_equal(back.arrays[keys.FORCES], expected["forces"])
        # sampling provenance and labeller provenance
        assert back.info[keys.TEMPERATURE] == 300.0
        assert back.info[keys.SNAPSHOT_INDEX] == original.info["snapshot_index"]
        assert back.info[keys.LABELLER] == "emt"
        assert back.info[keys.LABEL_PROVENANCE]["retry_rung"] == 0
        assert back.info[keys.CONTENT_HASH] == content_hash(original)
        assert back.info[keys.LABEL_STATUS] == keys.DONE


def test_root_attributes(tmp_path):
    SnapshotStore.create(tmp_path / "s.h5").close()
    with h5py.File(tmp_path / "s.h5", "r") as file:
        assert file.attrs["format"] == FORMAT_NAME
        assert file.attrs["format_version"] == FORMAT_VERSION == 1
        assert json.loads(file.attrs["units"])["hydrostatic_stress"] == "GPa"
        assert json.loads(file.attrs["units"])["forces"] == "eV/Ang"
        assert file.attrs["creator"].startswith("ase-phonongnn ")
        assert file["atoms/positions"].compression == "gzip"


def test_statuses_missing_labels_and_indexing(tmp_path, snapshots):
    with SnapshotStore.create(tmp_path / "s.h5") as store:
        store.add(snapshots[:4])
        store.write_labels(0, {keys.ENERGY: -1.0, keys.ENERGY_PER_ATOM: -0.1})
        store.write_failure(1, "SCF not converged in 250 cycles", {"labeller": "x"})
        assert store.counts() == {"done": 1, "failed": 1, "pending": 2}
        done, failed, pending = store[0], store[1], store[-1]
    assert done.info[keys.ENERGY] == -1.0
    # a label the labeller did not give is absent, not NaN
    assert keys.BAND_GAP not in done.info and keys.STRESS not in done.info
    assert keys.FORCES not in done.arrays
    assert failed.info[keys.LABEL_STATUS] == keys.FAILED
    assert failed.info[keys.LABEL_MESSAGE] == "SCF not converged in 250 cycles"
    assert pending.info[keys.LABEL_STATUS] == keys.PENDING
    assert np.array_equal(pending.positions, snapshots[3].positions)


def test_newest_result_wins(tmp_path, snapshots):
    with SnapshotStore.create(tmp_path / "s.h5") as store:
        store.add(snapshots[:1])
        store.write_failure(0, "first try failed")
        store.write_labels(0, {keys.ENERGY: -2.0})
        assert store.counts() == {"done": 1, "failed": 0, "pending": 0}
        assert store[0].info[keys.ENERGY] == -2.0


def test_add_deduplicates_by_content_hash(tmp_path, snapshots):
    with SnapshotStore.create(tmp_path / "s.h5") as store:
        first = store.add(snapshots)
        again = store.add([*snapshots[::-1], snapshots[0]])
        assert len(store) == len(snapshots)
        assert list(again) == [*first[::-1], first[0]]
        assert len(set(store.content_hashes())) == len(snapshots)


def test_content_hash_identifies_the_structure_only(snapshots):
    atoms = snapshots[0]
    other = atoms.copy()
    other.info = {"temperature": 1000.0}
    assert content_hash(other) == content_hash(atoms)
    other.positions[3, 1] += 1e-6
    assert content_hash(other) != content_hash(atoms)
    other = atoms.copy()
    other.pbc = [True, True, False]
    assert content_hash(other) != content_hash(atoms)


def test_content_hash_survives_extxyz(tmp_path, snapshots):
    ase.io.write(tmp_path / "s.extxyz", snapshots)
    back = ase.io.read(tmp_path / "s.extxyz", index=":")
    assert [content_hash(a) for a in back] == [content_hash(a) for a in snapshots]


def test_pickle_carries_no_handle(tmp_path, snapshots):
    _labelled_store(tmp_path / "s.h5", snapshots).close()
    store = SnapshotStore.open(tmp_path / "s.h5")
    len(store)
    state = store.__getstate__()
    assert state == {"path": str(tmp_path / "s.h5"), "mode": "r"}
    copy = pickle.loads(pickle.dumps(store))
    assert copy.counts() == store.counts()
    assert np.array_equal(copy[2].positions, store[2].positions)


def _count_done(store: SnapshotStore) -> int:
    return store.counts()["done"]


def test_read_only_from_several_processes(tmp_path, snapshots):
    _labelled_store(tmp_path / "s.h5", snapshots).close()
    store = SnapshotStore.open(tmp_path / "s.h5")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert pool.map(_count_done, [store] * 4) == [8] * 4


def test_export_extxyz_round_trip(tmp_path, snapshots):
    with _labelled_store(tmp_path / "s.h5", snapshots) as store:
        assert store.export_extxyz(tmp_path / "s.extxyz") == len(snapshots)
        stored = store.read_atoms()
    back = ase.io.read(tmp_path / "s.extxyz", index=":")
    for atoms, row in zip(back, stored, strict=True):
        assert atoms.get_potential_energy() == pytest.approx(
            row.info[keys.ENERGY], abs=1e-12
        )
        assert np.allclose(atoms.get_forces(), row.arrays[keys.FORCES], atol=1e-8)
        assert np.allclose(atoms.get_stress(), row.info[keys.STRESS], atol=1e-12)
        assert atoms.info[keys.BAND_GAP] == pytest.approx(row.info[keys.BAND_GAP])
        assert atoms.info[keys.TEMPERATURE] == 300.0
        assert atoms.info[keys.LABEL_PROVENANCE]["labeller"] == "emt"
        assert atoms.info[keys.CONTENT_HASH] == content_hash(atoms)


def test_export_ase_db(tmp_path, snapshots):
    with _labelled_store(tmp_path / "s.h5", snapshots) as store:
        assert store.export_ase_db(tmp_path / "s.db") == len(snapshots)
        stored = store.read_atoms()
        with pytest.raises(FileExistsError):
            store.export_ase_db(tmp_path / "s.db")
    rows = list(ase.db.connect(tmp_path / "s.db").select())
    assert len(rows) == len(stored)
    for row, atoms in zip(rows, stored, strict=True):
        assert row.energy == pytest.approx(atoms.info[keys.ENERGY])
        assert np.allclose(row.forces, atoms.arrays[keys.FORCES])
        assert row.key_value_pairs[keys.VBM] == pytest.approx(atoms.info[keys.VBM])
        assert row.key_value_pairs[keys.LABELLER] == "emt"
        assert row.data[keys.LABEL_PROVENANCE]["retry_rung"] == 0


# -- bad input: clear errors, existing data untouched ----------------------------
def test_newer_format_version_is_refused(tmp_path, snapshots):
    _labelled_store(tmp_path / "s.h5", snapshots).close()
    with h5py.File(tmp_path / "s.h5", "r+") as file:
        file.attrs["format_version"] = FORMAT_VERSION + 1
    before = (tmp_path / "s.h5").read_bytes()
    for mode in ("r", "a"):
        with pytest.raises(StoreFormatError, match="upgrade ase-phonongnn"):
            SnapshotStore.open(tmp_path / "s.h5", mode=mode)
    assert (tmp_path / "s.h5").read_bytes() == before
    assert not (tmp_path / "s.h5.lock").exists()


def test_non_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("these are not snapshots\n")
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match="not an HDF5 file"):
            SnapshotStore.open(path, mode=mode)
    with pytest.raises(FileExistsError):
        SnapshotStore.create(path)
    assert path.read_text() == "these are not snapshots\n"


def test_truncated_store_is_refused(tmp_path, snapshots):
    _labelled_store(tmp_path / "s.h5", snapshots).close()
    data = (tmp_path / "s.h5").read_bytes()
    (tmp_path / "s.h5").write_bytes(data[: len(data) // 2])
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match="damaged or truncated"):
            SnapshotStore.open(tmp_path / "s.h5", mode=mode)
    assert (tmp_path / "s.h5").read_bytes() == data[: len(data) // 2]


def test_other_hdf5_file_is_not_a_store(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["x"] = np.arange(3)
    with pytest.raises(StoreFormatError, match="not an ase-phonongnn snapshot store"):
        SnapshotStore.open(tmp_path / "other.h5")


def test_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"SnapshotStore\.create"):
        SnapshotStore.open(tmp_path / "absent.h5")


def test_one_writer_at_a_time(tmp_path):
    with SnapshotStore.create(tmp_path / "s.h5"):
        with pytest.raises(StoreError, match="being written by another process"):
            SnapshotStore.open(tmp_path / "s.h5", mode="a")
    SnapshotStore.open(tmp_path / "s.h5", mode="a").close()  # free again


def test_read_only_store_refuses_writes(tmp_path, snapshots):
    SnapshotStore.create(tmp_path / "s.h5").close()
    with (
        SnapshotStore.open(tmp_path / "s.h5") as store,
        pytest.raises(StoreError, match="read-only"),
    ):
        store.add(snapshots)


def test_bad_labels_are_refused(tmp_path, snapshots):
    with SnapshotStore.create(tmp_path / "s.h5") as store:
        store.add(snapshots[:1])
        with pytest.raises(ValueError, match="unknown labels"):
            store.write_labels(0, {"gap": 1.0})
        with pytest.raises(ValueError, match="forces of snapshot 0 must have shape"):
            store.write_labels(0, {keys.FORCES: np.zeros((3, 3))})
        with pytest.raises(TypeError, match=r"expected ase\.Atoms"):
            store.add(["Cu"])
        assert store.counts() == {"done": 0, "failed": 0, "pending": 1}


def test_migration_hook_runs_on_append(tmp_path, snapshots, monkeypatch):
    _labelled_store(tmp_path / "s.h5", snapshots).close()
    calls = []

    def to_version_2(file):
        calls.append(int(file.attrs["format_version"]))
        file.attrs["migrated"] = True

    monkeypatch.setattr(_schema, "FORMAT_VERSION", 2)
    monkeypatch.setitem(_schema.MIGRATIONS, 1, to_version_2)
    with pytest.raises(StoreFormatError, match="mode='a' to migrate"):
        SnapshotStore.open(tmp_path / "s.h5")
    with SnapshotStore.open(tmp_path / "s.h5", mode="a") as store:
        assert store.counts()["done"] == len(snapshots)
    assert calls == [1]
    with h5py.File(tmp_path / "s.h5", "r") as file:
        assert file.attrs["format_version"] == 2 and file.attrs["migrated"]


def test_file_size_stays_proportional_to_the_data(tmp_path):
    """Per-record flushes do not grow the file by a chunk each."""
    snapshots = displaced_snapshots(200, "Al", repeat=1)
    with SnapshotStore.create(tmp_path / "s.h5") as store:
        for atoms in snapshots:  # one add per snapshot: the worst case
            (row,) = store.add([atoms])
            store.write_labels(int(row), emt_labels(atoms), {"labeller": "emt"})
    raw = sum(len(a) * (3 * 8 * 2 + 4) + 300 for a in snapshots)  # ~ 0.1 MB
    assert (tmp_path / "s.h5").stat().st_size < 4 * raw + 300_000
    with SnapshotStore.open(tmp_path / "s.h5") as store:
        assert store.counts()["done"] == 200

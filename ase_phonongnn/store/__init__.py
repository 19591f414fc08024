"""Snapshot store: structures, labels and provenance in one crash-safe HDF5 file."""

from __future__ import annotations

from ase_phonongnn.store._records import content_hash
from ase_phonongnn.store._schema import FORMAT_NAME, FORMAT_VERSION
from ase_phonongnn.store.snapshot_store import SnapshotStore

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "SnapshotStore", "content_hash"]

"""Any concurrent.futures.Executor gives the same store as labelling in-process."""

from __future__ import annotations

import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from _label_helpers import FlakyEMT, al_cells, cu_snapshots, store_content

from ase_phonongnn.label import label_snapshots


def _snapshots():
    # 32-atom Cu cells and 4-atom Al cells that FlakyEMT fails on
    return [*cu_snapshots(6), *al_cells(2)]


def test_two_workers_give_the_same_store_as_one(tmp_path):
    label_snapshots(_snapshots(), FlakyEMT, tmp_path / "serial.h5", progress=False)
    for n_workers in (1, 2):
        with ProcessPoolExecutor(n_workers) as executor:
            summary = label_snapshots(
                _snapshots(),
                FlakyEMT,
                tmp_path / f"pool{n_workers}.h5",
                executor,
                max_in_flight=3,
                progress=False,
            )
        assert (summary.done, summary.failed, summary.pending) == (6, 2, 0)
    serial = store_content(tmp_path / "serial.h5")
    assert store_content(tmp_path / "pool1.h5") == serial
    assert store_content(tmp_path / "pool2.h5") == serial


def test_dask_local_cluster_gives_the_same_store(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    label_snapshots(_snapshots(), FlakyEMT, tmp_path / "serial.h5", progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        summary = label_snapshots(
            _snapshots(),
            FlakyEMT,
            tmp_path / "dask.h5",
            client.get_executor(),
            progress=False,
        )
    assert (summary.done, summary.failed) == (6, 2)
    assert store_content(tmp_path / "dask.h5") == store_content(tmp_path / "serial.h5")


class CountingExecutor(Executor):
    """A thread pool that records the most tasks outstanding at once."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(2)
        self._lock = threading.Lock()
        self.outstanding = 0
        self.most = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future):
        with self._lock:
            self.outstanding -= 1

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_submissions_stay_within_the_window(tmp_path):
    executor = CountingExecutor()
    with executor:
        summary = label_snapshots(
            cu_snapshots(12),
            "emt",
            tmp_path / "s.h5",
            executor,
            max_in_flight=3,
            progress=False,
        )
    assert summary.labelled == 12
    assert 1 <= executor.most <= 3


def test_unpicklable_factory_is_refused_before_writing(tmp_path):
    from ase.calculators.emt import EMT

    with ProcessPoolExecutor(1) as executor, pytest.raises(TypeError, match="pickled"):
        label_snapshots(
            cu_snapshots(1), lambda: EMT(), tmp_path / "s.h5", executor, progress=False
        )
    assert not (tmp_path / "s.h5").exists()

"""LabelPool: worker processes whose crashes and overruns fail one calculation.

A calculator can crash its process (a segfault in a Fortran library) or hang
(an SCF that never returns). In a :class:`~concurrent.futures.ProcessPoolExecutor`
a dead worker breaks the whole pool, and a hanging task holds it forever.
:class:`LabelPool` runs each calculation in a worker of a
:class:`pebble.ProcessPool` instead: a worker that dies fails only its own
task (:class:`pebble.ProcessExpired`), a task that runs past the time limit
is stopped by killing its worker (:class:`TimeoutError`), and pebble starts a
new worker in either case. Every worker also ends when the process that
started it dies, however it dies, so that no calculation outlives the run
that wanted it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Final

from pebble import ProcessExpired, ProcessPool

#: Seconds between a worker's checks that its parent is alive.
PARENT_POLL_S: Final = 0.5


def _end_with_parent(parent: int) -> None:
    """Exit this worker as soon as process ``parent`` is no longer its parent."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _start_worker(
    parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    threading.Thread(target=_end_with_parent, args=(parent,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def check_timeout(timeout: float | None) -> float | None:
    """Return ``timeout`` as a float, or raise ValueError unless positive and finite."""
    if timeout is None:
        return None
    value = float(timeout)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"timeout must be a positive number of seconds, or None (got {timeout!r})"
        )
    return value


class LabelPool(Executor):
    """Worker processes for labelling that survive crashing and hanging calculators.

    Parameters
    ----------
    workers
        Number of worker processes (started with ``spawn``).
    timeout
        Longest wall time of one task in seconds; a task running longer is
        stopped (its worker is killed and replaced) and its future raises
        :class:`TimeoutError`. None: no limit.
    initializer, initargs
        Called in each worker before its first task.

    Notes
    -----
    A task whose worker dies raises :class:`pebble.ProcessExpired` (an
    :class:`OSError` whose ``exitcode`` is minus the signal number) from its
    future; the other tasks go on. Workers poll their parent every
    :data:`PARENT_POLL_S` seconds and exit when it is gone.
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        timeout: float | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1 (got {workers!r})")
        self.workers = workers
        self.timeout = check_timeout(timeout)
        self._pool = ProcessPool(
            workers,
            initializer=_start_worker,
            initargs=(os.getpid(), initializer, initargs),
            # spawn: forking a process whose OpenMP runtime (tblite) runs can hang
            context=multiprocessing.get_context("spawn"),
        )

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` in a worker, within the pool's time limit."""
        return self._pool.submit(fn, self.timeout, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers: after their tasks, or at once with ``cancel_futures``."""
        if cancel_futures:
            self._pool.stop()  # type: ignore[no-untyped-call]
        else:
            self._pool.close()  # type: ignore[no-untyped-call]
        if wait:
            self._pool.join()


def task_failure(err: BaseException, timeout: float | None) -> str | None:
    """Return the failure message of a task that a :class:`LabelPool` stopped.

    None if ``err`` is not such a stop (then it is an error of the executor).
    """
    if isinstance(err, ProcessExpired):
        code = err.exitcode
        how = f"exit code {code}"
        if code is not None and code < 0:
            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
        return (
            f"WorkerDied: the calculation's worker process died ({how}); "
            "the calculator crashed on this structure"
        )
    if isinstance(err, TimeoutError) and timeout is not None:
        return (
            f"Timeout: the calculation ran longer than the time limit of "
            f"{timeout:g} s and was stopped"
        )
    return None

"""label_snapshots: label structures with any ASE calculator into a store.

The calculations run where the executor puts them (in this process, a
:class:`~ase_phonongnn.label.LabelPool` of worker processes, a
:class:`~concurrent.futures.ProcessPoolExecutor`, a Dask cluster through
``Client.get_executor()``, ...); only this process writes the store, one
flushed record per finished structure. At most ``max_in_flight`` structures
are submitted at a time, so memory stays bounded for any number of
snapshots.

A calculation fails, and is recorded as failed, when its calculator raises,
when it returns a non-finite energy, force or stress, and, in a
:class:`~ase_phonongnn.label.LabelPool`, when its worker process dies or it
runs past the time limit.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
from ase import Atoms
from tqdm.auto import tqdm

from ase_phonongnn import keys
from ase_phonongnn._config import keyword_config
from ase_phonongnn._json import to_jsonable
from ase_phonongnn._version import __version__
from ase_phonongnn.errors import LabelError, UserInputError
from ase_phonongnn.label._config import LabelConfig
from ase_phonongnn.label._pool import LabelPool, task_failure
from ase_phonongnn.label.calculators import (
    CalculatorFactory,
    check_picklable,
    resolve_calculator,
)
from ase_phonongnn.label.labels import compute_labels
from ase_phonongnn.store import SnapshotStore


@dataclass(frozen=True)
class LabelOutcome:
    """What one labelling task sends back to the writing process.

    Attributes
    ----------
    row
        Row of the snapshot in the store.
    labels
        The labels (empty when the calculation failed).
    message
        Why it failed ("" when it did not).
    provenance
        Labeller name, parameters, SCF settings used, unavailable labels,
        package versions, wall time.
    """

    row: int
    labels: dict[str, Any]
    message: str
    provenance: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether the labels were computed."""
        return not self.message


@dataclass(frozen=True)
class LabelSummary:
    """Result of :func:`label_snapshots`.

    Attributes
    ----------
    done, failed, pending
        Snapshots of the whole store per status after the run.
    labelled, newly_failed
        Snapshots labelled, and failed, by this run.
    skipped
        Given snapshots that needed no work (already done, or failed and not
        retried).
    unavailable_labels
        Labels the calculator could not give (e.g. band_gap and vbm without
        eigenvalues).
    """

    done: int
    failed: int
    pending: int
    labelled: int = 0
    newly_failed: int = 0
    skipped: int = 0
    unavailable_labels: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the summary."""
        return asdict(self)


def _versions(calculator: Any) -> dict[str, str]:
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ase_phonongnn": __version__,
    }
    # distributions a calculator declares it runs on (GFN2xTB: tblite)
    declared = getattr(calculator, "dependencies", ())
    for module in {"ase", type(calculator).__module__.split(".")[0], *declared}:
        try:
            versions[module] = importlib.metadata.version(module)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def label_one(
    factory: CalculatorFactory,
    name: str,
    row: int,
    atoms: Atoms,
    include_stress: bool,
) -> LabelOutcome:
    """Label one structure with a new calculator; never raises.

    This is the task sent to the executor's workers. Any exception of the
    calculation becomes a failed outcome with its message.
    """
    start = time.perf_counter()
    provenance: dict[str, Any] = {keys.LABELLER: name}
    try:
        calculator = factory()
        provenance["calculator_class"] = (
            f"{type(calculator).__module__}.{type(calculator).__qualname__}"
        )
        todict = getattr(calculator, "todict", None)
        provenance["parameters"] = to_jsonable(todict() if callable(todict) else {})
        provenance["versions"] = _versions(calculator)
        labels, unavailable = compute_labels(
            atoms, calculator, include_stress=include_stress
        )
        check_finite(labels)
        provenance["unavailable_labels"] = unavailable
        settings = getattr(calculator, "used_settings", None)
        if settings:
            provenance["scf_settings"] = to_jsonable(settings)
        message = ""
    except Exception as err:  # any failure of a calculation is recorded, not raised
        labels = {}
        message = f"{type(err).__name__}: {err}".strip()
        provenance["traceback"] = traceback.format_exc(limit=4)
    provenance["seconds"] = round(time.perf_counter() - start, 4)
    provenance["host"] = platform.node()
    return LabelOutcome(row=row, labels=labels, message=message, provenance=provenance)


def check_finite(labels: Mapping[str, Any]) -> None:
    """Raise LabelError if a computed label holds NaN or infinity."""
    bad = [
        key
        for key, value in labels.items()
        if value is not None and not np.isfinite(np.asarray(value, dtype=float)).all()
    ]
    if bad:
        raise LabelError(
            f"the calculator returned non-finite {', '.join(sorted(bad))} "
            "(NaN or inf); not stored as labels"
        )


def _plain(atoms: Atoms) -> Atoms:
    """Return the structure alone: what the store keeps and the worker needs."""
    return Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)


#: Atoms closer than this (Å) are taken to sit on one site: a broken input.
SAME_SITE: Final = 0.1


def check_structure(atoms: Any, name: str) -> None:
    """Raise ValueError or TypeError for a structure no calculator can take.

    Checked: the type, at least one atom, finite positions and cell, a
    periodic cell of non-zero volume, and no two atoms within
    :data:`SAME_SITE` Å. ``name`` names the structure in the message.
    """
    from ase.neighborlist import neighbor_list

    if not isinstance(atoms, Atoms):
        raise TypeError(f"{name} is a {type(atoms).__name__}, expected ase.Atoms")
    if len(atoms) == 0:
        raise ValueError(f"{name} has no atoms")
    formula = atoms.symbols
    if not (np.isfinite(atoms.positions).all() and np.isfinite(atoms.cell.array).all()):
        raise ValueError(
            f"{name} ({formula}) has non-finite positions or cell (NaN or inf)"
        )
    if atoms.pbc.all() and abs(atoms.cell.volume) < 1e-9:
        raise ValueError(f"{name} ({formula}) is periodic but its cell has zero volume")
    if len(atoms) > 1 and (abs(atoms.cell.volume) > 1e-9 or not atoms.pbc.any()):
        first, second = neighbor_list("ij", atoms, SAME_SITE)
        if first.size:
            raise ValueError(
                f"{name} ({formula}) has atoms {first[0]} and {second[0]} closer "
                f"than {SAME_SITE} Å (two atoms on one site)"
            )


def check_snapshots(snapshots: list[Atoms], include_stress: bool) -> None:
    """Raise ValueError or TypeError for a structure that cannot be labelled.

    Each structure passes :func:`check_structure`; for stress it must be
    periodic in all three directions.
    """
    for position, atoms in enumerate(snapshots):
        check_structure(atoms, f"snapshots[{position}]")
        if include_stress and not atoms.pbc.all():
            raise ValueError(
                f"snapshots[{position}] ({atoms.symbols}) has "
                f"pbc={atoms.pbc.tolist()}, but stress and hydrostatic_stress need a "
                "cell periodic in all three directions; pass include_stress=False "
                "(phonongnn label --no-stress) to label it without them"
            )


def _record(store: SnapshotStore, outcome: LabelOutcome) -> None:
    if outcome.ok:
        store.write_labels(outcome.row, outcome.labels, outcome.provenance)
    else:
        store.write_failure(outcome.row, outcome.message, outcome.provenance)


def _run_with_executor(
    executor: Executor,
    tasks: Iterator[tuple[int, Atoms]],
    task: tuple[CalculatorFactory, str, bool],
    max_in_flight: int,
    handle: Callable[[LabelOutcome], None],
) -> None:
    """Keep at most ``max_in_flight`` tasks submitted; handle each as it finishes."""
    factory, name, include_stress = task
    timeout = executor.timeout if isinstance(executor, LabelPool) else None
    in_flight: dict[Future[LabelOutcome], int] = {}

    def fill() -> None:
        for row, atoms in tasks:
            future = executor.submit(
                label_one, factory, name, row, atoms, include_stress
            )
            in_flight[future] = row
            if len(in_flight) >= max_in_flight:
                return

    try:
        fill()
        while in_flight:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                row = in_flight.pop(future)
                try:
                    outcome = future.result()
                except Exception as err:
                    message = task_failure(err, timeout)
                    if message is None:
                        raise LabelError(
                            f"the executor failed ({type(err).__name__}: {err}); "
                            "every label finished so far is saved: run again to "
                            "resume"
                        ) from err
                    outcome = LabelOutcome(row, {}, message, {keys.LABELLER: name})
                handle(outcome)
            fill()
    finally:
        for future in in_flight:
            future.cancel()


def label_snapshots(
    snapshots: Iterable[Atoms] | None,
    calculator: str | CalculatorFactory,
    store: SnapshotStore | str | os.PathLike[str],
    executor: Executor | None = None,
    *,
    calculator_options: Mapping[str, Any] | None = None,
    include_stress: bool = True,
    retry_failed: bool = False,
    max_in_flight: int = 64,
    progress: bool = True,
    timeout: float | None = None,
    config: LabelConfig | None = None,
) -> LabelSummary:
    """Label snapshots with an ASE calculator into a snapshot store.

    The snapshots are added to the store (a structure already there, by
    content hash, is not added again), then every one that is not yet done is
    labelled and its labels, or its failure message, written and flushed as
    soon as it finishes. Stopping the run at any moment loses only the
    calculations in flight; calling again with the same arguments resumes.

    Parameters
    ----------
    snapshots
        Structures to label, e.g. from :class:`~ase_phonongnn.PhononSampler`;
        their sampling information in ``atoms.info`` is kept as provenance.
        None labels the pending snapshots already in the store.
    calculator
        ``"gfn2-xtb"``, ``"emt"``, ``"MODULE:FACTORY"``, or a picklable
        callable without arguments returning a new ASE calculator (see
        :func:`~ase_phonongnn.label.resolve_calculator`).
    store
        A store open for appending, or the path of one (created if missing).
    executor
        Where the calculations run: any :class:`concurrent.futures.Executor`,
        e.g. ``LabelPool(4)``, ``ProcessPoolExecutor(4)`` or a Dask
        ``Client(...).get_executor()``. None runs them in this process (in
        one worker process when ``timeout`` is given). In a
        :class:`~ase_phonongnn.label.LabelPool`, a calculation whose worker
        dies (a calculator that segfaults) is recorded as failed and the run
        goes on; in other executors it stops the run.
    calculator_options
        Keyword arguments for the calculator's factory, e.g.
        ``{"retry": False}`` for GFN2-xTB; recorded with each label as the
        calculator's parameters.
    include_stress
        Compute stress and hydrostatic stress (default True; needs periodic
        structures, checked before anything is written).
    retry_failed
        Label again the snapshots whose labelling failed before.
    max_in_flight
        Most structures submitted to the executor at once.
    progress
        Show a progress bar.
    timeout
        Longest wall time of one calculation in seconds; a calculation that
        runs longer is stopped and recorded as failed. None (default): no
        limit. Needs ``executor=None`` (the calculations then run in a
        :class:`~ase_phonongnn.label.LabelPool` of one worker) or a
        ``LabelPool``, whose own limit it replaces.
    config
        The settings from ``calculator_options`` to ``timeout`` as one
        :class:`~ase_phonongnn.label.LabelConfig`, instead of their keywords
        (not both).

    Returns
    -------
    LabelSummary
        Counts per status of the whole store, and of this run.

    Raises
    ------
    ValueError, TypeError, ImportError
        Bad calculator, snapshots or arguments; nothing has been written.
    UserInputError
        The store holds labels of another calculator.
    LabelError
        The executor itself failed (e.g. a worker process of a
        ProcessPoolExecutor died); what was finished is saved.
    StoreWriteError
        A record could not be written (e.g. the disk is full); the records
        before it are saved.
    """
    config = keyword_config(
        LabelConfig,
        config,
        {
            "calculator_options": calculator_options,
            "include_stress": include_stress,
            "retry_failed": retry_failed,
            "max_in_flight": max_in_flight,
            "progress": progress,
            "timeout": timeout,
        },
    )
    include_stress, retry_failed = config.include_stress, config.retry_failed
    max_in_flight, progress = config.max_in_flight, config.progress
    timeout = config.timeout
    factory, name = resolve_calculator(calculator, config.calculator_options)
    probe = factory()
    if not callable(getattr(probe, "get_potential_energy", None)):
        raise TypeError(
            f"calculator factory {name!r} returned a {type(probe).__name__}, "
            "not an ASE calculator"
        )
    if executor is not None:
        check_picklable(factory, name)
    own_pool = None
    if timeout is not None:
        if executor is None:
            executor = own_pool = LabelPool(1, timeout=timeout)
        elif isinstance(executor, LabelPool):
            executor.timeout = timeout
        else:
            raise ValueError(
                f"timeout needs executor=None or a LabelPool: a "
                f"{type(executor).__name__} cannot stop a running calculation"
            )
    given = None if snapshots is None else list(snapshots)
    if given is not None:
        check_snapshots(given, include_stress)
    owned = not isinstance(store, SnapshotStore)
    if isinstance(store, SnapshotStore):
        if store.mode != "a":
            raise ValueError(
                f"store {store.path} is open read-only: open it with mode='a'"
            )
        target = store
    elif os.path.exists(store):
        target = SnapshotStore.open(store, mode="a")
    else:
        target = SnapshotStore.create(store)
    try:
        return _label_into(
            target,
            given,
            factory,
            name,
            executor,
            include_stress,
            retry_failed,
            max_in_flight,
            progress,
        )
    finally:
        if owned:
            target.close()
        if own_pool is not None:
            own_pool.shutdown(cancel_futures=True)


def _check_labeller(store: SnapshotStore, name: str) -> None:
    """Refuse to add labels of calculator ``name`` to a store labelled by another."""
    others = {
        labeller: n
        for labeller, n in store.labellers().items()
        if labeller and labeller != name
    }
    if others:
        found = ", ".join(f"{n} by {labeller!r}" for labeller, n in others.items())
        raise UserInputError(
            f"{store.path} holds labels of another calculator ({found}), not "
            f"{name!r}: one store holds one calculator's labels; label into "
            "another store (--out), or use the calculator it was labelled with"
        )


def _label_into(
    store: SnapshotStore,
    given: list[Atoms] | None,
    factory: CalculatorFactory,
    name: str,
    executor: Executor | None,
    include_stress: bool,
    retry_failed: bool,
    max_in_flight: int,
    progress: bool,
) -> LabelSummary:
    wanted = {keys.PENDING} | ({keys.FAILED} if retry_failed else set())
    status_of = {
        int(row): status for status in keys.STATUSES for row in store.indices(status)
    }
    _check_labeller(store, name)
    if given is None:
        rows = [row for row, status in sorted(status_of.items()) if status in wanted]
        work = [(row, _plain(store[row])) for row in rows]
        if include_stress:
            check_snapshots([atoms for _, atoms in work], include_stress)
        n_given = len(work)
    else:
        structures: dict[int, Atoms] = {}
        for row, atoms in zip(store.add(given), given, strict=True):
            structures.setdefault(int(row), atoms)
        work = [
            (row, _plain(atoms))
            for row, atoms in structures.items()
            if status_of.get(row, keys.PENDING) in wanted
        ]
        n_given = len(structures)

    counts = {"labelled": 0, "failed": 0}
    unavailable: set[str] = set()
    bar = tqdm(
        total=len(work),
        desc=f"labelling ({name})",
        unit="snapshot",
        disable=not progress,
    )

    def handle(outcome: LabelOutcome) -> None:
        _record(store, outcome)
        counts["labelled" if outcome.ok else "failed"] += 1
        unavailable.update(outcome.provenance.get("unavailable_labels", ()))
        bar.update(1)
        if counts["failed"]:
            bar.set_postfix(failed=counts["failed"])

    try:
        if executor is None:
            for row, atoms in work:
                handle(label_one(factory, name, row, atoms, include_stress))
        else:
            _run_with_executor(
                executor,
                iter(work),
                (factory, name, include_stress),
                max_in_flight,
                handle,
            )
    finally:
        bar.close()
    totals = store.counts()
    return LabelSummary(
        done=totals[keys.DONE],
        failed=totals[keys.FAILED],
        pending=totals[keys.PENDING],
        labelled=counts["labelled"],
        newly_failed=counts["failed"],
        skipped=n_given - len(work),
        unavailable_labels=tuple(sorted(unavailable)),
    )
